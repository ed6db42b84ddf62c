"""Base-vs-other model comparison of Yue et al. 2025 (arXiv 2504.13837) (pure numpy, no IO).

The study's questions, each a function here:

- do the pass@k curves cross, and at which k (``crossing_k``, with a bootstrap CI in
  ``crossing_k_ci``)?  (Sec. 3, Fig. 2: the RL model leads at small k, the base model at large k)
- how far is the RL model's pass@1 from the base model's pass@K (``efficiency_gap``, Sec. 4.1)?
- is the RL model's solvable set a subset of the base model's (``coverage_table``, Sec. 3.2,
  Table 4-5)?
- how is per-problem accuracy distributed (``accuracy_histogram``, Sec. 3.2, Fig. 5)?

``compare_runs`` joins two runs by problem id and computes all of it; the CLI's
``rlbound compare`` prints or serialises its ``Comparison.to_json_dict()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.metrics.passk import default_ks, pass_at_k_matrix
from rlbound.metrics.stats import _check_level, _percentiles, bootstrap_means
from rlbound.metrics.verdicts import BoundaryVerdict, boundary_verdict, coverage_chance

# --------------------------------------------------------------------------------------------
# crossing point k*
# --------------------------------------------------------------------------------------------


def _crossing_index(base: NDArray[np.float64], other: NDArray[np.float64]) -> NDArray[np.int64]:
    """Row-wise crossing index for curves of shape [B, K]; -1 where there is none."""
    lead = other > base
    has_lead = lead.any(axis=1)
    first_lead = np.argmax(lead, axis=1)
    after = np.arange(base.shape[1])[None, :] > first_lead[:, None]
    catch = (base >= other) & after
    has = has_lead & catch.any(axis=1)
    return np.where(has, np.argmax(catch, axis=1), -1)


def _check_ks(ks: ArrayLike) -> NDArray[np.int64]:
    k = np.asarray(ks, dtype=np.int64).reshape(-1)
    if k.size == 0:
        raise ValueError("ks is empty")
    if k.min() < 1:
        raise ValueError(f"every k must be >= 1, got {int(k.min())}")
    if (np.diff(k) <= 0).any():
        raise ValueError(f"ks must be strictly increasing, got {k.tolist()}")
    return k


def crossing_k(ks: ArrayLike, base_curve: ArrayLike, other_curve: ArrayLike) -> int | None:
    """Crossing point k* of two pass@k curves (Yue et al. 2025, arXiv 2504.13837, Sec. 3, Fig. 2).

    Definition: let k0 be the smallest k in ``ks`` at which the other (RL) model leads,
    other > base. k* is the smallest k in ``ks`` greater than k0 at which base >= other. None when
    the other model never leads (base >= other everywhere: nothing to cross) or still leads (or
    ties nowhere) at the largest k (no crossing within the sampled budget). Resolution is the grid
    ``ks``: the true crossing lies in (previous k, k*].

    Args:
        ks: shape [K], strictly increasing.
        base_curve, other_curve: shape [K], mean pass@k at ``ks``.

    Returns:
        k* (an element of ks) or None.
    """
    k = _check_ks(ks)
    b = np.asarray(base_curve, dtype=np.float64).reshape(1, -1)
    o = np.asarray(other_curve, dtype=np.float64).reshape(1, -1)
    if b.shape[1] != k.size or o.shape[1] != k.size:
        raise ValueError(f"curves must have len(ks)={k.size} values, got {b.shape[1]} and {o.shape[1]}")
    i = int(_crossing_index(b, o)[0])
    return None if i < 0 else int(k[i])


class CrossingCI(NamedTuple):
    """Crossing point with its bootstrap interval (see ``crossing_k_ci``)."""

    k_star: int | None
    low: int | None
    high: int | None
    no_crossing_share: float  # share of replicates in which the curves do not cross


def _crossing_ci_from_reps(
    k: NDArray[np.int64],
    base_mean: NDArray[np.float64],
    other_mean: NDArray[np.float64],
    reps_base: NDArray[np.float64],
    reps_other: NDArray[np.float64],
    level: float,
) -> CrossingCI:
    point = crossing_k(k, base_mean, other_mean)
    idx = _crossing_index(reps_base, reps_other)
    found = idx >= 0
    share_none = float(1.0 - found.mean())
    if not found.any():
        return CrossingCI(point, None, None, share_none)
    alpha = (1.0 - level) / 2.0
    values = k[idx[found]]
    low, high = np.quantile(values, [alpha, 1.0 - alpha], method="inverted_cdf")
    return CrossingCI(point, int(low), int(high), share_none)


def crossing_k_ci(
    n_base: ArrayLike,
    c_base: ArrayLike,
    n_other: ArrayLike,
    c_other: ArrayLike,
    ks: ArrayLike,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    problem_ids: Sequence[str] | None = None,
) -> CrossingCI:
    """Crossing point k* with a paired bootstrap interval over problems (Yue et al. 2025, Sec. 3;
    bootstrap of Efron 1979).

    Both models answered the same P problems (row p of every array is the same problem). Each
    replicate resamples problems with replacement ONCE and recomputes both mean curves on that
    resample (paired), then ``crossing_k`` of the two. ``low``/``high`` are the (1-level)/2 and
    (1+level)/2 percentiles (inverted-CDF, so they are elements of ``ks``) of k* over the replicates
    in which a crossing exists; ``no_crossing_share`` reports how many replicates had none — a large
    share means the crossing itself is uncertain, whatever the interval says.

    Args:
        n_base, c_base, n_other, c_other: shape [P] each, counts per problem (Chen et al. 2021).
        ks: shape [K], strictly increasing, each <= every n.

    Returns:
        ``CrossingCI(k_star, low, high, no_crossing_share)``; low/high are None if no replicate
        crosses.
    """
    _check_level(level)
    k = _check_ks(ks)
    pb = pass_at_k_matrix(n_base, c_base, k, problem_ids)
    po = pass_at_k_matrix(n_other, c_other, k, problem_ids)
    if pb.shape != po.shape:
        raise ValueError(f"base has {pb.shape[0]} problems, other has {po.shape[0]}: they must be the same problems")
    reps = bootstrap_means(np.concatenate([pb, po], axis=1), n_boot, seed)
    return _crossing_ci_from_reps(k, pb.mean(axis=0), po.mean(axis=0), reps[:, : k.size], reps[:, k.size :], level)


def efficiency_gap(base_curve_at_K: float, other_pass1: float) -> float:
    """Sampling-efficiency gap pass@K(base) - pass@1(other) (Yue et al. 2025, Sec. 4.1; K = 256
    there): how much of what the base model reaches with K samples the RL model does not reach in
    one. Both are means over the same problems, in [0, 1]."""
    return float(base_curve_at_K) - float(other_pass1)


# --------------------------------------------------------------------------------------------
# solvable coverage and accuracy histogram
# --------------------------------------------------------------------------------------------

_COVERAGE_KEYS = ("both", "only_base", "only_other", "neither")


@dataclass(frozen=True)
class CoverageTable:
    """Four-way split of problems by solvability (Yue et al. 2025, Sec. 3.2, Tables 4-5).

    A problem is solvable by a model when at least one of its n samples is correct (c >= 1, i.e.
    pass@n > 0). Fields are the problem ids in each cell, in input order.
    """

    both: tuple[str, ...]
    only_base: tuple[str, ...]
    only_other: tuple[str, ...]
    neither: tuple[str, ...]

    @property
    def n_problems(self) -> int:
        return len(self.both) + len(self.only_base) + len(self.only_other) + len(self.neither)

    @property
    def fractions(self) -> dict[str, float]:
        """Share of problems in each cell (keys both, only_base, only_other, neither)."""
        total = self.n_problems
        return {key: (len(getattr(self, key)) / total if total else 0.0) for key in _COVERAGE_KEYS}

    def to_json_dict(self) -> dict[str, list[str]]:
        return {key: list(getattr(self, key)) for key in _COVERAGE_KEYS}


def coverage_table(
    problem_ids: Sequence[str],
    c_base: ArrayLike,
    c_other: ArrayLike,
    other_ids: Sequence[str] | None = None,
) -> CoverageTable:
    """Which problems each model can solve at all (Yue et al. 2025, Sec. 3.2, Tables 4-5).

    Args:
        problem_ids: shape [P], ids of the rows of ``c_base`` (and of ``c_other``).
        c_base, c_other: shape [P], correct samples per problem of each model.
        other_ids: ids of the rows of ``c_other`` when they come from a separate list; they must
            equal ``problem_ids`` position by position.

    Raises:
        ValueError: lengths differ, or the id lists disagree (naming the first mismatch).
    """
    ids = [str(i) for i in problem_ids]
    cb = np.asarray(c_base, dtype=np.int64).reshape(-1)
    co = np.asarray(c_other, dtype=np.int64).reshape(-1)
    if not (len(ids) == cb.size == co.size):
        raise ValueError(f"lengths differ: {len(ids)} problem ids, {cb.size} base counts, {co.size} other counts")
    if other_ids is not None:
        oids = [str(i) for i in other_ids]
        if len(oids) != len(ids):
            raise ValueError(f"problem id lists differ in length: {len(ids)} base, {len(oids)} other")
        for pos, (a, b) in enumerate(zip(ids, oids)):
            if a != b:
                raise ValueError(f"problem ids do not align at position {pos}: base {a!r}, other {b!r}")
    if (cb < 0).any() or (co < 0).any():
        raise ValueError("correct counts must be >= 0")
    sb, so = cb >= 1, co >= 1
    pick = lambda mask: tuple(i for i, m in zip(ids, mask) if m)  # noqa: E731
    return CoverageTable(both=pick(sb & so), only_base=pick(sb & ~so), only_other=pick(~sb & so), neither=pick(~sb & ~so))


HISTOGRAM_LABELS: tuple[str, ...] = (
    ("0",) + tuple(f"({(b - 1) / 10:g},{b / 10:g}]" for b in range(1, 10)) + ("(0.9,1.0)", "1")
)


def accuracy_histogram(n: ArrayLike, c: ArrayLike) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """Problems per accuracy bin c/n (Yue et al. 2025, Sec. 3.2, Fig. 5).

    Bins: exactly 0; (0,0.1], (0.1,0.2], ..., (0.8,0.9]; (0.9,1.0); exactly 1 — 12 bins. Computed
    in integers (bin b in 1..10 is the smallest b with 10c <= b n, i.e. ceil(10c/n)), so c/n = 0.3
    falls in (0.2,0.3] however 0.3 rounds in floating point.

    Args:
        n, c: shape [P].

    Returns:
        (labels [12], counts [12]).
    """
    n_arr = np.asarray(n, dtype=np.int64).reshape(-1)
    c_arr = np.asarray(c, dtype=np.int64).reshape(-1)
    if n_arr.shape != c_arr.shape:
        raise ValueError(f"n and c must have the same length, got {n_arr.size} and {c_arr.size}")
    if (n_arr < 1).any() or (c_arr < 0).any() or (c_arr > n_arr).any():
        raise ValueError("need n >= 1 and 0 <= c <= n for every problem")
    mid = (10 * c_arr + n_arr - 1) // n_arr  # ceil(10c/n): 1..10 when 0 < c < n
    b = np.where(c_arr == 0, 0, np.where(c_arr == n_arr, 11, mid))
    return HISTOGRAM_LABELS, np.bincount(b, minlength=12).astype(np.int64)


# --------------------------------------------------------------------------------------------
# compare_runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Everything ``rlbound compare`` reports (Yue et al. 2025, arXiv 2504.13837).

    Curves, intervals and differences are over the problems both runs share (``problem_ids``);
    ``n_dropped_base``/``n_dropped_other`` count the problems only one run had. Intervals are
    percentile-bootstrap intervals over problems, all from the SAME replicates (paired); the
    ``ci95`` names follow the CLI contract and hold the ``level`` interval (0.95 by default).
    """

    ks: tuple[int, ...]
    problem_ids: tuple[str, ...]
    n_dropped_base: int
    n_dropped_other: int
    pass_at_k_base: tuple[float, ...]
    pass_at_k_other: tuple[float, ...]
    ci95_base: tuple[tuple[float, float], ...]
    ci95_other: tuple[tuple[float, float], ...]
    diff: tuple[float, ...]  # pass@k(base) - pass@k(other)
    diff_ci95: tuple[tuple[float, float], ...]
    crossing: CrossingCI
    efficiency_gap: float
    efficiency_gap_k: int
    other_pass1: float
    coverage: CoverageTable
    histogram_labels: tuple[str, ...]
    histogram_base: tuple[int, ...]
    histogram_other: tuple[int, ...]
    n_boot: int
    seed: int
    level: float
    boundary: BoundaryVerdict
    coverage_chance: tuple[float, float]  # (only base, only other) expected if one model made both runs

    @property
    def crossing_k(self) -> int | None:
        return self.crossing.k_star

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; keys of the CLI contract plus provenance and the paired diffs."""
        ks = [str(k) for k in self.ks]
        cr = self.crossing
        return {
            "ks": list(self.ks),
            "n_problems": len(self.problem_ids),
            "n_dropped": {"base": self.n_dropped_base, "other": self.n_dropped_other},
            "pass_at_k": {
                "base": dict(zip(ks, self.pass_at_k_base)),
                "other": dict(zip(ks, self.pass_at_k_other)),
            },
            "ci95": {
                "base": {k: list(v) for k, v in zip(ks, self.ci95_base)},
                "other": {k: list(v) for k, v in zip(ks, self.ci95_other)},
            },
            "diff": {k: {"base_minus_other": d, "ci95": list(ci)} for k, d, ci in zip(ks, self.diff, self.diff_ci95)},
            "crossing_k": cr.k_star,
            "crossing_k_ci": None if cr.low is None else [cr.low, cr.high],
            "crossing_k_no_crossing_share": cr.no_crossing_share,
            "efficiency_gap": self.efficiency_gap,
            "efficiency_gap_k": self.efficiency_gap_k,
            "coverage": self.coverage.to_json_dict(),
            "coverage_fraction": self.coverage.fractions,
            "histogram": {
                "labels": list(self.histogram_labels),
                "base": list(self.histogram_base),
                "other": list(self.histogram_other),
            },
            "bootstrap": {"n_boot": self.n_boot, "seed": self.seed, "level": self.level},
            "boundary": self.boundary.to_dict(),
            "coverage_chance": {"only_base": self.coverage_chance[0], "only_other": self.coverage_chance[1]},
        }


def _index(ids: Sequence[str], run: str) -> dict[str, int]:
    pos: dict[str, int] = {}
    for i, pid in enumerate(ids):
        key = str(pid)
        if key in pos:
            raise ValueError(f"{run} run: duplicate problem id {key!r} (rows {pos[key]} and {i})")
        pos[key] = i
    return pos


def _counts(n: ArrayLike, c: ArrayLike, size: int, run: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n_arr = np.asarray(n, dtype=np.int64).reshape(-1)
    c_arr = np.asarray(c, dtype=np.int64).reshape(-1)
    if not (n_arr.size == c_arr.size == size):
        raise ValueError(f"{run} run: {size} problem ids but {n_arr.size} n values and {c_arr.size} c values")
    return n_arr, c_arr


def compare_runs(
    ids_base: Sequence[str],
    n_base: ArrayLike,
    c_base: ArrayLike,
    ids_other: Sequence[str],
    n_other: ArrayLike,
    c_other: ArrayLike,
    ks: Sequence[int] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Comparison:
    """Compare a base run with another (RL, distilled, ...) run as Yue et al. 2025 do.

    Joins the runs by problem id (inner join, base order; drops counted), then computes on the
    shared problems: the boundary verdict at the largest k both runs support (widened / narrowed /
    inconclusive from an exact sign-flip interval, ``rlbound.metrics.verdicts``) and the one-sided
    coverage expected by chance; unbiased pass@k curves (Chen et al. 2021) with paired percentile-bootstrap
    CIs over problems, their paired differences, the crossing point k* with its CI and the share of
    replicates without a crossing, the efficiency gap pass@K(base) - pass@1(other) with K the
    largest k in ``ks``, the solvable-coverage table and both accuracy histograms.

    Args:
        ids_base, n_base, c_base: base run, shape [P_b] each (problem ids, samples, correct).
        ids_other, n_other, c_other: other run, shape [P_o] each.
        ks: k values; default powers of two up to the smallest n among the shared problems
            (plus that n). Each must be <= every shared problem's n in both runs.
        n_boot, seed, level: bootstrap settings (one set of replicates for everything).

    Raises:
        ValueError: duplicate ids, mismatched lengths, no shared problem, bad counts, or a k above
            some problem's n (the message names the run and the problem).
    """
    _check_level(level)
    nb, cb = _counts(n_base, c_base, len(ids_base), "base")
    no, co = _counts(n_other, c_other, len(ids_other), "other")
    pos_b, pos_o = _index(ids_base, "base"), _index(ids_other, "other")
    shared = [pid for pid in pos_b if pid in pos_o]
    if not shared:
        raise ValueError(f"the runs share no problem id (base has {len(pos_b)} problems, other {len(pos_o)})")
    rows_b = np.array([pos_b[p] for p in shared], dtype=np.int64)
    rows_o = np.array([pos_o[p] for p in shared], dtype=np.int64)
    nb, cb, no, co = nb[rows_b], cb[rows_b], no[rows_o], co[rows_o]

    k = _check_ks(sorted(set(int(x) for x in ks)) if ks is not None else default_ks(int(min(nb.min(), no.min()))))
    curves = []
    for run, n_arr, c_arr in (("base", nb, cb), ("other", no, co)):
        try:
            curves.append(pass_at_k_matrix(n_arr, c_arr, k, shared))
        except ValueError as e:  # KTooLargeError included: name the run as well as the problem
            raise ValueError(f"{run} run: {e}") from e
    pb, po = curves
    K = k.size
    reps = bootstrap_means(np.concatenate([pb, po, pb - po], axis=1), n_boot, seed)
    rb, ro, rd = reps[:, :K], reps[:, K : 2 * K], reps[:, 2 * K :]
    mb, mo = pb.mean(axis=0), po.mean(axis=0)
    lb, hb = _percentiles(rb, level)
    lo, ho = _percentiles(ro, level)
    ld, hd = _percentiles(rd, level)
    other_pass1 = float((co / no).mean())  # pass@1 is exactly c/n per problem
    _, hist_b = accuracy_histogram(nb, cb)
    _, hist_o = accuracy_histogram(no, co)
    pairs = lambda lo_, hi_: tuple((float(a), float(b)) for a, b in zip(lo_, hi_))  # noqa: E731
    return Comparison(
        ks=tuple(int(x) for x in k),
        problem_ids=tuple(shared),
        n_dropped_base=len(pos_b) - len(shared),
        n_dropped_other=len(pos_o) - len(shared),
        pass_at_k_base=tuple(float(x) for x in mb),
        pass_at_k_other=tuple(float(x) for x in mo),
        ci95_base=pairs(lb, hb),
        ci95_other=pairs(lo, ho),
        diff=tuple(float(x) for x in mb - mo),
        diff_ci95=pairs(ld, hd),
        crossing=_crossing_ci_from_reps(k, mb, mo, rb, ro, level),
        efficiency_gap=efficiency_gap(mb[-1], other_pass1),
        efficiency_gap_k=int(k[-1]),
        other_pass1=other_pass1,
        coverage=coverage_table(shared, cb, co),
        histogram_labels=HISTOGRAM_LABELS,
        histogram_base=tuple(int(x) for x in hist_b),
        histogram_other=tuple(int(x) for x in hist_o),
        n_boot=n_boot,
        seed=seed,
        level=level,
        boundary=boundary_verdict(nb, cb, no, co, level=level, seed=seed),
        coverage_chance=coverage_chance(nb, cb, no, co),
    )
