"""Samples and verdicts side by side: the one join of a run's two tables by cell.

A cell of Yue et al. 2025's design (arXiv 2504.13837) is ``(problem_id, sample_index)``: the
``sample_index``-th of the n samples drawn for a problem (n and c per problem feed the pass@k
estimator of Chen et al. 2021). The run store keeps samples and verdicts in separate part files and
keys both by an int64 cell code (``problem ordinal << 32 | sample_index``), sorted; joining is then
a merge of two sorted code arrays, with no hashing of strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KEYS = ("problem_id", "sample_index")
HOW = ("outer", "samples")


def _positions(codes: np.ndarray, of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of each code of ``codes`` in the sorted unique ``of``, and whether it is there at all."""
    pos = np.searchsorted(of, codes)
    found = np.zeros(len(codes), dtype=bool)
    if len(of):
        inside = pos < len(of)
        found[inside] = of[pos[inside]] == codes[inside]
    return pos, found


def _take(table: pa.Table, pos: np.ndarray, found: np.ndarray) -> pa.Table:
    """Rows ``pos`` of ``table``; all-null rows where ``found`` is False."""
    if found.all() and len(pos) == table.num_rows and np.array_equal(pos, np.arange(len(pos))):
        return table
    if not found.any():
        return pa.table({f.name: pa.nulls(len(pos), f.type) for f in table.schema}, schema=table.schema)
    return table.take(pa.array(np.where(found, pos, 0), mask=~found))


def join_cells(samples: pa.Table, sample_codes: np.ndarray, verdicts: pa.Table, verdict_codes: np.ndarray,
               *, how: str = "outer", known: int | None = None, shift: int = 32) -> pa.Table:
    """Join ``samples`` and ``verdicts`` by cell; one row per cell, in cell-code order.

    Args:
        samples: shape [S] rows, sorted by cell, one per cell; holds ``problem_id``, ``sample_index``
            and the sample columns wanted.
        sample_codes: int64 shape [S], sorted and unique, the cell code of each row of ``samples``.
        verdicts: shape [V] rows and ``verdict_codes`` shape [V], the same for verdicts.
        how: ``"outer"``: every cell with a sample or a verdict; ``"samples"``: every sampled cell.
        known: number of problems in the run's problem list; cells of problems past it (unknown to
            problems.parquet) come last, sorted by problem_id then sample_index.
        shift: bits of the sample index in a cell code.

    Returns:
        ``problem_id``, ``sample_index``, the other columns of ``samples`` then those of
        ``verdicts`` (null where the cell has no such row), and ``has_sample`` / ``has_verdict``.
    """
    if how not in HOW:
        raise ValueError(f"how must be one of {HOW}, got {how!r}")
    codes = sample_codes if how == "samples" else np.union1d(sample_codes, verdict_codes)
    s_pos, has_s = _positions(codes, sample_codes)
    v_pos, has_v = _positions(codes, verdict_codes)
    s = _take(samples, s_pos, has_s)
    v = _take(verdicts, v_pos, has_v)
    cols: dict[str, pa.ChunkedArray | pa.Array] = {k: pc.coalesce(s.column(k), v.column(k)) for k in KEYS}
    for t in (s, v):
        for name in t.column_names:
            if name in cols:
                if name not in KEYS:
                    raise ValueError(f"column {name!r} is in both tables")
                continue
            cols[name] = t.column(name)
    cols["has_sample"] = pa.array(has_s)
    cols["has_verdict"] = pa.array(has_v)
    out = pa.table(cols)
    if known is not None and len(codes) and int(codes[-1] >> shift) >= known:
        first = int(np.searchsorted(codes >> shift, known))
        tail = out.slice(first)
        order = pc.sort_indices(tail, sort_keys=[("problem_id", "ascending"), ("sample_index", "ascending")])
        out = pa.concat_tables([out.slice(0, first), tail.take(order)])
    return out


def key_columns(columns: Sequence[str] | None, all_columns: Sequence[str]) -> list[str]:
    """``KEYS`` followed by ``columns`` (default: every non-key column of ``all_columns``)."""
    wanted = [c for c in all_columns if c not in KEYS] if columns is None else list(columns)
    bad = [c for c in wanted if c not in all_columns or c in KEYS]
    if bad:
        raise ValueError(f"unknown columns {bad}; choose from {[c for c in all_columns if c not in KEYS]}")
    return [*KEYS, *wanted]
