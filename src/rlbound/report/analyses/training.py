"""Section 6: pass@1 and pass@K of the checkpoints of one training against the step (Yue et al.
2025, arXiv 2504.13837, Fig. on GRPO steps 150/300/450: pass@1 rises while pass@256 falls).

A run is a checkpoint when its manifest has ``extra["train_run"]`` (the training's shared name)
and ``extra["train_step"]`` (an int).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlbound.report.analyses.curves import CurveStats
from rlbound.report.analyses.records import Curve, CurveFigure, Panel, RunData, SectionResult


@dataclass(frozen=True)
class TrainingPoint:
    """One checkpoint: its training run name, step, run label, pass@1 and pass@K."""

    train_run: str
    step: int
    label: str
    pass1: float
    passK: float


def over_steps(runs: Mapping[str, RunData], stats: Mapping[str, CurveStats], K: int) -> SectionResult:
    """The training figure and ``training`` of metrics.json (None, with a note, when no two runs
    are checkpoints of one training); a run whose train_step is no integer is left out with a note."""
    points, notes = [], []
    for lab, r in runs.items():
        extra = r.manifest.extra or {}
        step, group = extra.get("train_step"), extra.get("train_run")
        if step is None or group is None:
            continue
        if isinstance(step, bool) or not isinstance(step, int):
            notes.append(("training", f"{lab}: manifest extra.train_step {step!r} is not an integer; left out."))
            continue
        points.append(TrainingPoint(str(group), step, lab, stats[lab].at(1), stats[lab].at(K)))
    fig = training_curves(points, K)
    if fig is None:
        notes.append(("training", "no two runs are checkpoints of one training (manifest extra.train_run and "
                      "extra.train_step); nothing to plot over steps."))
        return SectionResult(metrics={"training": None}, notes=tuple(notes))
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in sorted(points, key=lambda p: (p.train_run, p.step)):
        groups.setdefault(p.train_run, []).append(
            {"label": p.label, "step": p.step, "pass_at_1": p.pass1, "pass_at_K": p.passK})
    metrics = {"K": K, "groups": {g: v for g, v in groups.items() if len(v) >= 2}}
    return SectionResult(metrics={"training": metrics}, figures={"training": fig}, notes=tuple(notes))


def training_curves(points: Sequence[TrainingPoint], K: int) -> CurveFigure | None:
    """pass@1 and pass@K against training step, one line per training run (Yue et al. 2025,
    Fig. on GRPO steps 150/300/450: pass@1 rises while pass@256 falls).

    Returns None when no training run has at least two checkpoints.
    """
    groups: dict[str, list[TrainingPoint]] = {}
    for p in points:
        groups.setdefault(p.train_run, []).append(p)
    groups = {g: sorted(ps, key=lambda p: p.step) for g, ps in groups.items() if len(ps) >= 2}
    if not groups:
        return None
    panels = []
    for metric, attr in (("pass@1", "pass1"), (f"pass@{K}", "passK")):
        curves = tuple(Curve(label=g, x=tuple(float(p.step) for p in ps), y=tuple(getattr(p, attr) for p in ps),
                             name=g, point_labels=tuple(p.label for p in ps)) for g, ps in groups.items())
        panels.append(Panel(title=f"{metric} over training", xlabel="training step", ylabel=metric,
                            curves=curves, integer_x=True, clamp01=True))
    return CurveFigure(key="training", title="pass@1 and pass@K against training step", panels=tuple(panels))
