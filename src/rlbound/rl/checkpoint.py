"""Atomic training checkpoints that survive ``kill -9``, and the append-only training log.

Layout of a training run's output folder (``TrainConfig.out`` / ``DistillConfig.out``)::

    out/
      log.jsonl                       one JSON record per step (and per evaluation)
      checkpoints/
        step-<N>/                     a complete checkpoint, visible only once complete
          config.json, model.safetensors, generation_config.json   model.save_pretrained
          tokenizer.json, tokenizer_config.json, ...               tokenizer.save_pretrained
          trainer_state.pt            optimizer(s), RNG states, step, log length, critic
          manifest.json               what produced it (written last)
        .tmp-step-<N>-<pid>-<hex>/    a checkpoint being written (removed when its writer is dead)

A checkpoint is written into a temp folder beside its final place, every file fsynced, then the
folder is renamed to ``step-<N>`` (``os.rename`` of a directory is atomic on POSIX filesystems).
A SIGKILL at any moment therefore leaves either the complete ``step-<N>`` or a temp folder that the
next run removes; ``latest_checkpoint`` never sees a partial one. The log is appended and fsynced
every step; a checkpoint records the log's byte length, and a resumed run truncates the log to that
length, so the steps after the checkpoint (which are redone) are not logged twice.

The run-store conventions of ``rlbound.data.store`` (Yue et al. 2025's sampling runs, arXiv
2504.13837) are followed: temp names carry the writer's pid, and nothing visible is half-written.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import random
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from rlbound.data.atomic import atomic_write_text
from rlbound.errors import InputError

__all__ = [
    "CHECKPOINTS",
    "LOG",
    "MANIFEST",
    "TRAINER_STATE",
    "JsonlLog",
    "checkpoint_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "load_trainer_state",
    "prune_checkpoints",
    "quiet_transformers",
    "read_manifest",
    "remove_stale_tmp",
    "remove_stale_tmp_files",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "write_json_atomic",
]

CHECKPOINTS = "checkpoints"
LOG = "log.jsonl"
MANIFEST = "manifest.json"
TRAINER_STATE = "trainer_state.pt"
_STEP_RE = re.compile(r"^step-(\d+)$")
_TMP_RE = re.compile(r"^\.tmp-step-(\d+)-(\d+)-[0-9a-f]+$")
_TMP_FILE_RE = re.compile(r"^\.tmp-(\d+)-[0-9a-f]{32}")  # rlbound.data.atomic.tmp_name


def now_iso() -> str:
    """Current UTC time, ISO-8601 with seconds."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - filesystems without fsync on directories
        pass
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            _fsync_path(p)
    _fsync_path(folder)


def write_json_atomic(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to a temp file beside ``path``, fsync, rename into place."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's live process
        return True
    return True


def checkpoint_dir(root: Path, step: int) -> Path:
    """``root / "step-<step>"``."""
    return Path(root) / f"step-{int(step)}"


def remove_stale_tmp(root: Path) -> int:
    """Remove temp checkpoint folders whose writer process is gone; returns how many."""
    root = Path(root)
    if not root.is_dir():
        return 0
    n = 0
    for entry in root.iterdir():
        m = _TMP_RE.match(entry.name)
        if m and entry.is_dir() and (int(m.group(2)) == os.getpid() or not _pid_alive(int(m.group(2)))):
            shutil.rmtree(entry, ignore_errors=True)
            n += 1
    return n


def remove_stale_tmp_files(folder: Path) -> int:
    """Remove the temp files of atomic writes (``rlbound.data.atomic``: ``.tmp-<pid>-<hex>...``) in
    ``folder`` whose writer process is gone, e.g. a distillation's ``traces.jsonl`` write killed
    midway; returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    n = 0
    for entry in folder.iterdir():
        m = _TMP_FILE_RE.match(entry.name)
        if m and entry.is_file() and not _pid_alive(int(m.group(1))):
            entry.unlink(missing_ok=True)
            n += 1
    return n


def list_checkpoints(root: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``root`` as (step, folder), by step."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for entry in root.iterdir():
        m = _STEP_RE.match(entry.name)
        if m and entry.is_dir() and (entry / MANIFEST).is_file():
            out.append((int(m.group(1)), entry))
    return sorted(out)


def latest_checkpoint(root: Path) -> Path | None:
    """The complete checkpoint with the highest step under ``root``, or None."""
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def read_manifest(ckpt: Path) -> dict[str, Any]:
    """The ``manifest.json`` of a checkpoint; InputError when unreadable."""
    path = Path(ckpt) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("not a checkpoint: manifest.json missing", path=str(ckpt)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"malformed manifest ({e.msg})", path=str(path)) from None


def save_checkpoint(
    root: Path,
    step: int,
    model: Any,
    tokenizer: Any,
    manifest: Mapping[str, Any],
    trainer_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``root/step-<step>/`` atomically and return it.

    ``model.save_pretrained`` and ``tokenizer.save_pretrained`` go into a temp folder, then
    ``trainer_state.pt`` (``torch.save``), then ``manifest.json``; every file is fsynced and the
    folder renamed into place. If ``step-<step>`` already exists (a resumed run saving the step it
    resumed from), the existing one is kept and the new copy discarded.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir(root, step)
    if (final / MANIFEST).is_file():
        return final
    tmp = root / f".tmp-step-{int(step)}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        with quiet_transformers():
            model.save_pretrained(str(tmp))
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp))
        if trainer_state is not None:
            torch.save(dict(trainer_state), tmp / TRAINER_STATE)
        with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(dict(manifest), fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
        _fsync_tree(tmp)
        if final.exists():  # a folder without manifest: cannot come from us; never delete it silently
            raise InputError("exists but is not a complete checkpoint; move it away", path=str(final))
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_path(root)
    return final


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' own progress bars (weight loading / shard writing) inside the training bar."""
    try:
        from transformers.utils import logging as tlog
    except ImportError:  # pragma: no cover
        yield
        return
    was = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            tlog.enable_progress_bar()


def prune_checkpoints(root: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest complete checkpoints (``keep <= 0``: delete none)."""
    if keep <= 0:
        return []
    removed = []
    for _, path in list_checkpoints(root)[:-keep]:
        # rename first, so a kill mid-delete leaves a temp folder, never a half-deleted step-N
        tmp = path.parent / f".tmp-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(path, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(path)
    return removed


def load_trainer_state(ckpt: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The ``trainer_state.pt`` of a checkpoint (tensors mapped to ``device``)."""
    path = Path(ckpt) / TRAINER_STATE
    if not path.is_file():
        raise InputError("checkpoint has no trainer_state.pt (cannot resume from it)", path=str(ckpt))
    return torch.load(path, map_location=device, weights_only=True)


def rng_state() -> dict[str, Any]:
    """Python and torch (CPU, every CUDA device) RNG states, ``torch.load(weights_only=True)``-safe."""
    st: dict[str, Any] = {"python": _py_state_to_list(random.getstate()), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: Mapping[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    random.setstate(_py_state_from_list(st["python"]))
    torch.set_rng_state(st["torch"].cpu())
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in st["cuda"]])


def _py_state_to_list(s: tuple) -> list:
    version, internal, gauss = s
    return [version, list(internal), gauss]


def _py_state_from_list(s: list) -> tuple:
    version, internal, gauss = s
    return (version, tuple(internal), gauss)


class JsonlLog:
    """Append-only JSONL log, fsynced per record; ``truncate(n_bytes)`` rolls back to a checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(exist_ok=True)

    @property
    def size(self) -> int:
        """Current length in bytes (what a checkpoint records)."""
        return self.path.stat().st_size

    def truncate(self, n_bytes: int) -> None:
        """Cut the log to its first ``n_bytes`` (records written after the checkpoint)."""
        with open(self.path, "r+b") as fh:
            fh.truncate(min(int(n_bytes), self.size))
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a line and fsync."""
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dict(record), sort_keys=False, default=float) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> list[dict[str, Any]]:
        """Every complete record (a torn last line, from a kill mid-write, is skipped)."""
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out
