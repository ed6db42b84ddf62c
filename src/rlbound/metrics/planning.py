"""How many samples are enough: interval-width prediction and sample-size planning (pure numpy).

The pass@k curves of Yue et al. 2025 (arXiv 2504.13837) are means over P problems of the unbiased
per-problem estimator of Chen et al. 2021, ``1 - C(n-c,k)/C(n,k)``. The variance of that mean has
two sources:

- between problems: which problems are in the benchmark. It does not shrink with more samples per
  problem, only with more problems (``sigma_B^2 / P``). When it alone exceeds the target, more samples
  cannot help.
- within a problem: the estimator's sampling noise at n samples, which shrinks with n.

The within-problem variance is exact. The estimator is a U-statistic of order k (Hoeffding 1948,
"A class of statistics with asymptotically normal distribution"): with q = 1 - p and J = |S1 n S2|
the overlap of two independent uniformly drawn k-subsets of the n samples (hypergeometric),
``E[est^2] = 1 - 2 q^k + E[q^(2k-J)]``, so::

    Var(est | p, n, k) = sum_j H(j; n, k, k) * q^(2k-j) * (1 - q^j)                      (1)

a sum of k+1 non-negative terms (no cancellation), equal to the sum over c = 0..n of the
Binomial(n, p) pmf times (est(c) - pass@k)^2 (``tests/metrics/test_planning.py`` checks both and a
Monte Carlo run).

Each problem's p is unknown; the pilot run gives it a posterior. The prior is a mixture of Beta
distributions fitted to all problems of the run by maximum marginal (beta-binomial) likelihood —
empirical Bayes (Robbins 1956; Efron 2010, "Large-Scale Inference", ch. 1) — so the posterior of a
problem is again a Beta mixture, and every posterior moment used here has a closed form through
``E[(1-p)^t] = B(a, b+t) / B(a, b)`` (the prior and its fit: ``rlbound.metrics.prior``).

The plan's cost (``plan_cost``): samples in all and beyond the pilot, completion tokens and
generation time, from the pilot's tokens per sample and measured throughput.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.metrics.prior.fit import resolve_prior
from rlbound.metrics.prior.mixture import (
    ESTIMATORS,
    BetaMixture,
    moment_one_minus_p,
    moment_range,
    posterior,
    posterior_pass_var,
)
from rlbound.metrics.special import lchoose, z_value

# ----------------------------------------------------------------------------------------------
# exact variance of the unbiased estimator


def overlap_pmf(n: int, k: int) -> NDArray[np.float64]:
    """pmf of the overlap J = |S1 n S2| of two independent uniform k-subsets of n items.

    Hypergeometric: ``H(j) = C(k, j) C(n-k, k-j) / C(n, k)``, zero below ``max(0, 2k - n)``.
    This is the kernel of the U-statistic variance (Hoeffding 1948) of the pass@k estimator of
    Chen et al. 2021.

    Returns:
        shape [k+1]: element j is P(J = j).
    """
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    j = np.arange(k + 1, dtype=np.float64)
    ok = j >= max(0, 2 * k - n)
    out = np.zeros(k + 1)
    jj = j[ok]
    out[ok] = np.exp(lchoose(k, jj) + lchoose(n - k, k - jj) - lchoose(n, k))
    return out / out.sum()


def estimator_variance(p: ArrayLike, n: int, k: int) -> NDArray[np.float64]:
    """Exact variance of the unbiased pass@k estimator (Chen et al. 2021) under c ~ Binomial(n, p).

    Eq. (1) of the module docstring (Hoeffding 1948 U-statistic variance):
    ``sum_j H(j; n, k, k) (1-p)^(2k-j) (1 - (1-p)^j)``. For k = 1 it is p(1-p)/n; for k = n it is
    pass@n (1 - pass@n) (the estimator is the indicator c >= 1).

    Args:
        p: any shape, success probabilities in [0, 1].
        n: samples per problem (>= k).
        k: the k of pass@k.

    Returns:
        same shape as ``p``.
    """
    p = np.asarray(p, dtype=np.float64)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p must lie in [0, 1]")
    h = overlap_pmf(int(n), int(k))
    j = np.arange(k + 1, dtype=np.float64)
    live = h > 0
    q = (1.0 - p)[..., None]
    terms = h[live] * q ** (2 * k - j[live]) * (1.0 - q ** j[live])
    return terms.sum(axis=-1)



def expected_estimator_variance(mix: BetaMixture, n: ArrayLike, k: int) -> NDArray[np.float64]:
    """Posterior expectation of the exact estimator variance (1) at n samples, ``E_post[Var(est|p,n,k)]``.

    By (1) it is ``sum_j H(j) (E[(1-p)^(2k-j)] - E[(1-p)^(2k)])``, closed form under a Beta mixture.
    Estimator of Chen et al. 2021; U-statistic variance of Hoeffding 1948.

    Args:
        mix: shape [P, M] (posteriors) or [M].
        n: scalar or shape [P], each >= k (problems may have different n).
        k: the k of pass@k.

    Returns:
        shape [P] (or scalar array for a single mixture).
    """
    single = mix.weights.ndim == 1
    if single:
        mix = BetaMixture(mix.weights[None], mix.a[None], mix.b[None], mix.source)
    P = mix.weights.shape[0]
    n_arr = np.broadcast_to(np.asarray(n, dtype=np.int64), (P,))
    if (n_arr < k).any():
        raise ValueError(f"estimator variance needs n >= k={k}")
    mom = moment_range(mix, k, k + 1)  # [P, k+1]: column i is E[(1-p)^(k+i)]
    out = np.empty(P)
    for n_val in np.unique(n_arr):
        rows = np.flatnonzero(n_arr == n_val)
        h = overlap_pmf(int(n_val), int(k))[::-1]  # h[i] = H(j = k - i): weight of E[(1-p)^(k+i)]
        sub = mom[rows]
        out[rows] = sub @ h - sub[:, -1]
    out = np.clip(out, 0.0, None)
    return out[0:1].reshape(()) if single else out


# ----------------------------------------------------------------------------------------------
# error variance of each problem's estimate, and the predicted half-width


def error_variance(post: BetaMixture, n: ArrayLike, ks: ArrayLike, estimator: str = "hybrid") -> NDArray[np.float64]:
    """Estimated error variance of each problem's pass@k estimate at its current n, shape [P, K].

    ``estimator="hybrid"``: where n >= k the estimate is the unbiased one (Chen et al. 2021) and its
    error variance is ``E_post[Var(est | p, n, k)]`` (eq. 1); where n < k it is the posterior mean
    (the small-sample estimator of ``rlbound.metrics.adaptive``) and its error is the posterior
    variance of pass@k. ``estimator="bayes"``: the posterior mean everywhere, error = posterior variance.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    ks = np.asarray(ks, dtype=np.int64).reshape(-1)
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    P = post.weights.shape[0]
    if n.size == 1:
        n = np.full(P, int(n[0]))
    out = posterior_pass_var(post, ks)
    if estimator == "bayes":
        return out
    for j, k in enumerate(ks):
        big = n >= k
        if big.any():
            sub = BetaMixture(post.weights[big], post.a[big], post.b[big])
            out[big, j] = expected_estimator_variance(sub, n[big], int(k))
    return out


def between_variance(posts: Sequence[BetaMixture], ks: ArrayLike) -> NDArray[np.float64]:
    """Spread of the true per-problem pass@k across problems, shape [K].

    One posterior per problem and run (``posts`` has 1 run, or 2 for a paired difference run0 - run1):
    the variance of pass@k (or of the difference) when a problem is drawn at random and its p from
    its posterior, ``mean_i E[x_i^2] - (mean_i E[x_i])^2``. With the empirical-Bayes prior the mixture
    of posteriors approximates the population of problems, so this estimates the between-problem
    variance sigma_B^2 that only more problems reduce (Yue et al. 2025's curves are means over problems).
    """
    ks = np.asarray(ks, dtype=np.float64).reshape(-1)
    m1 = [moment_one_minus_p(p, ks) for p in posts]  # E[(1-p)^k]   [P, K]
    m2 = [moment_one_minus_p(p, 2 * ks) for p in posts]  # E[(1-p)^2k]
    if len(posts) == 1:
        mean = 1.0 - m1[0]
        sq = 1.0 - 2.0 * m1[0] + m2[0]
    elif len(posts) == 2:
        # x = pi_0 - pi_1 = q1 - q0 with q = (1-p)^k, independent posteriors
        mean = m1[1] - m1[0]
        sq = m2[1] - 2.0 * m1[1] * m1[0] + m2[0]
    else:
        raise ValueError("between_variance takes one run or two (a paired difference)")
    return np.clip(sq.mean(axis=0) - mean.mean(axis=0) ** 2, 0.0, None)


_SCOPES = ("population", "benchmark")


@dataclass(frozen=True)
class HalfwidthParts:
    """Predicted variance parts of the mean over P problems of pass@k (or of a paired difference).

    Attributes:
        ks: shape [K].
        between_var: sigma_B^2 per k (0 for scope "benchmark"), per problem.
        within_var: mean over problems of each estimate's error variance, per k.
        n_problems: P.
        level: interval level.
        scope: "population" (problems are a sample of a larger population; what a bootstrap over
            problems covers) or "benchmark" (these P problems are fixed; only sampling noise).
    """

    ks: tuple[int, ...]
    between_var: tuple[float, ...]
    within_var: tuple[float, ...]
    n_problems: int
    level: float
    scope: str

    @property
    def halfwidth(self) -> NDArray[np.float64]:
        """z * sqrt((sigma_B^2 + within) / P), shape [K]."""
        tot = np.asarray(self.between_var) + np.asarray(self.within_var)
        return z_value(self.level) * np.sqrt(tot / self.n_problems)

    @property
    def between_halfwidth(self) -> NDArray[np.float64]:
        """Half-width from the between-problem spread alone (the limit for n -> infinity)."""
        return z_value(self.level) * np.sqrt(np.asarray(self.between_var) / self.n_problems)


def _check_scope(scope: str) -> None:
    if scope not in _SCOPES:
        raise ValueError(f"scope must be one of {_SCOPES}, got {scope!r}")


def predict_halfwidth(
    posts: Sequence[BetaMixture],
    n: ArrayLike,
    ks: ArrayLike,
    scope: str = "population",
    level: float = 0.95,
) -> HalfwidthParts:
    """Predicted interval half-width of mean pass@k over problems at sample counts ``n``.

    ``half-width = z * sqrt((sigma_B^2 + mean_i e_i(n_i)) / P)`` with e_i the error variance of
    problem i's estimate (``error_variance``) and sigma_B^2 the between-problem variance
    (``between_variance``; left out for scope "benchmark"). For two runs (a paired difference, as
    Yue et al. 2025 compare base and RL models on the same problems) the error variances add.

    Args:
        posts: one or two posteriors of shape [P, M] (rows aligned by problem).
        n: scalar (uniform) or shape [P], the sample counts at which to predict; or a list with one
            such entry per run.
        ks: shape [K].
    """
    _check_scope(scope)
    z_value(level)
    ks = np.asarray(ks, dtype=np.int64).reshape(-1)
    P = posts[0].weights.shape[0]
    ns = list(n) if isinstance(n, list) else [n] * len(posts)
    if len(ns) != len(posts):
        raise ValueError("give one n (or one array of n) per run")
    within = sum(error_variance(p, n_run, ks) for p, n_run in zip(posts, ns)).mean(axis=0)
    between = between_variance(posts, ks) if scope == "population" else np.zeros(ks.size)
    return HalfwidthParts(tuple(int(k) for k in ks), tuple(float(x) for x in between),
                          tuple(float(x) for x in within), P, level, scope)


# ----------------------------------------------------------------------------------------------
# the sample-size plan


@dataclass(frozen=True)
class SamplePlan:
    """Samples per problem (uniform allocation) that reach a target half-width, per k.

    Attributes:
        ks: shape [K].
        target_halfwidth: the interval is estimate +- this.
        level, scope: as in ``HalfwidthParts``.
        n_problems: P (problems shared by the runs).
        n_pilot: samples per problem in the pilot (the smallest n over problems and runs).
        pilot_halfwidth: predicted half-width at the pilot's counts, per k.
        between_halfwidth: half-width from between-problem spread alone (n -> infinity), per k.
        n_needed: smallest n per problem meeting the target, per k; None where the between-problem
            spread alone exceeds the target (more samples cannot help) or beyond ``n_max``.
        halfwidth_at_needed: predicted half-width at ``n_needed`` (None where n_needed is None).
        problems_needed: for an unreachable k, the fewest problems that could reach the target with
            unlimited samples, ``ceil(z^2 sigma_B^2 / h^2)`` (assuming new problems are like these);
            None where the target is reachable.
        n_max: the search limit.
        priors: the prior of each run.
        difference: True for a paired difference of two runs.
        n_needed_range: per k, the 10th-90th percentile of n_needed over pilots resampled over problems
            (None entries: unreachable in that share of replicates); None per k without ``n_boot``.
    """

    ks: tuple[int, ...]
    target_halfwidth: float
    level: float
    scope: str
    n_problems: int
    n_pilot: int
    pilot_halfwidth: tuple[float, ...]
    between_halfwidth: tuple[float, ...]
    n_needed: tuple[int | None, ...]
    halfwidth_at_needed: tuple[float | None, ...]
    problems_needed: tuple[int | None, ...]
    n_max: int
    priors: tuple[BetaMixture, ...] = field(default=())
    difference: bool = False
    n_needed_range: tuple[tuple[int | None, int | None] | None, ...] = field(default=())

    @property
    def n_plan(self) -> int | None:
        """Samples per problem meeting the target at every k; None if some k cannot be met."""
        if any(x is None for x in self.n_needed):
            return None
        return max(self.n_needed)  # type: ignore[type-var]

    def to_json_dict(self) -> dict:
        return {
            "ks": list(self.ks), "target_halfwidth": self.target_halfwidth, "level": self.level,
            "scope": self.scope, "n_problems": self.n_problems, "n_pilot": self.n_pilot,
            "pilot_halfwidth": list(self.pilot_halfwidth), "between_halfwidth": list(self.between_halfwidth),
            "n_needed": list(self.n_needed), "halfwidth_at_needed": list(self.halfwidth_at_needed),
            "problems_needed": list(self.problems_needed), "n_max": self.n_max, "n_plan": self.n_plan,
            "difference": self.difference, "priors": [p.to_json_dict() for p in self.priors],
            "n_needed_range": [None if r is None else list(r) for r in self.n_needed_range],
        }


def _plan_core(arrs, ks, target, prior, components, scope, level, n_max):
    """(priors, pilot HalfwidthParts, n_needed, halfwidth at n_needed, problems needed) per k."""
    z = z_value(level)
    P = arrs[0][0].size
    priors = tuple(resolve_prior(prior, n, c, components) for n, c in arrs)
    posts = [posterior(pr, n, c) for pr, (n, c) in zip(priors, arrs)]
    pilot = predict_halfwidth(posts, [n for n, _ in arrs], ks, scope, level)
    between = np.asarray(pilot.between_var)
    allowance = P * (target / z) ** 2 - between  # allowed mean within-variance
    n_needed: list[int | None] = []
    hw_needed: list[float | None] = []
    p_needed: list[int | None] = []

    def within(n_val: int, k: int) -> float:
        return float(sum(expected_estimator_variance(p, n_val, k) for p in posts).mean())

    for j, k in enumerate(ks):
        k = int(k)
        if allowance[j] <= 0:
            n_needed.append(None)
            hw_needed.append(None)
            p_needed.append(int(math.ceil(z * z * between[j] / target ** 2)))
            continue
        p_needed.append(None)
        if within(k, k) <= allowance[j]:
            best = k
        elif within(n_max, k) > allowance[j]:
            n_needed.append(None)
            hw_needed.append(None)
            continue
        else:
            lo, hi = k, n_max  # within(lo) > allowance >= within(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if within(mid, k) <= allowance[j]:
                    hi = mid
                else:
                    lo = mid
            best = hi
        n_needed.append(best)
        hw_needed.append(float(z * math.sqrt((between[j] + within(best, k)) / P)))
    return priors, pilot, n_needed, hw_needed, p_needed


def plan_sample_size(
    counts: Sequence[tuple[ArrayLike, ArrayLike]],
    ks: ArrayLike,
    target_halfwidth: float,
    *,
    prior: BetaMixture | str | None = "eb",
    components: int = 2,
    scope: str = "population",
    level: float = 0.95,
    n_max: int = 1 << 17,
    n_boot: int = 0,
    seed: int = 0,
) -> SamplePlan:
    """Samples per problem (the same n for all) so that the interval on mean pass@k has half-width
    <= ``target_halfwidth`` — for one run, or for the paired difference of two runs on the same problems.

    Method: each problem's p gets an empirical-Bayes Beta-mixture posterior from the pilot counts
    (``prior.fit.fit_beta_mixture``, ``prior.mixture.posterior``); the within-problem error variance at n is the posterior
    expectation of the exact estimator variance (1) of the unbiased estimator (Chen et al. 2021), which
    falls monotonically in n (Hoeffding 1948), so the smallest n with
    ``z^2 (sigma_B^2 + W(n)) / P <= h^2`` is found by bisection over n in [k, n_max]. If the
    between-problem part ``z^2 sigma_B^2 / P`` alone exceeds h^2 no n reaches the target; more
    problems are needed. For pass@k curves as in Yue et al. 2025 (arXiv 2504.13837).

    For k above the pilot's n the answer depends on the fitted prior's shape near p = 0, which a
    small pilot pins down poorly; ``n_boot > 0`` repeats the whole plan on pilots resampled over
    problems (Efron 1979; the prior refitted each time) and reports the 10th-90th percentile range of
    the answer (``n_needed_range``).

    Args:
        counts: ``[(n, c)]`` for one run or ``[(n_a, c_a), (n_b, c_b)]`` for the difference a - b; each
            array has shape [P], rows aligned by problem (the pilot).
        ks: the k values, shape [K].
        target_halfwidth: h, in (0, 1).
        prior: "eb" (fit per run), "jeffreys", or a BetaMixture used for every run.
        scope: "population" or "benchmark" (see ``HalfwidthParts``).
        n_max: largest n searched.
        n_boot, seed: bootstrap replicates of the plan (0: none) and their seed.
    """
    _check_scope(scope)
    z_value(level)
    if not 0.0 < target_halfwidth < 1.0:
        raise ValueError(f"target half-width must lie in (0, 1), got {target_halfwidth}")
    if len(counts) not in (1, 2):
        raise ValueError("counts must hold one run or two")
    ks = np.asarray(sorted({int(k) for k in np.asarray(ks).reshape(-1)}), dtype=np.int64)
    if ks.size == 0 or ks[0] < 1:
        raise ValueError("ks must be non-empty and >= 1")
    if ks[-1] > n_max:
        raise ValueError(f"k={int(ks[-1])} exceeds n_max={n_max}")
    arrs = [(np.asarray(n, dtype=np.int64).reshape(-1), np.asarray(c, dtype=np.int64).reshape(-1)) for n, c in counts]
    P = arrs[0][0].size
    if P == 0 or any(n.size != P or c.size != P for n, c in arrs):
        raise ValueError("every run needs the same, non-zero number of problems")
    priors, pilot, n_needed, hw_needed, p_needed = _plan_core(
        arrs, ks, target_halfwidth, prior, components, scope, level, n_max)
    ranges: list[tuple[int | None, int | None] | None] = [None] * ks.size
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        reps = np.empty((n_boot, ks.size))
        for b in range(n_boot):
            idx = rng.integers(0, P, size=P)
            sub = [(n[idx], c[idx]) for n, c in arrs]
            got = _plan_core(sub, ks, target_halfwidth, prior, components, scope, level, n_max)[2]
            reps[b] = [np.inf if x is None else x for x in got]
        lo, hi = np.quantile(reps, [0.1, 0.9], axis=0, method="inverted_cdf")
        ranges = [(None if not np.isfinite(a) else int(a), None if not np.isfinite(b) else int(b))
                  for a, b in zip(lo, hi)]
    return SamplePlan(
        ks=tuple(int(k) for k in ks), target_halfwidth=float(target_halfwidth), level=level, scope=scope,
        n_problems=P, n_pilot=int(min(n.min() for n, _ in arrs)),
        pilot_halfwidth=tuple(float(x) for x in pilot.halfwidth),
        between_halfwidth=tuple(float(x) for x in pilot.between_halfwidth),
        n_needed=tuple(n_needed), halfwidth_at_needed=tuple(hw_needed), problems_needed=tuple(p_needed),
        n_max=int(n_max), priors=priors, difference=len(arrs) == 2, n_needed_range=tuple(ranges),
    )


# ----------------------------------------------------------------------------------------------
# what the plan costs


@dataclass(frozen=True)
class SamplingCost:
    """What drawing n samples per problem costs, for the runs of a plan.

    Attributes:
        samples: samples in all (every run, every problem).
        more_samples: samples beyond those the pilot already has (>= 0).
        tokens: completion tokens in all; None when a run's tokens per sample are unknown.
        seconds: generation time at each run's measured throughput; None when a run's tokens per
            sample or throughput are unknown.
    """

    samples: int
    more_samples: int
    tokens: float | None
    seconds: float | None

    def to_json_dict(self) -> dict:
        return {"samples": self.samples, "more_samples": self.more_samples, "tokens": self.tokens,
                "seconds": self.seconds}


def sampling_cost(n_per_problem: int, n_problems: int, tokens_per_sample: Sequence[float | None],
                  throughput: Sequence[float | None], pilot_samples: int = 0) -> SamplingCost:
    """Cost of ``n_per_problem`` samples of each of ``n_problems`` problems in each run (the uniform
    allocation that ``plan_sample_size`` plans for the pass@k curves of Yue et al. 2025, arXiv 2504.13837).

    Tokens are ``P n sum_r t_r`` and time ``P n sum_r t_r / s_r`` with t_r the mean completion tokens
    per sample and s_r the throughput (tokens per second) of run r, both measured on its pilot: the
    runs are sampled one after the other, each as fast as its pilot was.

    Args:
        n_per_problem: n, samples per problem and run.
        n_problems: P, problems per run.
        tokens_per_sample: one entry per run (None: unknown).
        throughput: one entry per run, tokens per second (None: unknown).
        pilot_samples: samples the pilot runs already hold.
    """
    if len(tokens_per_sample) != len(throughput) or not tokens_per_sample:
        raise ValueError("give one tokens-per-sample and one throughput entry per run")
    if n_per_problem < 0 or n_problems < 0 or pilot_samples < 0:
        raise ValueError("samples, problems and pilot samples must be >= 0")
    samples = len(tokens_per_sample) * n_problems * n_per_problem
    tokens = seconds = None
    if all(t is not None for t in tokens_per_sample):
        tokens = n_problems * n_per_problem * sum(tokens_per_sample)
        if all(s is not None for s in throughput):
            seconds = n_problems * n_per_problem * sum(t / s for t, s in zip(tokens_per_sample, throughput))
    return SamplingCost(samples, max(0, samples - pilot_samples), tokens, seconds)


def plan_cost(plan: SamplePlan, tokens_per_sample: Sequence[float | None], throughput: Sequence[float | None],
              pilot_samples: int = 0) -> tuple[SamplingCost | None, ...]:
    """``sampling_cost`` at each k's ``plan.n_needed`` (None where the target is not reached), one
    tokens-per-sample and throughput entry per run of the plan (two for a paired difference)."""
    if len(tokens_per_sample) != (2 if plan.difference else 1):
        raise ValueError(f"the plan has {2 if plan.difference else 1} run(s), got {len(tokens_per_sample)} "
                         "tokens-per-sample entries")
    return tuple(None if n_k is None else
                 sampling_cost(n_k, plan.n_problems, tokens_per_sample, throughput, pilot_samples)
                 for n_k in plan.n_needed)
