"""pass@k (Chen et al. 2021) against exact rational arithmetic and brute-force enumeration."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from rlbound.metrics.passk import (
    KTooLargeError,
    default_ks,
    pass_at_k,
    pass_at_k_curve,
    pass_at_k_matrix,
    pass_at_k_plugin,
)


def exact(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def brute(n: int, c: int, k: int) -> Fraction:
    """Share of k-subsets of n samples (the first c correct) holding at least one correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(1 for s in subsets if min(s) < c)
    return Fraction(hits, len(subsets))


def test_matches_fraction_on_random_triples_up_to_2048():
    rng = np.random.default_rng(20250417)
    worst = 0.0
    for _ in range(300):
        n = int(rng.integers(1, 2049))
        c = int(rng.integers(0, n + 1))
        k = int(rng.integers(1, n + 1))
        got = pass_at_k_matrix([n], [c], [k])[0, 0]
        worst = max(worst, abs(got - float(exact(n, c, k))))
    assert worst <= 1e-12


def test_all_k_at_once_matches_fraction():
    n, cs = 512, [0, 1, 2, 7, 100, 255, 256, 511, 512]
    ks = np.arange(1, n + 1)
    got = pass_at_k_matrix([n] * len(cs), cs, ks)
    for i, c in enumerate(cs):
        for k in (1, 2, 3, 10, 64, 255, 256, 257, 400, 505, 511, 512):
            assert abs(got[i, k - 1] - float(exact(n, c, k))) <= 1e-12, (c, k)


@pytest.mark.parametrize("n", range(1, 11))
def test_matches_brute_force_enumeration(n):
    for c in range(n + 1):
        got = pass_at_k_matrix([n], [c], np.arange(1, n + 1))[0]
        for k in range(1, n + 1):
            assert abs(got[k - 1] - float(brute(n, c, k))) <= 1e-15, (n, c, k)


def test_edge_cases():
    n = 37
    ks = np.arange(1, n + 1)
    assert np.all(pass_at_k_matrix([n], [0], ks) == 0.0)  # c = 0
    assert np.all(pass_at_k_matrix([n], [n], ks) == 1.0)  # c = n
    assert np.all(pass_at_k_matrix([n] * 4, [1, 5, 20, 36], [n])[:, 0] == 1.0)  # k = n, c >= 1
    assert pass_at_k_matrix([1, 1], [0, 1], [1]).tolist() == [[0.0], [1.0]]  # n = 1
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    # n - c < k: certain to draw a correct one.
    assert pass_at_k_matrix([10], [4], [7])[0, 0] == 1.0


def test_pass_at_1_is_c_over_n():
    n = np.array([5, 8, 100, 3])
    c = np.array([2, 8, 37, 0])
    np.testing.assert_allclose(pass_at_k_matrix(n, c, [1])[:, 0], c / n, rtol=0, atol=1e-15)


def test_mixed_n_rows_match_single_problem_calls():
    rng = np.random.default_rng(3)
    n = rng.integers(16, 300, size=40)
    c = np.array([int(rng.integers(0, v + 1)) for v in n])
    ks = [1, 2, 5, 16]
    got = pass_at_k_matrix(n, c, ks)
    for p in range(n.size):
        for j, k in enumerate(ks):
            assert abs(got[p, j] - pass_at_k(int(n[p]), int(c[p]), k)) <= 1e-13
            assert abs(got[p, j] - float(exact(int(n[p]), int(c[p]), k))) <= 1e-12


def test_k_above_n_raises_naming_problem():
    with pytest.raises(KTooLargeError) as err:
        pass_at_k_matrix([8, 4, 8], [1, 1, 1], [1, 5], problem_ids=["a", "aime-7", "c"])
    assert err.value.problem == "aime-7" and err.value.k == 5 and err.value.n == 4
    assert "aime-7" in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(KTooLargeError):
        pass_at_k(3, 1, 4)


def test_bad_counts_raise():
    with pytest.raises(ValueError):
        pass_at_k_matrix([4], [5], [1])
    with pytest.raises(ValueError):
        pass_at_k_matrix([0], [0], [1])
    with pytest.raises(ValueError):
        pass_at_k_matrix([4], [1], [0])


def test_plugin_is_biased_low():
    assert pass_at_k_plugin([256], [1], [256])[0, 0] == pytest.approx(0.633, abs=5e-4)
    assert pass_at_k_matrix([256], [1], [256])[0, 0] == 1.0
    # equal at k = 1, below for k > 1 whenever 0 < c < n
    n, c, ks = np.array([20, 20, 20]), np.array([1, 10, 19]), np.arange(1, 21)
    plug, unb = pass_at_k_plugin(n, c, ks), pass_at_k_matrix(n, c, ks)
    np.testing.assert_allclose(plug[:, 0], unb[:, 0], atol=1e-15)
    assert np.all(plug <= unb)
    assert np.all(plug[:, 1:5] < unb[:, 1:5])  # strictly, while neither has rounded to 1.0


def test_precision_at_n_100000():
    n, c = 100_000, [1, 37, 5_000, 99_000]
    ks = [1, 10, 1_000, 20_000, 90_000]
    got = pass_at_k_matrix([n] * len(c), c, ks)
    for i, ci in enumerate(c):
        for j, k in enumerate(ks):
            want = float(exact(n, ci, k))
            assert abs(got[i, j] - want) <= 1e-10, (ci, k, got[i, j], want)


def test_curve_and_default_ks():
    assert default_ks(1) == [1]
    assert default_ks(128) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert default_ks(100) == [1, 2, 4, 8, 16, 32, 64, 100]
    curve = pass_at_k_curve([4, 6], [1, 3])
    assert curve.shape == (4,)
    want = [(float(exact(4, 1, k)) + float(exact(6, 3, k))) / 2 for k in range(1, 5)]
    np.testing.assert_allclose(curve, want, atol=1e-14)
    assert np.all(np.diff(curve) >= 0)
