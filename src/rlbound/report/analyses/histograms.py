"""Section 4: per-problem accuracy c/n, one histogram panel per run with the bins of Yue et al.
2025 (arXiv 2504.13837): 0, (0, 0.1], ..., (0.9, 1.0), 1 (``rlbound.metrics.compare.accuracy_histogram``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rlbound.metrics.compare import accuracy_histogram
from rlbound.report.analyses.records import HistogramFigure, RunData, SectionResult, order_labels


def accuracy(runs: Mapping[str, RunData], base: str) -> SectionResult:
    """The histogram figure and ``histograms`` of metrics.json (bin labels and counts per run)."""
    hists = {lab: accuracy_histogram(r.n, r.c) for lab, r in runs.items()}
    metrics = {lab: {"labels": list(h[0]), "counts": [int(x) for x in h[1]]} for lab, h in hists.items()}
    return SectionResult(metrics={"histograms": metrics}, figures={"accuracy_hist": accuracy_histograms(hists, base)})


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
