"""Section 7b: metrics beside pass@k, with ``--extra-metrics``: maj@k, the majority vote of k
samples (Wang et al. 2023); G-Pass@k_tau and mG-Pass@k, the probability that at least ceil(tau k)
of k samples are correct (Liu et al. 2024); Cover@tau, the share of problems with c/n >= tau
(Dragoi et al. 2025). Computed by ``rlbound.metrics.variants``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rlbound.metrics.passk import default_ks
from rlbound.metrics.variants import cover_at_tau, g_pass_at_k, maj_at_k, mg_pass_at_k
from rlbound.report.analyses.curves import SEED, CurveStats, bootstrap_curve
from rlbound.report.analyses.records import Curve, CurveFigure, Panel, RunData, SectionResult

MAJ_RESAMPLES = 200  # Monte Carlo subsets per problem and k for maj@k (standard error <= 0.035)
GPASS_K = 16  # G-Pass@k of Liu et al. 2024 is reported at k = 16
COVER_TAUS = tuple(float(t) for t in np.round(np.linspace(0.0, 1.0, 51), 10))

Answers = tuple[list[list[str | None]], list[list[bool]]]  # per problem: extracted answers, correctness


def maj_ks(K: int) -> list[int]:
    """The ks of the maj@k curves: powers of two up to K."""
    return [k for k in default_ks(K) if k <= K]


def variants(runs: Mapping[str, RunData], answers: Mapping[str, Answers], base: str, K: int,
             tick: Callable[[int], object] = lambda n: None) -> SectionResult:
    """maj@k with its bootstrap band (Monte Carlo over k-subsets), G-Pass@k_tau at k = min(16, K)
    for tau = 1/k .. 1, mG-Pass@k and Cover@tau of every run: the figure and ``extra_metrics`` of
    metrics.json. A run whose verdicts extracted no answer gets no maj@k, with a note.

    Args:
        answers: run label -> per problem (in the run's id order) the extracted answers and verdicts.
        tick: called with the number of maj@k points done (a progress bar's update).
    """
    maj: dict[str, CurveStats] = {}
    gpass: dict[str, CurveStats] = {}
    cover: dict[str, CurveStats] = {}
    notes = []
    kg = min(GPASS_K, K)
    taus = [m / kg for m in range(1, kg + 1)]
    out: dict[str, Any] = {"maj_at_k": {}, "g_pass_at_k": {}, "mg_pass_at_k": {}, "cover_at_tau": {},
                           "g_pass_k": kg, "maj_resamples": MAJ_RESAMPLES, "maj_seed": SEED}
    ks = maj_ks(K)
    for lab, r in runs.items():
        extracted, correct = answers[lab]
        if all(a is None for row in extracted for a in row):
            notes.append(("extra", f"{lab}: no extracted answers in its verdicts; maj@k left out."))
            tick(len(ks))
        else:
            per = np.empty((len(r.ids), len(ks)))
            for j, k in enumerate(ks):
                per[:, j] = maj_at_k(extracted, correct, k, n_resamples=MAJ_RESAMPLES, seed=SEED, problem_ids=r.ids)
                tick(1)
            maj[lab] = bootstrap_curve(per, ks)
            out["maj_at_k"][lab] = maj[lab].to_json_dict()
        g = np.stack([g_pass_at_k(r.n, r.c, kg, t, r.ids) for t in taus], axis=1)
        gpass[lab] = bootstrap_curve(g, taus)
        out["g_pass_at_k"][lab] = {"taus": taus, "mean": list(gpass[lab].mean),
                                   "ci95_low": list(gpass[lab].low), "ci95_high": list(gpass[lab].high)}
        out["mg_pass_at_k"][lab] = float(mg_pass_at_k(r.n, r.c, kg, r.ids).mean())
        cv = cover_at_tau(r.n, r.c, COVER_TAUS)
        cover[lab] = CurveStats.of(COVER_TAUS, cv)
        out["cover_at_tau"][lab] = {"taus": list(COVER_TAUS), "values": [float(v) for v in cv]}
    return SectionResult(metrics={"extra_metrics": out},
                         figures={"extra_metrics": extra_metric_panels(maj, gpass, kg, cover, base)}, notes=tuple(notes))


def extra_metric_panels(
    maj: Mapping[str, CurveStats],
    gpass: Mapping[str, CurveStats],
    gpass_k: int,
    cover: Mapping[str, CurveStats],
    base: str,
) -> CurveFigure:
    """maj@k against k (Wang et al. 2023), G-Pass@k_tau against tau at k = ``gpass_k`` (Liu et al.
    2024), Cover@tau against tau (Dragoi et al. 2025), one line per run; a run missing from a
    mapping is left out of that panel."""
    def curves(m: Mapping[str, CurveStats]) -> tuple[Curve, ...]:
        labs = [lab for lab in ([base] if base in m else []) + [x for x in m if x != base]]
        return tuple(Curve(lab, m[lab].ks, m[lab].mean, m[lab].low, m[lab].high) for lab in labs)

    panels = []
    if maj:
        x_max = max(max(s.ks) for s in maj.values())
        panels.append(Panel("maj@k (majority vote of k samples)", "k (samples, log2 scale)", "maj@k", curves(maj),
                            log2_x=True, x_range=(1.0, float(x_max)), clamp01=True))
    panels.append(Panel(f"G-Pass@{gpass_k}, tau (>= ceil(tau*{gpass_k}) correct)", "tau", f"G-Pass@{gpass_k}",
                        curves(gpass), x_range=(0.0, 1.0), clamp01=True))
    panels.append(Panel("Cover@tau (share of problems with c/n >= tau)", "tau", "Cover@tau", curves(cover),
                        x_range=(0.0, 1.0), clamp01=True))
    return CurveFigure(key="extra_metrics", title="maj@k, G-Pass@k and Cover@tau", panels=tuple(panels))
