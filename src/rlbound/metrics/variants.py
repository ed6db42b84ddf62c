"""Metrics beside pass@k (pure numpy, no IO): maj@k, G-Pass@k, mG-Pass@k, Cover@tau, lucky guesses.

They answer the objections raised against reading large-k pass@k as "what a model can solve"
(Yue et al. 2025, arXiv 2504.13837, Sec. 2 and the related-work discussion): majority voting
(a budget-matched single answer), stability across samples (Liu et al. 2024, G-Pass@k), reliability
thresholds (Dragoi et al. 2025, Cover@tau) and the floor that pure guessing reaches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from tqdm import tqdm

from rlbound.metrics.passk import KTooLargeError, _check_counts


def _counts(n: ArrayLike, c: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n_arr = np.asarray(n, dtype=np.int64).reshape(-1)
    c_arr = np.asarray(c, dtype=np.int64).reshape(-1)
    _check_counts(n_arr, c_arr)
    return n_arr, c_arr


# --------------------------------------------------------------------------------------------
# maj@k
# --------------------------------------------------------------------------------------------


def maj_at_k(
    answers: Sequence[Sequence[str | None]],
    correct: Sequence[Sequence[bool]],
    k: int,
    n_resamples: int = 1000,
    seed: int = 0,
    problem_ids: Sequence[str] | None = None,
    progress: bool = False,
) -> NDArray[np.float64]:
    """maj@k per problem: accuracy of the majority answer of k samples (Wang et al. 2023,
    self-consistency; the budget-matched baseline next to pass@k in Yue et al. 2025).

    Definition used here (precisely): for one problem with n graded samples, draw k of them
    uniformly WITHOUT replacement; the vote's answer is the most frequent non-None extracted answer
    among them (``None`` — nothing extracted — never wins; ties between equally frequent answers
    are broken uniformly at random); the vote scores the share of the problem's n samples carrying
    that answer that were graded correct (0 or 1 whenever the grader is consistent per answer; a
    fraction otherwise, i.e. a random sample with that answer is graded); a vote among k None
    answers scores 0. maj@k is the expectation of that score over the random subset and tie-break.

    The expectation has no cheap closed form, so it is ESTIMATED by Monte Carlo: ``n_resamples``
    random k-subsets per problem from a generator seeded by ``seed`` (standard error at most
    0.5 / sqrt(n_resamples), about 0.016 at the default 1,000). With k = n the subset is all samples
    and only the tie-break is random.

    Args:
        answers: P lists; answers[p][i] is the answer extracted from sample i of problem p, or None.
        correct: P lists of the same lengths; correct[p][i] is sample i's verdict.
        k: votes per majority (1 <= k <= n of every problem).
        n_resamples: random subsets per problem.
        seed: seed of the subsets and tie-breaks.
        problem_ids: names for error messages (default: the problem's index).
        progress: show a tqdm bar over problems.

    Returns:
        shape [P]: estimated maj@k of each problem; average over problems for the benchmark value.

    Raises:
        KTooLargeError: k exceeds a problem's sample count.
        ValueError: answers and correct disagree in shape, k < 1 or n_resamples < 1.
    """
    if len(answers) != len(correct):
        raise ValueError(f"answers has {len(answers)} problems but correct has {len(correct)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    out = np.empty(len(answers), dtype=np.float64)
    items = zip(answers, correct)
    for p, (ans, cor) in enumerate(tqdm(items, total=len(answers), desc="maj@k", unit="problem", disable=not progress)):
        name = problem_ids[p] if problem_ids is not None else p
        if len(ans) != len(cor):
            raise ValueError(f"problem {name!r}: {len(ans)} answers but {len(cor)} verdicts")
        n = len(ans)
        if k > n:
            raise KTooLargeError(k, n, name)
        out[p] = _maj_one(ans, np.asarray(cor, dtype=bool), k, n_resamples, rng)
    return out


def _maj_one(ans: Sequence[str | None], cor: NDArray[np.bool_], k: int, r: int, rng: np.random.Generator) -> float:
    distinct: dict[str, int] = {}
    codes = np.fromiter((-1 if a is None else distinct.setdefault(a, len(distinct)) for a in ans), dtype=np.int64, count=len(ans))
    n_ans = len(distinct)
    if n_ans == 0:
        return 0.0
    known = codes >= 0
    # Score of each distinct answer: share of its samples graded correct.
    score = np.bincount(codes[known], weights=cor[known].astype(np.float64), minlength=n_ans) / np.bincount(codes[known], minlength=n_ans)
    n = len(ans)
    if k == n:
        subsets = np.broadcast_to(codes, (r, n))
    else:
        keys = rng.random((r, n))
        pick = np.argpartition(keys, k - 1, axis=1)[:, :k]  # [r, k] a uniform k-subset per row
        subsets = codes[pick]
    # Votes per answer per replicate: [r, n_ans] (None codes land in an extra dropped column).
    shifted = np.where(subsets >= 0, subsets, n_ans)
    flat = shifted + (np.arange(r) * (n_ans + 1))[:, None]
    votes = np.bincount(flat.ravel(), minlength=r * (n_ans + 1)).reshape(r, n_ans + 1)[:, :n_ans]
    top = votes.max(axis=1, keepdims=True)
    tied = (votes == top) & (top > 0)
    winner = np.argmax(np.where(tied, rng.random((r, n_ans)), -1.0), axis=1)  # uniform among tied
    result = np.where(top[:, 0] > 0, score[winner], 0.0)
    return float(result.mean())


# --------------------------------------------------------------------------------------------
# G-Pass@k and mG-Pass@k
# --------------------------------------------------------------------------------------------


def hypergeom_pmf(n: ArrayLike, c: ArrayLike, k: int, problem_ids: Sequence[str] | None = None) -> NDArray[np.float64]:
    """P(X = j) for X ~ Hypergeom(n, c, k), j = 0..k: j correct among k of n samples drawn without
    replacement when c are correct (the law behind pass@k, Chen et al. 2021, and G-Pass@k, Liu et
    al. 2024, arXiv 2412.13147).

    Computed as exp(log C(c,j) + log C(n-c,k-j) - log C(n,k)) with ``math.lgamma`` (no scipy),
    vectorised over problems; each term is <= 1 so nothing overflows; relative error about
    1e-16 * log(n!) (about 1e-12 at n = 1,024, 1e-10 at n = 100,000).

    Args:
        n, c: shape [P]; k: draws (1 <= k <= every n).

    Returns:
        shape [P, k + 1]; zeros outside the support max(0, k-(n-c)) <= j <= min(c, k).
    """
    n_arr, c_arr = _counts(n, c)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    too_small = n_arr < k
    if too_small.any():
        p = int(np.argmax(too_small))
        raise KTooLargeError(k, int(n_arr[p]), problem_ids[p] if problem_ids is not None else p)
    j = np.arange(k + 1, dtype=np.float64)[None, :]
    nf, cf = n_arr.astype(np.float64)[:, None], c_arr.astype(np.float64)[:, None]
    valid = (j <= cf) & (k - j <= nf - cf)
    # lgamma over the distinct values only: cheap even for [10,000, 1,025] grids.
    jj = np.where(valid, j, 0.0)
    a1, b1 = np.broadcast_arrays(cf, jj)
    a2, b2 = np.broadcast_arrays(nf - cf, np.where(valid, k - j, 0.0))
    logs = _log_comb_fast(a1, b1) + _log_comb_fast(a2, b2) - _log_comb_fast(nf[:, 0], np.full(nf.shape[0], float(k)))[:, None]
    return np.where(valid, np.exp(np.minimum(logs, 0.0)), 0.0)


def _log_comb_fast(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """log C(a, b) elementwise via a table of log-factorials up to max(a) (a, b integral, b <= a)."""
    top = int(a.max()) if a.size else 0
    table = np.empty(top + 1, dtype=np.float64)
    table[:] = [math.lgamma(i + 1.0) for i in range(top + 1)]
    ai, bi = a.astype(np.int64), b.astype(np.int64)
    return table[ai] - table[bi] - table[ai - bi]


def _upper_tails(n: NDArray[np.int64], c: NDArray[np.int64], k: int, problem_ids: Sequence[str] | None) -> NDArray[np.float64]:
    """tails[p, m] = P(X_p >= m), m = 0..k+1, exact 1 and 0 outside the support."""
    pmf = hypergeom_pmf(n, c, k, problem_ids)
    tails = np.zeros((pmf.shape[0], k + 2), dtype=np.float64)
    tails[:, : k + 1] = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    lo = np.maximum(0, k - (n - c))  # smallest j in the support: P(X >= m) = 1 for m <= lo
    hi = np.minimum(c, k)  # largest j: P(X >= m) = 0 for m > hi
    m = np.arange(k + 2)[None, :]
    tails = np.where(m <= lo[:, None], 1.0, tails)
    tails = np.where(m > hi[:, None], 0.0, tails)
    return np.clip(tails, 0.0, 1.0)


def threshold(tau: float, k: int) -> int:
    """m = ceil(tau * k), the number of correct draws G-Pass@k_tau needs (Liu et al. 2024).

    Guards float noise: tau = 0.3, k = 10 gives 3, not ceil(3.0000000000000004) = 4.
    """
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must lie in (0, 1], got {tau}")
    return max(1, math.ceil(round(tau * k, 9)))


def g_pass_at_k(
    n: ArrayLike, c: ArrayLike, k: int, tau: float, problem_ids: Sequence[str] | None = None
) -> NDArray[np.float64]:
    """G-Pass@k_tau per problem (Liu et al. 2024, "Are Your LLMs Capable of Stable Reasoning?",
    arXiv 2412.13147, eq. 3): the probability that at least m = ceil(tau * k) of k samples drawn
    without replacement from the n are correct,

        sum_{j=m..c} C(c, j) C(n-c, k-j) / C(n, k) = P(X >= m),  X ~ Hypergeom(n, c, k).

    tau <= 1/k (m = 1) gives the unbiased pass@k of Chen et al. 2021; tau = 1 gives C(c,k)/C(n,k)
    (all k correct). Summed from log-space terms (``hypergeom_pmf``), exact 0/1 outside the support.

    Args:
        n, c: shape [P]; k: 1 <= k <= every n; tau: in (0, 1].

    Returns:
        shape [P].
    """
    n_arr, c_arr = _counts(n, c)
    m = threshold(tau, k)
    return _upper_tails(n_arr, c_arr, k, problem_ids)[:, m]


def mg_pass_at_k(n: ArrayLike, c: ArrayLike, k: int, problem_ids: Sequence[str] | None = None) -> NDArray[np.float64]:
    """mG-Pass@k per problem (Liu et al. 2024, arXiv 2412.13147, eq. 4): the area under
    G-Pass@k_tau for tau in [0.5, 1], discretised as

        mG-Pass@k = (2/k) * sum_{i = ceil(k/2)+1 .. k} G-Pass@k_{i/k}  (threshold of i/k is i).

    Args:
        n, c: shape [P]; k: 1 <= k <= every n.

    Returns:
        shape [P]. For k = 1 the sum is empty and the value is 0 (as the formula gives).
    """
    n_arr, c_arr = _counts(n, c)
    tails = _upper_tails(n_arr, c_arr, k, problem_ids)
    first = -(-k // 2) + 1  # ceil(k/2) + 1
    return (2.0 / k) * tails[:, first : k + 1].sum(axis=1)


# --------------------------------------------------------------------------------------------
# Cover@tau and the guessing floor
# --------------------------------------------------------------------------------------------


def cover_at_tau(n: ArrayLike, c: ArrayLike, taus: ArrayLike) -> NDArray[np.float64]:
    """Cover@tau (Dragoi et al. 2025, "Beyond Pass@k: Breadth-Depth Metrics for Reasoning
    Boundaries", arXiv 2510.08325): the share of problems whose observed accuracy c/n is >= tau.

    Cover@0 = 1 and Cover at the smallest positive tau is the share solved at least once, the
    "solvable" set of Yue et al. 2025. Relation to pass@k (tested in tests/metrics/test_variants.py):

    - continuous, EXACT for the plug-in estimator: int_0^1 k (1-tau)^(k-1) Cover@tau dtau
      = mean_p [1 - (1 - c_p/n_p)^k] (``pass_at_k_plugin``; Dragoi et al.'s Beta(1,k) identity
      with p = c/n plugged in), NOT the unbiased estimator for k > 1;
    - discrete, EXACT for the unbiased estimator when every problem has the same n:
      pass@k = sum_{j=1..n} Cover@(j/n) * C(n-j, k-1) / C(n, k).

    Comparisons use the float c/n (correctly rounded), so c/n = 3/10 meets tau = 0.3.

    Args:
        n, c: shape [P]; taus: shape [T], thresholds.

    Returns:
        shape [T].
    """
    n_arr, c_arr = _counts(n, c)
    if n_arr.size == 0:
        raise ValueError("cover_at_tau needs at least one problem")
    t = np.asarray(taus, dtype=np.float64).reshape(-1)
    acc = c_arr / n_arr
    return (acc[None, :] >= t[:, None]).mean(axis=1)


def lucky_guess_floor(M: ArrayLike, k: ArrayLike) -> NDArray[np.float64] | float:
    """Chance that k independent uniform guesses among M answers hit the right one: 1-(1-1/M)^k.

    The share of pass@k a model reaches by guessing alone on a benchmark whose answers take M
    equally likely values (the objection to large-k pass@k discussed by Yue et al. 2025, arXiv
    2504.13837, and Dragoi et al. 2025, arXiv 2510.08325). AIME (integers 0-999, M = 1000): 0.12 at
    k = 128, 0.64 at k = 1024. Computed as -expm1(k * log1p(-1/M)) so large M stays accurate.

    Args:
        M: number of equally likely answers (>= 1); k: samples (>= 0). Broadcast together.

    Returns:
        a float for scalar inputs, else an array of the broadcast shape.
    """
    m_arr = np.asarray(M, dtype=np.float64)
    k_arr = np.asarray(k, dtype=np.float64)
    if (m_arr < 1).any():
        raise ValueError(f"M must be >= 1, got {M}")
    if (k_arr < 0).any():
        raise ValueError(f"k must be >= 0, got {k}")
    with np.errstate(divide="ignore", invalid="ignore"):  # M = 1: log(0); fixed below
        out = -np.expm1(k_arr * np.log1p(-1.0 / m_arr))
    out = np.where(m_arr == 1, np.where(k_arr > 0, 1.0, 0.0), out)
    return float(out) if out.ndim == 0 else out
