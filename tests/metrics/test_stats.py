"""Bootstrap CIs over problems: same numbers as a naive loop, seeded, paired, sensible widths."""

from __future__ import annotations

import numpy as np
import pytest

from rlbound.metrics.stats import bootstrap_ci, bootstrap_means, normal_ci, paired_bootstrap_diff


def naive_reps(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Textbook bootstrap: draw P problem indices per replicate and average those rows."""
    idx = np.random.default_rng(seed).integers(0, x.shape[0], size=(n_boot, x.shape[0]), dtype=np.int32)
    return x[idx].mean(axis=1)


def test_matches_naive_bootstrap_exactly():
    rng = np.random.default_rng(0)
    x = rng.random((300, 5))
    reps = bootstrap_means(x, n_boot=500, seed=11)
    np.testing.assert_allclose(reps, naive_reps(x, 500, 11), rtol=0, atol=1e-13)
    mean, low, high = bootstrap_ci(x, n_boot=500, level=0.9, seed=11)
    want_low, want_high = np.quantile(naive_reps(x, 500, 11), [0.05, 0.95], axis=0)
    np.testing.assert_allclose(mean, x.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(low, want_low, atol=1e-13)
    np.testing.assert_allclose(high, want_high, atol=1e-13)


def test_blocked_draws_are_a_valid_bootstrap():
    # P * B far above one block: several blocks of the index matrix.
    rng = np.random.default_rng(1)
    p = 20_000
    x = np.column_stack([(rng.random(p) < 0.3).astype(float), rng.random(p)])
    reps = bootstrap_means(x, n_boot=400, seed=5)
    assert reps.shape == (400, 2)
    se = x.std(axis=0) / np.sqrt(p)
    np.testing.assert_allclose(reps.std(axis=0, ddof=1), se, rtol=0.15)
    assert np.all(np.abs(reps.mean(axis=0) - x.mean(axis=0)) < 4 * se / np.sqrt(400))
    # no two replicates (within or across blocks) are the same resample
    assert len(np.unique(reps[:, 1])) == 400


def test_seeded_and_ordered():
    x = np.random.default_rng(2).random((200, 3))
    a = bootstrap_ci(x, n_boot=300, seed=4)
    b = bootstrap_ci(x, n_boot=300, seed=4)
    c = bootstrap_ci(x, n_boot=300, seed=5)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    mean, low, high = a
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(low < high)


def test_width_matches_standard_error():
    rng = np.random.default_rng(3)
    x = (rng.random((400, 1)) < 0.3).astype(float)
    mean, low, high = bootstrap_ci(x, n_boot=2000, seed=0)
    se = np.sqrt(mean * (1 - mean) / 400)
    np.testing.assert_allclose(high - low, 2 * 1.96 * se, rtol=0.12)
    m2, l2, h2 = normal_ci(x)
    np.testing.assert_allclose([l2, h2], [low, high], atol=0.01)


def test_constant_column_has_zero_width():
    x = np.column_stack([np.full(50, 0.25), np.linspace(0, 1, 50)])
    mean, low, high = bootstrap_ci(x, n_boot=200)
    assert low[0] == pytest.approx(0.25, abs=1e-15) and high[0] == pytest.approx(0.25, abs=1e-15)
    assert low[1] < high[1]


def test_one_dimensional_input_is_one_column():
    mean, low, high = bootstrap_ci(np.arange(10.0), n_boot=100)
    assert mean.shape == low.shape == high.shape == (1,)
    assert mean[0] == 4.5


def test_paired_diff_uses_same_problems():
    rng = np.random.default_rng(6)
    base = rng.random((500, 2))
    other = np.clip(base + rng.normal(0.02, 0.01, size=base.shape), 0, 1)  # strongly correlated
    d, lo, hi = paired_bootstrap_diff(base, other, n_boot=1000, seed=0)
    np.testing.assert_allclose(d, base.mean(0) - other.mean(0), atol=1e-15)
    assert np.all(lo <= d) and np.all(d <= hi)
    # paired: the interval reflects the small per-problem differences ...
    assert np.all(hi - lo < 0.01)
    assert np.all(hi < 0)  # other is higher by ~0.02 on every problem
    # ... while unpaired intervals of the two means overlap heavily.
    _, lb, hb = bootstrap_ci(base, n_boot=1000, seed=0)
    assert np.all(hb - lb > 0.04)
    # identical inputs: exactly zero difference in every replicate
    z, zl, zh = paired_bootstrap_diff(base, base, n_boot=100)
    assert np.all(z == 0) and np.all(zl == 0) and np.all(zh == 0)


def test_bad_input_raises():
    x = np.ones((5, 2))
    with pytest.raises(ValueError):
        bootstrap_ci(x, level=1.0)
    with pytest.raises(ValueError):
        bootstrap_ci(x, level=0.0)
    with pytest.raises(ValueError):
        bootstrap_ci(x, n_boot=0)
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones((0, 3)))
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError):
        paired_bootstrap_diff(np.ones((5, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones((2, 2, 2)))


def test_normal_ci_single_problem_collapses():
    m, lo, hi = normal_ci(np.array([[0.5, 1.0]]))
    np.testing.assert_array_equal(lo, m)
    np.testing.assert_array_equal(hi, m)
