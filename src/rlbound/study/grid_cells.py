"""The cells of a models x benchmarks grid: where each one lives, what it was made with, its record.

A cell (model M, benchmark B) is one run directory ``DIR/runs/B/M`` made by the resumable sampling
loop, and one record ``DIR/cells/B/M.json`` (written atomically) holding the settings it was made
with, its status (``pending``, ``done``, ``failed``), its error and its perplexity stage. On a rerun
a cell whose record says ``done`` under the same settings is reused without loading its model; a
cell whose settings changed is moved to ``DIR/stale/`` (nothing is deleted) and made again, with a
message naming what changed; any other cell resumes where it stopped (the run store samples only
the missing cells and grades only the unverified samples).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbound.data.atomic import atomic_write_text
from rlbound.errors import InputError
from rlbound.study.grid_config import BenchmarkSpec, GridSpec, ModelSpec

RUNS, CELLS, STALE, BENCHMARKS = "runs", "cells", "stale", "benchmarks"
Log = Callable[[str], None]


def error_text(e: BaseException) -> str:
    """One line for a cell's error: an InputError's own message, else the exception's type and text."""
    text = str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
    return " ".join(text.split())[:2000]


def model_id(path: str) -> str:
    """A local model folder as its absolute path (as run manifests record it), else as given."""
    p = Path(path).expanduser()
    return str(p.resolve()) if p.is_dir() else path


# ---- benchmarks ---------------------------------------------------------------------------------


@dataclass
class BenchState:
    """A benchmark as loaded for the grid: the file its cells read, its problems, or why it failed."""

    spec: BenchmarkSpec
    file: str
    dataset: Any = None
    error: str | None = None


def _difficulty(text: str, where: str) -> tuple[tuple[int, float], ...]:
    try:
        mix = tuple((int(d), float(w)) for d, w in (part.split(":") for part in text.split(",") if part.strip()))
    except ValueError:
        raise InputError(f"difficulty must look like '2:1,4:1' (ops:weight), got {text!r}", field=where) from None
    if not mix or any(d < 1 or w < 0 for d, w in mix) or sum(w for _, w in mix) <= 0:
        raise InputError(f"difficulty needs ops >= 1 and weights >= 0 summing above 0, got {text!r}", field=where)
    return mix


def sandbox_problems(b: BenchmarkSpec) -> list[Any]:
    """The sandbox problems of a benchmark's ``sandbox`` table (test split of a preset's task)."""
    from rlbound.toy.presets import get_recipe
    from rlbound.toy.tasks import generate_split

    sb = b.sandbox or {}
    task = get_recipe(sb["preset"]).task
    if sb.get("difficulty"):
        task = dataclasses.replace(task, test_difficulty=_difficulty(sb["difficulty"], f"{b.name}.sandbox.difficulty"))
    return generate_split(task, "test", sb["count"], sb["seed"])


def sandbox_file(out: Path, b: BenchmarkSpec) -> Path:
    """Where a sandbox benchmark's problems are written: named by its settings, so changed settings
    make a new file (and so a new dataset hash, which invalidates its cells)."""
    key = hashlib.sha256(json.dumps(b.sandbox, sort_keys=True).encode()).hexdigest()[:10]
    return out / BENCHMARKS / f"{b.name}-{key}.jsonl"


def load_benchmarks(spec: GridSpec, out: Path) -> dict[str, BenchState]:
    """Every benchmark loaded once (sandbox problems written first); a benchmark that cannot be read
    (a missing file, a malformed row) keeps its error and fails its cells, not the grid."""
    from rlbound.data.benchmarks import load_benchmark
    from rlbound.toy.tasks import write_problems_jsonl

    states = {}
    for b in spec.benchmarks:
        state = BenchState(b, b.file)
        try:
            if b.sandbox is not None:
                path = sandbox_file(out, b)
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_problems_jsonl(sandbox_problems(b), path)
                state.file = str(path)
            state.dataset = load_benchmark(state.file, limit=b.limit, field_map=_field_map(b),
                                           data_dir=spec.data_dir)
            state.file = state.dataset.source or state.file
        except (InputError, OSError, ValueError) as e:
            state.error = error_text(e)
        states[b.name] = state
    return states


def _field_map(b: BenchmarkSpec) -> dict[str, str] | None:
    return dict(item.split("=", 1) for item in b.field_map) or None


# ---- cells --------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One (model, benchmark) cell: its sampling config, run folder, record and status."""

    model: ModelSpec
    bench: BenchmarkSpec
    config: Any  # SampleConfig
    run_dir: Path
    record_path: Path
    record: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model.name} x {self.bench.name}"


def sample_config(spec: GridSpec, m: ModelSpec, b: BenchmarkSpec, bench_file: str, run_dir: Path) -> Any:
    """The ``SampleConfig`` of cell (m, b): the benchmark's sampling settings, the model's backend,
    path, template and options; InputError (naming the cell) for settings the sampler refuses."""
    from rlbound.sampling.config import SampleConfig

    kwargs: dict[str, Any] = dict(
        model=m.path, benchmark=bench_file, out=str(run_dir), backend=m.sample_backend, n=b.n,
        temperature=b.temperature, top_p=b.top_p, max_new_tokens=b.max_tokens, stop=b.stop, seed=b.seed,
        template=m.template, limit=b.limit, field_map=b.field_map, logprobs=b.logprobs, **m.options)
    if b.adaptive is not None:
        kwargs.update(adaptive=True, k=b.adaptive.k, ci=b.adaptive.ci, pilot=b.adaptive.pilot, verifier=b.verifier,
                      verify_workers=spec.verify_workers)
    try:
        return SampleConfig(**kwargs)
    except InputError as e:
        raise InputError(f"cell {m.name} x {b.name}: {e.message}", path=spec.source or None, field=e.field) from None


def settings_of(cell: Cell, dataset_hash: str | None) -> dict[str, Any]:
    """What a cell's samples and verdicts depend on (``n`` aside: raising it adds samples)."""
    c = cell.config
    return {"model": model_id(c.model), "backend": c.backend, "template": c.template, "temperature": c.temperature,
            "top_p": c.top_p, "max_new_tokens": c.max_new_tokens, "stop": list(c.stop), "seed": c.seed,
            "logprobs": c.logprobs, "dataset_hash": dataset_hash, "verifier": cell.bench.verifier,
            "dtype": c.dtype, "endpoint": c.endpoint if c.backend == "openai" else None,
            "adaptive": None if not c.adaptive else {"k": list(c.k), "ci": c.ci, "pilot": c.pilot}}


def make_cells(spec: GridSpec, out: Path, benches: Mapping[str, BenchState]) -> list[Cell]:
    """Every cell of the grid in run order (model-major), configs checked before anything runs."""
    cells = []
    for m, b in spec.cells():
        run_dir = out / RUNS / b.name / m.name
        cfg = sample_config(spec, m, b, benches[b.name].file, run_dir)
        cells.append(Cell(m, b, cfg, run_dir, out / CELLS / b.name / f"{m.name}.json"))
    return cells


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def save(cell: Cell, **changes: Any) -> None:
    """Update the cell's record and write it atomically."""
    cell.record.update(changes, status=cell.status, error=cell.error)
    cell.record_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cell.record_path, json.dumps(cell.record, indent=1, sort_keys=True, default=str))


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    def short(v: Any) -> str:
        text = json.dumps(v, default=str)
        return text[:30] + "..." + text[-27:] if len(text) > 60 else text

    return [f"{k} {short(old.get(k))} -> {short(new.get(k))}" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]


def _move_aside(cell: Cell, out: Path) -> Path | None:
    """Move a cell's old run to ``DIR/stale/<benchmark>/<model>-<time>``; returns where (None: no run)."""
    if not cell.run_dir.exists():
        return None
    dest = out / STALE / cell.bench.name / f"{cell.model.name}-{time.strftime('%Y%m%dT%H%M%S')}"
    while dest.exists():
        dest = dest.with_name(dest.name + "_")
    dest.parent.mkdir(parents=True, exist_ok=True)
    cell.run_dir.rename(dest)
    return dest


def triage(cell: Cell, bench: BenchState, out: Path, log: Log) -> None:
    """Decide a cell's status before anything is loaded: ``done`` (reused), ``failed`` (its benchmark
    could not be read) or ``pending`` (new, resumed or invalidated). Writes its record."""
    from rlbound.data.store import RunStore

    if bench.error is not None:
        cell.status, cell.error = "failed", f"benchmark {bench.spec.name}: {bench.error}"
        cell.record = {"model": cell.model.name, "benchmark": cell.bench.name}
        save(cell)
        return
    settings = settings_of(cell, bench.dataset.content_hash)
    old = read_record(cell.record_path)
    why = None
    if old is not None and old.get("settings") != settings:
        why = "settings changed: " + "; ".join(_changes(old.get("settings") or {}, settings))
    elif old is not None and isinstance(old.get("n"), int) and old["n"] > cell.config.n:
        why = f"n lowered {old['n']} -> {cell.config.n}"
    elif old is None and RunStore.is_run_dir(cell.run_dir):
        why = _foreign_run(cell, bench)
    if why is not None:
        moved = _move_aside(cell, out)
        log(f"cell {cell.label}: {why}; " + (f"its old run is moved to {moved}; " if moved else "")
            + "this cell is made again, the other cells are kept")
        old = None
    elif old is not None and old.get("status") == "done" and old.get("n") == cell.config.n \
            and RunStore.is_run_dir(cell.run_dir):
        cell.status, cell.record = "done", old
        return
    elif old is not None and isinstance(old.get("n"), int) and old["n"] < cell.config.n:
        log(f"cell {cell.label}: n raised {old['n']} -> {cell.config.n}: samples are added to its run")
    cell.record = {**(old or {}), "model": cell.model.name, "benchmark": cell.bench.name, "settings": settings,
                   "n": cell.config.n, "run_dir": str(cell.run_dir)}
    cell.status, cell.error = "pending", None
    save(cell)


def _foreign_run(cell: Cell, bench: BenchState) -> str | None:
    """Why a run found without a record cannot be resumed by this cell (None: it can)."""
    from rlbound.sampling.loop import check_existing_run

    try:
        check_existing_run(cell.config, cell.config.sampling_params(), bench.dataset)
    except InputError as e:
        return f"the run found there was made with other settings ({e.message})"
    return None
