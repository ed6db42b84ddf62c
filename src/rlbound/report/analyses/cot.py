"""Section 7a: CoT-pass@k (Wen et al. 2025): a sample counts only if its answer AND every
reasoning step are correct, next to plain pass@k (Chen et al. 2021), for runs whose verdicts are
step-checked.
"""

from __future__ import annotations

from collections.abc import Mapping

from rlbound.report.analyses.curves import CurveStats, passk_curve
from rlbound.report.analyses.records import Curve, CurveFigure, Panel, RunData, SectionResult, order_labels


def cot_passk(runs: Mapping[str, RunData], stats: Mapping[str, CurveStats], base: str) -> SectionResult:
    """CoT-pass@k of every step-checked run at the ks of its pass@k curve: ``cot_passk`` of
    metrics.json (None when no run is step-checked), the figure, a note per run left out."""
    cot: dict[str, CurveStats] = {}
    notes = []
    for lab, r in runs.items():
        if r.c_steps is None:
            notes.append(("cot", f"{lab}: verdicts carry no steps_correct (needs a step-checking verifier, e.g. the sandbox)."))
            continue
        cot[lab] = passk_curve(r, r.c_steps, [int(k) for k in stats[lab].ks])
    figures = {"cot_passk": cot_curves(stats, cot, base)} if cot else {}
    return SectionResult(metrics={"cot_passk": {lab: s.to_json_dict() for lab, s in cot.items()} or None},
                         figures=figures, notes=tuple(notes))


def cot_curves(passk: Mapping[str, CurveStats], cot: Mapping[str, CurveStats], base: str) -> CurveFigure:
    """pass@k (solid) next to CoT-pass@k (dashed; Wen et al. 2025: only responses whose answer AND
    every reasoning step are correct count) for each run that has step-checked verdicts.

    Args:
        passk, cot: run label -> curve; only labels present in ``cot`` are drawn.
    """
    labels = [lab for lab in order_labels(list(passk), base) if lab in cot]
    curves = []
    for lab in labels:
        curves.append(Curve(lab, passk[lab].ks, passk[lab].mean, name=f"{lab} pass@k"))
        curves.append(Curve(lab, cot[lab].ks, cot[lab].mean, cot[lab].low, cot[lab].high, style="dashed",
                            name=f"{lab} CoT-pass@k"))
    x_max = max(max(cot[lab].ks) for lab in labels)
    panel = Panel(title="pass@k (solid) and CoT-pass@k (dashed, steps checked)", xlabel="k (samples, log2 scale)",
                  ylabel="pass@k", curves=tuple(curves), log2_x=True, x_range=(1.0, float(x_max)), clamp01=True)
    return CurveFigure(key="cot_passk", title="CoT-pass@k against pass@k", panels=(panel,))
