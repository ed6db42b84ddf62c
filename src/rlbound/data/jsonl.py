"""Strict JSONL reading and atomic writing: every error names the file, the line and the field."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rlbound.errors import InputError


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (1-based line number, object) for each non-blank line; InputError on bad JSON or non-objects."""
    path = Path(path)
    try:
        fh = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    seen_any = False
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=str(path), line=lineno) from None
            if not isinstance(obj, dict):
                raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=str(path), line=lineno)
            seen_any = True
            yield lineno, obj
    if not seen_any:
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
