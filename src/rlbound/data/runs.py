"""Runs as a library user meets them: open one, compare two (Yue et al. 2025, arXiv 2504.13837).

``load_run`` opens a run directory (``rlbound.data.store.RunStore``); ``compare`` reads the
per-problem counts of two runs (run directories or any importable results file) and compares them
as the paper does: pass@k curves with paired bootstrap intervals, crossing point k*, efficiency
gap, solvable coverage and accuracy histograms (``rlbound.metrics.compare.compare_runs``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rlbound.data.importers import load_counts
from rlbound.data.store import RunStore
from rlbound.metrics.compare import Comparison, compare_runs

PathLike = str | os.PathLike[str]


def load_run(path: PathLike) -> RunStore:
    """The run directory ``path`` (its manifest, problems, samples and verdicts); InputError if it is none."""
    return RunStore.open(path)


def compare(base: PathLike, other: PathLike, *, ks: Sequence[int] | None = None, field: str = "correct",
            n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Comparison:
    """Compare run ``other`` (RL, distilled, ...) with run ``base``, joined by problem id.

    ``field="steps_correct"`` compares CoT-pass@k (Wen et al. 2025) on step-checked runs. The other
    arguments are those of ``compare_runs``, which documents the result.
    """
    ids_b, n_b, c_b = load_counts(base, field)
    ids_o, n_o, c_o = load_counts(other, field)
    return compare_runs(ids_b, n_b, c_b, ids_o, n_o, c_o, ks=ks, n_boot=n_boot, seed=seed, level=level)
