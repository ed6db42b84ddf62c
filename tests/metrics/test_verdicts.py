"""Verdict logic on counts whose truth is known: same rates, a widening, a sharpening, tiny runs."""

from __future__ import annotations

import numpy as np
import pytest

from rlbound.metrics.verdicts import boundary_verdict, coverage_chance, paired_interval


def _rates(rng: np.random.Generator, problems: int) -> np.ndarray:
    """Per-problem success rates from a mixture the verdicts were not fitted to: a third unsolvable,
    a third rare (log-uniform 1e-3..1e-1), a third anywhere in (0, 1)."""
    kind = rng.integers(0, 3, problems)
    return np.where(kind == 0, 0.0, np.where(kind == 1, 10 ** rng.uniform(-3, -1, problems),
                                             rng.uniform(0, 1, problems)))


def _run(rng: np.random.Generator, p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(p.size, n), rng.binomial(n, p)


def test_exact_sign_flip_refuses_four_discordant_problems():
    """Four problems of one sign is p = 2/16 under the null: not a finding (a percentile bootstrap
    would call it)."""
    d = np.zeros(200)
    d[:4] = 1.0
    iv = paired_interval(d, seed=1)
    assert iv.lo <= 0 < iv.hi and iv.verdict("widened", "narrowed") == "inconclusive"
    assert iv.p_value == pytest.approx(0.125, abs=0.02)


def test_many_discordant_problems_of_one_sign_are_a_finding():
    d = np.zeros(200)
    d[:12] = 1.0
    iv = paired_interval(d, seed=1)
    assert iv.lo > 0 and iv.verdict("widened", "narrowed") == "widened"
    assert iv.lo < iv.diff < iv.hi


def test_interval_is_seeded_and_contains_the_mean():
    d = np.random.default_rng(0).normal(0.1, 1.0, 300)
    a, b = paired_interval(d, seed=3), paired_interval(d, seed=3)
    assert a == b and a.lo < d.mean() < a.hi
    # near the t-interval for a large sample of normal differences
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert a.hi - a.lo == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_same_model_pairs_rarely_get_a_verdict():
    rng = np.random.default_rng(7)
    calls = []
    for _ in range(60):
        p = _rates(rng, 150)
        nb, cb = _run(rng, p, 64)
        no, co = _run(rng, p, 64)
        calls.append(boundary_verdict(nb, cb, no, co, n_flips=1000, seed=0).verdict)
    false = sum(v != "inconclusive" for v in calls)
    assert false <= 6, f"{false} of 60 same-model pairs got a verdict: {calls}"


def test_a_known_widening_is_called_widened():
    rng = np.random.default_rng(11)
    p = _rates(rng, 200)
    unsolved = np.flatnonzero(p == 0)[:30]
    q = p.copy()
    q[unsolved] = 0.05  # the other model solves 30 problems the base never does
    nb, cb = _run(rng, p, 256)
    no, co = _run(rng, q, 256)
    v = boundary_verdict(nb, cb, no, co, seed=0)
    assert v.verdict == "widened" and v.k == 256 and v.ci95[0] > 0 and v.diff == pytest.approx(v.other - v.base)


def test_a_sharpening_is_called_narrowed():
    """RL concentrates mass on problems it already solves: pass@1 up, the rare solves gone."""
    rng = np.random.default_rng(5)
    p = _rates(rng, 200)
    q = np.where(p < 0.1, 0.0, np.minimum(1.0, p * 1.5))
    nb, cb = _run(rng, p, 256)
    no, co = _run(rng, q, 256)
    assert boundary_verdict(nb, cb, no, co, seed=0).verdict == "narrowed"
    assert boundary_verdict(nb, cb, no, co, k=1, seed=0).verdict == "widened"  # pass@1 went up


def test_a_small_run_is_inconclusive():
    """The smoke study's shape: 12 problems, n = 8, one problem's worth of difference."""
    nb, no = np.full(12, 8), np.full(12, 8)
    cb = np.zeros(12, dtype=int)
    co = np.zeros(12, dtype=int)
    cb[0], co[0], co[1] = 2, 3, 1
    v = boundary_verdict(nb, cb, no, co)
    assert v.verdict == "inconclusive" and v.ci95[0] <= 0 <= v.ci95[1] and v.k == 8


def test_boundary_verdict_checks_its_input():
    with pytest.raises(ValueError, match="aligned"):
        boundary_verdict([4, 4], [1, 1], [4], [1])
    with pytest.raises(ValueError, match="k must be"):
        boundary_verdict([4], [1], [4], [1], k=5)


def test_coverage_chance_matches_simulation():
    rng = np.random.default_rng(2)
    p = _rates(rng, 300)
    nb, cb = _run(rng, p, 32)
    no, co = _run(rng, p, 32)
    e_base, e_other = coverage_chance(nb, cb, no, co)
    assert e_base == pytest.approx(e_other, rel=0.25)
    # by simulation: reshuffle each problem's pooled successes between the runs
    sims = []
    for _ in range(400):
        t = cb + co
        to_base = rng.hypergeometric(nb, no, np.maximum(t, 0)) if t.any() else t
        sims.append(int(((to_base > 0) & (t - to_base == 0)).sum()))
    assert e_base == pytest.approx(np.mean(sims), rel=0.1)


def test_coverage_chance_of_disjoint_certainties():
    # a problem solved 8 of 8 by base and 0 of 8 by other is base-only by chance with probability
    # C(8, 8) / C(16, 8)
    e_base, e_other = coverage_chance([8], [8], [8], [0])
    assert e_base == pytest.approx(1 / 12870) and e_other == pytest.approx(1 / 12870)
    assert coverage_chance([8], [0], [8], [0]) == (0.0, 0.0)
