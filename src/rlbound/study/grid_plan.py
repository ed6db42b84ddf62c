"""``rlbound study --config ... --dry-run``: what a grid will sample, at what cost, before any model loads.

Per cell: problems, samples (those already in its run are counted off), expected completion tokens,
generation time from the cost model of ``rlbound.metrics.planning.sampling_cost`` (tokens over
throughput, the same model ``rlbound plan`` prices a plan with), and the disk its run will take.
Tokens per sample are the benchmark's ``mean_tokens``, else the mean measured in this grid's
finished cells of that benchmark, else ``max_tokens`` (an upper bound, flagged ``<=``); throughput
is the model's ``throughput``, else that measured in its cells so far, else unknown. Nothing is
written and no model is loaded: the plan of the paper's grid (18 cells) takes well under a second
past reading the benchmark files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlbound.errors import InputError
from rlbound.metrics.planning import sampling_cost
from rlbound.study.grid_cells import BenchState, error_text, make_cells, read_record, sandbox_problems, settings_of
from rlbound.study.grid_config import GridSpec

# Disk per stored sample: ids, seed, finish reason, token counts and the verdict row (~120 bytes),
# plus the response text at BYTES_PER_TOKEN (UTF-8 bytes of one token of English or LaTeX; zstd
# Parquet stores less, so this is an upper estimate) and, with log-probabilities, 4 bytes per token.
BYTES_PER_SAMPLE = 120
BYTES_PER_TOKEN = 4.0
LOGPROB_BYTES_PER_TOKEN = 4.0


@dataclass(frozen=True)
class CellPlan:
    """The plan of one cell.

    Attributes:
        model, benchmark: the cell; backend: its sampling backend.
        problems: problems (None: the benchmark cannot be read; ``error`` says why).
        samples: samples the cell holds when done (the most, for an adaptive cell); stored: already
            in its run; to_draw: the rest.
        tokens_per_sample: expected completion tokens per sample; tokens_bound: it is max_tokens.
        tokens, seconds: for the samples still to draw (seconds None: throughput unknown).
        disk_bytes: the finished run's size.
    """

    model: str
    benchmark: str
    backend: str
    problems: int | None
    samples: int
    stored: int
    to_draw: int
    tokens_per_sample: float
    tokens_bound: bool
    tokens: float
    seconds: float | None
    disk_bytes: float
    error: str | None = None


def _measured(summary_path: Path) -> tuple[int, int, float]:
    """(samples written, completion tokens, seconds) summed over a run's ``sampling_summary.json``."""
    try:
        rows = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0, 0, 0.0
    rows = rows if isinstance(rows, list) else []
    return (sum(int(r.get("written", 0)) for r in rows), sum(int(r.get("completion_tokens", 0)) for r in rows),
            sum(float(r.get("seconds", 0.0)) for r in rows))


def _benchmarks(spec: GridSpec) -> dict[str, BenchState]:
    """Each benchmark's problems (sandbox ones generated in memory, nothing written)."""
    from rlbound.data.benchmarks import Dataset, content_hash, load_benchmark

    out = {}
    for b in spec.benchmarks:
        state = BenchState(b, b.file or f"<sandbox {b.name}>")
        try:
            if b.sandbox is not None:
                probs = tuple(sandbox_problems(b)[:b.limit or None])
                state.dataset = Dataset(b.name, probs, content_hash(probs))
            else:
                state.dataset = load_benchmark(b.file, limit=b.limit, field_map=dict(x.split("=", 1) for x in
                                                                                     b.field_map) or None,
                                               data_dir=spec.data_dir)
        except (InputError, OSError, ValueError) as e:
            state.error = error_text(e)
        out[b.name] = state
    return out


def plan_grid(spec: GridSpec, out_dir: str | Path) -> list[CellPlan]:
    """The plan of every cell of ``spec`` run into ``out_dir`` (module docstring)."""
    from rlbound.data.store import RunStore

    out = Path(out_dir)
    benches = _benchmarks(spec)
    cells = make_cells(spec, out, benches)
    measured = {c.run_dir: _measured(c.run_dir / "sampling_summary.json") for c in cells}
    plans = []
    for cell in cells:
        b, m, state = cell.bench, cell.model, benches[cell.bench.name]
        P = len(state.dataset) if state.dataset is not None else 0
        stored = 0
        rec = read_record(cell.record_path)
        if state.dataset is not None and RunStore.is_run_dir(cell.run_dir) and rec is not None \
                and rec.get("settings") == settings_of(cell, state.dataset.content_hash):
            stored = P * b.n - len(RunStore.open(cell.run_dir).missing_cells(b.n)) if not b.adaptive else 0
        bench_runs = [measured[c.run_dir] for c in cells if c.bench.name == b.name]
        model_runs = [measured[c.run_dir] for c in cells if c.model.name == m.name]
        tps, bound = _tokens_per_sample(b, bench_runs)
        throughput = m.throughput or _rate(model_runs)
        cost = sampling_cost(b.n, P, [tps], [throughput], pilot_samples=stored)
        left = cost.more_samples
        per_sample = BYTES_PER_SAMPLE + tps * (BYTES_PER_TOKEN + (LOGPROB_BYTES_PER_TOKEN if b.logprobs else 0.0))
        plans.append(CellPlan(
            model=m.name, benchmark=b.name, backend=m.backend, problems=P if state.dataset is not None else None,
            samples=cost.samples, stored=stored, to_draw=left, tokens_per_sample=tps, tokens_bound=bound,
            tokens=left * tps, seconds=None if throughput is None else left * tps / throughput,
            disk_bytes=cost.samples * per_sample, error=state.error))
    return plans


def _tokens_per_sample(b: Any, runs: list[tuple[int, int, float]]) -> tuple[float, bool]:
    if b.mean_tokens is not None:
        return float(b.mean_tokens), False
    written, tokens = sum(r[0] for r in runs), sum(r[1] for r in runs)
    if written:
        return tokens / written, False
    return float(b.max_tokens), True


def _rate(runs: list[tuple[int, int, float]]) -> float | None:
    tokens, seconds = sum(r[1] for r in runs), sum(r[2] for r in runs)
    return tokens / seconds if seconds > 0 and tokens > 0 else None


# ---- the printed plan ------------------------------------------------------------------------------


def _count(x: float) -> str:
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.0f}"


def _bytes(x: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= size:
            return f"{x / size:.3g} {unit}"
    return f"{x:.0f} B"


def _time(s: float | None) -> str:
    if s is None:
        return "unknown"
    if s >= 86400:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def plan_lines(spec: GridSpec, plans: list[CellPlan], out_dir: str | Path) -> list[str]:
    """The plan as text lines (``rlbound study --dry-run`` prints them)."""
    pairs = spec.pairs()
    lines = [f"grid plan: {spec.source or 'config'} -> {out_dir} (dry run: nothing is loaded or written)",
             f"{len(spec.models)} models x {len(spec.benchmarks)} benchmarks: {len(plans)} cells; "
             f"{len(pairs)} comparison x benchmark findings", ""]
    lines.append(f"{'cell':<34} {'backend':<8} {'problems':>8} {'n':>6} {'samples':>9} {'to draw':>9} "
                 f"{'tok/sample':>11} {'tokens':>9} {'time':>9} {'disk':>9}")
    for p in plans:
        if p.error:
            lines.append(f"{p.model + ' x ' + p.benchmark:<34} {p.backend:<8} benchmark cannot be read: {p.error}")
            continue
        n = spec.benchmark(p.benchmark).n
        bound = "<=" if p.tokens_bound else ""
        lines.append(f"{p.model + ' x ' + p.benchmark:<34} {p.backend:<8} {p.problems:>8} {n:>6} "
                     f"{_count(p.samples):>9} {_count(p.to_draw):>9} {bound + f'{p.tokens_per_sample:,.0f}':>11} "
                     f"{bound + _count(p.tokens):>9} {bound + _time(p.seconds) if p.seconds is not None else 'unknown':>9} "
                     f"{bound + _bytes(p.disk_bytes):>9}")
    lines += _totals(spec, plans)
    return lines


def _totals(spec: GridSpec, plans: list[CellPlan]) -> list[str]:
    ok = [p for p in plans if not p.error]
    bound = any(p.tokens_bound for p in ok)
    le = "at most " if bound else ""
    secs = [p.seconds for p in ok]
    time_text = (f"{le}{_time(sum(s for s in secs if s is not None))}" if all(s is not None for s in secs)
                 else "unknown for " + ", ".join(sorted({p.model for p in ok if p.seconds is None}))
                 + " (give each model `throughput` = tokens/s)")
    lines = ["", f"total: {_count(sum(p.samples for p in ok))} samples, {_count(sum(p.to_draw for p in ok))} to draw "
             f"({_count(sum(p.stored for p in ok))} already stored), {le}{_count(sum(p.tokens for p in ok))} "
             f"completion tokens, time {time_text}, disk {le}{_bytes(sum(p.disk_bytes for p in ok))}"]
    if bound:
        lines.append("'<=': tokens per sample unknown, max_tokens used (set mean_tokens per benchmark, or rerun "
                     "--dry-run once some cells are done: their measured tokens per sample are used)")
    for m in spec.models:
        template = m.template if m.template in ("raw", "boxed", "boxed-plain", "chat") else "custom"
        lines.append(f"model {m.name}: {m.backend} {m.path} (role {m.role}, template {template}"
                     + (f", {m.throughput:,.0f} tokens/s assumed" if m.throughput else "") + ")")
    for p in spec.perplexity:
        lines.append(f"perplexity: responses of {', '.join(p.responses)} scored under {p.under}"
                     + (f" on {', '.join(p.benchmarks)}" if p.benchmarks else ""))
    for b in spec.benchmarks:
        if b.adaptive is not None:
            lines.append(f"adaptive: {b.name} in rounds (pilot {b.adaptive.pilot}, k {list(b.adaptive.k)}, "
                         f"target +-{b.adaptive.ci}); its samples and cost are the most it can take (n = {b.n})")
    lines.append(f"time: sampling only, from the cost model tokens / throughput (rlbound.metrics.planning); disk: "
                 f"{BYTES_PER_SAMPLE} B per sample + {BYTES_PER_TOKEN:g} B per token of text, an upper estimate")
    return lines

