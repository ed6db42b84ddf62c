"""Section 1: pass@k curves of every run with 95% bands, the crossing k* with the base marked.

The central figure of Yue et al. 2025 (arXiv 2504.13837, Fig. 2): the RL model leads at k = 1 and
the base model overtakes it at large k. pass@k is the unbiased estimator of Chen et al. 2021
averaged over problems (``curves.passk_curve``; adaptively sampled runs: the estimator their
manifest names).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rlbound.errors import InputError
from rlbound.metrics.adaptive import adaptive_interval, small_sample_pass_at_k
from rlbound.metrics.passk import default_ks
from rlbound.report.analyses.curves import CurveStats, passk_curve
from rlbound.report.analyses.records import Curve, CurveFigure, Marker, Panel, RunData, SectionResult, order_labels


def check_ks(ks: Sequence[int] | None, runs: Sequence[RunData]) -> list[int] | None:
    """The user's k values, sorted and deduplicated; InputError when one is not an integer >= 1 or
    exceeds some problem's n in a uniformly sampled run (adaptive runs: the small-sample estimator)."""
    if ks is None:
        return None
    try:
        out = sorted({int(k) for k in ks})
    except (TypeError, ValueError):
        raise InputError(f"ks must be integers, got {ks!r}", field="k") from None
    if not out or out[0] < 1:
        raise InputError("k values must be >= 1", field="k")
    for r in runs:
        if r.adaptive is None and out[-1] > int(r.n.min()):
            p = int(np.argmin(r.n))
            raise InputError(f"k={out[-1]} exceeds n={int(r.n[p])} samples of problem {r.ids[p]!r} of run {r.label!r}",
                             path=str(r.path), field="k")
    return out


def common_k(runs: Sequence[RunData]) -> int:
    """K of Table 2: the largest power of two <= every run's smallest n."""
    n_common = min(int(r.n.min()) for r in runs)
    return 1 << (n_common.bit_length() - 1)


def curve_k(r: RunData) -> int:
    """Largest k of a run's default curve: its smallest n, or for an adaptive run its targeted k."""
    if r.adaptive is None:
        return int(r.n.min())
    ks = [int(k) for k in r.adaptive.get("k") or [] if isinstance(k, int) and k >= 1]
    return max(ks) if ks else int(r.n.max())


def curves(runs: Mapping[str, RunData], K: int, user_ks: Sequence[int] | None) -> tuple[dict[str, CurveStats], SectionResult]:
    """pass@k of every run (``runs`` in report order) at the user's ks (default powers of two up to
    ``curve_k``), 1 and K always added; the result carries ``passk`` and ``adaptive`` of metrics.json
    and a note per adaptive run."""
    stats = {lab: passk_curve(r, r.c, sorted(set(user_ks or default_ks(curve_k(r))) | {1, K}))
             for lab, r in runs.items()}
    adaptive = {lab: _adaptive_entry(r) for lab, r in runs.items() if r.adaptive is not None}
    metrics = {"passk": {lab: s.to_json_dict() for lab, s in stats.items()},
               "adaptive": {lab: entry for lab, (entry, _) in adaptive.items()} or None}
    return stats, SectionResult(metrics=metrics, notes=tuple(("passk", text) for _, text in adaptive.values()))


def _adaptive_entry(r: RunData) -> tuple[dict[str, Any], str]:
    """metrics.json entry of an adaptively sampled run (its manifest entry, the fitted prior, n range,
    predicted benchmark-scope half-width at the targeted ks), and the note that marks its curves."""
    a = r.adaptive or {}
    ks = [int(k) for k in a.get("k") or [] if isinstance(k, int) and k >= 1] or [curve_k(r)]
    est = small_sample_pass_at_k(r.n, r.c, ks, estimator=a["estimator"])
    _, low, high = adaptive_interval(r.n, r.c, ks, prior="eb", scope="benchmark", estimator=a["estimator"])
    half = {str(k): float(h) for k, h in zip(ks, (high - low) / 2)}
    n_txt = f"{int(r.n.min())}..{int(r.n.max())}"
    what = "the posterior mean of 1-(1-p)^k" + (" at every k" if a["estimator"] == "bayes" else " where n < k")
    note = (f"{r.label}: sampled adaptively (n = {n_txt} per problem, target 95% half-width {a.get('ci')} "
            f"at k = {', '.join(map(str, ks))}; now +-{max(half.values()):.4f} over sampling noise and the fit of the prior); its pass@k and "
            f"CoT-pass@k curves are {what} under the empirical-Bayes prior {est.prior.describe()}: model-based, "
            "not the unbiased estimator (docs/statistics.md, sections 5-6).")
    entry = {**a, "prior": est.prior.to_json_dict(), "n_range": [int(r.n.min()), int(r.n.max())],
             "halfwidth_benchmark": half}
    return entry, note


def figure(stats: Mapping[str, CurveStats], comparisons: Mapping[str, Mapping[str, Any]], runs: Mapping[str, RunData],
           base: str) -> SectionResult:
    """The pass@k figure and, per run compared with the base, a note on where (or whether) the curves cross."""
    order = order_labels(list(runs), base)
    adaptive = [lab for lab in order if runs[lab].adaptive is not None]
    notes = []
    for lab in order[1:]:
        cmp = comparisons.get(lab)
        if cmp is None:
            continue
        if cmp["crossing_k"] is not None:
            ci = cmp["crossing_k_ci"]
            ci_txt = f", 95% CI [{ci[0]}, {ci[1]}]" if ci else ""
            notes.append(("passk_k", f"{lab}: the curves cross at k* = {cmp['crossing_k']}{ci_txt}; the curves cross "
                          f"in {100 * (1 - cmp['crossing_k_no_crossing_share']):.0f}% of bootstrap replicates."))
        else:
            lead = cmp["pass_at_k"]["other"]["1"] > cmp["pass_at_k"]["base"]["1"]
            notes.append(("passk_k", f"{lab}: no crossing with {base} for k <= {cmp['ks'][-1]} "
                          + ("(it still leads at the largest k)." if lead else f"({base} is at least as high at every k).")))
    return SectionResult(figures={"passk": passk_curves(stats, comparisons, base, adaptive=adaptive)},
                         notes=tuple(notes))


def passk_curves(
    stats: Mapping[str, CurveStats],
    crossings: Mapping[str, Mapping[str, Any]],
    base: str,
    *,
    key: str = "passk",
    metric: str = "pass@k",
    adaptive: Sequence[str] = (),
) -> CurveFigure:
    """All runs' pass@k curves on one log2-k axis, 95% bands, each crossing k* marked.

    The central figure of Yue et al. 2025 (arXiv 2504.13837, Fig. 2): the RL model leads at k = 1
    and the base model overtakes it at large k. pass@k is the unbiased estimator of Chen et al.
    2021 averaged over problems.

    Args:
        stats: run label -> curve over its ks (1..n on powers of two) with its bootstrap band.
        crossings: other run label -> a ``Comparison.to_json_dict()`` against the base (its
            ``crossing_k`` and ``crossing_k_ci`` are read; missing or None means no crossing).
        base: label of the base run.
        adaptive: labels of adaptively sampled runs, whose curves are the posterior mean of
            ``rlbound.metrics.adaptive.small_sample_pass_at_k``; their legend entries and the title say so.

    Returns:
        one panel, x from 1 to the largest n (or targeted k), y in [0, 1].
    """
    labels = order_labels(list(stats), base)
    lines = tuple(
        Curve(label=lab, x=stats[lab].ks, y=stats[lab].mean, low=stats[lab].low, high=stats[lab].high,
              name=f"{lab} (adaptive: posterior mean)" if lab in adaptive else "")
        for lab in labels
    )
    markers = []
    for lab in labels[1:]:
        cmp = crossings.get(lab) or {}
        k_star = cmp.get("crossing_k")
        if k_star is None:
            continue
        ci = cmp.get("crossing_k_ci") or (None, None)
        y = _interp_log2(stats[lab].ks, stats[lab].mean, float(k_star))
        markers.append(Marker(label=lab, x=float(k_star), y=y, text=f"k*={_fmt_k(k_star)}",
                              x_low=None if ci[0] is None else float(ci[0]),
                              x_high=None if ci[1] is None else float(ci[1])))
    x_max = max(max(s.ks) for s in stats.values())
    how = "unbiased; adaptive runs: posterior mean" if adaptive else "unbiased"
    panel = Panel(title=f"{metric} ({how}, 95% bootstrap band over problems)", xlabel="k (samples, log2 scale)",
                  ylabel=metric, curves=lines, markers=tuple(markers), log2_x=True,
                  x_range=(1.0, float(x_max)), clamp01=True)
    return CurveFigure(key=key, title=f"{metric} against k", panels=(panel,))


def _interp_log2(ks: Sequence[float], ys: Sequence[float], k: float) -> float:
    """y at k by linear interpolation in log2(k) (the axis the curves are drawn on)."""
    lx = np.log2(np.asarray(ks, dtype=np.float64))
    return float(np.interp(math.log2(k), lx, np.asarray(ys, dtype=np.float64)))


def _fmt_k(k: float) -> str:
    k = float(k)
    return str(int(k)) if k == int(k) else f"{k:.1f}"
