"""The part files of a run: ``samples/`` and ``verdicts/``, immutable Parquet parts written atomically.

Each part is ``part-<seq>-<uuid8>.parquet``, written to ``.tmp-<pid>-<uuid>.parquet`` in its folder,
fsynced and renamed into place, so a crash (even kill -9) never leaves a half-written visible part.
Readers list parts in (seq, name) order; the first copy of a cell wins. Leftover temp files of dead
writers are removed by the next writer (``remove_stale_tmp``). ``compact`` journals its work in
``.compact-<tag>.json`` so that the next writer finishes a compaction killed midway
(``finish_compactions``).

The cells are those of the study design of Yue et al. 2025 (arXiv 2504.13837): ``(problem_id,
sample_index)``, n samples per problem as in Chen et al. 2021's pass@k.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rlbound.data.atomic import atomic_write, atomic_write_bytes, fsync_dir
from rlbound.errors import InputError
from rlbound.types import Sample, Verdict

SAMPLES_DIR = "samples"
VERDICTS_DIR = "verdicts"
KINDS = (SAMPLES_DIR, VERDICTS_DIR)
PART_RE = re.compile(r"^part-(\d+)-([0-9a-f]{8})\.parquet$")
TMP_RE = re.compile(r"^\.tmp-(\d+)-[0-9a-f]+")
_MARKER_RE = re.compile(r"^\.compact-[0-9a-f]{8}\.json$")
_STALE_TMP_S = 3600.0  # a temp file of a live process older than this is garbage too

SAMPLE_SCHEMA = pa.schema([
    ("problem_id", pa.string()), ("sample_index", pa.int64()), ("seed", pa.int64()),
    ("text", pa.string()), ("finish_reason", pa.string()),
    ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
])
VERDICT_SCHEMA = pa.schema([
    ("problem_id", pa.string()), ("sample_index", pa.int64()), ("correct", pa.bool_()),
    ("status", pa.string()), ("extracted", pa.string()), ("detail", pa.string()),
    ("verifier", pa.string()), ("verifier_version", pa.string()),
    ("answer_correct", pa.bool_()), ("steps_correct", pa.bool_()),
])
SAMPLE_FIELDS = [f.name for f in dataclasses.fields(Sample)]
VERDICT_FIELDS = [f.name for f in dataclasses.fields(Verdict)]
assert SAMPLE_FIELDS == SAMPLE_SCHEMA.names, "SAMPLE_SCHEMA out of step with rlbound.types.Sample"
assert VERDICT_FIELDS == VERDICT_SCHEMA.names[2:], "VERDICT_SCHEMA out of step with rlbound.types.Verdict"


def schema_of(kind: str, columns: Sequence[str] | None = None) -> pa.Schema:
    """The schema of ``kind``'s parts (``samples`` or ``verdicts``), restricted to ``columns`` if given."""
    schema = SAMPLE_SCHEMA if kind == SAMPLES_DIR else VERDICT_SCHEMA
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    return schema


def write_parquet(dest: Path, table: pa.Table) -> Path:
    """Write ``table`` to ``dest`` atomically (zstd); returns ``dest``."""
    return atomic_write(dest, lambda fh: pq.write_table(table, fh, compression="zstd"))


def part_name(seq: int, tag: str | None = None) -> str:
    """The file name of part number ``seq``: ``part-<seq>-<uuid8>.parquet``."""
    return f"part-{seq:010d}-{tag or uuid.uuid4().hex[:8]}.parquet"


def list_parts(folder: Path) -> list[tuple[int, str]]:
    """(seq, name) of the visible part files of ``folder``, in read order (first wins)."""
    if not folder.is_dir():
        return []
    out = []
    for name in os.listdir(folder):
        m = PART_RE.match(name)
        if m:
            out.append((int(m.group(1)), name))
    out.sort()
    return out


def to_table(cols: dict[str, list[Any]], schema: pa.Schema, run: Path) -> pa.Table:
    """``cols`` as a table of ``schema``; InputError naming the run when a value has the wrong type."""
    try:
        return pa.Table.from_pydict(cols, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise InputError(f"a record field has the wrong type for {schema.names}: {e}", path=str(run)) from None


def conform(table: pa.Table, schema: pa.Schema, path: Path) -> pa.Table:
    """Select/cast ``table`` to ``schema``; columns missing from an older part become nulls."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            if col.type != f.type:
                try:
                    col = col.cast(f.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise InputError(f"column has type {col.type}, expected {f.type}: {e}", path=str(path),
                                     field=f.name) from None
            cols.append(col)
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def read_part(path: Path, schema: pa.Schema) -> pa.Table:
    """The columns of ``schema`` of the part at ``path``, conformed; FileNotFoundError passes through
    (a compaction removed it), any other failure is an InputError naming the file."""
    try:
        pf = pq.ParquetFile(path)
        have = set(pf.schema_arrow.names)
        t = pf.read(columns=[c for c in schema.names if c in have])
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"unreadable part file ({e})", path=str(path)) from None
    return conform(t, schema, path)


def write_compaction(folder: Path, names: Sequence[str], table: pa.Table) -> str:
    """Replace the parts ``names`` of ``folder`` by one part holding ``table``; returns its name.

    The merged part takes the lowest seq of ``names`` and is renamed into place before any old part
    is removed, so a kill at any moment leaves every cell readable (overlaps are deduped on read). A
    journal ``.compact-<tag>.json`` written first lets the next writer finish the removal.
    """
    seq = min(int(PART_RE.match(n).group(1)) for n in names)  # type: ignore[union-attr]
    tag = uuid.uuid4().hex[:8]
    new = part_name(seq, tag)
    marker = folder / f".compact-{tag}.json"
    atomic_write_bytes(marker, json.dumps({"new": new, "old": list(names)}).encode())
    write_parquet(folder / new, table)
    for n in names:
        try:
            os.unlink(folder / n)
        except FileNotFoundError:
            pass
    fsync_dir(folder)
    marker.unlink(missing_ok=True)
    return new


def finish_compactions(folder: Path) -> None:
    """Complete compactions a killed writer left half done (see ``write_compaction``).

    A marker ``.compact-<tag>.json`` names the merged part and the parts it replaces. If the merged
    part exists, the replaced parts are redundant copies and are removed; either way the marker goes.
    """
    if not folder.is_dir():
        return
    for name in os.listdir(folder):
        if not _MARKER_RE.match(name):
            continue
        marker = folder / name
        try:
            d = json.loads(marker.read_text(encoding="utf-8"))
            new, old = d["new"], d["old"]
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError):
            marker.unlink(missing_ok=True)
            continue
        if isinstance(new, str) and PART_RE.match(new) and (folder / new).is_file():
            for n in old:
                if isinstance(n, str) and PART_RE.match(n) and n != new:
                    (folder / n).unlink(missing_ok=True)
            fsync_dir(folder)
        marker.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover
        return False
    return True


def remove_stale_tmp(folder: Path) -> int:
    """Remove ``.tmp-*`` files left by dead writers (or older than an hour); returns the count."""
    removed = 0
    if not folder.is_dir():
        return 0
    now = time.time()
    for entry in os.scandir(folder):
        m = TMP_RE.match(entry.name)
        if not m or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(m.group(1))
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if pid == os.getpid() or (_pid_alive(pid) and age < _STALE_TMP_S):
            continue
        try:
            os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed
