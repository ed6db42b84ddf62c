"""Section 3: solvable coverage, which problems each run solves at least once in its n samples
(pass@n > 0), against the base (Yue et al. 2025, arXiv 2504.13837, Sec. 3: the RL model's solvable
set is nearly a subset of the base model's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlbound.report.analyses.records import SectionResult, Table

_COVERAGE_ROWS = (("both", "both solve"), ("only_base", "base only"), ("only_other", "other only"), ("neither", "neither"))


def tables(comparisons: Mapping[str, Mapping[str, Any]], base: str) -> SectionResult:
    """One coverage table per run compared with the base (``Comparison.to_json_dict()["coverage"]``)."""
    return SectionResult(tables=tuple(coverage_table(cmp["coverage"], base, lab) for lab, cmp in comparisons.items()))


def coverage_table(coverage: Mapping[str, Any], base: str, other: str) -> Table:
    """The 4-way solvable-coverage table of Yue et al. 2025 (Sec. 3, AIME24 / MATH500): which problems
    each model solves at least once in its n samples (pass@n > 0).

    Args:
        coverage: the ``coverage`` entry of ``Comparison.to_json_dict()``: key -> list of problem
            ids (or a count) for keys both, only_base, only_other, neither.

    Returns:
        rows (cell, count, share of problems), with the problem ids of each cell in ``details``.
    """
    sizes, ids = {}, {}
    for k, _ in _COVERAGE_ROWS:
        v = coverage.get(k, 0)
        if isinstance(v, (list, tuple)):
            sizes[k], ids[k] = len(v), tuple(str(x) for x in v)
        else:
            sizes[k], ids[k] = int(v), ()
    total = sum(sizes.values())
    names = {"both": "both solve", "only_base": f"{base} only", "only_other": f"{other} only", "neither": "neither"}
    rows = tuple((names[k], sizes[k], sizes[k] / total if total else float("nan")) for k, _ in _COVERAGE_ROWS)
    details = tuple((f"{names[k]} ({sizes[k]}): problem ids", ids[k]) for k, _ in _COVERAGE_ROWS if ids[k])
    return Table(key=f"coverage_{other}", caption=f"Solvable coverage, {base} vs {other} ({total} common problems; "
                 "solved = at least one correct sample)", headers=("cell", "problems", "share"), rows=rows,
                 percent_columns=(2,), details=details)
