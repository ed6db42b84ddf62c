"""Confidence intervals for per-problem metrics (pure numpy, no IO).

Problems are the unit of sampling: a benchmark is one draw of P problems from a larger population,
so uncertainty comes from resampling problems with replacement (the nonparametric bootstrap of
Efron 1979, percentile intervals as in Efron & Tibshirani 1993, "An Introduction to the Bootstrap",
ch. 13; applied to LLM evals by Miller 2024, "Adding Error Bars to Evals", arXiv 2411.00640). The
curves being bootstrapped are the pass@k curves of Yue et al. 2025 (arXiv 2504.13837, Fig. 2).

Vectorised: a replicate is a vector of resampling weights w[b, p] = how often problem p was drawn
in replicate b (the bincount of a row of the [B, P] index matrix), and all replicate means are one
matrix product ``W @ X / P`` of shape [B, K]. The index matrix is drawn in row blocks from one
seeded generator so memory stays bounded (about 100 MB) however large B * P is.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

_BLOCK_CELLS = 1 << 22  # index-matrix cells per block: 4M (int32 draws, int64 counts, float64 weights)


def _as_matrix(per_problem: ArrayLike, name: str = "per_problem") -> NDArray[np.float64]:
    x = np.asarray(per_problem, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape [P, K], got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no problems (shape {x.shape})")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")


def bootstrap_means(per_problem: ArrayLike, n_boot: int = 2000, seed: int = 0) -> NDArray[np.float64]:
    """Means over problems of ``n_boot`` bootstrap resamples of the problems (Efron 1979).

    Each replicate draws P problem indices uniformly with replacement; the same seed gives the same
    replicates for any array with the same P, which is what makes paired comparisons paired
    (Yue et al. 2025 evaluate both models on the same problems).

    Args:
        per_problem: shape [P, K] (or [P]), a per-problem metric such as pass@k at K values of k.
        n_boot: number of replicates B (>= 1).
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        shape [B, K]: replicate b's mean over its resampled problems.
    """
    x = _as_matrix(per_problem)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    p = x.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, x.shape[1]), dtype=np.float64)
    rows = max(1, _BLOCK_CELLS // p)
    for start in range(0, n_boot, rows):
        b = min(rows, n_boot - start)
        idx = rng.integers(0, p, size=(b, p), dtype=np.int32)  # [b, P] resampled problem indices
        flat = idx + (np.arange(b) * p)[:, None]
        weights = np.bincount(flat.ravel(), minlength=b * p).reshape(b, p).astype(np.float64)
        out[start : start + b] = weights @ x / p
    return out


def _percentiles(reps: NDArray[np.float64], level: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha], axis=0)
    return low, high


def bootstrap_ci(
    per_problem: ArrayLike,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean over problems with a percentile-bootstrap CI (Efron & Tibshirani 1993, ch. 13).

    Resamples problems with replacement (Miller 2024, arXiv 2411.00640), as needed for the pass@k
    curves of Yue et al. 2025 (arXiv 2504.13837): the spread reflects which problems happen to be
    in the benchmark, not the sampling noise within a problem (already averaged by the unbiased
    estimator over its n samples).

    Args:
        per_problem: shape [P, K], e.g. ``pass_at_k_matrix(n, c, ks)``.
        n_boot: replicates (2,000 by default).
        level: coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
        seed: seed of the replicates; same seed, same interval.

    Returns:
        (mean [K], low [K], high [K]); ``mean`` is the plain mean over problems (not the bootstrap
        mean), ``low``/``high`` the percentiles of the replicate means (linear interpolation).
    """
    _check_level(level)
    x = _as_matrix(per_problem)
    reps = bootstrap_means(x, n_boot, seed)
    low, high = _percentiles(reps, level)
    return x.mean(axis=0), low, high


def paired_bootstrap_diff(
    a: ArrayLike,
    b: ArrayLike,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean of ``a - b`` over problems with a paired percentile-bootstrap CI (Efron 1979).

    Both models answered the same problems (Yue et al. 2025, arXiv 2504.13837, compare a base and
    an RL model problem by problem), so each replicate resamples problems once and uses the same
    resampled problems for both; the interval is the percentile interval of the replicate mean
    differences, narrower than two independent intervals when the models' per-problem scores
    correlate (Miller 2024, arXiv 2411.00640, Sec. on paired differences).

    Args:
        a, b: shape [P, K] each, rows aligned by problem (row p of both is the same problem).

    Returns:
        (mean_diff [K], low [K], high [K]) of mean(a) - mean(b).
    """
    _check_level(level)
    xa, xb = _as_matrix(a, "a"), _as_matrix(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"a and b must have the same shape [P, K], got {xa.shape} and {xb.shape}")
    d = xa - xb
    reps = bootstrap_means(d, n_boot, seed)
    low, high = _percentiles(reps, level)
    return d.mean(axis=0), low, high


def normal_ci(
    per_problem: ArrayLike, level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Analytic CI: mean +- z * s / sqrt(P), the central-limit interval over problems.

    The closed-form alternative of Miller 2024 (arXiv 2411.00640, eq. 2), with s the sample
    standard deviation (ddof=1) of the per-problem values; for the pass@k curves of Yue et al. 2025.
    Not clipped to [0, 1]; with few problems or values piled at 0 and 1 prefer ``bootstrap_ci``.

    Args:
        per_problem: shape [P, K].

    Returns:
        (mean [K], low [K], high [K]); with P = 1 the interval collapses to the mean.
    """
    _check_level(level)
    x = _as_matrix(per_problem)
    mean = x.mean(axis=0)
    if x.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    half = z * x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
    return mean, mean - half, mean + half
