"""Section 2: pass@1, pass@K and the sampling-efficiency gap per run, in the form of Yue et al.
2025 (arXiv 2504.13837), Table 2; pass@k is the unbiased estimator of Chen et al. 2021.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlbound.report.analyses.curves import CurveStats
from rlbound.report.analyses.records import SectionResult, Table, order_labels


def table2(stats: Mapping[str, CurveStats], K: int, base: str,
           comparisons: Mapping[str, Mapping[str, Any]]) -> SectionResult:
    """The Table-2 section: its table and ``table2`` of metrics.json, the gap of each compared run
    taken from its comparison with the base (``gap_at_K``, over the problems both share)."""
    table = efficiency_table(stats, K, base, {lab: cmp["gap_at_K"] for lab, cmp in comparisons.items()})
    rows = [{"run": row[0], "pass_at_1": row[1], "pass_at_1_ci95": row[2], "pass_at_K": row[3],
             "pass_at_K_ci95": row[4], "efficiency_gap": row[5]} for row in table.rows]
    return SectionResult(metrics={"table2": {"K": K, "rows": rows}}, tables=(table,))


def efficiency_table(stats: Mapping[str, CurveStats], K: int, base: str, gaps: Mapping[str, float] | None = None) -> Table:
    """Yue et al. 2025 Table 2 form: pass@1 and pass@K per run and the sampling-efficiency gap
    pass@K(base) - pass@1(run) (the paper's gap uses K = 256).

    Args:
        stats: run label -> pass@k curve whose ks contain 1 and K (the band, when present, gives the CIs).
        K: the common large k (largest power of two every run's n reaches).
        gaps: run label -> gap already computed over the problems it shares with the base
            (``efficiency_gap`` of the comparison); runs not in it get pass@K(base) - pass@1(run)
            from ``stats`` (the base itself always does).

    Returns:
        rows (label, pass@1, (low, high) or None, pass@K, (low, high) or None, gap). Values are
        fractions; ``html.py`` shows them in %.
    """
    labels = order_labels(list(stats), base)
    gaps = gaps or {}
    base_K = stats[base].at(K)
    rows = []
    for lab in labels:
        s = stats[lab]
        gap = float(gaps[lab]) if lab in gaps else base_K - s.at(1)
        rows.append((lab, s.at(1), s.band_at(1), s.at(K), s.band_at(K), gap))
    return Table(key="table2", caption=f"pass@1 and pass@{K} per run in % (95% bootstrap CIs over problems); "
                 f"sampling-efficiency gap = pass@{K}({base}) - pass@1(run) over the problems both share, in "
                 "percentage points",
                 headers=("run", "pass@1 (%)", "95% CI", f"pass@{K} (%)", "95% CI", f"gap vs {base} (points)"),
                 rows=tuple(rows), percent_columns=(1, 2, 3, 4, 5))
