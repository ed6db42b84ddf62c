"""The empirical-Bayes prior: a Beta mixture fitted to all problems of a run (pure numpy).

Each problem's count is c ~ Binomial(n, p) with p drawn from the prior, so c is a beta-binomial
mixture (Skellam 1948); the prior maximises that marginal likelihood over all problems of the run
(Robbins 1956; Efron 2010, "Large-Scale Inference", ch. 1), by a grid EM started from several splits
of the problems and polished by Nelder & Mead (1965). It reads pass@k (Chen et al. 2021) at k beyond
a problem's n, for the curves of Yue et al. 2025 (arXiv 2504.13837).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.metrics.prior.mixture import BetaMixture, jeffreys_prior
from rlbound.metrics.special import lchoose, lgamma

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
    return float((mx + np.log(np.exp(t - mx).sum(axis=0)) + lchoose(n, c)).sum())


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
