"""The prior fit's own uncertainty (Laird & Louis 1987): refits, and the curve's variance across them."""

from __future__ import annotations

import numpy as np
import pytest

from rlbound.metrics.adaptive import adaptive_interval
from rlbound.metrics.prior.mixture import BetaMixture, posterior, posterior_pass_at_k
from rlbound.metrics.prior.refit import bootstrap_priors, prior_fit_variance

TRUE = BetaMixture([0.7, 0.3], [0.5, 3.0], [40.0, 1.0])


def counts(P: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    comp = rng.choice(2, size=P, p=TRUE.weights)
    p = rng.beta(TRUE.a[comp], TRUE.b[comp])
    return np.full(P, n), rng.binomial(n, p)


def test_bootstrap_priors_are_seeded_refits():
    n, c = counts(150, 32, 0)
    a = bootstrap_priors(n, c, n_boot=4, seed=1)
    b = bootstrap_priors(n, c, n_boot=4, seed=1)
    other = bootstrap_priors(n, c, n_boot=4, seed=2)
    assert len(a) == 4 and all(x.weights.shape == (2,) for x in a)
    assert all(np.array_equal(x.a, y.a) and np.array_equal(x.b, y.b) for x, y in zip(a, b))
    assert not all(np.array_equal(x.a, y.a) for x, y in zip(a, other))
    assert len({tuple(np.round(x.a, 6)) for x in a}) > 1  # resampling moves the fit
    assert bootstrap_priors(n, c, n_boot=4, seed=1) is a  # memoised: the report and bench ask twice
    c2 = c.copy()
    c2[0] = 32 - c2[0] if c2[0] != 16 else 0
    assert not all(np.array_equal(x.a, y.a) for x, y in zip(a, bootstrap_priors(n, c2, n_boot=4, seed=1)))
    assert bootstrap_priors(n, c, n_boot=0) == ()
    with pytest.raises(ValueError):
        bootstrap_priors(n, c[:-1])


def test_the_prior_package_exports_the_refit_functions():
    from rlbound.metrics import prior

    assert prior.bootstrap_priors is bootstrap_priors and prior.BetaMixture is BetaMixture


def test_prior_fit_variance_definition():
    n, c = np.array([32, 32, 8]), np.array([0, 5, 8])
    ks = np.array([1, 64])
    priors = [BetaMixture([1.0], [0.5], [10.0]), BetaMixture([1.0], [2.0], [3.0]), BetaMixture([1.0], [1.0], [1.0])]
    curves = np.stack([posterior_pass_at_k(posterior(pr, n, c), ks).mean(axis=0) for pr in priors])
    np.testing.assert_allclose(prior_fit_variance(priors, n, c, ks, "bayes"), curves.var(axis=0, ddof=1))
    # hybrid: only cells with n < k depend on the prior; at k = 1 none does
    hyb = prior_fit_variance(priors, n, c, ks, "hybrid")
    assert hyb[0] == 0.0 and hyb[1] > 0.0
    assert (prior_fit_variance(priors[:1], n, c, ks) == 0).all()  # one prior: no spread
    with pytest.raises(ValueError):
        prior_fit_variance(priors, n, c, ks, "magic")


def test_prior_fit_variance_falls_as_the_data_grow():
    """More samples per problem: the posteriors leave the prior and the refits agree."""
    ks = np.array([16, 256])
    small, large = (prior_fit_variance(bootstrap_priors(n, c), n, c, ks)
                    for n, c in (counts(200, 32, 5), counts(200, 1024, 5)))
    assert (large < small / 4).all()


def test_adaptive_interval_widens_by_the_fit_term_only_where_the_prior_is_used():
    n, c = counts(200, 32, 7)
    ks = np.array([1, 16, 256])
    m0, lo0, hi0 = adaptive_interval(n, c, ks, estimator="hybrid", prior_boot=0)
    m1, lo1, hi1 = adaptive_interval(n, c, ks, estimator="hybrid", prior_boot=20)
    np.testing.assert_allclose(m0, m1)
    np.testing.assert_allclose((hi1 - lo1)[:2], (hi0 - lo0)[:2])  # k <= n: unbiased cells, no prior
    assert (hi1 - lo1)[2] > (hi0 - lo0)[2]  # k = 256 > n = 32: extrapolated with the fitted prior
    # a given prior is taken as known: no refits
    _, lo2, hi2 = adaptive_interval(n, c, ks, prior=TRUE, estimator="hybrid", prior_boot=20)
    _, lo3, hi3 = adaptive_interval(n, c, ks, prior=TRUE, estimator="hybrid", prior_boot=0)
    np.testing.assert_allclose(hi2 - lo2, hi3 - lo3)
