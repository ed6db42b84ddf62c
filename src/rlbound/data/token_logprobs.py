"""Token log-probabilities of a run's samples: ``token_logprobs.parquet`` and its resumable shards.

``rlbound sample --logprobs`` keeps, for every sample, the log-probability of each sampled token;
the report's entropy section reads them (Yue et al. 2025, arXiv 2504.13837, Sec. 5). They must stay
consistent with the run store (``rlbound.data.store``) through a kill -9 at any moment and a rerun,
so they are written the way samples are:

1. per batch, a shard ``token_logprobs.shard-<time_ns>-<uuid8>.parquet`` with columns problem_id,
   sample_index, logprobs (list<float32>) is written atomically (``RunStore.write_side_file``)
   *before* the batch's samples part, so every stored sample has a shard row;
2. a kill between the two leaves shard rows of cells that have no sample: readers ignore them, and
   the rerun redraws those cells and writes new rows (a newer row of a cell wins over an older one);
3. ``consolidate`` (at the end of every ``rlbound sample``) merges ``token_logprobs.parquet`` and
   the shards into a new ``token_logprobs.parquet``, one row per stored sample in problem order,
   then removes the shards it merged. A kill inside leaves copies that the next merge dedupes.

``read_table`` does the same merge in memory, for readers of a run whose sampler was killed
(``rlbound report``). Rows of ``token_logprobs.parquet`` itself are taken as they are (the file may
also come from elsewhere); only shard rows are checked against the stored samples. One sampling
process per run is assumed: a second writer racing for the same cells may leave the loser's rows.
"""

from __future__ import annotations

import io
import os
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rlbound.errors import InputError

LOGPROBS_FILE = "token_logprobs.parquet"
SHARD_PREFIX = "token_logprobs.shard-"
_SHARD_RE = re.compile(r"^token_logprobs\.shard-\d{20}-[0-9a-f]{8}\.parquet$")
SCHEMA = pa.schema([("problem_id", pa.string()), ("sample_index", pa.int64()),
                    ("logprobs", pa.list_(pa.float32()))])


def shard_paths(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The shards of ``run_dir`` not merged yet, oldest first."""
    d = Path(run_dir)
    if not d.is_dir():
        return []
    return [d / n for n in sorted(os.listdir(d)) if _SHARD_RE.match(n)]


def write_shard(store: Any, cells: Sequence[tuple[str, int]], logprobs: Sequence[Sequence[float]]) -> Path:
    """Write one shard: ``logprobs[i]`` are the sampled tokens' log-probabilities of cell ``cells[i]``."""
    if len(cells) != len(logprobs):
        raise ValueError(f"{len(cells)} cells but {len(logprobs)} logprob lists")
    table = pa.table({"problem_id": [c[0] for c in cells], "sample_index": [int(c[1]) for c in cells],
                      "logprobs": [list(lp) for lp in logprobs]}, schema=SCHEMA)
    name = f"{SHARD_PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
    return store.write_side_file(name, _parquet_bytes(table))


def read_table(store: Any) -> pa.Table | None:
    """``token_logprobs.parquet`` merged with the unmerged shards (see the module docstring), in
    problem order then sample_index; None when the run has neither. InputError for a malformed file."""
    return _merge(store, shard_paths(store.path))


def mean_nll(table: pa.Table, path: str = LOGPROBS_FILE) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per row of a ``read_table`` table: (problem ids, mean of -logprob over the row's finite
    tokens, token counts), rows without a finite token dropped. The mean is the sampled-token
    estimate of the per-token entropy of the sampling distribution (Yue et al. 2025, Sec. 5).
    InputError (naming ``path``) when the column is not a list or a log-probability is above 0."""
    col = table.column("logprobs").combine_chunks()
    if not pa.types.is_list(col.type) and not pa.types.is_large_list(col.type):
        raise InputError(f"column has type {col.type}, expected list<float>", path=path, field="logprobs")
    col = pc.fill_null(col, pa.scalar([], type=col.type))
    vals = pc.fill_null(pc.list_flatten(col).cast(pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
    good = np.isfinite(vals)
    if (vals[good] > 1e-6).any():
        raise InputError("log-probabilities must be <= 0", path=path, field="logprobs")
    count = np.bincount(parents[good], minlength=table.num_rows)
    total = np.bincount(parents[good], weights=-vals[good], minlength=table.num_rows)
    has = count > 0
    ids = [pid for pid, h in zip(table.column("problem_id").to_pylist(), has, strict=True) if h]
    return ids, total[has] / count[has], count[has]


def consolidate(store: Any) -> int | None:
    """Merge the shards into ``token_logprobs.parquet`` and remove them; returns its row count
    (None when the run has neither file nor shards). A run without shards is left untouched."""
    shards = shard_paths(store.path)
    if not shards:
        try:
            return pq.ParquetFile(store.side_path(LOGPROBS_FILE)).metadata.num_rows
        except (FileNotFoundError, pa.ArrowException, OSError):
            return None
    table = _merge(store, shards)
    assert table is not None
    store.write_side_file(LOGPROBS_FILE, _parquet_bytes(table))
    for p in shards:
        p.unlink(missing_ok=True)
    return table.num_rows


def _merge(store: Any, shards: list[Path]) -> pa.Table | None:
    main = store.side_path(LOGPROBS_FILE)
    tables = [_read(main)] if main.is_file() else []
    n_main = tables[0].num_rows if tables else 0
    if not tables and not shards:
        return None
    tables += [_read(p) for p in shards]
    t = pa.concat_tables(tables)
    if not shards:
        return t
    pids = t.column("problem_id").to_pylist()
    idxs = t.column("sample_index").to_pylist()
    st = store.sample_table()
    stored = set(zip(st.column("problem_id").to_pylist(), st.column("sample_index").to_pylist()))
    seen: set[tuple[str, int]] = set()
    keep: list[int] = []
    for i in range(t.num_rows - 1, -1, -1):  # newest first: the newest row of a cell wins
        cell = (pids[i], idxs[i])
        if cell in seen or (i >= n_main and cell not in stored):
            continue
        seen.add(cell)
        keep.append(i)
    order = {pid: o for o, pid in enumerate(p.id for p in store.problems())}
    keep.sort(key=lambda i: (order.get(pids[i], len(order)), str(pids[i]), idxs[i]))
    return t.take(pa.array(keep, type=pa.int64()))


def _read(path: Path) -> pa.Table:
    try:
        t = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"unreadable parquet file ({e})", path=str(path)) from None
    missing = [c for c in SCHEMA.names if c not in t.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path=str(path), field=missing[0])
    try:
        return t.select(SCHEMA.names).cast(SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise InputError(f"columns do not match {SCHEMA}: {e}", path=str(path)) from None


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()
