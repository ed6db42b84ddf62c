"""Verdicts with their statistics: did the other run widen or narrow the base's boundary?

Yue et al. 2025 (arXiv 2504.13837) read the answer off pass@k at large k: if RL only sharpens the
base's distribution, pass@K(RL) < pass@K(base) at the largest K; a model that learned something new
(distillation from a stronger teacher; RL where the base saw the skill sparsely, Zhang, Neubig and
Yue 2025, arXiv 2512.07783) lies above it. A point comparison of two estimates cannot tell either
from sampling noise, so every verdict here comes from a 95% interval:

``paired_interval``
    The per-problem differences ``d_i = pass@K_i(other) - pass@K_i(base)`` (unbiased estimator of
    Chen et al. 2021 on each run's counts) are tested with a paired sign-flip randomization test
    over problems (Fisher 1935; Good 2005, "Permutation, Parametric and Bootstrap Tests of
    Hypotheses", ch. 3): if both runs come from the same model, each problem's two runs are
    exchangeable, so ``d_i`` is symmetric about 0 and flipping its sign leaves the distribution of
    ``sum(d_i)`` unchanged. The test is exact at any number of problems (up to the Monte Carlo error
    of the flips), which a percentile bootstrap is not when few problems differ (four discordant
    problems of one sign give a bootstrap interval excluding 0, while the exact sign-flip p-value
    is 2/16). The 95% interval is the set of shifts ``delta`` the test does not reject on
    ``d_i - delta`` (the test inverted, Lehmann & Romano 2005, sec. 3.5), found by bisection with one
    set of sign flips for every ``delta``.
``boundary_verdict``
    ``widened`` when the interval for ``pass@K(other) - pass@K(base)`` at the largest K the runs
    support lies above 0, ``narrowed`` when below, ``inconclusive`` otherwise.
``coverage_chance``
    How many problems only one run solves, expected by chance if both came from one model, given
    each problem's counts: conditional on a problem's total successes ``t`` over ``n_b + n_o``
    samples, the runs' shares are hypergeometric, so all ``t`` land in the base run with probability
    ``C(n_b, t) / C(n_b + n_o, t)``.

The false-call rate of these verdicts is measured on simulated pairs whose truth is known
(tests/metrics/test_verdicts.py, ``bench/verdicts.py``; docs/statistics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import lgamma

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.metrics.passk import pass_at_k_matrix

LEVEL = 0.95
N_FLIPS = 4000
_BISECTIONS = 40


@dataclass(frozen=True)
class PairedInterval:
    """Mean of paired differences with its randomization interval.

    Attributes:
        diff: mean of the per-problem differences.
        lo, hi: the interval at ``level``.
        p_value: two-sided sign-flip p-value of "no difference" (delta = 0).
        problems: number of problems (pairs).
        level: the interval's coverage.
    """

    diff: float
    lo: float
    hi: float
    p_value: float
    problems: int
    level: float = LEVEL

    def verdict(self, above: str, below: str, neither: str = "inconclusive") -> str:
        """``above`` when the interval lies above 0, ``below`` when below, else ``neither``."""
        if self.lo > 0:
            return above
        if self.hi < 0:
            return below
        return neither


def _flip_pvalue(a: NDArray[np.float64], b: NDArray[np.float64], total: float, count: int,
                 delta: float) -> float:
    """Two-sided p-value of "d_i - delta symmetric about 0" from precomputed flip sums.

    ``a = S @ d`` and ``b = S @ 1`` for the sign matrix S, so the flipped statistic of
    ``d - delta`` is ``a - delta * b`` and the observed one ``total - delta * count``.
    """
    observed = abs(total - delta * count)
    flipped = np.abs(a - delta * b)
    tol = 1e-12 * max(1.0, observed)
    return float((1 + np.count_nonzero(flipped >= observed - tol)) / (1 + len(a)))


def paired_interval(d: ArrayLike, *, level: float = LEVEL, n_flips: int = N_FLIPS, seed: int = 0) -> PairedInterval:
    """Sign-flip randomization interval for the mean of paired differences ``d`` (module docstring).

    Seeded: the same ``d`` and ``seed`` give the same interval. Raises ValueError on an empty ``d``
    or a level outside (0, 1).
    """
    d = np.asarray(d, dtype=np.float64).ravel()
    if d.size == 0:
        raise ValueError("no paired differences to test")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = 1 - level
    rng = np.random.default_rng(seed)
    a = np.empty(n_flips)
    b = np.empty(n_flips)
    for start in range(0, n_flips, 512):  # blocks keep the sign matrix small for large benchmarks
        stop = min(n_flips, start + 512)
        signs = rng.integers(0, 2, size=(stop - start, d.size), dtype=np.int8) * 2 - 1
        a[start:stop] = signs @ d
        b[start:stop] = signs.sum(axis=1)
    total, count, mean = float(d.sum()), d.size, float(d.mean())

    def accepted(delta: float) -> bool:
        return _flip_pvalue(a, b, total, count, delta) > alpha

    def edge(inside: float, outside: float) -> float:
        if accepted(outside):
            return outside
        for _ in range(_BISECTIONS):
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if accepted(mid) else (inside, mid)
        return inside

    lo_bound, hi_bound = float(d.min()), float(d.max())
    if lo_bound == hi_bound:  # every difference equal: no spread to test against
        p = 1.0 if lo_bound == 0 else _flip_pvalue(a, b, total, count, 0.0)
        return PairedInterval(diff=mean, lo=mean, hi=mean, p_value=p, problems=count, level=level)
    lo, hi = edge(mean, lo_bound), edge(mean, hi_bound)
    p_zero = _flip_pvalue(a, b, total, count, 0.0)
    if p_zero > alpha:
        # The accepted set holds 0 even where bisection stopped at a float-sized distance from it
        # (few discordant problems make the p-value jump at 0): the interval is its hull.
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    return PairedInterval(diff=mean, lo=lo, hi=hi, p_value=p_zero, problems=count, level=level)


@dataclass(frozen=True)
class BoundaryVerdict:
    """Whether ``other`` widened or narrowed ``base``'s reasoning boundary at pass@K.

    Attributes:
        verdict: ``widened`` | ``narrowed`` | ``inconclusive``.
        k: K, the largest k every shared problem's samples support in both runs.
        diff: pass@K(other) - pass@K(base), means over the shared problems.
        ci95: the interval of ``diff`` (``paired_interval``).
        base, other: pass@K of each run.
        p_value: sign-flip p-value of "no difference".
        problems: shared problems.
        test: one line naming what was tested and how.
    """

    verdict: str
    k: int
    diff: float
    ci95: tuple[float, float]
    base: float
    other: float
    p_value: float
    problems: int
    test: str

    def to_dict(self) -> dict[str, object]:
        return {"verdict": self.verdict, "k": self.k, "diff": self.diff, "ci95": list(self.ci95), "base": self.base,
                "other": self.other, "p_value": self.p_value, "problems": self.problems, "test": self.test}


def _counts(n: ArrayLike, c: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n, c = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    if n.shape != c.shape or n.ndim != 1:
        raise ValueError(f"n and c must be 1-d arrays of equal length, got {n.shape} and {c.shape}")
    return n, c


def boundary_verdict(n_base: ArrayLike, c_base: ArrayLike, n_other: ArrayLike, c_other: ArrayLike, *,
                     k: int | None = None, level: float = LEVEL, n_flips: int = N_FLIPS,
                     seed: int = 0) -> BoundaryVerdict:
    """Widened / narrowed / inconclusive at pass@K for two runs over the same problems (aligned arrays).

    K defaults to the largest k the runs support, ``min(n_base.min(), n_other.min())``, where
    Yue et al. 2025 read the boundary. Raises ValueError on mismatched shapes, no problem, or
    ``k`` above some problem's n.
    """
    nb, cb = _counts(n_base, c_base)
    no, co = _counts(n_other, c_other)
    if nb.shape != no.shape:
        raise ValueError(f"the runs must be aligned by problem, got {nb.size} and {no.size} problems")
    if nb.size == 0:
        raise ValueError("no shared problems")
    k_max = int(min(nb.min(), no.min()))
    k = k_max if k is None else int(k)
    if not 1 <= k <= k_max:
        raise ValueError(f"k must be in 1..{k_max} (the smallest n of the two runs), got {k}")
    pb = pass_at_k_matrix(nb, cb, [k])[:, 0]
    po = pass_at_k_matrix(no, co, [k])[:, 0]
    iv = paired_interval(po - pb, level=level, n_flips=n_flips, seed=seed)
    test = (f"pass@{k}(other) - pass@{k}(base) over {nb.size} shared problems: paired sign-flip randomization "
            f"test ({n_flips} flips), inverted to a {level:.0%} interval")
    return BoundaryVerdict(verdict=iv.verdict("widened", "narrowed"), k=k, diff=iv.diff, ci95=(iv.lo, iv.hi),
                           base=float(pb.mean()), other=float(po.mean()), p_value=iv.p_value, problems=nb.size,
                           test=test)


def _log_choose(n: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    lg = np.vectorize(lgamma, otypes=[np.float64])
    return lg(n + 1) - lg(r + 1) - lg(n - r + 1)


def coverage_chance(n_base: ArrayLike, c_base: ArrayLike, n_other: ArrayLike,
                    c_other: ArrayLike) -> tuple[float, float]:
    """Expected counts of (base-only, other-only) solvable problems if both runs came from one model.

    Conditional on each problem's total successes ``t = c_base + c_other`` (module docstring): a
    problem is base-only when all ``t >= 1`` successes fall in the base run, with probability
    ``C(n_base, t) / C(n_base + n_other, t)``, and other-only symmetrically. Compare with the
    observed coverage table (Yue et al. 2025, Sec. 3.4: the RL model's solvable set is almost a
    subset of the base's) to read "RL-only 3" against what chance alone gives.
    """
    nb, cb = _counts(n_base, c_base)
    no, co = _counts(n_other, c_other)
    if nb.shape != no.shape:
        raise ValueError(f"the runs must be aligned by problem, got {nb.size} and {no.size} problems")
    t = (cb + co).astype(np.float64)
    total = (nb + no).astype(np.float64)
    solved = t > 0
    if not solved.any():
        return 0.0, 0.0
    t, total, nbf, nof = t[solved], total[solved], nb[solved].astype(np.float64), no[solved].astype(np.float64)
    denom = _log_choose(total, t)
    only_base = np.where(t <= nbf, np.exp(_log_choose(nbf, np.minimum(t, nbf)) - denom), 0.0)
    only_other = np.where(t <= nof, np.exp(_log_choose(nof, np.minimum(t, nof)) - denom), 0.0)
    return float(only_base.sum()), float(only_other.sum())

