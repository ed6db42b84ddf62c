"""Model comparison of Yue et al. 2025: crossing k*, efficiency gap, coverage, histogram, compare_runs."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from rlbound.metrics.compare import (
    HISTOGRAM_LABELS,
    accuracy_histogram,
    compare_runs,
    coverage_table,
    crossing_k,
    crossing_k_ci,
    efficiency_gap,
)
from rlbound.metrics.passk import pass_at_k_matrix
from rlbound.metrics.stats import bootstrap_ci, bootstrap_means, paired_bootstrap_diff

KS = [1, 2, 4, 8, 16, 32, 64]

# ---------------------------------------------------------------------------- crossing_k


def test_crossing_k_hand_values():
    ks = [1, 2, 4, 8]
    assert crossing_k(ks, [0.1, 0.3, 0.6, 0.9], [0.3, 0.5, 0.6, 0.7]) == 4  # a tie counts as caught up
    assert crossing_k(ks, [0.1, 0.3, 0.5, 0.9], [0.3, 0.5, 0.6, 0.7]) == 8
    assert crossing_k(ks, [0.3, 0.5, 0.6, 0.9], [0.1, 0.3, 0.6, 0.7]) is None  # other never leads
    assert crossing_k(ks, [0.1, 0.2, 0.3, 0.4], [0.3, 0.5, 0.6, 0.7]) is None  # other leads throughout
    assert crossing_k(ks, [0.3, 0.3, 0.6, 0.9], [0.1, 0.5, 0.7, 0.7]) == 8  # lead starts at k=2
    assert crossing_k([5], [0.1], [0.2]) is None
    with pytest.raises(ValueError):
        crossing_k([1, 2], [0.1], [0.2, 0.3])
    with pytest.raises(ValueError):
        crossing_k([2, 1], [0.1, 0.2], [0.2, 0.3])


def make_runs(p: int = 200, n: int = 64, seed: int = 0, thr: float = 0.12, mult: float = 3.0):
    """A base model that solves many problems rarely and an RL model that solves fewer reliably."""
    rng = np.random.default_rng(seed)
    base_acc = rng.beta(0.5, 2.0, size=p)
    other_acc = np.where(base_acc > thr, np.minimum(1.0, base_acc * mult), 0.0)
    c_base = rng.binomial(n, base_acc)
    c_other = rng.binomial(n, other_acc)
    return np.full(p, n), c_base, np.full(p, n), c_other


@pytest.mark.parametrize(
    ("p", "thr", "mult", "crosses_always"),
    [(60, 0.02, 1.3, True), (30, 0.0, 1.15, False)],  # a clear crossing; one absent in ~30% of replicates
)
def test_crossing_ci_matches_loop_over_replicates(p, thr, mult, crosses_always):
    nb, cb, no, co = make_runs(p=p, thr=thr, mult=mult)
    res = crossing_k_ci(nb, cb, no, co, KS, n_boot=300, seed=2)
    pb, po = pass_at_k_matrix(nb, cb, KS), pass_at_k_matrix(no, co, KS)
    assert res.k_star == crossing_k(KS, pb.mean(0), po.mean(0))
    assert res.k_star is not None
    assert (res.no_crossing_share == 0.0) == crosses_always
    assert res.low < res.high
    reps = bootstrap_means(np.concatenate([pb, po], axis=1), 300, 2)
    found = [crossing_k(KS, r[: len(KS)], r[len(KS) :]) for r in reps]
    ks_found = np.array([k for k in found if k is not None])
    assert res.no_crossing_share == pytest.approx(1 - ks_found.size / 300)
    low, high = np.quantile(ks_found, [0.025, 0.975], method="inverted_cdf")
    assert (res.low, res.high) == (int(low), int(high))
    assert res.low <= res.k_star <= res.high
    assert res.low in KS and res.high in KS


def test_crossing_ci_without_crossing():
    nb, cb, _, _ = make_runs()
    res = crossing_k_ci(nb, cb, nb, cb, KS, n_boot=100)
    assert res == (None, None, None, 1.0)
    with pytest.raises(ValueError):
        crossing_k_ci(nb, cb, nb[:10], cb[:10], KS, n_boot=10)


def test_efficiency_gap():
    assert efficiency_gap(0.9, 0.3) == pytest.approx(0.6)
    assert efficiency_gap(0.2, 0.3) == pytest.approx(-0.1)


# ---------------------------------------------------------------------------- coverage


def test_coverage_table_cells_and_fractions():
    ids = ["a", "b", "c", "d", "e"]
    t = coverage_table(ids, [3, 1, 0, 0, 2], [1, 0, 4, 0, 0])
    assert t.both == ("a",) and t.only_base == ("b", "e") and t.only_other == ("c",) and t.neither == ("d",)
    assert t.n_problems == 5
    assert t.fractions == {"both": 0.2, "only_base": 0.4, "only_other": 0.2, "neither": 0.2}
    assert t.to_json_dict()["only_base"] == ["b", "e"]


def test_coverage_reproduces_aime_split_in_kind():
    # Yue et al. 2025, AIME24 at k=1024: both 63.3%, base only 13.3%, RL only 0.0%, neither 23.3%
    ids = [f"aime-{i}" for i in range(30)]
    c_base = [5] * 19 + [1] * 4 + [0] * 7
    c_rl = [40] * 19 + [0] * 4 + [0] * 7
    f = coverage_table(ids, c_base, c_rl).fractions
    assert [round(100 * f[k], 1) for k in ("both", "only_base", "only_other", "neither")] == [63.3, 13.3, 0.0, 23.3]


def test_coverage_misaligned_ids_raise_naming_first_mismatch():
    with pytest.raises(ValueError, match=r"position 1: base 'b', other 'x'"):
        coverage_table(["a", "b", "c"], [1, 1, 1], [1, 1, 1], other_ids=["a", "x", "y"])
    with pytest.raises(ValueError, match="length"):
        coverage_table(["a", "b"], [1, 1], [1, 1], other_ids=["a"])
    with pytest.raises(ValueError):
        coverage_table(["a", "b"], [1, 1], [1])


# ---------------------------------------------------------------------------- histogram


def reference_bin(n: int, c: int) -> str:
    acc = Fraction(c, n)
    if acc == 0:
        return "0"
    if acc == 1:
        return "1"
    for b in range(1, 10):
        if acc <= Fraction(b, 10):
            return HISTOGRAM_LABELS[b]
    return "(0.9,1.0)"


def test_histogram_edges_are_exact():
    labels, counts = accuracy_histogram([10] * 11, list(range(11)))
    assert labels[0] == "0" and labels[1] == "(0,0.1]" and labels[-2] == "(0.9,1.0)" and labels[-1] == "1"
    assert len(labels) == 12
    # c/n = b/10 falls in the bin closed at b/10; nothing lands in (0.9, 1.0) with n = 10
    assert counts.tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    one = lambda n, c: labels[int(np.argmax(accuracy_histogram([n], [c])[1]))]  # noqa: E731
    assert one(20, 19) == "(0.9,1.0)"
    assert one(1000, 999) == "(0.9,1.0)"
    assert one(1000, 100) == "(0,0.1]"
    assert one(1000, 101) == "(0.1,0.2]"
    assert one(1000, 300) == "(0.2,0.3]"  # 0.3 exactly, whatever 0.3 is in floating point
    assert one(30, 9) == "(0.2,0.3]"


def test_histogram_matches_fraction_reference():
    rng = np.random.default_rng(5)
    n = rng.integers(1, 2000, size=3000)
    c = np.array([int(rng.integers(0, v + 1)) for v in n])
    labels, counts = accuracy_histogram(n, c)
    want = {lab: 0 for lab in labels}
    for ni, ci in zip(n, c):
        want[reference_bin(int(ni), int(ci))] += 1
    assert counts.tolist() == [want[lab] for lab in labels]
    assert counts.sum() == 3000
    with pytest.raises(ValueError):
        accuracy_histogram([5], [6])


# ---------------------------------------------------------------------------- compare_runs


def test_compare_runs_joins_and_agrees_with_parts():
    nb, cb, no, co = make_runs(p=120)
    ids = [f"p{i}" for i in range(120)]
    # base lacks p0..p4; other lacks p115..p119 and lists its problems in reverse order
    ids_b, nb2, cb2 = ids[5:], nb[5:], cb[5:]
    ids_o, no2, co2 = ids[:115][::-1], no[:115][::-1], co[:115][::-1]
    comp = compare_runs(ids_b, nb2, cb2, ids_o, no2, co2, n_boot=300, seed=1)
    shared = ids[5:115]
    assert comp.problem_ids == tuple(shared)
    assert comp.n_dropped_base == 5 and comp.n_dropped_other == 5
    assert comp.ks == tuple(KS)
    pb = pass_at_k_matrix(nb[5:115], cb[5:115], KS)
    po = pass_at_k_matrix(no[5:115], co[5:115], KS)
    np.testing.assert_allclose(comp.pass_at_k_base, pb.mean(0), atol=1e-15)
    np.testing.assert_allclose(comp.pass_at_k_other, po.mean(0), atol=1e-15)
    # one set of replicates for everything: same intervals as the parts with the same seed
    _, lb, hb = bootstrap_ci(pb, n_boot=300, seed=1)
    np.testing.assert_allclose(np.array(comp.ci95_base), np.column_stack([lb, hb]), atol=1e-12)
    _, ld, hd = paired_bootstrap_diff(pb, po, n_boot=300, seed=1)
    np.testing.assert_allclose(np.array(comp.diff_ci95), np.column_stack([ld, hd]), atol=1e-12)
    assert comp.crossing == crossing_k_ci(nb[5:115], cb[5:115], no[5:115], co[5:115], KS, n_boot=300, seed=1)
    assert comp.crossing_k is not None
    assert comp.efficiency_gap_k == 64
    assert comp.efficiency_gap == pytest.approx(pb[:, -1].mean() - (co[5:115] / 64).mean(), abs=1e-14)
    assert comp.coverage == coverage_table(shared, cb[5:115], co[5:115])
    assert sum(comp.histogram_base) == sum(comp.histogram_other) == 110


def test_compare_runs_json_contract():
    nb, cb, no, co = make_runs(p=60, n=16)
    ids = [str(i) for i in range(60)]
    d = compare_runs(ids, nb, cb, ids, no, co, ks=[16, 1, 4], n_boot=200).to_json_dict()
    text = json.dumps(d)  # plain JSON types only
    assert json.loads(text) == d
    for key in ("ks", "pass_at_k", "ci95", "crossing_k", "crossing_k_ci", "efficiency_gap", "coverage",
                "coverage_fraction", "histogram"):
        assert key in d
    assert d["ks"] == [1, 4, 16]
    assert set(d["pass_at_k"]) == {"base", "other"} and set(d["pass_at_k"]["base"]) == {"1", "4", "16"}
    lo, hi = d["ci95"]["other"]["4"]
    assert lo <= d["pass_at_k"]["other"]["4"] <= hi
    assert set(d["coverage"]) == {"both", "only_base", "only_other", "neither"}
    assert sum(len(v) for v in d["coverage"].values()) == 60
    assert abs(sum(d["coverage_fraction"].values()) - 1) < 1e-12
    assert d["histogram"]["labels"] == list(HISTOGRAM_LABELS)
    assert d["crossing_k_ci"] is None or len(d["crossing_k_ci"]) == 2
    # the CLI's table printer accepts it
    from rlbound.cli.metrics import format_comparison
    assert "crossing k*" in format_comparison(d, "base.jsonl", "rl.jsonl")


def test_compare_runs_bad_input():
    ids = ["a", "b"]
    with pytest.raises(ValueError, match="duplicate problem id 'a'"):
        compare_runs(["a", "a"], [4, 4], [1, 1], ids, [4, 4], [1, 1])
    with pytest.raises(ValueError, match="share no problem"):
        compare_runs(["x"], [4], [1], ids, [4, 4], [1, 1])
    with pytest.raises(ValueError, match=r"other run: k=8 exceeds n=4 samples of problem 'b'"):
        compare_runs(ids, [8, 8], [1, 1], ids, [8, 4], [1, 1], ks=[1, 8])
    with pytest.raises(ValueError, match="2 problem ids but 1 n values"):
        compare_runs(ids, [4], [1, 1], ids, [4, 4], [1, 1])
    # default ks stop at the smallest n of either run
    comp = compare_runs(ids, [8, 8], [1, 0], ids, [6, 8], [3, 2], n_boot=50)
    assert comp.ks == (1, 2, 4, 6)
