"""The fewest samples any allocation could need: an oracle that knows every problem's p (pure numpy).

Question (issue 9 of rlbound; the pass@k study of Yue et al. 2025, arXiv 2504.13837, draws n = 1,024
per problem): how many samples can re-allocating them across problems save, if the result must be as
precise as uniform sampling at n samples per problem - at EVERY k, not only at the k where uniform
is least precise? An adaptive design learns the p_i from its own samples; an oracle that knows them
exactly can do no worse, so the oracle's saving bounds what any adaptive design can reach with the
same estimator.

Setting: problem i gets n_i samples and its pass@k is estimated with the unbiased estimator of Chen
et al. 2021 (so n_i >= max k), whose exact variance V_ik(n) is ``planning.estimator_variance``
(Hoeffding 1948). The benchmark mean's variance is sum_i V_ik(n_i) / P^2; "as precise as uniform"
means ``sum_i V_ik(n_i) <= sum_i V_ik(n)`` for every k.

- Per-problem cap at the uniform n (``cap=n``): V_ik(.) strictly decreases in n for 0 < p_i < 1, so
  every such problem needs n_i = n and only problems with p exactly 0 or 1 can be skipped; the saving
  is at most P / #{0 < p_i < 1} (``oracle_allocation`` returns that allocation directly when the grid
  stops at n). (At k = 1 this holds for every unbiased estimator: p(1-p)/n is the
  Cramer-Rao bound.)
- No cap, k = 1 alone (``neyman_saving``): Neyman (1934) allocation, n_i proportional to
  sqrt(p_i (1 - p_i)), saves exactly mean(v) / mean(sqrt v)^2 with v = p(1-p). Every extra k is an
  extra constraint, so this bounds the saving at all k too.
- No cap, all k (``oracle_allocation``): the Lagrangian separates by problem; each problem takes the
  n on a grid minimising ``n + sum_k lambda_k V_ik(n)``, and the multipliers are found by ascent on
  the dual. The dual value is a lower bound on the samples of every allocation on the grid, so
  ``P n / dual`` bounds the saving; the best feasible allocation met on the way is returned too.

Estimators that borrow strength across problems (the posterior mean of ``adaptive``) are outside
these bounds: they trade a bias, set by the prior, for variance (docs/statistics.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.metrics.planning import estimator_variance


def neyman_saving(p: ArrayLike) -> float:
    """Largest saving factor (uniform samples / fewest samples) at equal pass@1 variance, no cap.

    With v_i = p_i (1 - p_i), Neyman allocation n_i proportional to sqrt(v_i) meets uniform's
    variance sum_i v_i / n with n P mean(sqrt v)^2 / mean(v) samples in all, so the saving is
    mean(v) / mean(sqrt v)^2 (>= 1, equal to 1 when every v_i is equal). inf when every p is 0 or 1.
    """
    p = np.asarray(p, dtype=np.float64)
    v = p * (1.0 - p)
    s = float(np.sqrt(v).mean())
    return float("inf") if s == 0.0 else float(v.mean() / s**2)


@dataclass(frozen=True)
class OracleAllocation:
    """Result of ``oracle_allocation``.

    Attributes:
        n: [P] samples per problem of the best feasible allocation found (on the grid).
        lower_bound: no allocation on the grid meets every constraint with fewer samples (the dual
            value; exact when the grid stops at uniform's n).
        uniform_samples: P * n_uniform.
        variance_ratio: [K] sum_i V_ik(n_i) / sum_i V_ik(n_uniform) of ``n`` (all <= 1).
    """

    n: NDArray[np.int64]
    lower_bound: float
    uniform_samples: int
    variance_ratio: NDArray[np.float64]

    @property
    def samples(self) -> int:
        """n.sum()."""
        return int(self.n.sum())

    @property
    def saving(self) -> float:
        """uniform samples / samples of the allocation found (reachable by an oracle)."""
        return self.uniform_samples / self.samples

    @property
    def max_saving(self) -> float:
        """uniform samples / dual lower bound: no allocation on the grid saves more."""
        return self.uniform_samples / self.lower_bound


def default_grid(n_min: int, n_uniform: int, n_max: int, ratio: float = 1.03) -> NDArray[np.int64]:
    """Geometric grid of sample counts from ``n_min`` to ``n_max`` (step ``ratio``), with ``n_uniform``."""
    g = np.unique(np.round(n_min * ratio ** np.arange(int(np.log(n_max / n_min) / np.log(ratio)) + 2)))
    g = np.unique(np.concatenate([g[g <= n_max], [n_min, n_uniform, n_max]]))
    return g.astype(np.int64)


def oracle_allocation(p: ArrayLike, ks: ArrayLike, n_uniform: int, *, cap: int | None = None,
                      grid: ArrayLike | None = None, iters: int = 3000) -> OracleAllocation:
    """Fewest samples at which unbiased per-problem pass@k estimates match uniform's variance at every k.

    Args:
        p: [P] true success probabilities.
        ks: the k values to match (each <= n_uniform).
        n_uniform: uniform sampling's samples per problem.
        cap: largest n_i allowed (None: 16 n_uniform).
        grid: candidate n_i (default ``default_grid(max k, n_uniform, cap)``); must hold n_uniform.
        iters: dual ascent steps.

    Returns:
        ``OracleAllocation``; ``max_saving`` bounds the saving of every allocation on the grid.
    """
    p = np.asarray(p, dtype=np.float64)
    ks = np.asarray(ks, dtype=np.int64)
    if ks.size == 0 or ks.min() < 1 or ks.max() > n_uniform:
        raise ValueError(f"need 1 <= k <= n_uniform = {n_uniform}")
    cap = 16 * n_uniform if cap is None else int(cap)
    g = default_grid(int(ks.max()), n_uniform, cap) if grid is None else np.unique(np.asarray(grid, dtype=np.int64))
    if n_uniform not in g or g.min() < ks.max():
        raise ValueError("grid must hold n_uniform and no n below the largest k")
    # V[i, g, k]: exact variance of problem i's estimate with g samples.
    V = np.stack([np.stack([estimator_variance(p, int(n), int(k)) for k in ks], axis=-1) for n in g], axis=1)
    u = int(np.searchsorted(g, n_uniform))
    target = V[:, u, :].sum(axis=0)
    live = target > 0

    def result(n: NDArray[np.int64], lower: float) -> OracleAllocation:
        got = V[np.arange(p.size), np.searchsorted(g, n), :].sum(axis=0)
        ratio = np.divide(got, target, out=np.zeros(ks.size), where=live)
        return OracleAllocation(n, lower, int(p.size * n_uniform), ratio)

    if g[-1] == n_uniform or not live.any():
        # No n above uniform's: V_ik(n) strictly decreases in n where 0 < p_i < 1, so every such
        # problem needs n_uniform and the others need nothing the grid can go below. Exact.
        n = np.where(V[:, u, :].sum(axis=1) > 0, n_uniform, int(g[0])).astype(np.int64)
        return result(n, float(n.sum()))
    Vs = V[:, :, live] / target[live]  # each constraint scaled to sum_i Vs_ik(n_i) <= 1
    cost = g.astype(np.float64)[None, :]
    rows = np.arange(p.size)

    v1 = np.maximum(Vs[:, -1, :] * g[-1], 1e-300)  # ~ per-sample variance, for a starting point
    lam = (n_uniform * np.sqrt(v1).sum(0)) ** 2 / live.sum()
    best_n, best, lower = np.full(p.shape, n_uniform, dtype=np.int64), float(p.size * n_uniform), 0.0
    step = 0.5
    for it in range(iters):
        obj = cost + Vs @ lam  # [P, G]
        pick = obj.argmin(axis=1)
        s = Vs[rows, pick, :].sum(axis=0)
        lower = max(lower, float(obj[rows, pick].sum() - lam.sum()))
        total = float(g[pick].sum())
        if (s <= 1.0 + 1e-12).all() and total < best:
            best, best_n = total, g[pick].astype(np.int64)
        lam = lam * np.exp(step * np.clip(np.log(np.maximum(s, 1e-300)), -1.0, 1.0))
        if it % 500 == 499:
            step *= 0.5
    return result(best_n, min(lower, best))
