"""maj@k, G-Pass@k, mG-Pass@k, Cover@tau and the lucky-guess floor against hand values and brute force."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from rlbound.metrics.passk import KTooLargeError, pass_at_k_matrix, pass_at_k_plugin
from rlbound.metrics.variants import (
    cover_at_tau,
    g_pass_at_k,
    hypergeom_pmf,
    lucky_guess_floor,
    maj_at_k,
    mg_pass_at_k,
    threshold,
)

# ---------------------------------------------------------------------------- lucky guesses


def test_lucky_guess_floor_paper_values():
    assert round(lucky_guess_floor(1000, 128), 2) == 0.12
    assert round(lucky_guess_floor(1000, 1024), 2) == 0.64
    assert lucky_guess_floor(1000, 128) == pytest.approx(1 - 0.999**128, abs=1e-15)
    assert lucky_guess_floor(1, 5) == 1.0 and lucky_guess_floor(1, 0) == 0.0
    assert lucky_guess_floor(10, 0) == 0.0
    got = lucky_guess_floor(1000, np.array([1, 128, 1024]))
    assert got.shape == (3,) and got[0] == pytest.approx(0.001, abs=1e-15)
    # the plug-in pass@k of a problem with accuracy 1/M
    np.testing.assert_allclose(got, pass_at_k_plugin([1000], [1], [1, 128, 1024])[0], atol=1e-14)
    with pytest.raises(ValueError):
        lucky_guess_floor(0, 3)
    with pytest.raises(ValueError):
        lucky_guess_floor(10, -1)


# ---------------------------------------------------------------------------- G-Pass@k


def brute_tail(n: int, c: int, k: int, m: int) -> Fraction:
    """Share of k-subsets of n samples (the first c correct) holding at least m correct samples."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(1 for s in subsets if sum(i < c for i in s) >= m), len(subsets))


def exact_tail(n: int, c: int, k: int, m: int) -> Fraction:
    return Fraction(sum(math.comb(c, j) * math.comb(n - c, k - j) for j in range(m, min(c, k) + 1)), math.comb(n, k))


def test_threshold_guards_float_noise():
    assert threshold(0.3, 10) == 3  # 0.3 * 10 = 3.0000000000000004
    assert threshold(0.5, 5) == 3
    assert threshold(1.0, 7) == 7
    assert threshold(0.01, 4) == 1
    for bad in (0.0, -0.1, 1.01):
        with pytest.raises(ValueError):
            threshold(bad, 4)


@pytest.mark.parametrize("n", range(1, 9))
def test_g_pass_matches_brute_force(n):
    cs = list(range(n + 1))
    for k in range(1, n + 1):
        for i in range(1, k + 1):
            got = g_pass_at_k([n] * len(cs), cs, k, i / k)
            for c in cs:
                assert abs(got[c] - float(brute_tail(n, c, k, i))) <= 1e-13, (n, c, k, i)


def test_g_pass_hand_values():
    # n=10, c=5, k=4, tau=0.5: P(X >= 2) = 1 - [C(5,4) + C(5,1)C(5,3)] / C(10,4) = 1 - 55/210
    assert g_pass_at_k([10], [5], 4, 0.5)[0] == pytest.approx(155 / 210, abs=1e-14)
    # tau = 1: all k correct, C(c,k)/C(n,k)
    assert g_pass_at_k([10], [5], 4, 1.0)[0] == pytest.approx(5 / 210, abs=1e-14)
    assert g_pass_at_k([10], [0], 4, 0.25)[0] == 0.0
    assert g_pass_at_k([10], [10], 4, 1.0)[0] == 1.0


def test_g_pass_at_small_tau_is_pass_at_k():
    rng = np.random.default_rng(7)
    n = rng.integers(64, 1025, size=50)
    c = np.array([int(rng.integers(0, v + 1)) for v in n])
    for k in (1, 2, 17, 64):
        np.testing.assert_allclose(g_pass_at_k(n, c, k, 1 / k), pass_at_k_matrix(n, c, [k])[:, 0], rtol=0, atol=1e-11)


def test_g_pass_matches_fraction_at_n_1024():
    rng = np.random.default_rng(8)
    for _ in range(40):
        n = 1024
        c = int(rng.integers(0, n + 1))
        k = int(rng.integers(1, 257))
        m = int(rng.integers(1, k + 1))
        got = g_pass_at_k([n], [c], k, m / k)[0]
        assert abs(got - float(exact_tail(n, c, k, m))) <= 1e-10, (c, k, m)


def test_g_pass_decreases_with_tau_and_pmf_sums_to_one():
    n, c, k = [200] * 5, [0, 3, 50, 150, 200], 32
    vals = np.array([g_pass_at_k(n, c, k, i / k) for i in range(1, k + 1)])
    assert np.all(np.diff(vals, axis=0) <= 1e-15)
    np.testing.assert_allclose(hypergeom_pmf(n, c, k).sum(axis=1), 1.0, atol=1e-12)


def test_g_pass_k_too_large_names_problem():
    with pytest.raises(KTooLargeError) as err:
        g_pass_at_k([8, 3], [1, 1], 4, 0.5, problem_ids=["x", "short"])
    assert err.value.problem == "short"


def test_mg_pass_matches_definition_and_brute_force():
    n = [12] * 13
    c = list(range(13))
    for k in (1, 2, 3, 4, 5, 8, 12):
        got = mg_pass_at_k(n, c, k)
        terms = [g_pass_at_k(n, c, k, i / k) for i in range(math.ceil(k / 2) + 1, k + 1)]
        want = (2 / k) * np.sum(terms, axis=0) if terms else np.zeros(13)
        np.testing.assert_allclose(got, want, atol=1e-14)
        if k > 5:
            continue  # enumeration of C(12, k) subsets stays cheap up to k = 5
        for ci in (0, 5, 9, 12):
            exact = Fraction(2, k) * sum(brute_tail(12, ci, k, i) for i in range(math.ceil(k / 2) + 1, k + 1))
            assert abs(got[ci] - float(exact)) <= 1e-13
    # a model that is always right: (2/k) * (k - ceil(k/2)) = 1 for even k
    assert mg_pass_at_k([16], [16], 8)[0] == pytest.approx(1.0, abs=1e-15)
    assert mg_pass_at_k([16], [0], 8)[0] == 0.0


# ---------------------------------------------------------------------------- Cover@tau


def test_cover_hand_values_and_float_edges():
    n = [10, 10, 10, 10]
    c = [0, 3, 7, 10]
    np.testing.assert_array_equal(cover_at_tau(n, c, [0.0, 0.1, 0.3, 0.30001, 0.7, 1.0]), [1.0, 0.75, 0.75, 0.5, 0.5, 0.25])
    # c/n = 1/3 against tau = 1/3 computed the same way
    assert cover_at_tau([3], [1], [1 / 3])[0] == 1.0
    with pytest.raises(ValueError):
        cover_at_tau([], [], [0.5])


def _integral_of_cover(n, c, k):
    """int_0^1 k(1-tau)^(k-1) Cover@tau dtau, exactly: Cover is constant between its breakpoints c/n."""
    acc = np.asarray(c) / np.asarray(n)
    edges = np.unique(np.concatenate([[0.0, 1.0], acc]))
    mids = (edges[:-1] + edges[1:]) / 2
    cover = cover_at_tau(n, c, mids)
    weight = (1 - edges[:-1]) ** k - (1 - edges[1:]) ** k  # int_a^b k(1-t)^(k-1) dt
    return float(np.sum(cover * weight))


def test_dragoi_identity_holds_exactly_for_plugin_not_unbiased():
    rng = np.random.default_rng(9)
    n = rng.integers(1, 60, size=80)
    c = np.array([int(rng.integers(0, v + 1)) for v in n])
    for k in (1, 2, 5, 40, 300):
        lhs = _integral_of_cover(n, c, k)
        assert lhs == pytest.approx(pass_at_k_plugin(n, c, [k]).mean(), abs=1e-12)
    # the unbiased estimator differs for k > 1 (it is larger)
    k = 5
    nn = np.full(80, 64)
    cc = rng.integers(0, 65, size=80)
    assert pass_at_k_matrix(nn, cc, [k]).mean() - _integral_of_cover(nn, cc, k) > 1e-3


def test_discrete_identity_for_unbiased_with_common_n():
    # pass@k = sum_{j=1..n} Cover@(j/n) * C(n-j, k-1) / C(n, k) when every problem has n samples
    rng = np.random.default_rng(10)
    n = 50
    c = rng.integers(0, n + 1, size=120)
    taus = np.arange(1, n + 1) / n
    cover = cover_at_tau(np.full(c.size, n), c, taus)
    for k in (1, 2, 7, 25, 50):
        w = np.array([math.comb(n - j, k - 1) / math.comb(n, k) for j in range(1, n + 1)])
        assert float(cover @ w) == pytest.approx(pass_at_k_matrix(np.full(c.size, n), c, [k]).mean(), abs=1e-12)


# ---------------------------------------------------------------------------- maj@k


def exact_maj(answers, correct, k):
    """Expected maj@k by enumerating every k-subset; ties split evenly, None never wins."""
    n = len(answers)
    score = {}
    for a in set(x for x in answers if x is not None):
        flags = [correct[i] for i in range(n) if answers[i] == a]
        score[a] = sum(flags) / len(flags)
    total = 0.0
    subsets = list(itertools.combinations(range(n), k))
    for s in subsets:
        votes = Counter(answers[i] for i in s if answers[i] is not None)
        if not votes:
            continue
        top = max(votes.values())
        tied = [a for a, v in votes.items() if v == top]
        total += sum(score[a] for a in tied) / len(tied)
    return total / len(subsets)


def test_maj_hand_values():
    ans = [["a", "a", "a"], ["b", "b", "b"], [None, None, None], ["a", "a", "b"], [None, None, "a"], ["a", "a"]]
    cor = [[True] * 3, [False] * 3, [False] * 3, [True, True, False], [False, False, True], [True, False]]
    got = maj_at_k(ans[:5], cor[:5], 3, n_resamples=50)
    np.testing.assert_array_equal(got, [1.0, 0.0, 0.0, 1.0, 1.0])  # k = n: only ties are random
    # same answer graded inconsistently: a random sample with that answer is graded
    assert maj_at_k([ans[5]], [cor[5]], 2)[0] == 0.5


def test_maj_tie_is_broken_at_random():
    got = maj_at_k([["x", "y"]], [[True, False]], 2, n_resamples=4000, seed=1)[0]
    assert abs(got - 0.5) < 0.05


def test_maj_matches_enumeration():
    rng = np.random.default_rng(12)
    pool = ["1", "2", "3", None]
    problems, verdicts = [], []
    for _ in range(4):
        n = int(rng.integers(5, 9))
        ans = [pool[int(i)] for i in rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])]
        problems.append(ans)
        verdicts.append([a == "1" for a in ans])
    r = 20_000
    for k in (1, 2, 3, 5):
        got = maj_at_k(problems, verdicts, k, n_resamples=r, seed=k)
        want = [exact_maj(a, v, k) for a, v in zip(problems, verdicts)]
        np.testing.assert_allclose(got, want, atol=4 * 0.5 / math.sqrt(r))


def test_maj_at_1_is_accuracy_and_seeded():
    ans = [["1", "2", None, "1", "3", "1", "2", "1"]]
    cor = [[a == "1" for a in ans[0]]]
    a = maj_at_k(ans, cor, 1, n_resamples=5000, seed=3)
    assert abs(a[0] - 0.5) < 0.03
    np.testing.assert_array_equal(a, maj_at_k(ans, cor, 1, n_resamples=5000, seed=3))
    assert not np.array_equal(a, maj_at_k(ans, cor, 1, n_resamples=5000, seed=4))


def test_maj_bad_input():
    with pytest.raises(KTooLargeError) as err:
        maj_at_k([["a"] * 4, ["a"] * 2], [[True] * 4, [True] * 2], 3, problem_ids=["p0", "p1"])
    assert err.value.problem == "p1"
    with pytest.raises(ValueError):
        maj_at_k([["a", "b"]], [[True]], 1)
    with pytest.raises(ValueError):
        maj_at_k([["a"]], [[True], [False]], 1)
    with pytest.raises(ValueError):
        maj_at_k([["a"]], [[True]], 0)


def test_maj_on_real_graded_responses():
    """800 real graded responses (100 MATH problems x 8): maj@8 against enumeration, maj@1 ~ pass@1."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchmarks" / "eval_rm_maj_example" / "math_cot_100.jsonl"
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path}")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    answers = [[p if p not in ("", None) else None for p in r["pred"]] for r in rows]
    correct = [[bool(s) for s in r["score"]] for r in rows]
    got8 = maj_at_k(answers, correct, 8, n_resamples=400, seed=0)
    want8 = np.array([exact_maj(a, v, 8) for a, v in zip(answers, correct)])
    tied = np.abs(got8 - want8) > 1e-12  # only problems with a tie may differ (Monte Carlo tie-break)
    assert tied.sum() <= 10
    assert abs(got8.mean() - want8.mean()) < 0.01
    got1 = maj_at_k(answers, correct, 1, n_resamples=2000, seed=0).mean()
    pass1 = np.mean([np.mean([c and a is not None for a, c in zip(ans, cor)]) for ans, cor in zip(answers, correct)])
    assert abs(got1 - pass1) < 0.01
