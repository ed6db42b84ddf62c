"""Every run against the base on their shared problems (``rlbound.metrics.compare.compare_runs``):
pass@k with paired bootstrap intervals, the crossing point k*, the sampling-efficiency gap
pass@K(base) - pass@1(run) and solvable coverage, as Yue et al. 2025 (arXiv 2504.13837) compare
a model after RL with its base. Sections 1-3 read these comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlbound.errors import InputError
from rlbound.metrics.compare import compare_runs, efficiency_gap
from rlbound.metrics.passk import default_ks
from rlbound.report.analyses.curves import N_BOOT, SEED, CurveStats
from rlbound.report.analyses.records import RunData, SectionResult, order_labels


def against_base(runs: Mapping[str, RunData], base: str, K: int, user_ks: Sequence[int] | None,
                 stats: Mapping[str, CurveStats]) -> SectionResult:
    """``comparisons`` of metrics.json: label -> ``Comparison.to_json_dict()`` against the base, with
    ``gap_K`` and ``gap_at_K`` added, at the user's ks (default powers of two) up to the smallest n
    of the shared problems, 1 and K always included.

    A run sharing no problem with the base is left out with a note. When either run is adaptively
    sampled the gap reads the curves' estimator (``stats``), as Table 2 does. InputError when
    ``compare_runs`` rejects the pair.
    """
    order = order_labels(list(runs), base)
    b = runs[base]
    comparisons: dict[str, dict[str, Any]] = {}
    notes: list[tuple[str, str]] = []
    for lab in order[1:]:
        r = runs[lab]
        shared = set(b.ids) & set(r.ids)
        if not shared:
            notes.append(("passk", f"{lab}: shares no problem id with {base}; no crossing, gap or coverage against it."))
            continue
        n_sh = min(int(b.n[[i for i, p in enumerate(b.ids) if p in shared]].min()),
                   int(r.n[[i for i, p in enumerate(r.ids) if p in shared]].min()))
        cks = sorted({k for k in (user_ks or default_ks(n_sh)) if k <= n_sh} | {1, K})
        try:
            cmp = compare_runs(b.ids, b.n, b.c, r.ids, r.n, r.c, ks=cks, n_boot=N_BOOT, seed=SEED).to_json_dict()
        except ValueError as e:
            raise InputError(f"cannot compare {lab} with {base}: {e}", path=str(r.path)) from None
        cmp["gap_K"] = K
        cmp["gap_at_K"] = efficiency_gap(cmp["pass_at_k"]["base"][str(K)], cmp["pass_at_k"]["other"]["1"])
        if r.adaptive is not None or b.adaptive is not None:  # Table 2 reads the curves' estimator
            cmp["gap_at_K"] = efficiency_gap(stats[base].at(K), stats[lab].at(1))
            notes.append(("passk", f"{lab}: crossing k* and coverage against {base} use the unbiased estimator at "
                          f"k <= {cks[-1]}, which adaptive sampling's data-dependent stopping biases slightly."))
        comparisons[lab] = cmp
        if cmp["n_dropped"]["base"] or cmp["n_dropped"]["other"]:
            notes.append(("passk", f"{lab}: compared with {base} on the {cmp['n_problems']} shared problems "
                          f"({cmp['n_dropped']['base']} only in {base}, {cmp['n_dropped']['other']} only in {lab})."))
        if r.manifest.dataset_hash and b.manifest.dataset_hash and r.manifest.dataset_hash != b.manifest.dataset_hash:
            notes.append(("config", f"{lab}: dataset hash differs from {base}'s; comparisons use shared problem ids only."))
    if len(order) == 1:
        notes.append(("passk", "only one run: no crossing point, efficiency gap or coverage (they need a second run)."))
    return SectionResult(metrics={"comparisons": comparisons}, notes=tuple(notes))
