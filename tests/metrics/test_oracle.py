"""The oracle bound on re-allocating samples: closed forms, the cap argument, feasibility."""

from __future__ import annotations

import numpy as np
import pytest

from rlbound.metrics.oracle import default_grid, neyman_saving, oracle_allocation
from rlbound.metrics.planning import estimator_variance


def test_neyman_saving_closed_form():
    assert neyman_saving([0.3, 0.3, 0.3]) == pytest.approx(1.0)
    p = np.array([0.5, 0.001])
    v = p * (1 - p)
    assert neyman_saving(p) == pytest.approx(v.mean() / np.sqrt(v).mean() ** 2)
    assert neyman_saving(p) > 1.5
    assert neyman_saving([0.0, 1.0]) == float("inf")


def test_capped_at_uniform_n_only_p_zero_or_one_are_skipped():
    """With n_i <= n, matching uniform's variance forces n_i = n for every 0 < p_i < 1."""
    p = np.array([0.0, 0.02, 0.3, 0.9, 1.0, 0.0005])
    out = oracle_allocation(p, [1, 4, 16], 64, cap=64)
    assert out.n.tolist() == [16, 64, 64, 64, 16, 64]  # the grid's least n (= max k) where p is 0 or 1
    assert out.saving == pytest.approx(6 * 64 / (4 * 64 + 2 * 16))
    assert out.max_saving >= out.saving - 1e-9


def test_k1_alone_reaches_the_neyman_bound():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.beta(0.2, 2.0, 150), rng.uniform(0.3, 0.7, 50)])
    out = oracle_allocation(p, [1], 100, cap=4000, iters=2000)
    assert (out.variance_ratio <= 1 + 1e-12).all()
    assert out.lower_bound <= out.samples
    # the grid (step 3%) and integer n cost a few percent of the continuous Neyman saving
    assert neyman_saving(p) * 0.93 <= out.saving <= out.max_saving <= neyman_saving(p) * 1.0001


def test_more_ks_never_save_more_and_the_allocation_is_feasible():
    rng = np.random.default_rng(1)
    p = rng.beta(0.15, 1.2, 120)
    ks = [1, 4, 16, 64]
    one = oracle_allocation(p, [1], 128, cap=2048, iters=1500)
    every = oracle_allocation(p, ks, 128, cap=2048, iters=1500)
    assert every.max_saving <= one.max_saving + 1e-9
    # recompute the variances of the returned allocation independently
    for j, k in enumerate(ks):
        got = sum(float(estimator_variance(p[i], int(every.n[i]), k)) for i in range(p.size))
        ref = float(estimator_variance(p, 128, k).sum())
        assert got <= ref * (1 + 1e-9)
        assert got / ref == pytest.approx(every.variance_ratio[j])


def test_grid_and_argument_checks():
    g = default_grid(16, 100, 1000)
    assert g[0] == 16 and g[-1] == 1000 and 100 in g and (np.diff(g) > 0).all()
    with pytest.raises(ValueError):
        oracle_allocation([0.5], [200], 100)
    with pytest.raises(ValueError):
        oracle_allocation([0.5], [4], 100, grid=[50, 200])
