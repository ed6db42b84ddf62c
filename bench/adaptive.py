"""Benchmark: adaptive allocation of samples against uniform sampling, at equal interval width.

Simulated benchmarks (every problem's true p known, so every interval can be checked):

- ``math-real``: P = 500 problems, p from a 2-component Beta mixture fitted (empirical Bayes,
  ``prior.fit.fit_beta_mixture``) to the 800 real graded responses of
  ../shared/benchmarks/eval_rm_maj_example (100 MATH problems x n = 8): an easy benchmark.
- ``omni-base``: P = 821 problems (the Omni-MATH-Rule test split), p ~ Beta(a, b) fitted to the
  published pass@1 = 10.2% and pass@256 = 69.1% of Qwen2.5-7B base (Yue et al. 2025, arXiv
  2504.13837; ../shared/reference/paper_values.md): a hard benchmark, most problems rarely solved.
- ``unsolvable-25%``: omni-base with p = 0 exactly for 25% of the problems (no Beta has that atom).
- ``polarised-rl``: P = 200, n = 256, p outside the Beta family (78% log-uniform on [0.003, 0.04],
  22% uniform on [0.6, 1]), shaped like the sandbox GRPO run on which a prior taken as known made
  the sampler stop after the pilot (docs/statistics.md, section 6).

Each problem has one stream of n Bernoulli(p) samples (n = 1,024, as Yue et al. do for AIME; 256 for
polarised-rl). Uniform sampling uses all of them. Its interval half-width on mean pass@k (95%, scope
"benchmark": these problems fixed, sampling noise only) is largest at k = 256; that maximum H is the
target. Adaptive sampling runs exactly the rounds of ``rlbound sample --adaptive``: ``adaptive.run_adaptive``
draws a pilot of 32 per problem, then each round is ``adaptive.round_allocation`` under the sampler's own
``rlbound.sampling.adaptive.POLICY`` (the empirical-Bayes prior and its 20 bootstrap refits redone every
round, whose spread enters every predicted and reported width (``--prior-boot``,
``rlbound.metrics.prior.refit``); the posterior-mean "bayes" estimator), per-problem cap n, the next
samples of the same streams. It stops when its predicted half-width is <= H at every k = 1, 2, 4, ..., 256. Equal width therefore means: both
curves have half-width <= H at every k (uniform's is far below H at small k).

Reported per k, over the replicates: truth, both curves, how often the adaptive curve lies inside the
uniform curve's own interval (strict) and within +-H of it, the coverage of both intervals (how often
they hold the true benchmark mean), the mean error of the adaptive curve, the error of the same
counts read with the hybrid estimator (unbiased where n >= k: biased by data-dependent stopping),
and the error of the small-sample EB estimator from the 32-sample pilot alone. Also: the coverage
of the population-scope bootstrap intervals of both designs for the population mean (adaptive's
widened by the prior-fit term, as ``rlbound report`` draws it), and the
planner's uniform n for H predicted from the pilot (the truth is n).
Goals: adaptive uses >= 2x fewer samples; coverage >= 90%. Also printed per scenario: what an oracle
knowing every p could save at equal width at EVERY k (``rlbound.metrics.oracle``), which bounds the
saving of any design that estimates each problem on its own.

    python bench/adaptive.py            # 20 replicates per scenario (roughly an hour: 20 refits a round)
    python bench/adaptive.py --quick    # 6 replicates, P <= 300 (12 min on 2 busy cores)
    python bench/adaptive.py --only polarised-rl --prior-boot 0   # the prior taken as known
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import fmt_seconds  # noqa: E402
from rlbound.metrics.adaptive import (  # noqa: E402
    RoundPolicy,
    adaptive_interval,
    run_adaptive,
    small_sample_pass_at_k,
)
from rlbound.metrics.oracle import neyman_saving, oracle_allocation  # noqa: E402
from rlbound.metrics.passk import default_ks, pass_at_k_matrix  # noqa: E402
from rlbound.metrics.planning import plan_sample_size  # noqa: E402
from rlbound.metrics.prior.fit import fit_beta_mixture  # noqa: E402
from rlbound.metrics.prior.mixture import BetaMixture, moment_one_minus_p  # noqa: E402
from rlbound.metrics.stats import bootstrap_ci  # noqa: E402
from rlbound.sampling.adaptive import POLICY  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "benchmarks" / "eval_rm_maj_example" / "math_cot_100.jsonl"
KS = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256])
N_UNIFORM = 1024
PILOT = 32


def real_prior() -> BetaMixture:
    """2-component Beta mixture fitted to the real graded responses (100 problems x 8)."""
    rows = [json.loads(line) for line in REAL.read_text().splitlines() if line.strip()]
    n = np.array([len(r["score"]) for r in rows])
    c = np.array([sum(bool(s) for s in r["score"]) for r in rows])
    return fit_beta_mixture(n, c, components=2)


def paper_prior(pass1: float = 0.102, pass256: float = 0.691) -> BetaMixture:
    """Beta(a, b) with mean pass1 and 1 - E[(1-p)^256] = pass256 (bisection on log a)."""
    lo, hi = -3.0, 2.0
    for _ in range(80):
        mid = (lo + hi) / 2
        a = 10.0 ** mid
        b = a * (1 - pass1) / pass1
        p256 = 1.0 - float(moment_one_minus_p(BetaMixture([1.0], [a], [b]), [256])[0])
        lo, hi = (lo, mid) if p256 > pass256 else (mid, hi)  # larger a: less mass near 0, higher pass@256
    a = 10.0 ** ((lo + hi) / 2)
    return BetaMixture([1.0], [a], [a * (1 - pass1) / pass1])


def draw_p(prior: BetaMixture, P: int, rng: np.random.Generator) -> np.ndarray:
    comp = rng.choice(prior.weights.size, size=P, p=prior.weights)
    return rng.beta(prior.a[comp], prior.b[comp])


def scenario_p(prior: BetaMixture, P: int, zero_share: float, rng: np.random.Generator) -> np.ndarray:
    """The P problems' true p: drawn from ``prior``, then p = 0 exactly for a ``zero_share`` of them
    (unsolvable problems: an atom at p = 0, which no Beta has)."""
    p = draw_p(prior, P, rng)
    p[rng.random(P) < zero_share] = 0.0
    return p


@dataclass(frozen=True)
class Scenario:
    """A simulated benchmark: P problems whose true p are drawn by ``draw(P, rng)``; ``pop_pass(ks)`` is
    the population mean of pass@k, E[1 - (1-p)^k], for the population-scope coverage."""

    name: str
    P: int
    law: str
    draw: Callable[[int, np.random.Generator], np.ndarray]
    pop_pass: Callable[[np.ndarray], np.ndarray]
    n: int = N_UNIFORM  # uniform sampling's n per problem

    @property
    def key(self) -> str:
        return self.name.split(" ")[0]


def beta_scenario(name: str, prior: BetaMixture, P: int, zero_share: float = 0.0) -> Scenario:
    return Scenario(name, P, prior.describe() + (f", then p = 0 for {zero_share:.0%}" if zero_share else ""),
                    lambda size, rng: scenario_p(prior, size, zero_share, rng),
                    lambda ks: (1.0 - zero_share) * (1.0 - moment_one_minus_p(prior, ks)))


LOW = (0.003, 0.04, 0.78)  # log-uniform on [0.003, 0.04] for 78% of problems ...
HIGH = (0.6, 1.0)  # ... uniform on [0.6, 1] for the rest


def polarised_p(P: int, rng: np.random.Generator) -> np.ndarray:
    """p of a polarised RL run, outside the Beta-mixture family: shaped like the sandbox GRPO run of
    docs/LOG.md (c/n quantiles 10/50/90%: 0.004 / 0.016 / 0.93)."""
    low = rng.random(P) < LOW[2]
    return np.where(low, np.exp(rng.uniform(np.log(LOW[0]), np.log(LOW[1]), P)), rng.uniform(*HIGH, P))


def polarised_pass(ks: np.ndarray) -> np.ndarray:
    """E[1 - (1-p)^k] under ``polarised_p``'s law (trapezoid rule on 200,001 points per part)."""
    u = np.linspace(np.log(LOW[0]), np.log(LOW[1]), 200_001)
    x = np.linspace(*HIGH, 200_001)
    ks = np.asarray(ks, dtype=np.float64)

    def mean_over(grid: np.ndarray, p: np.ndarray) -> np.ndarray:  # trapezoid rule (numpy 1.26 has no trapezoid)
        f = 1.0 - (1.0 - p)[:, None] ** ks
        return ((f[1:] + f[:-1]) / 2 * np.diff(grid)[:, None]).sum(axis=0) / (grid[-1] - grid[0])

    return LOW[2] * mean_over(u, np.exp(u)) + (1.0 - LOW[2]) * mean_over(x, x)


def stream_reader(cum: np.ndarray, n_max: int) -> Callable[[np.ndarray], np.ndarray]:
    """``draw(extra)`` for ``run_adaptive``: each problem's next ``extra[i]`` samples of its stream, up to
    ``n_max`` (``cum``: [P, N+1] cumulative correct counts along each stream)."""
    pos = np.zeros(cum.shape[0], dtype=np.int64)
    rows = np.arange(cum.shape[0])

    def draw(extra: np.ndarray) -> np.ndarray:
        new = np.minimum(pos + extra, n_max)
        got = cum[rows, new] - cum[rows, pos]
        pos[:] = new
        return got

    return draw


def one_replicate(sc: Scenario, P: int, seed: int, n_boot: int, per_k: bool = False,
                  n_max: int | None = None, policy: RoundPolicy = POLICY) -> dict:
    rng = np.random.default_rng(seed)
    p = sc.draw(P, rng)
    N = sc.n
    n_max = N if n_max is None else n_max
    stream = rng.random((P, max(N, n_max))) < p[:, None]
    cum = np.zeros((P, stream.shape[1] + 1), dtype=np.int64)
    np.cumsum(stream, axis=1, out=cum[:, 1:])
    true_bench = (1.0 - (1.0 - p[:, None]) ** KS[None, :]).mean(axis=0)
    true_pop = sc.pop_pass(KS)

    # uniform: all N samples, unbiased estimator
    n_u = np.full(P, N)
    c_u = cum[:, N]
    m_u, lo_u, hi_u = adaptive_interval(n_u, c_u, KS, scope="benchmark", estimator="hybrid")
    hw_u = (hi_u - lo_u) / 2
    target = float(hw_u.max())
    goal = hw_u if per_k else target
    per_u = pass_at_k_matrix(n_u, c_u, KS)
    _, plo_u, phi_u = bootstrap_ci(per_u, n_boot=n_boot, seed=seed)

    # adaptive: the same streams, drawn in rounds
    t0 = time.perf_counter()
    run = run_adaptive(stream_reader(cum, n_max), P, KS, goal, pilot_n=PILOT, n_max=n_max, policy=policy)
    t_policy = time.perf_counter() - t0
    m_a, lo_a, hi_a = adaptive_interval(run.n, run.c, KS, scope="benchmark", estimator=policy.estimator,
                                        prior_boot=policy.prior_boot)
    hw_a = (hi_a - lo_a) / 2
    est_a = small_sample_pass_at_k(run.n, run.c, KS, estimator=policy.estimator)
    _, plo_a, phi_a = adaptive_interval(run.n, run.c, KS, scope="population", n_boot=n_boot, seed=seed,
                                        estimator=policy.estimator,
                                        prior_boot=policy.prior_boot)  # as the report's band
    hyb = small_sample_pass_at_k(run.n, run.c, KS, prior=est_a.prior, estimator="hybrid").curve

    # the 32-sample pilot alone: small-sample EB estimate and the uniform plan for H
    c32 = cum[:, PILOT]
    pilot_curve = small_sample_pass_at_k(np.full(P, PILOT), c32, KS, estimator="hybrid").curve
    plan = plan_sample_size([(np.full(P, PILOT), c32)], KS, target, scope="benchmark")
    return {
        "samples_uniform": P * N, "samples_adaptive": int(run.n.sum()), "rounds": run.rounds,
        "target": target, "t_policy": t_policy, "met": run.met,
        "true": true_bench, "m_u": m_u, "hw_u": hw_u, "m_a": m_a, "hw_a": hw_a,
        "cover_u": (lo_u <= true_bench) & (true_bench <= hi_u),
        "cover_a": (lo_a <= true_bench) & (true_bench <= hi_a),
        "in_strict": np.abs(m_a - m_u) <= hw_u, "in_band": np.abs(m_a - m_u) <= goal,
        "err_a": m_a - true_bench, "err_hybrid": hyb - true_bench, "err_pilot": pilot_curve - true_bench,
        "popcover_u": (plo_u <= true_pop) & (true_pop <= phi_u),
        "popcover_a": (plo_a <= true_pop) & (true_pop <= phi_a),
        "plan_n": plan.n_plan,
        "n_quantiles": np.percentile(run.n, [10, 50, 90]),
    }


def report(sc: Scenario, P: int, results: list[dict], per_k: bool = False) -> dict:
    R = len(results)
    stack = lambda key: np.array([r[key] for r in results], dtype=np.float64)  # noqa: E731
    su, sa = stack("samples_uniform").sum(), stack("samples_adaptive").sum()
    ratio = su / sa
    print(f"\n== {sc.name}: P={P}, p ~ {sc.law}, {R} replicates")
    print(f"   samples per replicate: uniform {su / R:,.0f} (n={sc.n:,} each), adaptive {sa / R:,.0f} "
          f"(per-problem n, 10/50/90%: {np.mean(stack('n_quantiles'), axis=0).round(0).astype(int).tolist()}), "
          f"{np.mean(stack('rounds')):.1f} rounds; ratio {ratio:.2f}x; target met in {int(stack('met').sum())}/{R}")
    if per_k:
        print("   target: uniform's own half-width at every k (column 'in +-H' then equals 'in u-CI')")
    else:
        print(f"   target H (uniform's max half-width, at k=256): mean {np.mean(stack('target')):.4f}")
    print(f"{'k':>5} {'truth':>7} {'uniform':>7} {'+-':>6} {'adapt':>7} {'+-':>6} {'in u-CI':>7} {'in +-H':>6} "
          f"{'cov u':>5} {'cov a':>5} {'err a':>7} {'err hyb':>7} {'err pilot':>9} {'pcov u':>6} {'pcov a':>6}")
    mean = lambda key: np.mean(stack(key), axis=0)  # noqa: E731
    t, mu, hu, ma, ha = mean("true"), mean("m_u"), mean("hw_u"), mean("m_a"), mean("hw_a")
    ins, band = mean("in_strict"), mean("in_band")
    cu, ca, pu, pa = mean("cover_u"), mean("cover_a"), mean("popcover_u"), mean("popcover_a")
    ea, eh, ep = mean("err_a"), mean("err_hybrid"), mean("err_pilot")
    for j, k in enumerate(KS):
        pilot = f"{ep[j]:>+9.4f}" if k > PILOT else f"{'(n>=k)':>9}"
        print(f"{k:>5} {t[j]:>7.4f} {mu[j]:>7.4f} {hu[j]:>6.4f} {ma[j]:>7.4f} {ha[j]:>6.4f} {ins[j]:>7.0%} "
              f"{band[j]:>6.0%} {cu[j]:>5.0%} {ca[j]:>5.0%} {ea[j]:>+7.4f} {eh[j]:>+7.4f} {pilot} "
              f"{pu[j]:>6.0%} {pa[j]:>6.0%}")
    plans = [r["plan_n"] for r in results]
    ok_plans = [x for x in plans if x is not None]
    if ok_plans:
        print(f"   planner (from the 32-sample pilot) uniform n for H: median {int(np.median(ok_plans))} "
              f"(range {min(ok_plans)}-{max(ok_plans)}; truth {sc.n:,})")
    se_a = np.std(stack("err_a"), axis=0, ddof=1) / np.sqrt(R) if R > 1 else np.zeros(KS.size)
    print("   adaptive error +- its standard error over replicates: "
          + ", ".join(f"k={k}: {ea[j]:+.4f}+-{se_a[j]:.4f}" for j, k in enumerate(KS) if k in (1, 16, 256)))
    print(f"   policy time per replicate: {fmt_seconds(float(np.mean(stack('t_policy'))))}")
    return {"ratio": ratio, "cov_a": float(ca.mean()), "cov_u": float(cu.mean()), "cov_a_min": float(ca.min()),
            "in_band": float(band.min()), "in_strict": float(ins.mean()),
            "pcov_a": float(pa.mean()), "pcov_u": float(pu.mean())}


def oracle_bounds(sc: Scenario, P: int, seed: int) -> dict:
    """What an oracle knowing every p could save at equal width at EVERY k (``rlbound.metrics.oracle``):
    capped at uniform's n (as adaptive is here), uncapped (up to 16 n) at all k, and the Neyman bound
    at k = 1 alone. Bounds for unbiased per-problem estimates; one draw of the p's."""
    p = sc.draw(P, np.random.default_rng(seed))
    capped = oracle_allocation(p, KS, sc.n, cap=sc.n)  # exact: no search when capped at n
    free = oracle_allocation(p, KS, sc.n, cap=16 * sc.n, iters=2000)
    out = {"capped": capped.saving, "free": free.saving, "free_max": free.max_saving, "neyman_k1": neyman_saving(p)}
    print(f"   oracle (knows every p; unbiased estimates; equal width at every k): capped at n={sc.n:,} "
          f"saves {out['capped']:.2f}x; uncapped {out['free']:.2f}x reached, <= {out['free_max']:.2f}x; "
          f"pass@1 alone (Neyman) <= {out['neyman_k1']:.2f}x")
    return out


def real_runs(paths: list[Path], policy: RoundPolicy = POLICY) -> None:
    """Adaptive vs uniform on real run directories: each problem's stored samples (in index order)
    are its stream; uniform = all of them. The truth is unknown: reports samples and agreement."""
    from rlbound.data.store import RunStore

    for path in paths:
        store = RunStore.open(path)
        vt = store.verdict_table().select(["problem_id", "sample_index", "correct"]).to_pylist()
        ids, n, c = store.counts()
        pos = {pid: i for i, pid in enumerate(ids)}
        N = int(n.min())
        ks = np.array([k for k in default_ks(N) if k <= N])
        if N < 2 * PILOT:
            print(f"\n== {path}: n={N} per problem is too few for a pilot of {PILOT} plus rounds; skipped")
            continue
        grid = np.zeros((len(ids), N), dtype=bool)
        for row in vt:
            i = pos.get(row["problem_id"])
            if i is not None and row["sample_index"] < N:
                grid[i, row["sample_index"]] = bool(row["correct"])
        cum = np.zeros((len(ids), N + 1), dtype=np.int64)
        np.cumsum(grid, axis=1, out=cum[:, 1:])
        P = len(ids)
        m_u, lo_u, hi_u = adaptive_interval(np.full(P, N), cum[:, N], ks, estimator="hybrid")
        hw_u = (hi_u - lo_u) / 2
        run = run_adaptive(stream_reader(cum, N), P, ks, float(hw_u.max()), pilot_n=PILOT, n_max=N, policy=policy)
        m_a, lo_a, hi_a = adaptive_interval(run.n, run.c, ks, estimator=policy.estimator, prior_boot=policy.prior_boot)
        held = (lo_a <= m_u) & (m_u <= hi_a)
        print(f"\n== real run {path}: P={P}, n={N}; samples uniform {P * N:,}, adaptive {int(run.n.sum()):,} "
              f"({P * N / run.n.sum():.2f}x; median n {int(np.median(run.n))}); max |adaptive - uniform| / H = "
              f"{np.abs(m_a - m_u).max() / hw_u.max():.2f}; uniform's estimate inside adaptive's interval at "
              f"{int(held.sum())}/{ks.size} k")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 replicates, P = 300 problems")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-max", type=int, default=None,
                    help="per-problem cap of adaptive sampling (default: uniform's n of the scenario)")
    ap.add_argument("--per-k", action="store_true",
                    help="target uniform's own half-width at each k (strictly equal width) instead of its maximum")
    ap.add_argument("--prior-boot", type=int, default=POLICY.prior_boot,
                    help="refits of the EB prior whose spread enters the intervals (0: the prior taken as known; "
                    f"default {POLICY.prior_boot}, the sampler's)")
    ap.add_argument("--only", nargs="*", default=None, help="scenario keys to run (default: all)")
    ap.add_argument("--runs", nargs="*", default=None,
                    help="run directories to replay (default: run dirs under demo_out/ and demo_out/runs/, if any)")
    args = ap.parse_args(argv)
    reps = args.reps or (6 if args.quick else 20)
    policy = dataclasses.replace(POLICY, prior_boot=args.prior_boot)
    n_boot = 500 if args.quick else 1000
    t_start = time.perf_counter()

    scenarios = []
    if REAL.exists():
        scenarios.append(beta_scenario("math-real (fit to eval_rm_maj_example, 100 x 8 real verdicts)",
                                       real_prior(), 500))
    else:
        print(f"{REAL} not found: the math-real scenario is skipped")
    omni = paper_prior()
    scenarios.append(beta_scenario("omni-base (fit to Qwen2.5-7B base, Omni-MATH test: pass@1 10.2%, "
                                   "pass@256 69.1%)", omni, 821))
    scenarios.append(beta_scenario("unsolvable-25% (omni-base p for 75% of problems, p = 0 exactly for 25%: "
                                   "outside the Beta-mixture family)", omni, 500, 0.25))
    scenarios.append(Scenario("polarised-rl (most problems rarely solved, the rest mostly: outside the "
                              "Beta-mixture family; P, n and p shaped like the sandbox GRPO run)", 200,
                              f"{LOW[2]:.0%} log-uniform on [{LOW[0]}, {LOW[1]}] + {1 - LOW[2]:.0%} uniform "
                              f"on [{HIGH[0]}, {HIGH[1]}]", polarised_p, polarised_pass, n=256))
    if args.only:
        scenarios = [sc for sc in scenarios if sc.key in args.only]
    summary = {}
    for sc in scenarios:
        P = min(300, sc.P) if args.quick else sc.P
        results = [one_replicate(sc, P, args.seed * 1000 + r, n_boot, args.per_k, args.n_max, policy)
                   for r in tqdm(range(reps), desc=sc.key, unit="rep", leave=False)]
        summary[sc.key] = report(sc, P, results, args.per_k)
        summary[sc.key]["oracle"] = oracle_bounds(sc, P, args.seed * 1000)

    if args.runs is None:
        from rlbound.data.store import RunStore

        demo = ROOT / "demo_out"
        paths = sorted(p for p in [*demo.glob("*"), *demo.glob("runs/*")] if RunStore.is_run_dir(p)) if demo.is_dir() else []
        if not paths:
            print(f"\nno sandbox run directories under {demo}: the real-run replay is skipped")
    else:
        paths = [Path(p) for p in args.runs]
    real_runs(paths, policy)

    met = [k for k, s in summary.items() if s["ratio"] >= 2]
    missed = [f"{k} ({s['ratio']:.2f}x)" for k, s in summary.items() if s["ratio"] < 2]
    cov_ok = all(min(s["cov_a"], s["cov_u"]) >= 0.9 for s in summary.values())
    print("\nSUMMARY: " + "; ".join(
        f"{k}: {s['ratio']:.2f}x fewer samples, benchmark-scope coverage adaptive {s['cov_a']:.0%} (min over k "
        f"{s['cov_a_min']:.0%}) / uniform {s['cov_u']:.0%}, population-scope {s['pcov_a']:.0%} / {s['pcov_u']:.0%}, "
        f"adaptive within +-H of uniform at every k in {s['in_band']:.0%} of replicates, inside uniform's own "
        f"per-k interval at {s['in_strict']:.0%} of points" for k, s in summary.items())
        + f" | >=2x goal met: {', '.join(met) or 'none'}"
        + (f"; missed: {', '.join(missed)}" if missed else "")
        + f" | mean benchmark-scope coverage >=90%: {'MET' if cov_ok else 'MISSED'}"
        + " | oracle bound at equal width at every k, capped / uncapped: "
        + ", ".join(f"{k} {s['oracle']['capped']:.2f}x / {s['oracle']['free_max']:.2f}x" for k, s in summary.items())
        + f" | {fmt_seconds(time.perf_counter() - t_start)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
