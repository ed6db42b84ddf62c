"""Per-response distributions on shared bins (perplexity, entropy) and percentile ranks within
the base run's own distribution, as Yue et al. 2025 (arXiv 2504.13837, Sec. 4-5) compare them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rlbound.report.analyses.records import Distribution


def percentile_in(reference: ArrayLike, x: float) -> float:
    """Percentile rank (0..100) of x in ``reference``: share below plus half the share equal
    (the 'mean' convention of scipy.stats.percentileofscore)."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    if ref.size == 0:
        raise ValueError("percentile_in needs a non-empty reference")
    return float(100.0 * ((ref < x).sum() + 0.5 * (ref == x).sum()) / ref.size)


def binned(values: Mapping[str, NDArray[np.float64]], labels: Sequence[str], log_x: bool,
           bins: int) -> tuple[tuple[float, ...], tuple[Distribution, ...]]:
    """``bins`` equal-width bins (log10-spaced when ``log_x``) over every run's values together, and
    each run's share of values per bin with its median and count, in ``labels`` order."""
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
