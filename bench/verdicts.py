"""Calibration of the boundary verdict on simulated pairs whose truth is known.

For each scenario, ``--pairs`` (default 200) pairs of runs are drawn; every pair gets
``rlbound.metrics.verdicts.boundary_verdict`` at K = n (widened / narrowed / inconclusive from the
sign-flip randomization interval). Baseline, measured in the same run on the same pairs: the same
decision taken from a paired percentile bootstrap over problems (``metrics.stats``), the usual
method. Printed per scenario: how often each verdict was given; for same-model pairs that is the
false-call rate (goal <= 5%), for a known widening or sharpening the power.

Per-problem success rates come from mixtures no part of rlbound was fitted to:

* ``thirds``: a third unsolvable, a third rare (log-uniform 1e-3..1e-1), a third uniform on (0, 1);
* ``beta``: 30% unsolvable, 10% always solved, the rest Beta(0.2, 0.8);
* ``small``: ``thirds`` at 40 problems and n = 16 (a small run: should stay inconclusive).

Scenarios: ``same`` (both runs from one model), ``widened`` (the other model solves 10% of the
base's unsolvable problems at p = 0.03), ``widened-30`` (30% of them at p = 0.05), ``sharpened`` (the other model drops every rate below 0.05
to 0 and raises the rest by half, capped at 1: RL's narrowing as Yue et al. 2025 describe it).

    .venv/bin/python bench/verdicts.py [--pairs 200] [--problems 200] [--n 256] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rlbound.metrics.passk import pass_at_k_matrix  # noqa: E402
from rlbound.metrics.stats import paired_bootstrap_diff  # noqa: E402
from rlbound.metrics.verdicts import boundary_verdict  # noqa: E402


def rates(mixture: str, rng: np.random.Generator, problems: int) -> np.ndarray:
    if mixture in ("thirds", "small"):
        kind = rng.integers(0, 3, problems)
        return np.where(kind == 0, 0.0, np.where(kind == 1, 10 ** rng.uniform(-3, -1, problems),
                                                 rng.uniform(0, 1, problems)))
    u = rng.uniform(size=problems)
    return np.where(u < 0.3, 0.0, np.where(u < 0.4, 1.0, rng.beta(0.2, 0.8, problems)))


def other_rates(scenario: str, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if scenario == "same":
        return p
    if scenario.startswith("widened"):
        share, rate = (0.1, 0.03) if scenario == "widened" else (0.3, 0.05)
        q = p.copy()
        zeros = np.flatnonzero(p == 0)
        q[rng.choice(zeros, size=max(1, int(zeros.size * share)), replace=False)] = rate
        return q
    return np.where(p < 0.05, 0.0, np.minimum(1.0, p * 1.5))


def bootstrap_call(nb, cb, no, co, k: int, seed: int) -> str:
    pb = pass_at_k_matrix(nb, cb, [k])
    po = pass_at_k_matrix(no, co, [k])
    _, lo, hi = paired_bootstrap_diff(po, pb, n_boot=2000, seed=seed)
    return "widened" if lo[0] > 0 else "narrowed" if hi[0] < 0 else "inconclusive"


def scenario(mixture: str, kind: str, pairs: int, problems: int, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    ours, base = Counter(), Counter()
    t0 = time.perf_counter()
    for i in range(pairs):
        p = rates(mixture, rng, problems)
        q = other_rates(kind, p, rng)
        nb = no = np.full(problems, n)
        cb, co = rng.binomial(n, p), rng.binomial(n, q)
        ours[boundary_verdict(nb, cb, no, co, seed=i).verdict] += 1
        base[bootstrap_call(nb, cb, no, co, n, seed=i)] += 1
    return {"mixture": mixture, "scenario": kind, "pairs": pairs, "problems": problems, "n": n,
            "verdicts": dict(ours), "bootstrap_verdicts": dict(base), "seconds": time.perf_counter() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    rows = []
    for mixture in ("thirds", "beta", "small"):
        problems, n = (40, 16) if mixture == "small" else (args.problems, args.n)
        for kind in ("same", "widened", "widened-30", "sharpened"):
            rows.append(scenario(mixture, kind, args.pairs, problems, n, args.seed))
    same = [r for r in rows if r["scenario"] == "same" and r["mixture"] != "small"]
    false = sum(r["pairs"] - r["verdicts"].get("inconclusive", 0) for r in same) / sum(r["pairs"] for r in same)
    false_boot = sum(r["pairs"] - r["bootstrap_verdicts"].get("inconclusive", 0) for r in same) / sum(
        r["pairs"] for r in same)
    summary = {"false_call_rate": false, "baseline_false_call_rate": false_boot,
               "ratio": (false_boot / false) if false else None, "goal_false_call_rate": 0.05, "rows": rows}
    if args.json:
        print(json.dumps(summary))
        return 0
    for r in rows:
        v, b = r["verdicts"], r["bootstrap_verdicts"]
        print(f"{r['mixture']:>6} {r['scenario']:>9} (P={r['problems']}, n={r['n']}, {r['pairs']} pairs): "
              f"widened {v.get('widened', 0) / r['pairs']:.1%} narrowed {v.get('narrowed', 0) / r['pairs']:.1%} "
              f"inconclusive {v.get('inconclusive', 0) / r['pairs']:.1%} | bootstrap: widened "
              f"{b.get('widened', 0) / r['pairs']:.1%} narrowed {b.get('narrowed', 0) / r['pairs']:.1%} "
              f"({r['seconds']:.1f} s)")
    ratio = f"{summary['ratio']:.2f}x" if summary["ratio"] else "n/a (no false call)"
    print(f"false-call rate on same-model pairs: {false:.1%} (goal <= 5%); percentile bootstrap "
          f"{false_boot:.1%}; bootstrap / sign-flip = {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
