"""Draw the records of ``analyses.records`` with matplotlib (Agg canvas, no pyplot, no global state).

One colour per run across every figure (``color_map``: the base run gets the first colour),
labelled axes, titles, legends. ``render`` turns a record into PNG and SVG bytes; SVG output is
deterministic (fixed hash salt, no date) so a rebuilt report differs only where numbers differ.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from rlbound.report.analyses.records import CurveFigure, DistributionFigure, HistogramFigure, Panel

# Colour-blind-friendly palette (Okabe & Ito 2008), then tab10 for runs beyond eight.
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
_TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_GREY = "#555555"

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "rlbound-report",
    "svg.fonttype": "path",
}


def color_map(labels: Sequence[str]) -> dict[str, str]:
    """Run label -> colour, in the given order (put the base run first: it gets the first colour)."""
    palette = _PALETTE + _TAB10
    return {lab: palette[i % len(palette)] for i, lab in enumerate(labels)}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _log2_axis(ax, x_min: float, x_max: float) -> None:
    ax.set_xscale("log", base=2)
    top = max(x_max, x_min * 2)
    ax.set_xlim(x_min, top)
    e_max = int(math.floor(math.log2(top)))
    step = max(1, math.ceil((e_max + 1) / 11))  # at most ~11 labelled ticks
    ticks = [2.0**e for e in range(0, e_max + 1, step)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v)}" if v >= 1 else f"{v:g}"))


def _draw_panel(ax, panel: Panel, colors: Mapping[str, str]) -> None:
    for cv in panel.curves:
        color = colors.get(cv.label, _GREY)
        ls = "--" if cv.style == "dashed" else "-"
        x, y = np.asarray(cv.x), np.asarray(cv.y)
        ax.plot(x, y, ls, color=color, lw=1.6, label=cv.name or cv.label,
                marker="o" if len(x) <= 12 or cv.point_labels else None, ms=3.0)
        if cv.low is not None and cv.high is not None:
            ax.fill_between(x, cv.low, cv.high, color=color, alpha=0.18, lw=0)
        if cv.point_labels:
            for xi, yi, lab in zip(x, y, cv.point_labels):
                ax.plot([xi], [yi], "o", color=colors.get(lab, _GREY), ms=6, zorder=3)
                ax.annotate(lab, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    for i, m in enumerate(panel.markers):
        color = colors.get(m.label, _GREY)
        ax.axvline(m.x, color=color, ls=":", lw=1.2)
        if m.x_low is not None and m.x_high is not None:  # the CI of k* as a horizontal bar through the marker
            ax.plot([m.x_low, m.x_high], [m.y, m.y], color=color, lw=3.0, alpha=0.45, solid_capstyle="butt", zorder=3)
            ax.plot([m.x_low, m.x_high], [m.y, m.y], "|", color=color, ms=9, zorder=3)
        ax.plot([m.x], [m.y], marker="D", color=color, ms=6, mec="white", zorder=4)
        ax.annotate(f"{m.text} ({m.label})", (m.x, m.y), textcoords="offset points", xytext=(5, -13 - 11 * i),
                    fontsize=8, color=color)
    if panel.log2_x:
        lo, hi = panel.x_range or (1.0, max(max(cv.x) for cv in panel.curves))
        _log2_axis(ax, lo, hi)
    elif panel.x_range is not None:
        ax.set_xlim(*panel.x_range)
    if panel.integer_x:
        xs = sorted({x for cv in panel.curves for x in cv.x})
        if len(xs) <= 12:
            ax.xaxis.set_major_locator(FixedLocator(xs))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if panel.y_range is not None:
        pad = 0.02 * (panel.y_range[1] - panel.y_range[0])
        ax.set_ylim(panel.y_range[0] - pad, panel.y_range[1] + pad)
    elif panel.clamp01:
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, -0.02), min(hi, 1.02))
    ax.set_title(panel.title)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if panel.curves:
        ax.legend(loc="best", frameon=True, framealpha=0.85)


def plot_curves(data: CurveFigure, colors: Mapping[str, str]) -> Figure:
    """Line panels (pass@k curves, CoT-pass@k, extra metrics, training steps)."""
    k = len(data.panels)
    fig = _new_figure(7.5, 4.4) if k == 1 else _new_figure(4.6 * k, 3.6)
    axes = fig.subplots(1, len(data.panels), squeeze=False)[0]
    for ax, panel in zip(axes, data.panels):
        _draw_panel(ax, panel, colors)
    fig.suptitle(data.title, fontsize=11)
    return fig


def plot_histograms(data: HistogramFigure, colors: Mapping[str, str]) -> Figure:
    """One bar-chart panel per run, shared y axis (per-problem accuracy histograms)."""
    n = len(data.panels)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = _new_figure(max(6.4, 4.2 * ncols), 3.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    x = np.arange(len(data.bin_labels))
    for i, (label, counts) in enumerate(data.panels):
        ax = axes[i // ncols][i % ncols]
        bars = ax.bar(x, counts, color=colors.get(label, _GREY), width=0.8)
        ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], fontsize=6, padding=1)
        ax.set_xticks(x, data.bin_labels, rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{label} ({sum(counts)} problems)")
        ax.set_ylabel(data.ylabel)
        ax.grid(axis="x", visible=False)
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    fig.supxlabel(data.xlabel, fontsize=9)
    fig.suptitle(data.title, fontsize=11)
    return fig


def plot_distributions(data: DistributionFigure, colors: Mapping[str, str]) -> Figure:
    """Overlaid step histograms on shared edges, with each run's median as a dotted line."""
    fig = _new_figure(7.5, 4.0)
    ax = fig.subplots()
    edges = np.asarray(data.edges)
    for d in data.series:
        color = colors.get(d.label, _GREY)
        ax.stairs(d.share, edges, color=color, lw=1.6, label=f"{d.label} ({d.count} responses, median {d.median:.3g})")
        ax.stairs(d.share, edges, color=color, alpha=0.12, fill=True)
        ax.axvline(d.median, color=color, ls=":", lw=1.2)
    if data.log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel(data.xlabel)
    ax.set_ylabel(data.ylabel)
    ax.set_title(data.title)
    ax.legend(loc="best")
    return fig


def render(fig: Figure, *, dpi: int = 110) -> tuple[bytes, bytes]:
    """(PNG bytes, SVG bytes) of a figure, deterministic (no timestamps in the metadata)."""
    with _style():
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def draw(data: CurveFigure | HistogramFigure | DistributionFigure, colors: Mapping[str, str]) -> tuple[bytes, bytes]:
    """Draw any figure record with the report style and return its (PNG, SVG) bytes."""
    with _style():
        if isinstance(data, CurveFigure):
            fig = plot_curves(data, colors)
        elif isinstance(data, HistogramFigure):
            fig = plot_histograms(data, colors)
        elif isinstance(data, DistributionFigure):
            fig = plot_distributions(data, colors)
        else:
            raise TypeError(f"cannot draw {type(data).__name__}")
        return render(fig)


class _style:
    """Context manager applying the report's rcParams (restored afterwards)."""

    def __enter__(self) -> None:
        self._saved = {k: rcParams[k] for k in _STYLE}
        rcParams.update(_STYLE)

    def __exit__(self, *exc: object) -> None:
        rcParams.update(self._saved)
