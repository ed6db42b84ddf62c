"""Figure-ready data for every analysis of Yue et al. 2025 (arXiv 2504.13837).

Pure functions: metric outputs in (pass@k means and bootstrap bands, ``Comparison.to_json_dict()``
results, accuracy histograms, per-response perplexities and entropies), plain frozen records out
(curves, markers, histogram panels, tables). No IO, no matplotlib; ``plots.py`` draws the records
and ``html.py`` lays them out. Every number a record carries is also written to ``metrics.json``.

Runs are identified by their label; the base run is always first in every output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

# ------------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveStats:
    """A metric curve of one run with its 95% band.

    Attributes:
        ks: shape [K], the x values (k, or tau, or a training step).
        mean: shape [K], the metric averaged over problems.
        low, high: shape [K], the 95% percentile-bootstrap band (or None).
    """

    ks: tuple[float, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    @classmethod
    def of(cls, ks: ArrayLike, mean: ArrayLike, low: ArrayLike | None = None, high: ArrayLike | None = None) -> CurveStats:
        def tup(a: ArrayLike | None) -> tuple[float, ...] | None:
            return None if a is None else tuple(float(v) for v in np.asarray(a, dtype=np.float64).reshape(-1))

        return cls(tup(ks), tup(mean), tup(low), tup(high))  # type: ignore[arg-type]

    def at(self, k: float) -> float:
        """The mean at x == k exactly (KeyError when k is not one of the ks)."""
        for x, y in zip(self.ks, self.mean):
            if x == k:
                return y
        raise KeyError(f"k={k} not among the curve's ks {self.ks}")

    def band_at(self, k: float) -> tuple[float, float] | None:
        if self.low is None or self.high is None:
            return None
        i = self.ks.index(k)
        return self.low[i], self.high[i]


@dataclass(frozen=True)
class Curve:
    """One line on a panel.

    Attributes:
        label: the run whose colour the line takes (or a group name, drawn grey).
        x, y: the points; low/high: an optional shaded band.
        style: "solid" or "dashed".
        name: legend text (default: the label).
        point_labels: optional run label per point; markers take those runs' colours.
    """

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None
    style: str = "solid"
    name: str = ""
    point_labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Marker:
    """A vertical mark at x (a crossing k*), with an optional horizontal interval [x_low, x_high]."""

    label: str
    x: float
    y: float
    text: str
    x_low: float | None = None
    x_high: float | None = None


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    curves: tuple[Curve, ...]
    markers: tuple[Marker, ...] = ()
    log2_x: bool = False
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    integer_x: bool = False
    clamp01: bool = False  # y is a probability: autoscale, but never show below 0 or above 1


@dataclass(frozen=True)
class CurveFigure:
    """A figure of one or more line panels side by side; ``key`` is its file stem."""

    key: str
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class HistogramFigure:
    """Bar-chart panels sharing categorical bins (one panel per run)."""

    key: str
    title: str
    bin_labels: tuple[str, ...]
    xlabel: str
    ylabel: str
    panels: tuple[tuple[str, tuple[int, ...]], ...]  # (run label, counts per bin)


@dataclass(frozen=True)
class Distribution:
    label: str
    share: tuple[float, ...]  # share of the run's responses in each bin (sums to 1)
    median: float
    count: int


@dataclass(frozen=True)
class DistributionFigure:
    """Overlaid histograms of a per-response quantity on shared bin edges."""

    key: str
    title: str
    xlabel: str
    ylabel: str
    edges: tuple[float, ...]
    log_x: bool
    series: tuple[Distribution, ...]


@dataclass(frozen=True)
class Table:
    """Rows of plain values; ``html.py`` formats them.

    A cell is a str, int, float, None or a (low, high) pair (an interval). Columns listed in
    ``percent_columns`` hold fractions shown x100; ``details`` are collapsible id lists.
    """

    key: str
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    percent_columns: tuple[int, ...] = ()
    details: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)  # (summary, items) folded


def order_labels(labels: Sequence[str], base: str) -> list[str]:
    """Labels with the base run first, the others in their given order."""
    if base not in labels:
        raise ValueError(f"base {base!r} is not one of the runs {list(labels)}")
    return [base] + [x for x in labels if x != base]


def _interp_log2(ks: Sequence[float], ys: Sequence[float], k: float) -> float:
    """y at k by linear interpolation in log2(k) (the axis the curves are drawn on)."""
    lx = np.log2(np.asarray(ks, dtype=np.float64))
    return float(np.interp(math.log2(k), lx, np.asarray(ys, dtype=np.float64)))


# ------------------------------------------------------------------------------------------------
# 1. pass@k curves
# ------------------------------------------------------------------------------------------------


def passk_curves(
    stats: Mapping[str, CurveStats],
    crossings: Mapping[str, Mapping[str, Any]],
    base: str,
    *,
    key: str = "passk",
    metric: str = "pass@k",
    adaptive: Sequence[str] = (),
) -> CurveFigure:
    """All runs' pass@k curves on one log2-k axis, 95% bands, each crossing k* marked.

    The central figure of Yue et al. 2025 (arXiv 2504.13837, Fig. 2): the RL model leads at k = 1
    and the base model overtakes it at large k. pass@k is the unbiased estimator of Chen et al.
    2021 averaged over problems.

    Args:
        stats: run label -> curve over its ks (1..n on powers of two) with its bootstrap band.
        crossings: other run label -> a ``Comparison.to_json_dict()`` against the base (its
            ``crossing_k`` and ``crossing_k_ci`` are read; missing or None means no crossing).
        base: label of the base run.
        adaptive: labels of adaptively sampled runs, whose curves are the posterior mean of
            ``rlbound.metrics.adaptive.small_sample_pass_at_k``; their legend entries and the title say so.

    Returns:
        one panel, x from 1 to the largest n (or targeted k), y in [0, 1].
    """
    labels = order_labels(list(stats), base)
    curves = tuple(
        Curve(label=lab, x=stats[lab].ks, y=stats[lab].mean, low=stats[lab].low, high=stats[lab].high,
              name=f"{lab} (adaptive: posterior mean)" if lab in adaptive else "")
        for lab in labels
    )
    markers = []
    for lab in labels[1:]:
        cmp = crossings.get(lab) or {}
        k_star = cmp.get("crossing_k")
        if k_star is None:
            continue
        ci = cmp.get("crossing_k_ci") or (None, None)
        y = _interp_log2(stats[lab].ks, stats[lab].mean, float(k_star))
        markers.append(Marker(label=lab, x=float(k_star), y=y, text=f"k*={_fmt_k(k_star)}",
                              x_low=None if ci[0] is None else float(ci[0]),
                              x_high=None if ci[1] is None else float(ci[1])))
    x_max = max(max(s.ks) for s in stats.values())
    how = "unbiased; adaptive runs: posterior mean" if adaptive else "unbiased"
    panel = Panel(title=f"{metric} ({how}, 95% bootstrap band over problems)", xlabel="k (samples, log2 scale)",
                  ylabel=metric, curves=curves, markers=tuple(markers), log2_x=True,
                  x_range=(1.0, float(x_max)), clamp01=True)
    return CurveFigure(key=key, title=f"{metric} against k", panels=(panel,))


def _fmt_k(k: float) -> str:
    k = float(k)
    return str(int(k)) if k == int(k) else f"{k:.1f}"


# ------------------------------------------------------------------------------------------------
# 2. Table 2: pass@1, pass@K, sampling-efficiency gap
# ------------------------------------------------------------------------------------------------


def efficiency_table(stats: Mapping[str, CurveStats], K: int, base: str, gaps: Mapping[str, float] | None = None) -> Table:
    """Yue et al. 2025 Table 2 form: pass@1 and pass@K per run and the sampling-efficiency gap
    pass@K(base) - pass@1(run) (the paper's gap uses K = 256).

    Args:
        stats: run label -> pass@k curve whose ks contain 1 and K (the band, when present, gives the CIs).
        K: the common large k (largest power of two every run's n reaches).
        gaps: run label -> gap already computed over the problems it shares with the base
            (``efficiency_gap`` of the comparison); runs not in it get pass@K(base) - pass@1(run)
            from ``stats`` (the base itself always does).

    Returns:
        rows (label, pass@1, (low, high) or None, pass@K, (low, high) or None, gap). Values are
        fractions; ``html.py`` shows them in %.
    """
    labels = order_labels(list(stats), base)
    gaps = gaps or {}
    base_K = stats[base].at(K)
    rows = []
    for lab in labels:
        s = stats[lab]
        gap = float(gaps[lab]) if lab in gaps else base_K - s.at(1)
        rows.append((lab, s.at(1), s.band_at(1), s.at(K), s.band_at(K), gap))
    return Table(key="table2", caption=f"pass@1 and pass@{K} per run in % (95% bootstrap CIs over problems); "
                 f"sampling-efficiency gap = pass@{K}({base}) - pass@1(run) over the problems both share, in "
                 "percentage points",
                 headers=("run", "pass@1 (%)", "95% CI", f"pass@{K} (%)", "95% CI", f"gap vs {base} (points)"),
                 rows=tuple(rows), percent_columns=(1, 2, 3, 4, 5))


# ------------------------------------------------------------------------------------------------
# 3. solvable coverage
# ------------------------------------------------------------------------------------------------

_COVERAGE_ROWS = (("both", "both solve"), ("only_base", "base only"), ("only_other", "other only"), ("neither", "neither"))


def coverage_table(coverage: Mapping[str, Any], base: str, other: str) -> Table:
    """The 4-way solvable-coverage table of Yue et al. 2025 (Sec. 3, AIME24 / MATH500): which problems
    each model solves at least once in its n samples (pass@n > 0).

    Args:
        coverage: the ``coverage`` entry of ``Comparison.to_json_dict()``: key -> list of problem
            ids (or a count) for keys both, only_base, only_other, neither.

    Returns:
        rows (cell, count, share of problems), with the problem ids of each cell in ``details``.
    """
    sizes, ids = {}, {}
    for k, _ in _COVERAGE_ROWS:
        v = coverage.get(k, 0)
        if isinstance(v, (list, tuple)):
            sizes[k], ids[k] = len(v), tuple(str(x) for x in v)
        else:
            sizes[k], ids[k] = int(v), ()
    total = sum(sizes.values())
    names = {"both": "both solve", "only_base": f"{base} only", "only_other": f"{other} only", "neither": "neither"}
    rows = tuple((names[k], sizes[k], sizes[k] / total if total else float("nan")) for k, _ in _COVERAGE_ROWS)
    details = tuple((f"{names[k]} ({sizes[k]}): problem ids", ids[k]) for k, _ in _COVERAGE_ROWS if ids[k])
    return Table(key=f"coverage_{other}", caption=f"Solvable coverage, {base} vs {other} ({total} common problems; "
                 "solved = at least one correct sample)", headers=("cell", "problems", "share"), rows=rows,
                 percent_columns=(2,), details=details)


# ------------------------------------------------------------------------------------------------
# 4. per-problem accuracy histograms
# ------------------------------------------------------------------------------------------------


def accuracy_histograms(hists: Mapping[str, tuple[Sequence[str], Sequence[int]]], base: str) -> HistogramFigure:
    """One panel per run of the per-problem accuracy histogram (Yue et al. 2025, Fig. on accuracy
    distributions; bins 0, (0, 0.1], ..., (0.9, 1.0), 1 of c/n), from ``accuracy_histogram(n, c)``."""
    labels = order_labels(list(hists), base)
    bins = tuple(str(b) for b in hists[base][0])
    for lab in labels:
        if tuple(str(b) for b in hists[lab][0]) != bins:
            raise ValueError(f"run {lab!r} has histogram bins {hists[lab][0]} unlike the base's {bins}")
    panels = tuple((lab, tuple(int(v) for v in hists[lab][1])) for lab in labels)
    return HistogramFigure(key="accuracy_hist", title="Per-problem accuracy c/n", bin_labels=bins,
                           xlabel="accuracy bin (share of a problem's n samples that are correct)",
                           ylabel="problems", panels=panels)


# ------------------------------------------------------------------------------------------------
# 5. perplexity under the base model  /  8. entropy
# ------------------------------------------------------------------------------------------------


def percentile_in(reference: ArrayLike, x: float) -> float:
    """Percentile rank (0..100) of x in ``reference``: share below plus half the share equal
    (the 'mean' convention of scipy.stats.percentileofscore)."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    if ref.size == 0:
        raise ValueError("percentile_in needs a non-empty reference")
    return float(100.0 * ((ref < x).sum() + 0.5 * (ref == x).sum()) / ref.size)


def _distributions(values: Mapping[str, NDArray[np.float64]], labels: Sequence[str], log_x: bool, bins: int) -> tuple[tuple[float, ...], tuple[Distribution, ...]]:
    allv = np.concatenate([values[lab] for lab in labels])
    lo, hi = float(allv.min()), float(allv.max())
    if log_x:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi <= lo:
        hi = lo + 1e-6
    edges = np.linspace(lo, hi, bins + 1)
    if log_x:
        edges = 10.0 ** edges
        edges[0], edges[-1] = min(edges[0], allv.min()), max(edges[-1], allv.max())
    series = []
    for lab in labels:
        counts, _ = np.histogram(values[lab], bins=edges)
        share = counts / values[lab].size
        series.append(Distribution(lab, tuple(float(d) for d in share), float(np.median(values[lab])), int(values[lab].size)))
    return tuple(float(e) for e in edges), tuple(series)


def perplexity_distributions(
    values: Mapping[str, ArrayLike], base: str, scorer: str, *, bins: int = 40
) -> tuple[DistributionFigure, Table]:
    """Per-response perplexity of each run's responses under the base model (Yue et al. 2025,
    Sec. 4: the RL model's responses sit in the low-perplexity part of the base model's own
    distribution, i.e. the base model already assigns them high probability).

    Perplexity of a response = exp(-sum log p(token) / n_tokens) under ``scorer``.

    Args:
        values: run label -> shape [R] perplexities of that run's responses. The base run's own
            responses give the reference distribution; without them the percentile is None.

    Returns:
        overlaid histograms on log-spaced bins, and a table (run, responses, median, percentile of
        that median within the base run's own distribution).
    """
    labels = order_labels(list(values), base) if base in values else list(values)
    if not labels:
        raise ValueError("perplexity_distributions needs at least one run")
    arrs = {lab: np.asarray(values[lab], dtype=np.float64).reshape(-1) for lab in labels}
    for lab in labels:
        if arrs[lab].size == 0 or not np.isfinite(arrs[lab]).all() or (arrs[lab] <= 0).any():
            raise ValueError(f"run {lab!r}: perplexities must be finite, positive and non-empty")
    edges, series = _distributions(arrs, labels, log_x=True, bins=bins)
    fig = DistributionFigure(key="perplexity", title=f"Perplexity of each run's responses under {scorer}",
                             xlabel="per-response perplexity (log scale)", ylabel="share of responses",
                             edges=edges, log_x=True, series=series)
    ref = arrs.get(base)
    rows = tuple((d.label, d.count, d.median, None if ref is None else percentile_in(ref, d.median)) for d in series)
    table = Table(key="perplexity", caption=f"Median per-response perplexity under {scorer}, and where it sits as a "
                  f"percentile of the base run's ({base}) own responses", headers=("run", "responses", "median perplexity",
                  f"percentile in {base}'s distribution"), rows=rows)
    return fig, table


def entropy_distributions(
    per_response: Mapping[str, ArrayLike], token_weighted: Mapping[str, float], base: str, *, bins: int = 40
) -> tuple[DistributionFigure, Table]:
    """Entropy of each run's responses (Yue et al. 2025, Sec. 5: entropy drops after RL, MATH500
    0.72 base vs 0.33 RL at temperature 0.6).

    The estimate is the SAMPLED-TOKEN estimate: the mean over a response's tokens of -log p of the
    token actually sampled (an unbiased estimate of the mean per-token entropy of the sampling
    distribution, in nats), not the full-vocabulary entropy.

    Args:
        per_response: run label -> shape [R] per-response mean of -logprob.
        token_weighted: run label -> mean of -logprob over all tokens of all responses.
        base: the base run's label, when it has logprobs (else the first label is used first).

    Returns:
        overlaid histograms and a table (run, responses, mean per response, median, token-weighted mean).
    """
    labels = list(per_response)
    if base in labels:
        labels = order_labels(labels, base)
    arrs = {lab: np.asarray(per_response[lab], dtype=np.float64).reshape(-1) for lab in labels}
    for lab in labels:
        if arrs[lab].size == 0 or not np.isfinite(arrs[lab]).all():
            raise ValueError(f"run {lab!r}: entropies must be finite and non-empty")
    edges, series = _distributions(arrs, labels, log_x=False, bins=bins)
    fig = DistributionFigure(key="entropy", title="Entropy of responses (sampled-token estimate)",
                             xlabel="mean -log p(sampled token) per response (nats/token)", ylabel="share of responses",
                             edges=edges, log_x=False, series=series)
    rows = tuple((lab, int(arrs[lab].size), float(arrs[lab].mean()), float(np.median(arrs[lab])),
                  float(token_weighted[lab])) for lab in labels)
    table = Table(key="entropy", caption="Sampled-token entropy estimate: mean over tokens of -log p(sampled token), "
                  "in nats per token", headers=("run", "responses", "mean over responses", "median over responses",
                                                "mean over all tokens"), rows=rows)
    return fig, table


# ------------------------------------------------------------------------------------------------
# 6. over training steps
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingPoint:
    """One checkpoint: its training run name, step, run label, pass@1 and pass@K."""

    train_run: str
    step: int
    label: str
    pass1: float
    passK: float


def training_curves(points: Sequence[TrainingPoint], K: int) -> CurveFigure | None:
    """pass@1 and pass@K against training step, one line per training run (Yue et al. 2025,
    Fig. on GRPO steps 150/300/450: pass@1 rises while pass@256 falls).

    Returns None when no training run has at least two checkpoints.
    """
    groups: dict[str, list[TrainingPoint]] = {}
    for p in points:
        groups.setdefault(p.train_run, []).append(p)
    groups = {g: sorted(ps, key=lambda p: p.step) for g, ps in groups.items() if len(ps) >= 2}
    if not groups:
        return None
    panels = []
    for metric, attr in (("pass@1", "pass1"), (f"pass@{K}", "passK")):
        curves = tuple(Curve(label=g, x=tuple(float(p.step) for p in ps), y=tuple(getattr(p, attr) for p in ps),
                             name=g, point_labels=tuple(p.label for p in ps)) for g, ps in groups.items())
        panels.append(Panel(title=f"{metric} over training", xlabel="training step", ylabel=metric,
                            curves=curves, integer_x=True, clamp01=True))
    return CurveFigure(key="training", title="pass@1 and pass@K against training step", panels=tuple(panels))


# ------------------------------------------------------------------------------------------------
# 7. CoT-pass@k and the extra metrics
# ------------------------------------------------------------------------------------------------


def cot_curves(passk: Mapping[str, CurveStats], cot: Mapping[str, CurveStats], base: str) -> CurveFigure:
    """pass@k (solid) next to CoT-pass@k (dashed; Wen et al. 2025: only responses whose answer AND
    every reasoning step are correct count) for each run that has step-checked verdicts.

    Args:
        passk, cot: run label -> curve; only labels present in ``cot`` are drawn.
    """
    labels = [lab for lab in order_labels(list(passk), base) if lab in cot]
    curves = []
    for lab in labels:
        curves.append(Curve(lab, passk[lab].ks, passk[lab].mean, name=f"{lab} pass@k"))
        curves.append(Curve(lab, cot[lab].ks, cot[lab].mean, cot[lab].low, cot[lab].high, style="dashed",
                            name=f"{lab} CoT-pass@k"))
    x_max = max(max(cot[lab].ks) for lab in labels)
    panel = Panel(title="pass@k (solid) and CoT-pass@k (dashed, steps checked)", xlabel="k (samples, log2 scale)",
                  ylabel="pass@k", curves=tuple(curves), log2_x=True, x_range=(1.0, float(x_max)), clamp01=True)
    return CurveFigure(key="cot_passk", title="CoT-pass@k against pass@k", panels=(panel,))


def extra_metric_panels(
    maj: Mapping[str, CurveStats],
    gpass: Mapping[str, CurveStats],
    gpass_k: int,
    cover: Mapping[str, CurveStats],
    base: str,
) -> CurveFigure:
    """maj@k against k (Wang et al. 2023), G-Pass@k_tau against tau at k = ``gpass_k`` (Liu et al.
    2024), Cover@tau against tau (Dragoi et al. 2025), one line per run; a run missing from a
    mapping is left out of that panel."""
    def curves(m: Mapping[str, CurveStats]) -> tuple[Curve, ...]:
        labs = [lab for lab in ([base] if base in m else []) + [x for x in m if x != base]]
        return tuple(Curve(lab, m[lab].ks, m[lab].mean, m[lab].low, m[lab].high) for lab in labs)

    panels = []
    if maj:
        x_max = max(max(s.ks) for s in maj.values())
        panels.append(Panel("maj@k (majority vote of k samples)", "k (samples, log2 scale)", "maj@k", curves(maj),
                            log2_x=True, x_range=(1.0, float(x_max)), clamp01=True))
    panels.append(Panel(f"G-Pass@{gpass_k}, tau (>= ceil(tau*{gpass_k}) correct)", "tau", f"G-Pass@{gpass_k}",
                        curves(gpass), x_range=(0.0, 1.0), clamp01=True))
    panels.append(Panel("Cover@tau (share of problems with c/n >= tau)", "tau", "Cover@tau", curves(cover),
                        x_range=(0.0, 1.0), clamp01=True))
    return CurveFigure(key="extra_metrics", title="maj@k, G-Pass@k and Cover@tau", panels=tuple(panels))
