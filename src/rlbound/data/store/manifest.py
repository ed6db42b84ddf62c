"""A run's identity: ``manifest.json``, ``problems.parquet`` and the one check that two writes belong
to the same run.

A run of Yue et al. 2025 (arXiv 2504.13837) is only meaningful under one configuration: pass@k of
samples drawn under two temperatures, templates or datasets is not the pass@k of either. So a write
into an existing run directory is refused unless its model, backend, sampling parameters (``n``
aside: extending a run to more samples is allowed), prompt template and dataset hash equal the
stored ones (``check_same_run``), and its problems are the stored ones (``check_same_problems``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rlbound.data.store.parts import PART_RE, SAMPLES_DIR, TMP_RE, VERDICTS_DIR, conform
from rlbound.errors import InputError
from rlbound.types import Problem, RunManifest

MANIFEST = "manifest.json"
PROBLEMS = "problems.parquet"
# Manifest fields that must agree for two writes to go into one run (never mix configurations).
SAME_FIELDS = ("model", "backend", "sampling", "prompt_template", "dataset_hash")

PROBLEM_SCHEMA = pa.schema([
    ("id", pa.string()), ("prompt", pa.string()), ("reference", pa.string()),
    ("verifier", pa.string()), ("metadata", pa.string()),
])


def normalise(x: Any) -> Any:
    """JSON round-trip, so tuples compare equal to lists and key order does not matter."""
    return json.loads(json.dumps(x, sort_keys=True, default=str))


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _compared(name: str, stored: Any, given: Any) -> tuple[Any, Any]:
    """The stored and given values of manifest field ``name`` as they are compared."""
    a, b = normalise(stored), normalise(given)
    if name == "sampling" and isinstance(a, dict) and isinstance(b, dict):
        a = {k: v for k, v in a.items() if k != "n"}
        b = {k: v for k, v in b.items() if k != "n"}
    elif name == "prompt_template" and isinstance(b, str):
        a = a.get("name") if isinstance(a, dict) else a
    return a, b


def check_same_run(stored: RunManifest, given: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Refuse to mix two configurations in one run: InputError naming the first differing field.

    ``given`` maps fields of ``SAME_FIELDS`` to the values of the new write (a field left out is not
    compared). ``sampling`` is compared without ``n``; ``prompt_template`` may be given as its name
    alone (a str), which is compared with the stored name only (before a model's tokenizer is
    loaded, a chat template's text is not known).
    """
    unknown = sorted(set(given) - set(SAME_FIELDS))
    if unknown:
        raise ValueError(f"check_same_run compares only {SAME_FIELDS}, not {unknown}")
    for name in SAME_FIELDS:
        if name not in given:
            continue
        a, b = _compared(name, getattr(stored, name), given[name])
        if a != b:
            raise InputError(
                f"run already exists with a different {name} (stored {json.dumps(a, sort_keys=True)[:120]}, "
                f"given {json.dumps(b, sort_keys=True)[:120]}); refusing to mix two configurations in one run "
                "- use a new output directory", path=str(path), field=name)


def check_same_problems(stored_ids: list[str], given: list[Problem], run: Path) -> None:
    """InputError unless ``given`` has exactly the stored problem ids (in any order)."""
    old_ids, new_ids = set(stored_ids), {q.id for q in given}
    if old_ids != new_ids:
        gone, new = sorted(old_ids - new_ids), sorted(new_ids - old_ids)
        raise InputError(
            f"run already exists with different problems ({len(gone)} stored ids not given, e.g. {gone[:3]}; "
            f"{len(new)} given ids not stored, e.g. {new[:3]}); use a new output directory",
            path=str(run / PROBLEMS), field="problems")


def stamped(manifest: RunManifest) -> RunManifest:
    """``manifest`` with ``created`` and ``rlbound_version`` filled in where empty."""
    if manifest.created and manifest.rlbound_version:
        return manifest
    from rlbound.version import __version__

    return dataclasses.replace(manifest, created=manifest.created or now_iso(),
                               rlbound_version=manifest.rlbound_version or __version__)


def merged_manifest(old: RunManifest, new: RunManifest) -> RunManifest:
    """The manifest of a resumed run: ``new``, keeping ``created`` of the first write, the larger
    ``n`` and the union of ``extra`` (new keys win)."""
    return dataclasses.replace(
        new, created=old.created or new.created or now_iso(),
        rlbound_version=new.rlbound_version or old.rlbound_version,
        sampling=_merged_sampling(old.sampling, new.sampling),
        extra={**old.extra, **new.extra})


def _merged_sampling(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(new)
    a, b = old.get("n"), new.get("n")
    if isinstance(a, int) and isinstance(b, int):
        out["n"] = max(a, b)
    elif a is not None and b is None:
        out["n"] = a
    return out


def is_interrupted_create(p: Path) -> bool:
    """True for an empty dir, or one holding only what ``RunStore.create`` writes before the manifest."""
    for entry in os.scandir(p):
        if TMP_RE.match(entry.name) or entry.name == PROBLEMS:
            continue
        if entry.name in (SAMPLES_DIR, VERDICTS_DIR) and entry.is_dir():
            if any(PART_RE.match(n) for n in os.listdir(entry.path)):
                return False
            if any(not TMP_RE.match(n) for n in os.listdir(entry.path)):
                return False
            continue
        return False
    return True


def check_problems(problems: list[Problem]) -> None:
    """TypeError for a non-Problem, InputError for a non-string or repeated id."""
    seen: set[str] = set()
    for q in problems:
        if not isinstance(q, Problem):
            raise TypeError(f"problems must be Problem objects, got {type(q).__name__}")
        if not isinstance(q.id, str):
            raise InputError(f"problem id {q.id!r} must be a string", field="id")
        if q.id in seen:
            raise InputError(f"duplicate problem id {q.id!r}", field="id")
        seen.add(q.id)


def problems_table(problems: list[Problem]) -> pa.Table:
    """``problems`` as a table of ``PROBLEM_SCHEMA`` (metadata as a JSON string)."""
    try:
        meta = [json.dumps(q.metadata, sort_keys=True, ensure_ascii=False) for q in problems]
    except TypeError as e:
        raise InputError(f"problem metadata must be JSON-serialisable: {e}", field="metadata") from None
    return pa.Table.from_pydict({
        "id": [q.id for q in problems], "prompt": [q.prompt for q in problems],
        "reference": [q.reference for q in problems], "verifier": [q.verifier for q in problems],
        "metadata": meta,
    }, schema=PROBLEM_SCHEMA)


def read_problems(path: Path) -> list[Problem]:
    """The problems stored in ``path`` (a ``problems.parquet``), in stored order."""
    try:
        t = conform(pq.read_table(path), PROBLEM_SCHEMA, path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"unreadable problems file ({e})", path=str(path)) from None
    cols = [t.column(n).to_pylist() for n in PROBLEM_SCHEMA.names]
    out = []
    for row, (pid, prompt, ref, verifier, meta) in enumerate(zip(*cols), 1):
        try:
            md = json.loads(meta) if meta else {}
        except json.JSONDecodeError:
            raise InputError(f"row {row}: metadata is not valid JSON", path=str(path), field="metadata") from None
        out.append(Problem(id=pid, prompt=prompt or "", reference=ref, verifier=verifier or "math", metadata=md))
    return out


def read_manifest(path: Path) -> RunManifest:
    """The manifest stored in ``path`` (a ``manifest.json``); InputError naming it when malformed."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"unreadable manifest ({e})", path=str(path)) from None
    if not isinstance(d, dict):
        raise InputError("manifest must be a JSON object", path=str(path))
    try:
        return RunManifest.from_dict(d)
    except (TypeError, ValueError) as e:
        raise InputError(f"invalid manifest: {e}", path=str(path)) from None
