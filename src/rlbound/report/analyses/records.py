"""The records the report's sections hand on: what a run's counts are, what a figure or table
shows, and what a section adds to the report. Plain frozen values; ``plots`` draws the figure
records, ``html`` lays out the tables, ``build`` writes the rest to ``metrics.json``.

Runs are identified by their label; the base run is always first in every output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlbound.types import RunManifest


@dataclass(frozen=True, eq=False)
class RunData:
    """One run as the report needs it: its per-problem counts (Chen et al. 2021 n, c) and manifest.

    Attributes:
        label: the run's label; path: its run directory (named in error messages).
        ids: problem ids in stored order; n, c: shape [P], samples and correct samples per problem.
        c_steps: shape [P], samples with answer AND steps correct, when the verdicts carry it.
        adaptive: ``manifest.extra["adaptive"]`` of an adaptively sampled run.
    """

    label: str
    path: Path
    manifest: RunManifest
    ids: tuple[str, ...]
    n: np.ndarray
    c: np.ndarray
    c_steps: np.ndarray | None
    adaptive: dict[str, Any] | None = None


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


FigureRecord = CurveFigure | HistogramFigure | DistributionFigure


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


@dataclass(frozen=True)
class SectionResult:
    """What one analysis adds to the report, in the order it adds it.

    Attributes:
        metrics: top-level entries of ``metrics.json`` (None where the runs lack the data).
        figures: figure key -> record (the key is the file stem under ``figures/``).
        tables: the tables the section's page block shows.
        notes: (note key, one-line text): an analysis a run lacks data for, or a caveat.
    """

    metrics: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, FigureRecord] = field(default_factory=dict)
    tables: tuple[Table, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()


def order_labels(labels: Sequence[str], base: str) -> list[str]:
    """Labels with the base run first, the others in their given order."""
    if base not in labels:
        raise ValueError(f"base {base!r} is not one of the runs {list(labels)}")
    return [base] + [x for x in labels if x != base]
