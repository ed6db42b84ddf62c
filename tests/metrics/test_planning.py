"""Sample-size planning: special functions, exact estimator variance, Beta-mixture posteriors, EB fit,
planner vs simulation, the plan's cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlbound.metrics.passk import pass_at_k_matrix
from rlbound.metrics.planning import (
    between_variance,
    error_variance,
    estimator_variance,
    expected_estimator_variance,
    overlap_pmf,
    plan_cost,
    plan_sample_size,
    predict_halfwidth,
    sampling_cost,
)
from rlbound.metrics.prior.fit import fit_beta_mixture, marginal_loglik
from rlbound.metrics.prior.mixture import (
    BetaMixture,
    jeffreys_prior,
    moment_one_minus_p,
    posterior,
    posterior_pass_at_k,
    posterior_pass_var,
    preposterior_pass_var,
)
from rlbound.metrics.special import lbeta, lchoose, lgamma, z_value

TRUE = BetaMixture([0.4, 0.6], [0.3, 2.0], [30.0, 1.0])  # 40% hard (mean p 0.01), 60% easy-ish


def draw_p(mix: BetaMixture, size: int, rng: np.random.Generator) -> np.ndarray:
    comp = rng.choice(mix.weights.size, size=size, p=mix.weights)
    return rng.beta(mix.a[comp], mix.b[comp])


def binomial_sum_variance(p: float, n: int, k: int) -> float:
    """Reference: sum over c = 0..n of Binomial(n, p) pmf * (est(c) - E est)^2, est from pass_at_k_matrix."""
    c = np.arange(n + 1)
    est = pass_at_k_matrix(np.full(n + 1, n), c, [k])[:, 0]
    pmf = np.array([math.comb(n, int(x)) * p ** int(x) * (1 - p) ** (n - int(x)) for x in c])
    mean = float((pmf * est).sum())
    return float((pmf * (est - mean) ** 2).sum())


def test_lgamma_matches_math():
    xs = np.concatenate([np.logspace(-3, 2, 400), np.linspace(0.5, 30, 200)])
    err = np.abs(lgamma(xs) - np.array([math.lgamma(x) for x in xs]))
    assert err.max() < 1e-12
    big = np.logspace(2, 7, 300)
    want = np.array([math.lgamma(x) for x in big])
    assert (np.abs(lgamma(big) - want) / np.abs(want)).max() < 1e-14
    with pytest.raises(ValueError):
        lgamma([0.0])


def test_lbeta_and_lchoose_match_math():
    for n, k in [(0, 0), (10, 3), (64, 64), (1024, 256), (50, 49)]:
        assert lchoose(n, k) == pytest.approx(math.log(math.comb(n, k)), abs=1e-9)
    a, b = np.array([0.3, 2.0, 40.0]), np.array([30.0, 1.0, 0.5])
    want = [math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y) for x, y in zip(a, b)]
    np.testing.assert_allclose(lbeta(a, b), want, rtol=0, atol=1e-11)
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_overlap_pmf_is_hypergeometric():
    for n, k in [(10, 3), (64, 64), (1024, 256), (50, 40)]:
        h = overlap_pmf(n, k)
        assert h.shape == (k + 1,)
        assert h.sum() == pytest.approx(1.0, abs=1e-12)
        assert (h[: max(0, 2 * k - n)] == 0).all()
        assert (np.arange(k + 1) * h).sum() == pytest.approx(k * k / n, rel=1e-10)  # hypergeometric mean


@pytest.mark.parametrize("p,n,k", [(0.3, 10, 1), (0.01, 100, 50), (0.002, 400, 256), (0.5, 64, 64),
                                   (0.9, 40, 7), (0.05, 300, 200), (0.0, 20, 5), (1.0, 20, 5)])
def test_exact_variance_equals_binomial_sum(p, n, k):
    got = float(estimator_variance(p, n, k))
    want = binomial_sum_variance(p, n, k)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_exact_variance_special_cases():
    p = np.array([0.0, 0.01, 0.3, 0.77, 1.0])
    np.testing.assert_allclose(estimator_variance(p, 50, 1), p * (1 - p) / 50, atol=1e-16)
    pi = 1 - (1 - p) ** 40
    np.testing.assert_allclose(estimator_variance(p, 40, 40), pi * (1 - pi), atol=1e-15)
    # more samples never hurt (Hoeffding 1948: U-statistic variance falls with n)
    v = [float(estimator_variance(0.004, n, 128)) for n in (128, 200, 400, 1000, 5000)]
    assert all(a > b for a, b in zip(v, v[1:]))


def test_exact_variance_matches_monte_carlo():
    rng = np.random.default_rng(0)
    for p, n, k in [(0.003, 512, 128), (0.2, 64, 8)]:
        c = rng.binomial(n, p, size=200_000)
        est = pass_at_k_matrix(np.full(c.size, n), c, [k])[:, 0]
        want = float(estimator_variance(p, n, k))
        assert est.mean() == pytest.approx(1 - (1 - p) ** k, abs=4 * math.sqrt(want / c.size))  # unbiased
        assert est.var() == pytest.approx(want, rel=0.03)


def test_posterior_moments_match_monte_carlo():
    rng = np.random.default_rng(1)
    post = posterior(TRUE, [32], [1])  # one problem, 1 of 32 correct
    comp = rng.choice(2, size=400_000, p=post.weights[0])
    p = rng.beta(post.a[0][comp], post.b[0][comp])
    for k in (1, 16, 256):
        pk = 1 - (1 - p) ** k
        assert posterior_pass_at_k(post, [k])[0, 0] == pytest.approx(pk.mean(), abs=3e-3)
        assert posterior_pass_var(post, [k])[0, 0] == pytest.approx(pk.var(), rel=0.03, abs=1e-5)
    # posterior expectation of the exact estimator variance at n = 300, k = 64
    vs = estimator_variance(p[:20_000], 300, 64).mean()
    assert expected_estimator_variance(post, 300, 64)[0] == pytest.approx(vs, rel=0.03)
    # moments of the prior itself: numerical integration of a single Beta
    beta = BetaMixture([1.0], [0.7], [3.0])
    grid = (np.arange(200_000) + 0.5) / 200_000
    dens = grid ** -0.3 * (1 - grid) ** 2.0
    dens /= dens.sum()
    for t in (1, 10, 100):
        assert moment_one_minus_p(beta, [t])[0] == pytest.approx(((1 - grid) ** t * dens).sum(), rel=1e-3)


def test_posterior_is_the_conjugate_update():
    post = posterior(TRUE, [10, 10], [0, 10])
    np.testing.assert_allclose(post.a, [[0.3, 2.0], [10.3, 12.0]])
    np.testing.assert_allclose(post.b, [[40.0, 11.0], [30.0, 1.0]])
    assert post.weights[0, 0] > 0.9 and post.weights[1, 1] > 0.99  # c=0 -> hard component, c=10 -> easy


def test_preposterior_matches_simulation():
    rng = np.random.default_rng(2)
    post = posterior(TRUE, [32, 64], [0, 3])
    extra, ks = 64, [16, 256]
    got = preposterior_pass_var(post, ks, extra)
    assert (got <= posterior_pass_var(post, ks) + 1e-15).all()
    for i in range(2):
        one = BetaMixture(post.weights[i], post.a[i], post.b[i])
        comp = rng.choice(2, size=20_000, p=one.weights)
        p = rng.beta(one.a[comp], one.b[comp])
        c2 = rng.binomial(extra, p)
        later = posterior(one, np.full(c2.size, extra), c2)
        np.testing.assert_allclose(got[i], posterior_pass_var(later, ks).mean(axis=0), rtol=0.03, atol=1e-6)


def test_eb_fit_recovers_a_known_mixture():
    rng = np.random.default_rng(3)
    p = draw_p(TRUE, 600, rng)
    n = np.full(p.size, 64)
    c = rng.binomial(n, p)
    fit = fit_beta_mixture(n, c, components=2)
    assert fit.weights.shape == (2,)
    # the fit is at least as likely as the truth (it maximises the same likelihood) ...
    assert marginal_loglik(fit, n, c) >= marginal_loglik(TRUE, n, c) - 1.0
    # ... and reproduces the population pass@k at k <= n
    want = 1 - moment_one_minus_p(TRUE, [1, 8, 64])
    np.testing.assert_allclose(1 - moment_one_minus_p(fit, [1, 8, 64]), want, atol=0.03)
    # deterministic
    again = fit_beta_mixture(n, c, components=2)
    np.testing.assert_array_equal(again.a, fit.a)
    assert "Beta(" in fit.describe()


def test_predicted_halfwidth_matches_simulation():
    """The planner's half-width from a 32-sample pilot vs the spread of the mean estimate in simulation."""
    rng = np.random.default_rng(4)
    P, n0, n_new, ks = 300, 32, 128, np.array([1, 16, 128])
    p = draw_p(TRUE, P, rng)
    c0 = rng.binomial(n0, p)
    post = posterior(fit_beta_mixture(np.full(P, n0), c0), np.full(P, n0), c0)
    z = z_value(0.95)
    # benchmark scope: these P problems, fresh samples at n_new
    pred = predict_halfwidth([post], n_new, ks, scope="benchmark").halfwidth
    R = 400
    c = rng.binomial(n_new, np.broadcast_to(p, (R, P))).reshape(-1)
    means = pass_at_k_matrix(np.full(c.size, n_new), c, ks).reshape(R, P, ks.size).mean(axis=1)
    sim = z * means.std(axis=0, ddof=1)
    np.testing.assert_allclose(pred, sim, rtol=0.25)
    # population scope: fresh problems and samples each replicate
    pred_pop = predict_halfwidth([post], n_new, ks, scope="population").halfwidth
    pp = draw_p(TRUE, R * P, rng)
    cp = rng.binomial(n_new, pp)
    mp = pass_at_k_matrix(np.full(cp.size, n_new), cp, ks).reshape(R, P, ks.size).mean(axis=1)
    np.testing.assert_allclose(pred_pop, z * mp.std(axis=0, ddof=1), rtol=0.25)
    assert (pred_pop > pred).all()


def test_plan_finds_smallest_n_and_is_right_in_simulation():
    rng = np.random.default_rng(5)
    P, n0, k = 300, 32, 16
    p = draw_p(TRUE, P, rng)
    c0 = rng.binomial(n0, p)
    target = 0.006
    plan = plan_sample_size([(np.full(P, n0), c0)], [k], target, scope="benchmark")
    n_star = plan.n_needed[0]
    assert n_star is not None and n_star > n0 and plan.n_plan == n_star
    post = posterior(plan.priors[0], np.full(P, n0), c0)
    at = predict_halfwidth([post], n_star, [k], scope="benchmark").halfwidth[0]
    below = predict_halfwidth([post], n_star - 1, [k], scope="benchmark").halfwidth[0]
    assert at <= target < below
    assert plan.halfwidth_at_needed[0] == pytest.approx(at)
    # simulate the planned experiment: its 95% half-width is close to the target
    R = 300
    c = rng.binomial(n_star, np.broadcast_to(p, (R, P))).reshape(-1)
    means = pass_at_k_matrix(np.full(c.size, n_star), c, [k]).reshape(R, P).mean(axis=1)
    assert z_value(0.95) * means.std(ddof=1) == pytest.approx(target, rel=0.25)


def oracle_n(p: np.ndarray, k: int, target: float) -> int:
    """Smallest n (step 4) whose exact benchmark-scope half-width, from the true p, is <= target."""
    z = z_value(0.95)
    for n in range(k, 20_000, 4):
        if z * math.sqrt(estimator_variance(p, n, k).sum()) / p.size <= target:
            return n
    raise AssertionError("target not reachable")


def test_plan_beyond_the_pilot_brackets_the_truth():
    """k = 64 from a 32-sample pilot is an extrapolation: the bootstrap range must hold the oracle n."""
    rng = np.random.default_rng(6)
    P, n0, k, target = 300, 32, 64, 0.012
    p = draw_p(TRUE, P, rng)
    c0 = rng.binomial(n0, p)
    plan = plan_sample_size([(np.full(P, n0), c0)], [k], target, scope="benchmark", n_boot=12, seed=1)
    lo, hi = plan.n_needed_range[0]
    truth = oracle_n(p, k, target)
    assert lo is not None and hi is not None and lo <= truth <= hi
    assert lo <= plan.n_needed[0] <= hi
    assert hi < 4 * lo  # informative, not a blank cheque
    assert plan_sample_size([(np.full(P, n0), c0)], [k], target, scope="benchmark").n_needed_range == (None,)


def test_between_problem_floor_says_more_problems():
    rng = np.random.default_rng(16)
    P = 200
    c0 = rng.binomial(32, draw_p(TRUE, P, rng))
    plan = plan_sample_size([(np.full(P, 32), c0)], [1, 256], 0.01)  # population scope
    assert plan.n_needed == (None, None) and plan.n_plan is None
    z = z_value(0.95)
    post = posterior(plan.priors[0], np.full(P, 32), c0)
    sb = between_variance([post], [1, 256])
    assert list(plan.problems_needed) == [math.ceil(z * z * s / 0.01 ** 2) for s in sb]
    assert all(b > 0.01 for b in plan.between_halfwidth)
    # with a loose target the same pilot is feasible, and the floor is below the target
    loose = plan_sample_size([(np.full(P, 32), c0)], [256], 0.08)
    assert loose.n_needed[0] is not None and loose.between_halfwidth[0] < 0.08
    assert loose.problems_needed == (None,)


def test_difference_plan_matches_simulation():
    """Paired difference of two models on the same problems: predicted vs simulated half-width."""
    rng = np.random.default_rng(7)
    P, n0, n_new, k = 300, 32, 96, 32
    pa = draw_p(TRUE, P, rng)
    pb = np.clip(pa * 1.5, 0, 1)  # a correlated second model
    ca, cb = rng.binomial(n0, pa), rng.binomial(n0, pb)
    n = np.full(P, n0)
    posts = [posterior(fit_beta_mixture(n, x), n, x) for x in (ca, cb)]
    pred = predict_halfwidth(posts, n_new, [k], scope="benchmark").halfwidth[0]
    R = 300
    xa = rng.binomial(n_new, np.broadcast_to(pa, (R, P))).reshape(-1)
    xb = rng.binomial(n_new, np.broadcast_to(pb, (R, P))).reshape(-1)
    nn = np.full(xa.size, n_new)
    d = (pass_at_k_matrix(nn, xa, [k]) - pass_at_k_matrix(nn, xb, [k])).reshape(R, P).mean(axis=1)
    assert pred == pytest.approx(z_value(0.95) * d.std(ddof=1), rel=0.25)
    plan = plan_sample_size([(n, ca), (n, cb)], [k], 0.01, scope="benchmark")
    assert plan.difference and plan.n_needed[0] is not None
    # the difference's between-problem variance is far below the sum of the two (paired design)
    sd = between_variance(posts, [k])[0]
    assert sd < between_variance(posts[:1], [k])[0] + between_variance(posts[1:], [k])[0]


def test_error_variance_switches_estimator_at_k():
    post = posterior(TRUE, [32, 300], [2, 20])
    e = error_variance(post, np.array([32, 300]), [16, 256])
    pv = posterior_pass_var(post, [16, 256])
    assert e[0, 1] == pytest.approx(pv[0, 1])  # n < k: posterior variance
    assert e[1, 1] == pytest.approx(expected_estimator_variance(posterior(TRUE, [300], [20]), 300, 256)[0])
    np.testing.assert_allclose(error_variance(post, [32, 300], [16, 256], estimator="bayes"), pv)


def test_bad_input():
    n = np.full(5, 8)
    c = np.array([0, 1, 2, 8, 4])
    with pytest.raises(ValueError):
        plan_sample_size([(n, c)], [16], 0.0)
    with pytest.raises(ValueError):
        plan_sample_size([(n, c)], [16], 0.05, scope="galaxy")
    with pytest.raises(ValueError):
        plan_sample_size([(n, c)], [1 << 20], 0.05)
    with pytest.raises(ValueError):
        estimator_variance(0.5, 4, 8)
    with pytest.raises(ValueError):
        posterior(TRUE, [3], [4])
    assert jeffreys_prior().describe() == "1.00 Beta(0.5, 0.5)"


def test_sampling_cost_counts_every_run():
    one = sampling_cost(100, 50, [200.0], [1000.0], pilot_samples=50 * 32)
    assert (one.samples, one.more_samples) == (5000, 5000 - 1600)
    assert one.tokens == pytest.approx(5000 * 200.0) and one.seconds == pytest.approx(5000 * 200.0 / 1000.0)
    # a paired difference samples both runs, each at its own throughput; unknowns stay unknown
    two = sampling_cost(100, 50, [200.0, 300.0], [1000.0, 500.0])
    assert two.samples == 10_000 and two.tokens == pytest.approx(5000 * 500.0)
    assert two.seconds == pytest.approx(5000 * (0.2 + 0.6))
    assert sampling_cost(100, 50, [200.0, 300.0], [1000.0, None]).seconds is None
    no_tokens = sampling_cost(100, 50, [None], [1000.0])
    assert no_tokens.tokens is None and no_tokens.seconds is None
    assert sampling_cost(8, 50, [1.0], [None], pilot_samples=10_000).more_samples == 0
    assert no_tokens.to_json_dict() == {"samples": 5000, "more_samples": 5000, "tokens": None, "seconds": None}
    with pytest.raises(ValueError):
        sampling_cost(100, 50, [200.0], [1000.0, 10.0])


def test_plan_cost_follows_the_plan():
    rng = np.random.default_rng(4)
    p = draw_p(TRUE, 300, rng)
    n = np.full(p.size, 32)
    c = rng.binomial(n, p)
    plan = plan_sample_size([(n, c)], [4, 64, 1024], 0.005, scope="benchmark", n_max=2048)
    assert plan.n_needed[0] is not None and plan.n_needed[2] is None  # k = 1024 not reached by n_max
    costs = plan_cost(plan, [150.0], [3000.0], pilot_samples=int(n.sum()))
    assert len(costs) == 3
    for n_k, cost in zip(plan.n_needed, costs):
        if n_k is None:
            assert cost is None
        else:
            assert cost == sampling_cost(n_k, 300, [150.0], [3000.0], int(n.sum()))
    assert costs[0].samples == 300 * plan.n_needed[0] and costs[2] is None
    with pytest.raises(ValueError):
        plan_cost(plan, [150.0, 150.0], [3000.0, 3000.0])

