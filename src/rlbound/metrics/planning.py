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
``E[(1-p)^t] = B(a, b+t) / B(a, b)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

# ----------------------------------------------------------------------------------------------
# special functions (numpy has no lgamma; scipy is not a dependency)

_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def lgamma(x: ArrayLike) -> NDArray[np.float64]:
    """log Gamma(x) for x > 0, elementwise (Stirling series after shifting x by 8).

    ``lgamma(x) = lgamma(x + 8) - log(x (x+1) ... (x+7))``, and at y = x + 8 >= 8 the Stirling series
    to the y^-11 term is accurate to about 1e-14. Against ``math.lgamma``: absolute error below 1e-12
    for x <= 100, relative error below 1e-14 up to 1e7 (tested).
    """
    x = np.asarray(x, dtype=np.float64)
    if (x <= 0).any():
        raise ValueError("lgamma needs x > 0")
    shift = np.ones_like(x)
    for i in range(8):
        shift = shift * (x + i)
    y = x + 8.0
    inv = 1.0 / y
    inv2 = inv * inv
    series = np.zeros_like(y)
    for coef in reversed(_STIRLING):
        series = series * inv2 + coef
    return (y - 0.5) * np.log(y) - y + _HALF_LOG_2PI + series * inv - np.log(shift)


def _lbeta(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return lgamma(a) + lgamma(b) - lgamma(a + b)


def _lchoose(n: ArrayLike, k: ArrayLike) -> NDArray[np.float64]:
    n = np.asarray(n, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)


def z_value(level: float) -> float:
    """Two-sided normal quantile: 1.96 for level 0.95."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


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
    out[ok] = np.exp(_lchoose(k, jj) + _lchoose(n - k, k - jj) - _lchoose(n, k))
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


# ----------------------------------------------------------------------------------------------
# Beta mixtures: prior, posterior and their moments


@dataclass(frozen=True, eq=False)
class BetaMixture:
    """A batch of Beta mixtures: p ~ sum_m weights[..., m] Beta(a[..., m], b[..., m]).

    A prior has shape [M]; the posteriors of P problems have shape [P, M]. Used as the empirical-Bayes
    prior of per-problem success rates (Robbins 1956) for pass@k (Chen et al. 2021) planning.
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
        logw = np.log(prior.weights)[None, :] + _lbeta(a2, b2) - _lbeta(prior.a, prior.b)[None, :]
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


def _moment_range(mix: BetaMixture, t0: int, count: int) -> NDArray[np.float64]:
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
    mom = _moment_range(mix, k, k + 1)  # [P, k+1]: column i is E[(1-p)^(k+i)]
    out = np.empty(P)
    for n_val in np.unique(n_arr):
        rows = np.flatnonzero(n_arr == n_val)
        h = overlap_pmf(int(n_val), int(k))[::-1]  # h[i] = H(j = k - i): weight of E[(1-p)^(k+i)]
        sub = mom[rows]
        out[rows] = sub @ h - sub[:, -1]
    out = np.clip(out, 0.0, None)
    return out[0:1].reshape(()) if single else out


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


# ----------------------------------------------------------------------------------------------
# empirical-Bayes fit of a Beta-mixture prior


_A_MIN, _A_MAX = 0.01, 1000.0


def _lg_table(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """lgamma(x_i + y_j) - lgamma(x_i), shape [len(x), len(y)], evaluated on unique values only."""
    ux, ix = np.unique(x, return_inverse=True)
    uy, iy = np.unique(y, return_inverse=True)
    t = lgamma(ux[:, None] + uy[None, :]) - lgamma(ux)[:, None]
    return t[ix.reshape(-1)][:, iy.reshape(-1)]


def _bb_loglik(a: NDArray[np.float64], b: NDArray[np.float64], n_u: NDArray[np.float64],
               c_u: NDArray[np.float64]) -> NDArray[np.float64]:
    """Beta-binomial log likelihood without the C(n, c) term, shape [len(a), U] for (a, b) pairs:
    ``lbeta(a + c, b + n - c) - lbeta(a, b)``, from three separable lgamma tables."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    return _lg_table(a, c_u) + _lg_table(b, n_u - c_u) - _lg_table(a + b, n_u)


def _em(n_u, c_u, mult, resp, cands, iters, tables=None):
    """Generalised EM over candidate (a, b) lists (one list per component); returns params, weights."""
    M = resp.shape[1]
    if tables is None:
        tables = [_bb_loglik(ca, cb, n_u, c_u) for ca, cb in cands]  # per component [G_m, U]
    shared = all(t is tables[0] for t in tables)
    choice = [-1] * M
    pi = np.full(M, 1.0 / M)
    prev = -np.inf
    for _ in range(iters):
        r = resp * mult[:, None]
        pi = np.clip(r.sum(axis=0) / mult.sum(), 1e-12, None)
        if shared:  # one matrix product for all components
            new_choice = np.argmax(tables[0] @ r, axis=0).tolist()
        else:
            new_choice = [int(np.argmax(tables[m] @ r[:, m])) for m in range(M)]
        ll = np.stack([tables[m][new_choice[m]] for m in range(M)], axis=1) + np.log(pi)[None, :]
        mx = ll.max(axis=1, keepdims=True)
        dens = np.exp(ll - mx)
        tot = dens.sum(axis=1, keepdims=True)
        loglik = float((mult * (mx[:, 0] + np.log(tot[:, 0]))).sum())
        resp = dens / tot
        converged = new_choice == choice and loglik - prev < 1e-7 * max(1.0, abs(loglik))
        choice, prev = new_choice, loglik
        if converged:
            break
    a = np.array([cands[m][0][choice[m]] for m in range(M)])
    b = np.array([cands[m][1][choice[m]] for m in range(M)])
    return a, b, pi, resp


def _mixture_loglik(a, b, pi, n_u, c_u, mult) -> float:
    """Beta-binomial mixture log likelihood (without C(n, c)) of unique (n, c) pairs with multiplicities."""
    a, b = np.asarray(a, dtype=np.float64)[:, None], np.asarray(b, dtype=np.float64)[:, None]
    M, U = a.shape[0], n_u.size
    args = np.concatenate([(a + c_u).ravel(), (b + n_u - c_u).ravel(), (a + b + n_u).ravel(),
                           a.ravel(), b.ravel(), (a + b).ravel()])
    lg = lgamma(args)  # one call: this runs inside Nelder-Mead
    big, small = lg[: 3 * M * U].reshape(3, M, U), lg[3 * M * U:].reshape(3, M, 1)
    t = (big[0] + big[1] - big[2] - small[0] - small[1] + small[2]
         + np.log(np.clip(pi, 1e-300, None))[:, None])  # [M, U]
    mx = t.max(axis=0)
    return float((mult * (mx + np.log(np.exp(t - mx).sum(axis=0)))).sum())


def _nelder_mead(f, x0: NDArray[np.float64], step: float = 0.3, iters: int = 3000,
                 tol: float = 1e-10) -> tuple[NDArray[np.float64], float]:
    """Minimise f from x0 by the simplex method of Nelder & Mead (1965); returns (x, f(x))."""
    d = x0.size
    pts = np.vstack([x0] + [x0 + step * np.eye(d)[i] for i in range(d)])
    vals = np.array([f(x) for x in pts])
    for _ in range(iters):
        o = np.argsort(vals)
        pts, vals = pts[o], vals[o]
        if vals[-1] - vals[0] <= tol * (1.0 + abs(vals[0])) and np.abs(pts[1:] - pts[0]).max() < 1e-6:
            break
        cen = pts[:-1].mean(axis=0)
        xr = 2 * cen - pts[-1]
        fr = f(xr)
        if fr < vals[0]:
            xe = 3 * cen - 2 * pts[-1]
            fe = f(xe)
            pts[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = xr, fr
        else:
            xc = cen + 0.5 * ((pts[-1] if fr >= vals[-1] else xr) - cen)
            fc = f(xc)
            if fc < min(fr, vals[-1]):
                pts[-1], vals[-1] = xc, fc
            else:  # shrink towards the best point
                pts[1:] = pts[0] + 0.5 * (pts[1:] - pts[0])
                vals[1:] = [f(x) for x in pts[1:]]
    o = int(np.argmin(vals))
    return pts[o], float(vals[o])


def _polish(a, b, pi, n_u, c_u, mult):
    """Nelder-Mead on all parameters (log a, log b, weight logits), a and b kept in [0.01, 1000]."""
    M = a.size
    lo, hi = math.log(_A_MIN), math.log(_A_MAX)

    def unpack(x):
        la, lb = np.clip(x[:M], lo, hi), np.clip(x[M:2 * M], lo, hi)
        zz = np.concatenate([[0.0], x[2 * M:]])
        w = np.exp(zz - zz.max())
        return np.exp(la), np.exp(lb), w / w.sum()

    pi = np.clip(pi, 1e-9, None)
    x0 = np.concatenate([np.log(a), np.log(b), np.log(pi[1:] / pi[0])])
    x, _ = _nelder_mead(lambda x: -_mixture_loglik(*unpack(x), n_u, c_u, mult), x0)
    return unpack(x)


_SPLITS = {2: [(0.02,), (0.05,), (0.1,), (0.2,), (0.35,), (0.5,), (0.7,), (0.9,)],
           3: [(0.02, 0.3), (0.05, 0.5), (0.1, 0.7), (0.05, 0.9), (0.2, 0.8), (0.3, 0.95)]}


def fit_beta_mixture(n: ArrayLike, c: ArrayLike, components: int = 2, iters: int = 100) -> BetaMixture:
    """Empirical-Bayes prior: a Beta mixture fitted to all problems by maximum marginal likelihood.

    Each problem's count is c ~ Binomial(n, p) with p drawn from the mixture, so c is a beta-binomial
    mixture (Skellam 1948); the parameters maximise its likelihood over all problems (Robbins 1956;
    Efron 2010, "Large-Scale Inference", ch. 1). The likelihood has several local maxima, so: hard
    splits of the problems by observed rate c/n (at the rate thresholds of ``_SPLITS``, at equal-count
    quantiles, and evenly in logit) start an EM whose M-step searches a log-spaced grid of (a, b) in
    [0.01, 1000]^2 (26 x 26, factor 1.58); the two best results are polished by Nelder-Mead (1965) on all
    parameters, and the most likely is kept. Deterministic in (n, c); a, b stay in [0.01, 1000].

    Args:
        n, c: shape [P], samples and correct samples per problem (n may differ between problems).
        components: M, the number of Beta components.

    Returns:
        ``BetaMixture`` of shape [M], ``source`` describing the fit.
    """
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    c = np.asarray(c, dtype=np.int64).reshape(-1)
    if n.size == 0 or n.shape != c.shape:
        raise ValueError("need equal-length, non-empty n and c")
    if (n < 1).any() or (c < 0).any() or (c > n).any():
        raise ValueError("need n >= 1 and 0 <= c <= n")
    if components < 1:
        raise ValueError("components must be >= 1")
    pairs, mult = np.unique(np.stack([n, c], axis=1), axis=0, return_counts=True)
    n_u, c_u = pairs[:, 0].astype(np.float64), pairs[:, 1].astype(np.float64)
    mult = mult.astype(np.float64)
    M = components
    U = n_u.size
    rate = (c_u + 0.5) / (n_u + 1.0)
    groups: list[NDArray[np.int64]] = [np.zeros(U, dtype=np.int64)]
    if M > 1:
        order = np.argsort(rate, kind="stable")
        cum = np.cumsum(mult[order]) / mult.sum()
        g = np.empty(U, dtype=np.int64)
        g[order] = np.minimum((cum * M - 1e-9).astype(np.int64), M - 1)
        groups = [g]
        logit = np.log(rate / (1.0 - rate))
        span = max(float(logit.max() - logit.min()), 1e-9)
        groups.append(np.clip(((logit - logit.min()) / span * M - 1e-9).astype(np.int64), 0, M - 1))
        for cuts in _SPLITS.get(M, []):
            groups.append(np.searchsorted(np.asarray(cuts), rate, side="right").astype(np.int64))
    logs = np.arange(math.log10(_A_MIN), math.log10(_A_MAX) + 1e-9, 0.2)
    ga, gb = np.meshgrid(10.0 ** logs, 10.0 ** logs, indexing="ij")
    grid = (ga.ravel(), gb.ravel())
    table = _bb_loglik(grid[0], grid[1], n_u, c_u)
    found: dict[tuple, tuple[float, NDArray, NDArray, NDArray]] = {}
    for g in groups:
        resp = np.full((U, M), 0.02 / M)
        resp[np.arange(U), g] += 0.98
        a, b, pi, _ = _em(n_u, c_u, mult, resp, [grid] * M, iters, [table] * M)
        key = tuple(np.round(np.concatenate([a, b, pi]), 6))
        if key not in found:
            found[key] = (_mixture_loglik(a, b, pi, n_u, c_u, mult), a, b, pi)
    best = None
    for _, a, b, pi in sorted(found.values(), key=lambda t: -t[0])[:2]:
        a, b, pi = _polish(a, b, pi, n_u, c_u, mult)
        ll = _mixture_loglik(a, b, pi, n_u, c_u, mult)
        if best is None or ll > best[0]:
            best = (ll, a, b, pi)
    _, a, b, pi = best
    order = np.argsort(a / (a + b))
    return BetaMixture(pi[order], a[order], b[order],
                       source=f"empirical Bayes: {M}-component Beta mixture fitted to {int(mult.sum())} problems")


def marginal_loglik(prior: BetaMixture, n: ArrayLike, c: ArrayLike) -> float:
    """Log marginal likelihood of counts under a Beta-mixture prior (beta-binomial; with C(n, c))."""
    n = np.asarray(n, dtype=np.float64).reshape(-1)
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    t = _bb_loglik(prior.a, prior.b, n, c) + np.log(prior.weights)[:, None]  # [M, P]
    mx = t.max(axis=0)
    return float((mx + np.log(np.exp(t - mx).sum(axis=0)) + _lchoose(n, c)).sum())


def resolve_prior(prior: BetaMixture | str | None, n: ArrayLike, c: ArrayLike, components: int = 2) -> BetaMixture:
    """``None``/``"eb"``: fit the empirical-Bayes mixture to (n, c); ``"jeffreys"``: Beta(1/2, 1/2);
    a ``BetaMixture``: itself."""
    if isinstance(prior, BetaMixture):
        return prior
    if prior in (None, "eb"):
        return fit_beta_mixture(n, c, components)
    if prior == "jeffreys":
        return jeffreys_prior()
    raise ValueError(f"unknown prior {prior!r}; use 'eb', 'jeffreys' or a BetaMixture")


# ----------------------------------------------------------------------------------------------
# error variance of each problem's estimate, and the predicted half-width


ESTIMATORS = ("hybrid", "bayes")


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
    (``fit_beta_mixture``, ``posterior``); the within-problem error variance at n is the posterior
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
