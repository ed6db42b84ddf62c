"""A run out as JSONL, one row per cell: samples and verdicts side by side through the store's one
join (``RunStore.cells``), written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlbound.data.atomic import atomic_write
from rlbound.data.store import RunStore
from rlbound.errors import InputError


def export_rows(store: RunStore, batch_rows: int = 65536) -> Iterator[dict[str, Any]]:
    """Rows of the export: one per cell (sample and/or verdict), problem order then sample_index."""
    joined = store.cells(samples=["text", "seed", "finish_reason"], verdicts=["correct", "status", "extracted"])
    for batch in joined.to_batches(max_chunksize=batch_rows):
        cols = batch.to_pydict()
        for j in range(batch.num_rows):
            row: dict[str, Any] = {"problem_id": cols["problem_id"][j], "sample_index": cols["sample_index"][j]}
            if cols["text"][j] is not None:
                row["text"] = cols["text"][j]
            if cols["has_verdict"][j]:
                row["correct"] = cols["correct"][j]
                row["status"] = cols["status"][j]
                row["extracted"] = cols["extracted"][j]
            if cols["has_sample"][j]:
                row["seed"] = cols["seed"][j]
                row["finish_reason"] = cols["finish_reason"][j]
            yield row


def export_jsonl(store: RunStore, out_path: str | os.PathLike[str], *, overwrite: bool = False) -> int:
    """Write the run as JSONL, one row per sample; returns the number of rows.

    Each row: problem_id, sample_index, text (when stored), correct / status / extracted (when
    verified), seed, finish_reason. Written to a temp file beside ``out_path``, fsynced and renamed,
    so an error never leaves a partial file. An existing ``out_path`` is refused unless ``overwrite``.
    A fully verified export reads back with ``import_results(out_path, "correct_jsonl")``.
    """
    out = Path(out_path)
    if out.exists() and (out.is_dir() or not overwrite):
        raise InputError("output exists; refusing to overwrite it (choose another path)", path=str(out))
    if not out.parent.is_dir():
        raise InputError("output folder does not exist", path=str(out.parent))
    count = 0

    def write(fh: Any) -> None:
        nonlocal count
        total = store.sample_table().num_rows
        for row in tqdm(export_rows(store), total=total, unit="row", desc="export", disable=None, mininterval=1.0):
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")
            count += 1

    atomic_write(out, write, text=True)
    return count
