"""Beta mixtures as priors and posteriors of per-problem success rates, and their moments (pure numpy).

The pass@k of a problem (Chen et al. 2021) is ``1 - (1-p)^k`` for its unknown success rate p. Under a
mixture of Beta distributions the posterior after c correct of n is again a Beta mixture (conjugate
update), and every moment this toolkit needs has a closed form through
``E[(1-p)^t] = B(a, b+t) / B(a, b)``. The empirical-Bayes prior (``prior.fit``; Robbins 1956) is such a
mixture; so are the posteriors that read the pass@k curves of Yue et al. 2025 (arXiv 2504.13837) at
k beyond a problem's n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.metrics.special import lbeta, lgamma

# How a pass@k cell is read: "hybrid" (the unbiased estimator of Chen et al. 2021 where n >= k, the
# posterior mean where n < k) or "bayes" (the posterior mean in every cell).
ESTIMATORS = ("hybrid", "bayes")


@dataclass(frozen=True, eq=False)
class BetaMixture:
    """A batch of Beta mixtures: p ~ sum_m weights[..., m] Beta(a[..., m], b[..., m]).

    A prior has shape [M]; the posteriors of P problems have shape [P, M]. Used as the empirical-Bayes
    prior of per-problem success rates (Robbins 1956) for pass@k (Chen et al. 2021) planning and
    small-sample estimates.
    """

    weights: NDArray[np.float64]
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    source: str = ""

    def __post_init__(self) -> None:
        w, a, b = (np.asarray(x, dtype=np.float64) for x in (self.weights, self.a, self.b))
        if not (w.shape == a.shape == b.shape) or w.ndim < 1:
            raise ValueError(f"weights, a, b need one shape [..., M], got {w.shape}, {a.shape}, {b.shape}")
        if (a <= 0).any() or (b <= 0).any() or (w < 0).any():
            raise ValueError("Beta mixture needs a > 0, b > 0, weights >= 0")
        object.__setattr__(self, "weights", w / w.sum(axis=-1, keepdims=True))
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    @property
    def mean(self) -> NDArray[np.float64]:
        """E[p], shape [...]."""
        return (self.weights * self.a / (self.a + self.b)).sum(axis=-1)

    def describe(self) -> str:
        """One line such as ``0.62 Beta(0.05, 3.1) + 0.38 Beta(4.2, 0.03)`` (a prior, shape [M])."""
        if self.weights.ndim != 1:
            return f"{self.weights.shape[0]} posteriors of {self.weights.shape[-1]} components"
        parts = [f"{w:.2f} Beta({a:.3g}, {b:.3g})" for w, a, b in zip(self.weights, self.a, self.b) if w > 5e-3]
        return " + ".join(parts)

    def to_json_dict(self) -> dict:
        return {"weights": self.weights.tolist(), "a": self.a.tolist(), "b": self.b.tolist(), "source": self.source}


def jeffreys_prior() -> BetaMixture:
    """Jeffreys prior Beta(1/2, 1/2) for a binomial rate (Jeffreys 1946), as a 1-component mixture."""
    return BetaMixture(np.ones(1), np.full(1, 0.5), np.full(1, 0.5), source="Jeffreys Beta(1/2, 1/2)")


def posterior(prior: BetaMixture, n: ArrayLike, c: ArrayLike) -> BetaMixture:
    """Posterior Beta mixture of each problem's p after c correct of n (conjugate update).

    Component m becomes Beta(a_m + c, b_m + n - c) with weight proportional to
    ``w_m B(a_m + c, b_m + n - c) / B(a_m, b_m)`` (its beta-binomial marginal likelihood).

    Args:
        prior: shape [M].
        n, c: shape [P].

    Returns:
        shape [P, M].
    """
    if prior.weights.ndim != 1:
        raise ValueError("prior must be a single mixture (shape [M])")
    n = np.asarray(n, dtype=np.float64).reshape(-1, 1)
    c = np.asarray(c, dtype=np.float64).reshape(-1, 1)
    if ((c < 0) | (c > n)).any():
        raise ValueError("need 0 <= c <= n")
    a2 = prior.a[None, :] + c
    b2 = prior.b[None, :] + (n - c)
    with np.errstate(divide="ignore"):
        logw = np.log(prior.weights)[None, :] + lbeta(a2, b2) - lbeta(prior.a, prior.b)[None, :]
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    return BetaMixture(w, a2, b2, source=prior.source)


def moment_one_minus_p(mix: BetaMixture, t: ArrayLike) -> NDArray[np.float64]:
    """E[(1-p)^t] under each mixture, ``sum_m w_m B(a_m, b_m + t) / B(a_m, b_m)``.

    The posterior mean of pass@k = 1 - (1-p)^k (Chen et al. 2021) is ``1 - moment(k)``.

    Args:
        mix: shape [..., M].
        t: shape [T], exponents >= 0.

    Returns:
        shape [..., T].
    """
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    a, b = mix.a[..., None], mix.b[..., None]  # [..., M, 1]
    logm = lgamma(b + t) - lgamma(b) - lgamma(a + b + t) + lgamma(a + b)
    return (mix.weights[..., None] * np.exp(logm)).sum(axis=-2)


def moment_range(mix: BetaMixture, t0: int, count: int) -> NDArray[np.float64]:
    """E[(1-p)^t] for t = t0 .. t0+count-1, shape [..., count]: one lgamma per component, then the
    ratio ``E_m[(1-p)^(t+1)] / E_m[(1-p)^t] = (b+t)/(a+b+t)`` as a cumulative product."""
    a, b = mix.a[..., None], mix.b[..., None]
    start = np.exp(lgamma(b + t0) - lgamma(b) - lgamma(a + b + t0) + lgamma(a + b))  # [..., M, 1]
    t = t0 + np.arange(count - 1, dtype=np.float64)
    ratios = (b + t) / (a + b + t)  # [..., M, count-1]
    per = np.concatenate([start, start * np.cumprod(ratios, axis=-1)], axis=-1)
    return (mix.weights[..., None] * per).sum(axis=-2)


def posterior_pass_at_k(mix: BetaMixture, ks: ArrayLike) -> NDArray[np.float64]:
    """Posterior mean of pass@k = 1 - (1-p)^k for each mixture, shape [..., K] (Chen et al. 2021's
    quantity; the Bayes estimator under squared error)."""
    return 1.0 - moment_one_minus_p(mix, ks)


def posterior_pass_var(mix: BetaMixture, ks: ArrayLike) -> NDArray[np.float64]:
    """Posterior variance of pass@k = 1 - (1-p)^k, ``E[(1-p)^2k] - E[(1-p)^k]^2``, shape [..., K]."""
    ks = np.asarray(ks, dtype=np.float64).reshape(-1)
    m1 = moment_one_minus_p(mix, ks)
    m2 = moment_one_minus_p(mix, 2 * ks)
    return np.clip(m2 - m1 * m1, 0.0, None)


def preposterior_pass_var(mix: BetaMixture, ks: ArrayLike, extra: int) -> NDArray[np.float64]:
    """Expected posterior variance of pass@k after ``extra`` more samples (preposterior analysis,
    Raiffa & Schlaifer 1961): ``Var_post - Var_{c'}(E_post'[(1-p)^k])``, c' ~ the posterior predictive
    (a beta-binomial mixture). The pmf over c' = 0..extra is built by its ratio recurrence in log space
    (one lgamma per component), so the cost is O(P M K extra) exp/log, no lgamma per c'.

    Args:
        mix: shape [P, M] posteriors.
        ks: shape [K], the k of pass@k (Chen et al. 2021).
        extra: additional samples (>= 0).

    Returns:
        shape [P, K].
    """
    ks = np.asarray(ks, dtype=np.float64).reshape(-1)
    var_now = posterior_pass_var(mix, ks)
    if extra <= 0:
        return var_now
    a, b, w = mix.a, mix.b, mix.weights  # [P, M]
    pred = (w[..., None] * np.exp(_bb_logpmf(a, b, extra))).sum(axis=1)  # [P, C']  P(c')
    ak, bk = a[..., None], b[..., None] + ks  # [P, M, K]
    mom = np.exp(lgamma(bk) - lgamma(b[..., None]) - lgamma(ak + bk) + lgamma(a + b)[..., None])  # E_m[(1-p)^k]
    # P(c') E'[(1-p)^k | c'] = sum_m w_m E_m[(1-p)^k] BB(c'; a_m, b_m + k)
    num = ((w[..., None] * mom)[..., None] * np.exp(_bb_logpmf(ak, bk, extra))).sum(axis=1)  # [P, K, C']
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(pred[:, None, :] > 0, num / pred[:, None, :], 0.0)  # E'[(1-p)^k | c']
    mean_now = num.sum(axis=-1)
    between = (pred[:, None, :] * cond * cond).sum(axis=-1) - mean_now * mean_now
    return np.clip(var_now - np.clip(between, 0.0, None), 0.0, None)


def _bb_logpmf(a: NDArray[np.float64], b: NDArray[np.float64], m: int) -> NDArray[np.float64]:
    """Beta-binomial log pmf of c' = 0..m for each (a, b), shape [*a.shape, m+1] (Skellam 1948):
    one lgamma at c' = 0, then the ratio ``(a+c')(m-c') / ((c'+1)(b+m-c'-1))`` accumulated in log space."""
    a, b = a[..., None], b[..., None]
    start = lgamma(b + m) - lgamma(b) - lgamma(a + b + m) + lgamma(a + b)
    cp = np.arange(m, dtype=np.float64)
    steps = np.log((a + cp) * (m - cp)) - np.log((cp + 1.0) * (b + m - cp - 1.0))
    return np.concatenate([start, start + np.cumsum(steps, axis=-1)], axis=-1)
