"""Where imported records come from: a JSONL file (plain or .gz), a JSON document (an object or a
list of objects), a Parquet file, or a folder written by ``datasets``' ``save_to_disk``.

The container is told from the file itself (Parquet's magic bytes, whether the first non-blank
line is a whole JSON object), never from the suffix alone: an evalplus ``eval_results.json`` is one
JSON document, a lighteval ``details_*.parquet`` is binary, and neither is read as JSONL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlbound.data.benchmarks import hf_rows, hf_split_dir, is_hf_dataset_dir, read_hf_dataset
from rlbound.data.importers.base import Row
from rlbound.data.jsonl import _open_text
from rlbound.data.jsonl import read_jsonl as _jsonl_rows
from rlbound.data.store import RunStore
from rlbound.errors import InputError

CONTAINERS = ("jsonl", "json", "parquet", "hf_dataset")
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Source:
    """One input, opened: its container and a way to iterate its records (each a ``Row``).

    Attributes:
        path: the file or folder given.
        container: one of CONTAINERS.
        where: the name errors use (the file; ``folder[split]`` for a dataset folder).
        split: the split read from a DatasetDict folder (None otherwise).
    """

    path: Path
    container: str
    where: str
    reader: Callable[[], Iterator[Row]]
    split: str | None = None

    def records(self) -> Iterator[Row]:
        """Every record, in file order (a fresh pass over the input each call)."""
        return self.reader()

    def first(self) -> Row:
        """The first record (InputError on an input with none)."""
        for r in self.records():
            return r
        raise InputError("empty input: no records", path=self.where)


def _not_found(p: Path) -> InputError:
    raw = str(p)
    if "/" in raw and not raw.startswith((".", "/", "~")) and not p.suffix:
        return InputError(f"no such file or folder; a Hugging Face Hub id such as {raw!r} is not read by import "
                          "(offline, save the dataset with datasets' save_to_disk and pass that folder)", path=raw)
    return InputError("no such file or folder", path=raw)


def _first_line(p: Path) -> str | None:
    """The first non-blank line of a text file (None when there is none); InputError if unreadable."""
    with _open_text(p) as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except (UnicodeDecodeError, OSError, EOFError) as e:
                raise InputError(f"unreadable text after line {lineno} ({e})", path=str(p), line=lineno + 1) from None
            if not line:
                return None
            lineno += 1
            if line.strip():
                return line.strip()


def _whole_json(p: Path) -> Any:
    try:
        with _open_text(p) as fh:
            text = fh.read()
    except (UnicodeDecodeError, OSError, EOFError) as e:
        raise InputError(f"unreadable text ({e})", path=str(p)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=str(p), line=e.lineno) from None


def _json_reader(p: Path, doc: Any) -> Callable[[], Iterator[Row]]:
    if isinstance(doc, dict):
        return lambda: iter([Row(doc, p, None, None)])
    if not isinstance(doc, list):
        raise InputError(f"a JSON document must be an object or a list of objects, got {type(doc).__name__}",
                         path=str(p))
    for i, obj in enumerate(doc, start=1):
        if not isinstance(obj, dict):
            raise InputError(f"row {i}: expected a JSON object, got {type(obj).__name__}", path=str(p))
    return lambda: (Row(obj, p, None, i) for i, obj in enumerate(doc, start=1))


def _table_reader(table: Any, where: str) -> Callable[[], Iterator[Row]]:
    return lambda: (Row(obj, where, None, i) for i, obj in hf_rows(table))


def _parquet(p: Path) -> Source:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise InputError(f"cannot read Parquet: {exc}", path=str(p)) from None
    return Source(p, "parquet", str(p), _table_reader(table, str(p)))


def open_source(path: str | os.PathLike[str], split: str | None = None) -> Source:
    """Open ``path`` for import, telling its container from its content.

    A run directory is refused (it is rlbound's own format, read by ``RunStore.open``); so is any
    other folder that is not a ``save_to_disk`` dataset. ``split`` picks a split of a DatasetDict
    folder and is refused for any other input.
    """
    p = Path(path)
    if not p.exists():
        raise _not_found(p)
    if p.is_dir():
        if RunStore.is_run_dir(p):
            raise InputError("is a run directory already; import reads results of other tools", path=str(p))
        if not is_hf_dataset_dir(p):
            raise InputError("is a directory but not a run directory (no manifest.json/problems.parquet) nor a "
                             "dataset folder written by save_to_disk (no state.json/dataset_dict.json)", path=str(p))
        _, chosen = hf_split_dir(p, split)
        table, where = read_hf_dataset(p, split)
        return Source(p, "hf_dataset", where, _table_reader(table, where), chosen)
    if split is not None:
        raise InputError("--split applies to a dataset folder written by save_to_disk, not to a file",
                         path=str(p), field="split")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror})", path=str(p)) from None
    if magic == _PARQUET_MAGIC:
        return _parquet(p)
    first = _first_line(p)
    if first is None:
        raise InputError("empty file: no JSON rows", path=str(p))
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        head = None
    if isinstance(head, dict):
        return Source(p, "jsonl", str(p), lambda: (Row(o, p, n, i) for i, (n, o) in enumerate(_jsonl_rows(p), 1)))
    if head is not None or first.startswith("[") or first == "{" or p.suffix.lower() == ".json":
        return Source(p, "json", str(p), _json_reader(p, _whole_json(p)))
    # a first line that is no JSON: read as JSONL, so the error names that line
    return Source(p, "jsonl", str(p), lambda: (Row(o, p, n, i) for i, (n, o) in enumerate(_jsonl_rows(p), 1)))
