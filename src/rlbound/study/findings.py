"""The findings of Yue et al. 2025 (arXiv 2504.13837) checked on measured numbers.

Pure functions: counts and perplexities in, ``Finding`` records out. Each finding states the
measured numbers and whether it held; nothing here chooses what to measure. A finding whose data
is missing is reported as not evaluated (``held=None``), never as held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rlbound.metrics.compare import compare_runs
from rlbound.metrics.passk import pass_at_k_matrix

Counts = tuple[list[str], np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Finding:
    """One finding: a short name, what the paper claims, what was measured, and whether it held."""

    key: str
    claim: str
    measured: str
    held: bool | None
    numbers: dict = field(default_factory=dict)


def _curve(counts: Counts, ks: Sequence[int]) -> np.ndarray:
    ids, n, c = counts
    return pass_at_k_matrix(n, c, ks, ids).mean(axis=0)


def crossing(base: Counts, rl: Counts, k_big: int) -> Finding:
    """RL above base at k=1, base at or above RL at k=k_big (Yue et al. 2025, Fig. 2), with k* and its CI."""
    comp = compare_runs(*base, *rl)
    d = comp.to_json_dict()
    pb, pr = d["pass_at_k"]["base"], d["pass_at_k"]["other"]
    kb = str(k_big)
    held = pr["1"] > pb["1"] and pb[kb] >= pr[kb]
    ci = d.get("crossing_k_ci")
    measured = (f"pass@1 base {pb['1']:.3f} vs RL {pr['1']:.3f}; pass@{k_big} base {pb[kb]:.3f} vs RL {pr[kb]:.3f}; "
                f"k* = {d['crossing_k']}" + (f" (95% CI {ci[0]}-{ci[1]})" if ci else ""))
    return Finding("crossing", f"RL wins at k=1, base at or above RL at k={k_big}", measured, held,
                   {"pass1_base": pb["1"], "pass1_rl": pr["1"], f"pass{k_big}_base": pb[kb],
                    f"pass{k_big}_rl": pr[kb], "crossing_k": d["crossing_k"], "crossing_k_ci": ci})


def coverage(base: Counts, rl: Counts, near_zero: float = 0.02) -> Finding:
    """RL-only solvable problems near zero, base-only clearly above zero (Yue et al. 2025, Sec. 3.3)."""
    cov = compare_runs(*base, *rl).to_json_dict()["coverage"]
    total = sum(len(v) for v in cov.values())
    ob, oo = len(cov["only_base"]), len(cov["only_other"])
    held = oo <= max(1, near_zero * total) and ob > oo
    measured = (f"of {total} problems: both {len(cov['both'])}, base only {ob}, RL only {oo}, "
                f"neither {len(cov['neither'])}")
    return Finding("coverage", "RL-only solvable near zero, base-only clearly above zero", measured, held,
                   {"both": len(cov["both"]), "only_base": ob, "only_rl": oo, "neither": len(cov["neither"])})


def checkpoints(runs: Sequence[tuple[int, Counts]], k_big: int) -> Finding:
    """pass@1 up and pass@k_big down across RL checkpoints (Yue et al. 2025, Table 'GRPO over steps').

    ``runs`` are (step, counts) in training order; the study passes the base model as step 0, so
    the finding compares the start of training with its end and lists every checkpoint between.
    """
    if len(runs) < 2:
        return Finding("checkpoints", "pass@1 up, pass@K down over training", "fewer than 2 checkpoints", None)
    ks = [1, k_big]
    rows = [(step, *_curve(c, ks)) for step, c in runs]
    p1 = [r[1] for r in rows]
    pk = [r[2] for r in rows]
    held = p1[-1] > p1[0] and pk[-1] < pk[0]
    measured = "; ".join(f"step {s}: pass@1 {a:.3f}, pass@{k_big} {b:.3f}" for s, a, b in rows)
    return Finding("checkpoints", f"pass@1 up and pass@{k_big} down from step {rows[0][0]} to step {rows[-1][0]}",
                   measured, held,
                   {"steps": [r[0] for r in rows], "pass1": p1, f"pass{k_big}": pk})


def distillation(base: Counts, distilled: Counts, ks: Sequence[int]) -> Finding:
    """Distillation from a stronger teacher lifts the whole curve (Yue et al. 2025, Sec. 4.2)."""
    comp = compare_runs(*base, *distilled, ks=list(ks)).to_json_dict()
    pb, pd = comp["pass_at_k"]["base"], comp["pass_at_k"]["other"]
    diffs = {k: pd[str(k)] - pb[str(k)] for k in ks}
    held = all(v > 0 for v in diffs.values())
    worst = min(diffs, key=diffs.get)
    measured = (f"distilled - base: pass@1 {diffs[ks[0]]:+.3f}, pass@{ks[-1]} {diffs[ks[-1]]:+.3f}; "
                f"smallest margin {diffs[worst]:+.3f} at k={worst}")
    return Finding("distillation", "distilled model above base at every k", measured, held,
                   {"diff": {str(k): v for k, v in diffs.items()}})


def perplexity(base_own: np.ndarray | None, rl_under_base: np.ndarray | None) -> Finding:
    """RL responses sit in the low-perplexity part of the base model's own distribution (Yue et al. 2025, Fig. 6)."""
    if base_own is None or rl_under_base is None or not len(base_own) or not len(rl_under_base):
        return Finding("perplexity", "RL responses low-perplexity under base", "perplexities not available", None)
    base_own = base_own[np.isfinite(base_own)]
    med_rl = float(np.median(rl_under_base[np.isfinite(rl_under_base)]))
    pct = float(100.0 * np.mean(base_own < med_rl))
    med_base = float(np.median(base_own))
    held = pct < 50.0
    measured = (f"median perplexity under base: base's own responses {med_base:.3f}, RL responses {med_rl:.3f} "
                f"(the {pct:.0f}th percentile of base's own)")
    return Finding("perplexity", "RL responses' perplexity under base in the low part of base's own distribution",
                   measured, held, {"median_base_own": med_base, "median_rl": med_rl, "percentile": pct})


def cot_gap(label: str, answer: Counts, cot: Counts, k_big: int) -> Finding:
    """CoT-pass@k (answer and every step right, Wen et al. 2025) next to pass@k: the lucky share."""
    ks = [1, k_big]
    pa, pc = _curve(answer, ks), _curve(cot, ks)
    lucky = float(pa[1] - pc[1])
    measured = (f"{label}: pass@1 {pa[0]:.3f} vs CoT-pass@1 {pc[0]:.3f}; pass@{k_big} {pa[1]:.3f} vs "
                f"CoT-pass@{k_big} {pc[1]:.3f} ({lucky:.3f} of pass@{k_big} had a wrong step)")
    return Finding(f"cot_{label}", "share of large-k pass@k that came from responses with a wrong step",
                   measured, None, {"pass1": float(pa[0]), "cot_pass1": float(pc[0]), f"pass{k_big}": float(pa[1]),
                                    f"cot_pass{k_big}": float(pc[1])})


def format_findings(findings: Sequence[Finding]) -> str:
    """The terminal summary table: one block per finding."""
    mark = {True: "HELD", False: "NOT SHOWN", None: "info"}
    lines = []
    for f in findings:
        lines.append(f"[{mark[f.held]:>9}] {f.claim}")
        lines.append(f"            {f.measured}")
    return "\n".join(lines)


def to_json(findings: Sequence[Finding]) -> list[Mapping]:
    """The findings as ``findings.json`` stores them (``key``, ``claim``, ``measured``, ``held``, ``numbers``)."""
    return [{"key": f.key, "claim": f.claim, "measured": f.measured,
             "held": None if f.held is None else bool(f.held), "numbers": f.numbers}
            for f in findings]


def from_json(rows: Sequence[Mapping]) -> list[Finding]:
    """``to_json``'s rows back to ``Finding`` records (for ``format_findings`` of a stored study)."""
    return [Finding(r["key"], r["claim"], r["measured"], r["held"], dict(r.get("numbers") or {})) for r in rows]
