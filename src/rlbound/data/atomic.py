"""Crash-safe file writes: every file rlbound writes appears whole or not at all.

A write goes to a uniquely named temp file beside the destination, is flushed and fsynced, then
renamed over the destination (``os.replace`` is atomic on POSIX), and the folder is fsynced so the
rename survives a power cut. A run killed with ``kill -9`` mid-write leaves at most a ``.tmp-*``
file, which readers ignore (user pain point: resumable runs that lose or corrupt results).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "fsync_dir", "is_tmp_name", "tmp_name"]


def fsync_dir(folder: str | Path) -> None:
    """fsync a folder so that renames and new entries in it are durable (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on folders
        pass
    finally:
        os.close(fd)


def tmp_name(suffix: str = "") -> str:
    """A temp file name that no other process or call can pick: ``.tmp-<pid>-<uuid><suffix>``."""
    return f".tmp-{os.getpid()}-{uuid.uuid4().hex}{suffix}"


def is_tmp_name(name: str) -> bool:
    """True for a name ``tmp_name`` makes: a write in progress, or one a killed writer left."""
    return name.startswith(".tmp-")


def atomic_write(dest: str | Path, write: Callable[[IO[Any]], Any], *, text: bool = False) -> Path:
    """Call ``write(fh)`` on a temp file beside ``dest`` (binary, or UTF-8 text when ``text``),
    fsync it and rename it to ``dest``; returns ``dest``.

    On any exception (KeyboardInterrupt included) the temp file is removed and ``dest`` is untouched.
    """
    dest = Path(dest)
    tmp = dest.parent / tmp_name(dest.suffix)
    try:
        with open(tmp, "w", encoding="utf-8") if text else open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)
    return dest


def atomic_write_text(dest: str | Path, content: str) -> Path:
    """``atomic_write`` of a string as UTF-8 text."""
    return atomic_write(dest, lambda fh: fh.write(content), text=True)


def atomic_write_bytes(dest: str | Path, data: bytes) -> Path:
    """``atomic_write`` of bytes."""
    return atomic_write(dest, lambda fh: fh.write(data))
