"""Strict JSONL reading and atomic writing: every error names the file, the line and the field."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlbound.data.atomic import atomic_write
from rlbound.errors import InputError

_PROGRESS_MIN_BYTES = 50 << 20  # show a progress bar for files larger than this


def _open_text(path: Path) -> io.TextIOBase:
    try:
        if path.name.endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        return open(path, encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a JSONL file", path=str(path)) from None


def read_jsonl(path: str | Path, progress: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, JSON object) for each non-blank line; InputError on anything else."""
    path = Path(path)
    seen = False
    size = path.stat().st_size if path.exists() else 0
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {path.name}",
               disable=not progress or size < _PROGRESS_MIN_BYTES)
    with _open_text(path) as fh, bar:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError as e:
                raise InputError(f"not UTF-8 text here or in the lines just after ({e.reason}); is it a JSONL file?",
                                 path=str(path), line=lineno + 1) from None
            except (OSError, EOFError) as e:
                raise InputError(f"unreadable after line {lineno} ({e})", path=str(path), line=lineno + 1) from None
            if not line:
                break
            lineno += 1
            bar.update(len(line))
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=str(path), line=lineno) from None
            if not isinstance(obj, dict):
                raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=str(path), line=lineno)
            seen = True
            yield lineno, obj
    if not seen:
        raise InputError("empty file: no JSON rows", path=str(path))


def require(obj: dict[str, Any], field: str, types: type | tuple[type, ...], *, path: str | Path, line: int) -> Any:
    """obj[field], checked to be of ``types``; InputError naming file, line and field otherwise."""
    if field not in obj:
        raise InputError(f"missing field '{field}'", path=str(path), line=line, field=field)
    val = obj[field]
    if isinstance(val, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        ok = False
    else:
        ok = isinstance(val, types)
    if not ok:
        want = "/".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise InputError(f"field '{field}' must be {want}, got {json.dumps(val)[:40]}", path=str(path), line=line,
                         field=field)
    return val


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows to a temp file beside ``path`` and rename it into place; returns the row count.

    If producing the rows raises, the temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0

    def write(fh: Any) -> None:
        nonlocal count
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1

    atomic_write(path, write, text=True)
    return count
