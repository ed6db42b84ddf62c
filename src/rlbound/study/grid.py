"""A models x benchmarks grid from one config: the main result of Yue et al. 2025 (arXiv 2504.13837).

``run_grid(spec, out)`` runs every cell (model, benchmark) of a ``GridSpec`` into ``out``:

1. benchmarks: each loaded once (sandbox problems written to ``out/benchmarks/``); one that cannot
   be read fails its cells only;
2. cells (``grid_cells``): finished ones are reused without loading their model, changed ones are
   moved to ``out/stale/`` and made again, the others resume; each model is loaded once for all
   its cells (adaptive cells load their own, first), sampled with the resumable loop
   (``rlbound.sampling``) and graded (``rlbound.verify.runner.verify_run``). A cell that fails (a
   server that does not answer, a model that does not load) is recorded with its error and the
   grid goes on;
3. perplexity: the responses named by each ``[[perplexity]]`` entry scored under its model
   (``rlbound.scoring.perplexity.score_run``), each scorer loaded once;
4. findings: per comparison and benchmark the boundary verdict at pass@K (widened / narrowed /
   inconclusive, ``rlbound.metrics.compare.compare_runs``) with its 95% interval;
5. reports: the single-run report (``rlbound.report.build.build_report``) per benchmark and base,
   opened by that benchmark's findings, and the grid's index page (``rlbound.report.grid``).

``out/findings.json`` lists every comparison x benchmark and every cell's status; it depends only
on the samples, so a grid killed and resumed writes the same file as one run straight through.
``out/grid.json`` adds timings and the report paths. Progress lines go to ``log``; nothing here prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbound.backends.protocol import Backend
from rlbound.data.atomic import atomic_write_text
from rlbound.errors import InputError
from rlbound.study.grid_cells import (
    BenchState,
    Cell,
    Log,
    error_text,
    load_benchmarks,
    make_cells,
    model_id,
    read_record,
    save,
    triage,
)
from rlbound.study.grid_config import GridSpec, ModelSpec

FINDINGS, SUMMARY, REPORTS = "findings.json", "grid.json", "reports"


def no_log(line: str) -> None:
    """The default ``log``: progress lines go nowhere."""


@dataclass
class GridResult:
    """What ``run_grid`` did.

    Attributes:
        cells: every cell, with its final status and error.
        findings: the rows of ``findings.json`` (one per comparison x benchmark).
        failed: one line per failed cell or stage ("model x benchmark: error").
        index: the grid's index page (None when it could not be written).
        reports: the per-benchmark report pages.
        seconds: wall-clock seconds of the call.
    """

    cells: list[Cell]
    findings: list[dict[str, Any]]
    failed: list[str]
    index: Path | None
    reports: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


# ---- progress -------------------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class GridProgress:
    """Cells done / total, and samples per second and time left for the current cell and the grid.

    ``add`` counts samples as the backend returns them; a line goes to ``log`` at most every
    ``every`` seconds while a cell samples, and at the start and end of each cell."""

    def __init__(self, cells_total: int, cells_done: int, cells_settled: int, samples_left: int, log: Log,
                 every: float = 10.0) -> None:
        self.cells_total, self.cells_done, self.position = cells_total, cells_done, cells_settled
        self.grid_left, self.log, self.every = samples_left, log, every
        self.grid_done, self.grid_seconds = 0, 0.0
        self.cell_label, self.cell_left, self.cell_done, self.t0, self.last = "", 0, 0, 0.0, 0.0

    def start(self, cell: Cell, remaining: int) -> None:
        self.position += 1
        self.cell_label, self.cell_left, self.cell_done = cell.label, remaining, 0
        self.t0 = self.last = time.perf_counter()
        self.log(f"cell {self.position}/{self.cells_total} {cell.label}: {remaining} samples to draw")

    def add(self, k: int) -> None:
        self.cell_done += k
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            self.log(self.line(now))

    def line(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        elapsed = max(now - self.t0, 1e-9)
        rate = self.cell_done / elapsed
        grid_rate = (self.grid_done + self.cell_done) / max(self.grid_seconds + elapsed, 1e-9)
        cell_eta = (self.cell_left - self.cell_done) / rate if rate > 0 else None
        grid_eta = (self.grid_left - self.cell_done) / grid_rate if grid_rate > 0 else None
        return (f"cells done {self.cells_done}/{self.cells_total} | {self.cell_label}: {self.cell_done}/{self.cell_left} "
                f"samples, {rate:.1f} samples/s, ETA {_duration(cell_eta)} | grid: "
                f"{self.grid_done + self.cell_done} sampled, {max(self.grid_left - self.cell_done, 0)} left, "
                f"{grid_rate:.1f} samples/s, ETA {_duration(grid_eta)}")

    def end(self, cell: Cell) -> None:
        elapsed = time.perf_counter() - self.t0
        self.grid_seconds += elapsed
        self.grid_done += self.cell_done
        self.grid_left = max(self.grid_left - max(self.cell_done, self.cell_left), 0)
        if cell.status == "done":
            self.cells_done += 1
        state = "done" if cell.status == "done" else f"FAILED: {cell.error}"
        self.log(f"cell {cell.label} {state} ({self.cell_done} samples in {_duration(elapsed)}); "
                 f"cells done {self.cells_done}/{self.cells_total}")


class _Metered(Backend):
    """A backend that reports each finished batch's sample count to ``on_batch`` (grid progress)."""

    def __init__(self, inner: Any, on_batch: Callable[[int], None]) -> None:
        self.inner, self.on_batch = inner, on_batch
        self.name, self.model, self.tokenizer = inner.name, inner.model, inner.tokenizer

    def generate(self, prompts: Sequence[str], params: Any, seeds: Sequence[Sequence[int]]) -> Any:
        out = self.inner.generate(prompts, params, seeds)
        self.on_batch(sum(len(s) for s in seeds))
        return out

    def generate_stream(self, batches: Iterable[Any], params: Any) -> Iterator[Any]:
        for batch, completions in self.inner.generate_stream(batches, params):
            self.on_batch(batch.size)
            yield batch, completions

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> Any:
        return self.inner.score(prompts, continuations)

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()


# ---- sampling and grading -------------------------------------------------------------------------


def _remaining(cell: Cell, problems: int) -> int:
    """Samples a pending cell still has to draw (the most, for an adaptive one)."""
    from rlbound.data.store import RunStore

    if RunStore.is_run_dir(cell.run_dir) and not cell.config.adaptive:
        try:
            return len(RunStore.open(cell.run_dir).missing_cells(cell.config.n))
        except InputError:
            pass
    return problems * cell.config.n


def _workers(cell: Cell, dataset: Any, spec: GridSpec) -> int | None:
    """Grading processes: in-process for the sandbox's trusted synthetic verifier, else the grid's."""
    names = {cell.bench.verifier} if cell.bench.verifier else {p.verifier for p in dataset.problems}
    return 0 if names == {"synthetic"} else spec.verify_workers


def _run_cell(cell: Cell, backend: Any, dataset: Any, spec: GridSpec, progress: bool) -> None:
    """Sample (resuming) and grade one cell; raises what the sampler or the verifier raises."""
    from rlbound.sampling import run_sampling
    from rlbound.sampling.loop import sample
    from rlbound.verify.runner import verify_run

    t0 = time.perf_counter()
    if cell.config.adaptive:
        store, written = run_sampling(cell.config, progress=progress), None
    else:
        store, summary = sample(cell.config, progress=progress, backend=backend)
        written = summary.written
    t1 = time.perf_counter()
    verify_run(store, verifier=cell.bench.verifier or None, workers=_workers(cell, dataset, spec), progress=progress)
    ids, n, c = store.counts()
    cell.status, cell.error = "done", None
    ppl = cell.record.get("perplexity") if written == 0 else None  # new samples: score them again
    save(cell, perplexity=ppl, samples=int(n.sum()), correct=int(c.sum()), problems=len(ids),
         seconds={"sample": round(t1 - t0, 2), "verify": round(time.perf_counter() - t1, 2)})


def _fail(cell: Cell, e: BaseException, stage: str) -> None:
    cell.status, cell.error = "failed", f"{stage}: {error_text(e)}"
    save(cell)


def _options(m: ModelSpec) -> Any:
    """The backend options of model ``m`` (the ``SampleConfig`` fields its ``options`` set)."""
    from rlbound.sampling.config import SampleConfig, backend_options

    return backend_options(SampleConfig(model=m.path, benchmark="-", out="-", backend=m.sample_backend, **m.options))


def _sample_model(cells: list[Cell], datasets: dict[str, Any], spec: GridSpec, prog: GridProgress,
                  progress: bool) -> None:
    """Every pending cell of one model: adaptive ones first (each opens the model itself), then
    the others on one backend opened here; a backend that does not open fails those cells."""
    from rlbound.backends.protocol import get_backend

    order = sorted(cells, key=lambda c: not c.config.adaptive)
    backend = None
    try:
        for cell in order:
            ds = datasets[cell.bench.name]
            prog.start(cell, _remaining(cell, len(ds)))
            try:
                if backend is None and not cell.config.adaptive:
                    try:
                        backend = _Metered(get_backend(cell.model.sample_backend, cell.model.path,
                                                       _options(cell.model)), prog.add)
                    except Exception as e:  # noqa: BLE001 - a model that does not load fails its cells only
                        for rest in order[order.index(cell):]:
                            _fail(rest, e, "loading the model")
                        prog.end(cell)
                        return
                _run_cell(cell, backend, ds, spec, progress)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - a failed cell is recorded; the grid goes on
                _fail(cell, e, "sampling")
            prog.end(cell)
    finally:
        if backend is not None:
            backend.close()


# ---- perplexity -----------------------------------------------------------------------------------


def _perplexity(cells: list[Cell], spec: GridSpec, progress: bool, log: Log) -> list[str]:
    """Score the responses each ``[[perplexity]]`` entry names under its model, each scorer loaded
    once; returns a line per failure (the cells stay done: their counts are whole)."""
    from rlbound.backends.protocol import get_backend
    from rlbound.scoring.perplexity import SIDE_FILE, score_run

    todo: dict[str, list[tuple[Cell, dict[str, Any]]]] = {}
    for cell in cells:
        under = spec.scorer_of(cell.model.name, cell.bench.name)
        if cell.status != "done" or under is None:
            continue
        scorer = spec.model(under)
        want = {"under": under, "model": model_id(scorer.path), "backend": scorer.sample_backend}
        if cell.record.get("perplexity") != want or not (cell.run_dir / SIDE_FILE).exists():
            todo.setdefault(under, []).append((cell, want))
    failed = []
    for under, items in todo.items():
        scorer = spec.model(under)
        try:
            backend = get_backend(scorer.sample_backend, scorer.path, _options(scorer))
        except Exception as e:  # noqa: BLE001 - a scorer that does not load fails its scoring only
            failed += [f"perplexity of {c.label} under {under}: {error_text(e)}" for c, _ in items]
            continue
        try:
            for cell, want in items:
                log(f"perplexity of {cell.label}'s responses under {under}")
                try:
                    score_run(cell.run_dir, scorer.path, scorer_label=want["model"], progress=progress, scorer=backend)
                    save(cell, perplexity=want, perplexity_error=None)
                except Exception as e:  # noqa: BLE001
                    save(cell, perplexity=None, perplexity_error=error_text(e))
                    failed.append(f"perplexity of {cell.label} under {under}: {error_text(e)}")
        finally:
            backend.close()
    return failed


# ---- findings -------------------------------------------------------------------------------------


def boundary_row(benchmark: str, base: str, other: str, counts_base: Any, counts_other: Any) -> dict[str, Any]:
    """One ``findings.json`` row: ``other`` against ``base`` on ``benchmark`` (Yue et al. 2025,
    Fig. 2 and Table 2): the boundary verdict at pass@K (widened / narrowed / inconclusive from the
    95% paired sign-flip interval of ``rlbound.metrics.verdicts``), pass@1, the crossing k*, the
    sampling-efficiency gap and the solvable coverage. Shaped like ``rlbound.study.findings.to_json``
    rows, plus ``benchmark``, ``base`` and ``other``."""
    from rlbound.metrics.compare import compare_runs

    cmp = compare_runs(*counts_base, *counts_other)
    b = cmp.boundary
    cov = {k: len(v) for k, v in cmp.coverage.to_json_dict().items()}
    cross = f"k* = {cmp.crossing_k}" if cmp.crossing_k is not None else f"no crossing for k <= {cmp.ks[-1]}"
    measured = (f"pass@{b.k} {base} {b.base:.3f}, {other} {b.other:.3f}, difference {b.diff:+.3f} "
                f"[{b.ci95[0]:+.3f}, {b.ci95[1]:+.3f}]; pass@1 {base} {cmp.pass_at_k_base[0]:.3f}, {other} "
                f"{cmp.pass_at_k_other[0]:.3f}; {cross}; efficiency gap pass@{cmp.efficiency_gap_k}({base}) - "
                f"pass@1({other}) {cmp.efficiency_gap:+.3f}; solvable only by {base} {cov['only_base']}, only by "
                f"{other} {cov['only_other']} of {len(cmp.problem_ids)}")
    numbers = {"boundary": b.to_dict(), "ks": list(cmp.ks),
               "pass_at_k": {"base": dict(zip(map(str, cmp.ks), cmp.pass_at_k_base)),
                             "other": dict(zip(map(str, cmp.ks), cmp.pass_at_k_other))},
               "crossing_k": cmp.crossing_k,
               "crossing_k_ci": None if cmp.crossing.low is None else [cmp.crossing.low, cmp.crossing.high],
               "efficiency_gap": cmp.efficiency_gap, "efficiency_gap_k": cmp.efficiency_gap_k, "coverage": cov,
               "coverage_chance": {"only_base": cmp.coverage_chance[0], "only_other": cmp.coverage_chance[1]},
               "problems": len(cmp.problem_ids), "dropped": {"base": cmp.n_dropped_base, "other": cmp.n_dropped_other}}
    return {"key": "boundary", "benchmark": benchmark, "base": base, "other": other,
            "claim": f"{other} vs {base} on {benchmark}: reasoning boundary at pass@{b.k}", "measured": measured,
            "verdict": b.verdict, "ci95": [float(b.ci95[0]), float(b.ci95[1])],
            "tested": f"pass@{b.k}({other}) - pass@{b.k}({base}) over {b.problems} shared problems",
            "numbers": numbers}


def missing_row(benchmark: str, base: str, other: str, error: str) -> dict[str, Any]:
    """The row of a comparison whose cells did not finish: inconclusive, with the error."""
    return {"key": "boundary", "benchmark": benchmark, "base": base, "other": other,
            "claim": f"{other} vs {base} on {benchmark}: reasoning boundary", "measured": f"not measured: {error}",
            "verdict": "inconclusive", "ci95": None, "tested": "", "numbers": {}, "error": error}


def judge(spec: GridSpec, cells: list[Cell]) -> list[dict[str, Any]]:
    """A ``findings.json`` row per comparison x benchmark, in config order."""
    from rlbound.data.store import RunStore

    by = {(c.model.name, c.bench.name): c for c in cells}
    counts: dict[tuple[str, str], Any] = {}
    rows = []
    for comp, b in spec.pairs():
        pair = [by[(comp.base, b.name)], by[(comp.other, b.name)]]
        bad = [f"cell {c.label} failed ({c.error})" for c in pair if c.status != "done"]
        try:
            if bad:
                raise InputError("; ".join(bad))
            for c in pair:
                if (c.model.name, b.name) not in counts:
                    counts[(c.model.name, b.name)] = RunStore.open(c.run_dir).counts()
            rows.append(boundary_row(b.name, comp.base, comp.other, counts[(comp.base, b.name)],
                                     counts[(comp.other, b.name)]))
        except (InputError, ValueError) as e:
            rows.append(missing_row(b.name, comp.base, comp.other, error_text(e)))
    return rows


# ---- the grid -------------------------------------------------------------------------------------


def _cell_entry(c: Cell) -> dict[str, Any]:
    return {"model": c.model.name, "benchmark": c.bench.name, "role": c.model.role, "status": c.status,
            "error": c.error, "run_dir": str(c.run_dir)}


def report_groups(spec: GridSpec, done: Iterable[tuple[str, str]]) -> list[tuple[str, str, list[str]]]:
    """(benchmark, base, labels) of each single-run report: per benchmark one report per base of its
    comparisons, with the models compared against that base; finished models in no comparison join
    the benchmark's first report (a benchmark without comparisons: its first base-role model's)."""
    done = set(done)
    groups: list[tuple[str, str, list[str]]] = []
    for b in spec.benchmarks:
        mine: dict[str, list[str]] = {}
        for comp, bench in spec.pairs():
            if bench.name == b.name and (comp.base, b.name) in done and (comp.other, b.name) in done:
                mine.setdefault(comp.base, [comp.base])
                if comp.other not in mine[comp.base]:
                    mine[comp.base].append(comp.other)
        present = [m.name for m in spec.models if (m.name, b.name) in done]
        loose = [m for m in present if not any(m in labels for labels in mine.values())]
        if not mine and present:
            first = next((m.name for m in spec.models if m.role == "base" and m.name in present), present[0])
            mine[first] = [first]
            loose.remove(first)
        if mine:
            mine[next(iter(mine))] += loose
        groups += [(b.name, base, labels) for base, labels in mine.items()]
    return groups


def _reports_key(cells: list[Cell], rows: list[dict[str, Any]], scorers: dict[Any, Any]) -> str:
    """A hash of everything the reports show: rebuilt only when it changes."""
    import hashlib

    state = [[c.model.name, c.bench.name, c.status, c.error] + [c.record.get(k) for k in
                                                              ("settings", "n", "samples", "perplexity")]
             for c in cells]
    text = json.dumps({"cells": state, "rows": rows, "scorers": sorted(map(list, scorers.items()))}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _reports(spec: GridSpec, cells: list[Cell], rows: list[dict[str, Any]], out: Path, progress: bool,
             log: Log) -> tuple[Path | None, dict[str, str], list[str], str]:
    """The per-benchmark reports and the index page (kept when nothing they show changed); each
    failure is a line, never the grid's end."""
    from rlbound.report.build import build_report
    from rlbound.report.grid import GridInputs, build_index

    done = {(c.model.name, c.bench.name): c.run_dir for c in cells if c.status == "done"}
    scorers = {}
    for c in cells:
        under = spec.scorer_of(c.model.name, c.bench.name)
        if under is not None and (c.record.get("perplexity") or {}).get("under") == under:
            scorers[(c.model.name, c.bench.name)] = (under, c.record["perplexity"]["model"])
    key = _reports_key(cells, rows, scorers)
    old = read_record(out / SUMMARY) or {}
    pages_then = old.get("reports") if isinstance(old.get("reports"), dict) else {}
    if old.get("reports_key") == key and old.get("index") and Path(old["index"]).is_file() \
            and all(Path(p).is_file() for p in pages_then.values()):
        log("reports: nothing they show changed; the pages are kept")
        return Path(old["index"]), dict(pages_then), list(old.get("report_failures") or []), key
    failed, pages = [], {}
    for bench, base, labels in report_groups(spec, done):
        try:
            found = [r for r in rows if r["benchmark"] == bench and r["base"] == base and r["other"] in labels]
            rep = build_report([done[(lab, bench)] for lab in labels], labels=labels, base=base,
                               out_dir=out / REPORTS / bench / base, progress=progress, findings=found or None)
            pages[f"{bench}/{base}"] = str(rep.html_path)
        except Exception as e:  # noqa: BLE001 - one report that fails leaves the others
            failed.append(f"report of {bench} (base {base}): {error_text(e)}")
    inputs = GridInputs(title=Path(spec.source).name if spec.source else "grid",
                        benchmarks=tuple(b.name for b in spec.benchmarks),
                        models=tuple((m.name, m.role) for m in spec.models), runs=done, findings=rows,
                        cells=[_cell_entry(c) for c in cells], reports=pages, scorers=scorers)
    try:
        index = build_index(inputs, out)
    except Exception as e:  # noqa: BLE001
        failed.append(f"grid index page: {error_text(e)}")
        index = None
    log(f"reports: {len(pages)} benchmark report(s)" + (f", index {index}" if index else ""))
    return index, pages, failed, key


def run_grid(spec: GridSpec, out_dir: str | Path, *, progress: bool = True, log: Log | None = None,
             progress_every: float = 10.0) -> GridResult:
    """Run (or resume) the grid ``spec`` into ``out_dir`` (module docstring); returns a ``GridResult``.

    Raises InputError only for a config the sampler refuses before anything runs (a bad template,
    a pilot above n); everything that fails later is recorded per cell and in ``GridResult.failed``.
    """
    log = log or no_log
    t0 = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", path=str(out), field="out")
    make_cells(spec, out, {b.name: BenchState(b, b.file or b.name) for b in spec.benchmarks})  # settings refused?
    out.mkdir(parents=True, exist_ok=True)
    benches = load_benchmarks(spec, out)
    for name, state in benches.items():
        if state.error:
            log(f"benchmark {name} cannot be read: {state.error} (its cells fail; the others go on)")
    cells = make_cells(spec, out, benches)
    for cell in cells:
        triage(cell, benches[cell.bench.name], out, log)
    datasets = {name: s.dataset for name, s in benches.items() if s.dataset is not None}
    pending = [c for c in cells if c.status == "pending"]
    reused = [c.label for c in cells if c.status == "done"]
    if reused:
        log(f"{len(reused)} finished cell(s) reused: {', '.join(reused)}")
    left = sum(_remaining(c, len(datasets[c.bench.name])) for c in pending)
    prog = GridProgress(len(cells), len(reused), len(cells) - len(pending), left, log, progress_every)
    for m in spec.models:
        mine = [c for c in pending if c.model.name == m.name]
        if mine:
            _sample_model(mine, datasets, spec, prog, progress)
    failed = [f"{c.label}: {c.error}" for c in cells if c.status == "failed"]
    failed += _perplexity(cells, spec, progress, log)
    rows = judge(spec, cells)
    index, pages, report_failures, key = _reports(spec, cells, rows, out, progress, log)
    failed += report_failures
    result = GridResult(cells, rows, failed, index, pages, round(time.perf_counter() - t0, 1))
    _write_outputs(spec, result, out, key, report_failures)
    return result


def _write_outputs(spec: GridSpec, result: GridResult, out: Path, reports_key: str,
                   report_failures: list[str]) -> None:
    """``findings.json`` (the rows and every cell's status: the same for a resumed grid) and
    ``grid.json`` (that plus per-cell timings, the reports and the failures)."""
    cells = [_cell_entry(c) for c in result.cells]
    findings = {"config": spec.source, "findings": result.findings,
                "cells": [{k: v for k, v in c.items() if k != "run_dir"} for c in cells]}
    atomic_write_text(out / FINDINGS, json.dumps(findings, indent=1, default=_plain))
    timings = {f"{c.bench.name}/{c.model.name}": (read_record(c.record_path) or {}).get("seconds") for c in result.cells}
    summary = {**findings, "cells": cells, "failed": result.failed, "index": str(result.index or ""),
               "reports": result.reports, "reports_key": reports_key, "report_failures": report_failures,
               "seconds": result.seconds, "cell_seconds": timings}
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=1, default=_plain))


def _plain(o: Any) -> Any:
    return o.item() if hasattr(o, "item") else str(o)
