"""Findings' verdicts on constructed counts whose truth is known (Yue et al. 2025's claims)."""

from __future__ import annotations

import numpy as np
import pytest

from rlbound.study import findings as F


def _counts(c, n: int = 64) -> F.Counts:
    c = np.asarray(c)
    return ([f"p{i}" for i in range(len(c))], np.full(len(c), n), c)


RNG = np.random.default_rng(7)
# Base: every problem solvable now and then; sharpened RL: the easy half much more often, the hard half never.
BASE = _counts(np.r_[RNG.integers(2, 12, size=100), np.zeros(20, dtype=int)])
SHARP = _counts(np.r_[RNG.integers(40, 64, size=60), np.zeros(60, dtype=int)])
WIDER = _counts(np.minimum(64, BASE[2] * 3 + 5))  # more often everywhere: wins at every k


def test_crossing_held_on_sharpening_and_contradicted_on_widening() -> None:
    f = F.crossing(BASE, SHARP, 64)
    assert f.verdict == "held" and f.ci95[1] < 0 and f.numbers["ci95_pass1"][0] > 0
    g = F.crossing(BASE, WIDER, 64)
    assert g.verdict == "contradicted" and g.ci95[0] > 0


def test_small_runs_are_inconclusive() -> None:
    base = _counts([1, 0, 2, 1, 0, 1, 3, 0, 1, 2, 0, 1], n=8)
    other = _counts([2, 0, 2, 1, 0, 1, 3, 0, 1, 2, 0, 2], n=8)  # a two-problem "gain"
    for f in (F.crossing(base, other, 8), F.distillation(base, other, [1, 2, 4, 8]), F.coverage(base, other)):
        assert f.verdict == "inconclusive", f
        assert f.ci95[0] <= 0 <= f.ci95[1]


def test_same_model_twice_is_not_called() -> None:
    rates = RNG.beta(0.5, 2.0, size=200)
    a = _counts(RNG.binomial(64, rates))
    b = _counts(RNG.binomial(64, rates))
    assert F.distillation(a, b, [1, 64]).verdict == "inconclusive"
    assert F.coverage(a, b).verdict == "inconclusive"


def test_coverage_held_when_base_solves_problems_rl_never_does() -> None:
    f = F.coverage(BASE, SHARP)
    assert f.verdict == "held" and f.numbers["only_base"] == 40 and f.numbers["only_rl"] == 0
    assert "expected by chance" in f.measured and f.ci95[0] > 0


def test_distillation_held_when_the_whole_curve_lifts_and_contradicted_when_it_drops() -> None:
    f = F.distillation(BASE, WIDER, [1, 4, 64])
    assert f.verdict == "held" and f.numbers["boundary"] == "widened"
    g = F.distillation(BASE, SHARP, [1, 4, 64])
    assert g.verdict == "contradicted" and g.numbers["boundary"] == "narrowed"


def test_checkpoints_compare_first_and_last() -> None:
    f = F.checkpoints([(0, BASE), (10, BASE), (20, SHARP)], 64)
    assert f.verdict == "held" and "step 10" in f.measured
    assert F.checkpoints([(0, BASE)], 64).verdict == "inconclusive"


def _per_response(means: np.ndarray, per: int = 8, spread: float = 0.05) -> F.PerResponse:
    ids = [f"p{i}" for i in range(len(means)) for _ in range(per)]
    vals = np.repeat(means, per) * np.exp(RNG.normal(0, spread, size=len(ids)))
    return ids, vals


def test_perplexity_and_entropy_verdicts_follow_the_per_problem_difference() -> None:
    base = RNG.uniform(1.5, 3.0, size=60)
    lower, same = _per_response(base * 0.8), _per_response(base)
    assert F.perplexity(_per_response(base), lower).verdict == "held"
    assert F.perplexity(lower, _per_response(base)).verdict == "contradicted"
    assert F.perplexity(same, _per_response(base)).verdict == "inconclusive"
    assert F.perplexity(None, lower).verdict == "inconclusive"
    assert F.entropy(_per_response(base), lower).verdict == "held"
    assert F.entropy(None, None).measured == "token log-probabilities not recorded"


def test_support_counts_distinct_correct_solutions() -> None:
    base = {f"p{i}": 5 for i in range(40)}
    assert F.support(base, {f"p{i}": 2 for i in range(40)}).verdict == "held"
    assert F.support(base, {f"p{i}": 5 + (i % 3 == 0) - (i % 3 == 1) for i in range(40)}).verdict == "inconclusive"


def test_cot_gap_is_descriptive_with_an_interval() -> None:
    f = F.cot_gap("base", WIDER, BASE, 64)
    assert f.verdict == "info" and f.ci95 is not None


def test_unknown_verdict_is_refused() -> None:
    with pytest.raises(ValueError, match="verdict"):
        F.Finding("k", "c", "m", "maybe")
