"""Adaptive allocation of samples across problems, and the small-sample pass@k estimator (pure numpy).

Uniform sampling (every problem n times, as Yue et al. 2025, arXiv 2504.13837, do) spends most samples
where they teach nothing: a problem solved 29 times in 32 has pass@256 = 1 up to 1e-20, whatever more
samples say, while a problem solved 0 or 1 times out of 32 carries most of the uncertainty of
pass@k at large k. The policy here samples in rounds; after each round it gives the next round's
budget to the problems whose estimate would shrink the interval most per sample (``next_allocation``),
stops drawing for problems whose contribution is already small, and stops altogether when the
predicted half-width meets the target at every k. ``round_allocation`` is the one decision of a round,
under the rules of ``RoundPolicy`` (the empirical-Bayes prior and its bootstrap refits redone every
round): ``rlbound sample --adaptive`` (``rlbound.sampling.adaptive``) calls it, and so does
``run_adaptive``, the driver that bench/adaptive.py and the tests measure it with.

Estimators (``small_sample_pass_at_k``):

- "hybrid": the unbiased estimator of Chen et al. 2021 where n_i >= k; where n_i < k (undefined there)
  the posterior mean of 1 - (1-p)^k under the empirical-Bayes Beta-mixture prior of
  ``rlbound.metrics.prior`` (fitted to all problems of the run). Right for uniformly sampled runs
  whose n is below some k.
- "bayes": that posterior mean in every cell. Right after ADAPTIVE sampling: stopping a problem
  depends on its data, which biases the unbiased estimator (problems stopped after a lucky streak
  keep their high estimate, unlucky ones are sampled on and regress), e.g. +0.02 on pass@16 in
  bench/adaptive.py's omni-base scenario, while the posterior mean obeys the likelihood principle and
  is not affected by a data-dependent stopping rule.

Posterior-mean cells are model-based (prior-dependent): ``model_based_ks`` tells a report which points
of a curve rest on them, and docs/statistics.md gives their measured bias. They share one fitted
prior, so their errors do not average out over problems: the intervals and the stopping rule add
the curve's spread over refits of the prior to resampled problems (``prior.refit``; Laird & Louis 1987).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

from rlbound.metrics.passk import pass_at_k_matrix
from rlbound.metrics.planning import between_variance, error_variance, expected_estimator_variance
from rlbound.metrics.prior.fit import resolve_prior
from rlbound.metrics.prior.mixture import (
    ESTIMATORS,
    BetaMixture,
    posterior,
    posterior_pass_at_k,
    preposterior_pass_var,
)
from rlbound.metrics.prior.refit import DEFAULT_BOOT, bootstrap_priors, prior_fit_variance
from rlbound.metrics.special import z_value
from rlbound.metrics.stats import bootstrap_ci

# ----------------------------------------------------------------------------------------------
# the small-sample estimator


@dataclass(frozen=True, eq=False)
class SmallSampleEstimate:
    """Per-problem pass@k where some problems may have fewer than k samples.

    Attributes:
        ks: shape [K].
        values: shape [P, K]; unbiased (Chen et al. 2021) where n >= k, posterior mean where n < k.
        model_based: shape [P, K], True where the value is the prior-dependent posterior mean.
        prior: the Beta-mixture prior used for the model-based cells.
    """

    ks: NDArray[np.int64]
    values: NDArray[np.float64]
    model_based: NDArray[np.bool_]
    prior: BetaMixture

    @property
    def curve(self) -> NDArray[np.float64]:
        """Mean over problems, shape [K]."""
        return self.values.mean(axis=0)

    @property
    def model_based_share(self) -> NDArray[np.float64]:
        """Share of problems whose value at each k is model-based, shape [K]."""
        return self.model_based.mean(axis=0)


def _counts(n: ArrayLike, c: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    c = np.asarray(c, dtype=np.int64).reshape(-1)
    if n.shape != c.shape or n.size == 0:
        raise ValueError(f"n and c must be non-empty and of equal length, got {n.shape} and {c.shape}")
    if (n < 1).any() or (c < 0).any() or (c > n).any():
        raise ValueError("need n >= 1 and 0 <= c <= n for every problem")
    return n, c


def _ks(ks: ArrayLike) -> NDArray[np.int64]:
    k = np.asarray(ks, dtype=np.int64).reshape(-1)
    if k.size == 0 or k.min() < 1:
        raise ValueError("ks must be non-empty and >= 1")
    return k


def small_sample_pass_at_k(
    n: ArrayLike,
    c: ArrayLike,
    ks: ArrayLike,
    prior: BetaMixture | str | None = "eb",
    components: int = 2,
    estimator: str = "hybrid",
) -> SmallSampleEstimate:
    """pass@k per problem for any k, also k > n (Chen et al. 2021 estimator where it is defined).

    Where n_i >= k: the unbiased ``1 - C(n-c,k)/C(n,k)``. Where n_i < k: the posterior mean
    ``1 - E[(1-p)^k | n_i, c_i]`` under a Beta-mixture prior — by default the empirical-Bayes prior
    fitted to all problems of the run (Robbins 1956; ``prior.fit.fit_beta_mixture``, 2 components,
    a, b in [0.01, 1000]); ``"jeffreys"`` gives Beta(1/2, 1/2), which overstates pass@k of problems
    with c = 0 (pass@256 after 0 of 32 correct: 0.66). It is the Bayes estimator under squared
    error, but prior-dependent: extrapolating from n to k > n cannot tell p = 0 from p = 1e-3
    (measured bias in docs/statistics.md). For the curves of Yue et al. 2025 (arXiv 2504.13837).

    Args:
        n, c: shape [P].
        ks: shape [K].
        prior: "eb", "jeffreys" or a ``BetaMixture`` (shape [M]).
        estimator: "hybrid" (as above) or "bayes" (the posterior mean in every cell: immune to the
            bias that data-dependent stopping gives the unbiased estimator; see ``next_allocation``).

    Returns:
        ``SmallSampleEstimate`` (values and model_based of shape [P, K]).
    """
    n, c = _counts(n, c)
    k = _ks(ks)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    pr = resolve_prior(prior, n, c, components)
    small = n[:, None] < k[None, :]
    if estimator == "bayes":
        small = np.ones_like(small)
    values = np.empty((n.size, k.size))
    for j, kk in enumerate(k):  # unbiased where defined
        big = np.flatnonzero(~small[:, j])
        if big.size:
            values[big, j] = pass_at_k_matrix(n[big], c[big], [int(kk)])[:, 0]
    if small.any():
        rows = np.flatnonzero(small.any(axis=1))
        pm = posterior_pass_at_k(posterior(pr, n[rows], c[rows]), k)  # [P_small, K]
        block = values[rows]
        block[small[rows]] = pm[small[rows]]
        values[rows] = block
    return SmallSampleEstimate(k, values, small, pr)


def model_based_ks(n: ArrayLike, ks: ArrayLike) -> NDArray[np.bool_]:
    """For a report: True at each k where some problem has fewer than k samples, i.e. the point of the
    pass@k curve uses the small-sample (posterior-mean) estimator and should be marked. Shape [K]."""
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    k = _ks(ks)
    return n.min() < k


# ----------------------------------------------------------------------------------------------
# intervals with unequal n


def adaptive_interval(
    n: ArrayLike,
    c: ArrayLike,
    ks: ArrayLike,
    prior: BetaMixture | str | None = "eb",
    scope: str = "benchmark",
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    components: int = 2,
    estimator: str = "bayes",
    prior_boot: int = DEFAULT_BOOT,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean pass@k over problems with an interval, for problems with unequal n.

    Scope "benchmark" (these problems fixed; sampling noise only): normal interval
    ``mean +- z sqrt(sum_i e_ik) / P`` with e_ik the estimated error variance of problem i's estimate
    (``planning.error_variance``: posterior expectation of the exact estimator variance where n >= k,
    posterior variance where n < k). Scope "population": percentile bootstrap over problems of the
    per-problem estimates (``stats.bootstrap_ci``, Efron 1979), which covers problem sampling plus the
    estimates' noise. Estimator as in ``small_sample_pass_at_k``: "bayes" (default, for adaptively
    sampled runs) or "hybrid" (Chen et al. 2021 where n >= k; for uniformly sampled runs).

    When the prior is fitted here ("eb"/None) and some cell is model-based, the uncertainty of the fit
    is added in both scopes (Laird & Louis 1987; ``prior.refit``): each side of the interval becomes
    ``sqrt(side^2 + z^2 F_k)`` with F_k the variance of the curve over ``prior_boot`` refits of the
    prior to resampled problems (0: leave it out). A given ``BetaMixture`` or "jeffreys" is taken as known.
    Coverage measured in bench/adaptive.py.

    Returns:
        (mean [K], low [K], high [K]).
    """
    n, c = _counts(n, c)
    k = _ks(ks)
    if scope not in ("population", "benchmark"):
        raise ValueError(f"scope must be 'population' or 'benchmark', got {scope!r}")
    est = small_sample_pass_at_k(n, c, k, prior, components, estimator)
    z = z_value(level)
    fit_var = np.zeros(k.size)
    if prior in (None, "eb") and prior_boot > 0 and est.model_based.any():
        fit_var = prior_fit_variance(bootstrap_priors(n, c, components, prior_boot, seed), n, c, k, estimator)
    if scope == "population":
        mean, low, high = bootstrap_ci(est.values, n_boot=n_boot, level=level, seed=seed)
        return (mean, mean - np.sqrt((mean - low) ** 2 + z * z * fit_var),
                mean + np.sqrt((high - mean) ** 2 + z * z * fit_var))
    e = error_variance(posterior(est.prior, n, c), n, k, estimator)
    half = z * np.sqrt(e.sum(axis=0) / n.size ** 2 + fit_var)
    mean = est.curve
    return mean, mean - half, mean + half


# ----------------------------------------------------------------------------------------------
# the allocation policy


@dataclass(frozen=True, eq=False)
class Allocation:
    """One round's decision of ``next_allocation``.

    Attributes:
        extra: shape [P], samples to draw next per problem (0: stop drawing for it, for now).
        halfwidth: shape [K], predicted half-width at the current counts.
        target: shape [K], the target half-width.
        done: True when the target is met at every k (extra is all zero).
        infeasible: shape [K], True where the between-problem spread alone exceeds the target
            (scope "population" only): no allocation can meet it; more problems are needed.
        score: shape [P], predicted reduction of the (normalised) interval variance per sample.
    """

    extra: NDArray[np.int64]
    halfwidth: NDArray[np.float64]
    target: NDArray[np.float64]
    done: bool
    infeasible: NDArray[np.bool_]
    score: NDArray[np.float64]


def _gains(post: BetaMixture, n: NDArray[np.int64], step: NDArray[np.int64], e: NDArray[np.float64],
           ks: NDArray[np.int64], cols: NDArray[np.int64], estimator: str) -> NDArray[np.float64]:
    """Predicted drop of each problem's error variance at ks[cols] after ``step`` more samples, [P, len(cols)].

    Unbiased cells (hybrid estimator, n >= k): ``e - E_post[Var(est | p, n + step, k)]`` (exact
    estimator variance, eq. 1 of planning). Posterior-mean cells (n < k, or the bayes estimator): the
    preposterior drop ``Var_post - E[Var_post']`` (Raiffa & Schlaifer 1961), which for a hybrid cell
    about to cross n = k stays a fair (positive) measure of what the samples teach. Pairs whose
    current error variance is below 1e-4 of the largest at that k are skipped (their gain is smaller).
    """
    P = n.size
    out = np.zeros((P, cols.size))
    sub_e = e[:, cols]
    live = (step[:, None] > 0) & (sub_e > 1e-4 * sub_e.max(axis=0, keepdims=True))
    kk = ks[cols]
    pre = live & ((n[:, None] < kk[None, :]) if estimator == "hybrid" else np.ones_like(live))
    for jj, k in enumerate(kk):
        big = np.flatnonzero(live[:, jj] & ~pre[:, jj])
        if big.size:
            sub = BetaMixture(post.weights[big], post.a[big], post.b[big])
            out[big, jj] = sub_e[big, jj] - expected_estimator_variance(sub, n[big] + step[big], int(k))
    rows_any = np.flatnonzero(pre.any(axis=1))
    for s_val in np.unique(step[rows_any]):
        rows = rows_any[step[rows_any] == s_val]
        use = np.flatnonzero(pre[rows].any(axis=0))
        sub = BetaMixture(post.weights[rows], post.a[rows], post.b[rows])
        drop = sub_e[np.ix_(rows, use)] - preposterior_pass_var(sub, kk[use], int(s_val))
        out[np.ix_(rows, use)] = np.where(pre[np.ix_(rows, use)], drop, out[np.ix_(rows, use)])
    return np.clip(out, 0.0, None)


def next_allocation(
    n: ArrayLike,
    c: ArrayLike,
    ks: ArrayLike,
    budget: int,
    target_halfwidth: float | ArrayLike,
    *,
    prior: BetaMixture | str | None = "eb",
    batch: int = 16,
    growth: float = 0.5,
    n_max: int | None = None,
    scope: str = "benchmark",
    level: float = 0.95,
    estimator: str = "bayes",
    components: int = 2,
    boot_priors: Sequence[BetaMixture] = (),
) -> Allocation:
    """Extra samples per problem for the next round of adaptive sampling (pass@k of Chen et al. 2021
    for the curves of Yue et al. 2025, arXiv 2504.13837).

    The interval variance of mean pass@k is ``(sigma_B^2 [population scope only] + mean_i e_ik) / P + F_k``
    (``planning.predict_halfwidth``), F_k the variance of the curve over ``boot_priors`` (the fitted
    prior's own uncertainty, ``prior.refit``; 0 without them). Target h_k means
    ``sum_i e_ik <= A_k - P^2 F_k`` with ``A_k = P^2 (h_k/z)^2 - P sigma_B^2``.
    Each problem i would get ``step_i = clip(max(batch, growth * n_i), 0, n_max - n_i)`` more samples;
    its score is the predicted drop of ``sum_k (e_ik / A_k)`` over the ks not yet met, per sample
    (``_gains``). Problems are taken in decreasing score until the predicted drops cover the excess
    ``sum_i e_ik - A_k + P^2 F_k`` at every unmet k or the budget is spent (where F_k alone exceeds the
    target, the whole budget: F_k falls as the posteriors leave the prior); problems with zero score (their
    contribution is already negligible, or n_max is reached) get nothing. Greedy one-step lookahead,
    in the spirit of Neyman (1934) allocation: samples go where the variance per sample falls most.

    Args:
        n, c: shape [P], samples and correct samples so far.
        ks: shape [K].
        budget: most samples to hand out this round.
        target_halfwidth: scalar or shape [K].
        prior: "eb" (refit to (n, c) on each call), "jeffreys" or a fixed ``BetaMixture``.
        batch, growth: step size per selected problem (at least ``batch``, else ``growth * n_i``).
        n_max: per-problem cap (None: none).
        scope: "benchmark" (default; the part sampling controls) or "population".
        estimator: how the final curve will be read: "bayes" (default; posterior mean everywhere, the
            right reading after adaptive sampling) or "hybrid" (unbiased where n >= k).
        boot_priors: refits of the empirical-Bayes prior to resampled problems
            (``prior.refit.bootstrap_priors``); () leaves the fit's uncertainty out.

    Returns:
        ``Allocation``.
    """
    if scope not in ("population", "benchmark"):
        raise ValueError(f"scope must be 'population' or 'benchmark', got {scope!r}")
    n, c = _counts(n, c)
    k = _ks(ks)
    z = z_value(level)
    P = n.size
    target = np.broadcast_to(np.asarray(target_halfwidth, dtype=np.float64), k.shape).copy()
    if (target <= 0).any():
        raise ValueError("target half-width must be > 0")
    if batch < 1 or growth < 0 or budget < 0:
        raise ValueError("need batch >= 1, growth >= 0, budget >= 0")
    pr = resolve_prior(prior, n, c, components)
    post = posterior(pr, n, c)
    e = error_variance(post, n, k, estimator)  # [P, K]
    sb = between_variance([post], k) if scope == "population" else np.zeros(k.size)
    total = e.sum(axis=0)
    fit_var = prior_fit_variance(boot_priors, n, c, k, estimator)
    halfwidth = z * np.sqrt((sb + total / P) / P + fit_var)
    allow = P * P * (target / z) ** 2 - P * sb
    infeasible = allow <= 0
    unmet = (halfwidth > target) & ~infeasible
    zeros = np.zeros(P, dtype=np.int64)
    if not unmet.any():
        return Allocation(zeros, halfwidth, target, bool((halfwidth <= target).all()), infeasible, np.zeros(P))
    step = np.maximum(batch, np.floor(growth * n)).astype(np.int64)
    if n_max is not None:
        step = np.clip(np.minimum(step, n_max - n), 0, None)
    cols = np.flatnonzero(unmet)
    gain = _gains(post, n, step, e, k, cols, estimator)  # [P, U]
    excess = total[cols] - allow[cols] + P * P * fit_var[cols]
    score = (gain / allow[cols]).sum(axis=1) / np.maximum(step, 1)
    order = np.argsort(-score, kind="stable")
    extra = zeros.copy()
    covered = np.zeros(cols.size)
    spent = 0
    for i in order:
        if score[i] <= 0 or step[i] <= 0:
            break
        if spent + step[i] > budget:
            if spent == 0 and budget > 0:  # hand out a partial step rather than nothing
                extra[i] = budget
            break
        extra[i] = step[i]
        spent += int(step[i])
        covered += gain[i]
        if (covered >= excess).all():
            break
    return Allocation(extra, halfwidth, target, False, infeasible, score)


# ----------------------------------------------------------------------------------------------
# one round of the shipped policy, and a driver for simulations


@dataclass(frozen=True)
class RoundPolicy:
    """The rules of adaptive sampling that ``round_allocation`` applies each round.

    The defaults are the policy ``rlbound sample --adaptive`` ships (``rlbound.sampling.adaptive``).

    Attributes:
        round_fraction: a round hands out at most ``max(round_fraction * samples so far, P)`` samples.
        batch, growth: a selected problem gets ``max(batch, growth * n_i)`` more samples.
        scope, level: the interval the target is about ("benchmark": these problems fixed, sampling
            noise only).
        estimator: how the final curve is read ("bayes": the posterior mean in every cell).
        prior: "eb" (the empirical-Bayes prior refitted to the counts every round), "jeffreys" or a
            fixed ``BetaMixture`` (taken as known).
        prior_boot: with "eb", refits of the prior to resampled problems whose spread enters the
            predicted width (``prior.refit``; 0: none); they are seeded, so a round's decision is a
            function of the counts alone.
        components: Beta components of each fit.
    """

    round_fraction: float = 0.25
    batch: int = 16
    growth: float = 0.5
    scope: str = "benchmark"
    level: float = 0.95
    estimator: str = "bayes"
    prior: BetaMixture | str = "eb"
    prior_boot: int = DEFAULT_BOOT
    components: int = 2


def round_allocation(
    n: ArrayLike,
    c: ArrayLike,
    ks: ArrayLike,
    target_halfwidth: float | ArrayLike,
    *,
    n_max: int | None = None,
    policy: RoundPolicy = RoundPolicy(),
    max_samples: int | None = None,
) -> Allocation:
    """The next round of adaptive sampling after counts (n, c): ``next_allocation`` under ``policy``
    (pass@k of Chen et al. 2021 for the curves of Yue et al. 2025, arXiv 2504.13837).

    The round's budget is ``max(ceil(round_fraction * sum(n)), P)`` samples (at most
    ``max_samples - sum(n)`` when given). With the "eb" prior the prior is refitted to (n, c) and so
    are its ``prior_boot`` bootstrap refits (Laird & Louis 1987), whose spread keeps a misfit prior
    from stopping the run early (docs/statistics.md). Deterministic in (n, c).

    Args:
        n, c: shape [P], samples and correct samples so far.
        ks: shape [K].
        target_halfwidth: scalar or shape [K].
        n_max: per-problem cap (None: none).
        policy: the rules (default: the shipped ones).
        max_samples: most samples in all (None: no limit).

    Returns:
        ``Allocation``.
    """
    n, c = _counts(n, c)
    total = int(n.sum())
    budget = max(int(math.ceil(policy.round_fraction * total)), n.size)
    if max_samples is not None:
        budget = min(budget, max_samples - total)
    eb = policy.prior in (None, "eb")
    boots = bootstrap_priors(n, c, policy.components, n_boot=policy.prior_boot) if eb else ()
    return next_allocation(n, c, ks, max(budget, 0), target_halfwidth, prior=policy.prior, batch=policy.batch,
                           growth=policy.growth, n_max=n_max, scope=policy.scope, level=policy.level,
                           estimator=policy.estimator, components=policy.components, boot_priors=boots)


@dataclass(frozen=True, eq=False)
class AdaptiveRun:
    """Result of ``run_adaptive``: final counts and the history of rounds.

    Attributes:
        n, c: shape [P], final samples and correct samples per problem.
        rounds: number of rounds (the pilot included).
        halfwidth: shape [K], predicted half-width at the final counts.
        met: True when the target was met at every k.
        history: per round, (samples so far, predicted half-width [K]).
    """

    n: NDArray[np.int64]
    c: NDArray[np.int64]
    rounds: int
    halfwidth: NDArray[np.float64]
    met: bool
    history: tuple[tuple[int, tuple[float, ...]], ...]


def run_adaptive(
    draw: Callable[[NDArray[np.int64]], ArrayLike],
    n_problems: int,
    ks: ArrayLike,
    target_halfwidth: float | ArrayLike,
    *,
    pilot_n: int = 32,
    max_samples: int | None = None,
    n_max: int | None = None,
    policy: RoundPolicy = RoundPolicy(),
    progress: bool = False,
) -> AdaptiveRun:
    """Sample in rounds, each decided by ``round_allocation``, until the target is met (pass@k, Chen et
    al. 2021; curves of Yue et al. 2025): the loop of ``rlbound sample --adaptive`` with the sampler
    replaced by ``draw``, for simulations and benchmarks.

    ``draw(extra)`` draws ``extra[i]`` more samples of problem i (shape [P]) and returns how many of
    them were correct (shape [P]); the caller supplies it (the samples must be independent, and a
    problem's samples are the next ones of its own seeded stream). The pilot draws ``pilot_n`` per
    problem. Stops when the target is met at every k or a round hands out nothing.

    Args:
        policy: the rules of each round (default: the shipped ones).
        max_samples: stop when this many samples have been drawn in total.
        n_max: per-problem cap.
    """
    if n_problems < 1 or pilot_n < 1:
        raise ValueError("need n_problems >= 1 and pilot_n >= 1")
    k = _ks(ks)
    n = np.zeros(n_problems, dtype=np.int64)
    c = np.zeros(n_problems, dtype=np.int64)
    extra = np.full(n_problems, pilot_n if n_max is None else min(pilot_n, n_max), dtype=np.int64)
    history: list[tuple[int, tuple[float, ...]]] = []
    bar = tqdm(total=max_samples, desc="adaptive sampling", unit="sample", disable=not progress)
    rounds = 0
    while True:
        got = np.asarray(draw(extra.copy()), dtype=np.int64).reshape(-1)
        if got.shape != (n_problems,) or (got < 0).any() or (got > extra).any():
            raise ValueError("draw(extra) must return, per problem, a count of correct samples in 0..extra[i]")
        n += extra
        c += got
        rounds += 1
        bar.update(int(extra.sum()))
        alloc = round_allocation(n, c, k, target_halfwidth, n_max=n_max, policy=policy, max_samples=max_samples)
        history.append((int(n.sum()), tuple(float(x) for x in alloc.halfwidth)))
        bar.set_postfix_str(f"max half-width {alloc.halfwidth.max():.4f}")
        if alloc.done or int(alloc.extra.sum()) == 0:
            break
        extra = alloc.extra
    bar.close()
    return AdaptiveRun(n, c, rounds, alloc.halfwidth, alloc.done, tuple(history))
