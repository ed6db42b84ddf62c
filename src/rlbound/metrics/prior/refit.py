"""How much a pass@k curve moves when the empirical-Bayes prior is refitted (pure numpy).

Posterior-mean cells of a pass@k curve (``adaptive.small_sample_pass_at_k``: every cell of the
"bayes" estimator, the cells with n_i < k of the "hybrid" one) depend on the Beta-mixture prior fitted
to the run itself. Their errors share that fit, so they do not average out over problems: the
independent per-problem posterior variances understate the interval of the mean (Morris 1983).
Extrapolating far beyond n (k = 256 from a 32-sample pilot) leans on the fit most: on a polarised
RL run of the sandbox, refits of the pilot's prior moved the curve at k = 256 by sd 0.11, over three
times the half-width (0.032) the independent variances predicted, and the adaptive sampler had
stopped on that prediction (docs/LOG.md, 2026-12-03 "adaptive sampling: the fitted prior's own uncertainty").

Following Laird & Louis (1987, "Empirical Bayes confidence intervals based on bootstrap samples",
JASA 82:739), the prior is refitted to problems resampled with replacement (``bootstrap_priors``),
and the variance of the curve across those refits, all read at the observed counts
(``prior_fit_variance``), is added to the interval variance. Cells estimated without the prior (the
unbiased estimator of Chen et al. 2021 where n_i >= k) contribute nothing. For the curves of Yue et
al. 2025 (arXiv 2504.13837).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.metrics.prior.fit import fit_beta_mixture
from rlbound.metrics.prior.mixture import ESTIMATORS, BetaMixture, posterior, posterior_pass_at_k

DEFAULT_BOOT = 20  # refits: the variance to about +-30% (1 sd; chi-square, 19 df); 1.7 s (P = 200) to 3.3 s (P = 821)


def bootstrap_priors(n: ArrayLike, c: ArrayLike, components: int = 2, n_boot: int = DEFAULT_BOOT,
                     seed: int = 0) -> tuple[BetaMixture, ...]:
    """The empirical-Bayes Beta mixture (``prior.fit.fit_beta_mixture``) refitted to ``n_boot`` resamples
    of the problems (with replacement; Efron 1979), as in Laird & Louis (1987).

    Args:
        n, c: shape [P], samples and correct samples per problem.
        components: Beta components per fit.
        n_boot: number of refits (0: none).
        seed: of the resampling.

    Returns:
        ``n_boot`` priors, each of shape [components].
    """
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    c = np.asarray(c, dtype=np.int64).reshape(-1)
    if n.shape != c.shape or n.size == 0:
        raise ValueError(f"n and c must be non-empty and of equal length, got {n.shape} and {c.shape}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    return _refits(n.tobytes(), c.tobytes(), components, n_boot, seed)


@lru_cache(maxsize=8)
def _refits(n_bytes: bytes, c_bytes: bytes, components: int, n_boot: int, seed: int) -> tuple[BetaMixture, ...]:
    """``bootstrap_priors`` on hashable counts, memoised: the report (a run's pass@k band, then its
    half-width) and the bench (benchmark, then population interval) ask for the same refits twice."""
    n = np.frombuffer(n_bytes, dtype=np.int64)
    c = np.frombuffer(c_bytes, dtype=np.int64)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        idx = rng.integers(0, n.size, n.size)
        out.append(fit_beta_mixture(n[idx], c[idx], components))
    return tuple(out)


def prior_fit_variance(priors: Sequence[BetaMixture], n: ArrayLike, c: ArrayLike, ks: ArrayLike,
                       estimator: str = "bayes") -> NDArray[np.float64]:
    """Variance across ``priors`` of the mean over problems of the pass@k estimate at the counts (n, c).

    Each prior gives every problem its posterior mean of ``1 - (1-p)^k`` in the model-based cells
    (all cells for "bayes"; n_i < k for "hybrid", whose other cells are the prior-free unbiased
    estimator and do not vary). With ``bootstrap_priors`` this is the Laird-Louis (1987) term for the
    uncertainty of the fitted prior, shared by all problems.

    Args:
        priors: B >= 2 priors, each of shape [M] (fewer: zeros).
        n, c: shape [P].
        ks: shape [K].
        estimator: "bayes" or "hybrid", as in ``adaptive.small_sample_pass_at_k``.

    Returns:
        shape [K].
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    c = np.asarray(c, dtype=np.int64).reshape(-1)
    k = np.asarray(ks, dtype=np.int64).reshape(-1)
    if len(priors) < 2:
        return np.zeros(k.size)
    model = np.ones((n.size, k.size), dtype=bool) if estimator == "bayes" else n[:, None] < k[None, :]
    rows = np.flatnonzero(model.any(axis=1))
    if rows.size == 0:
        return np.zeros(k.size)
    mask = model[rows]
    curves = np.stack([(posterior_pass_at_k(posterior(pr, n[rows], c[rows]), k) * mask).sum(axis=0)
                       for pr in priors]) / n.size  # [B, K]
    return curves.var(axis=0, ddof=1)
