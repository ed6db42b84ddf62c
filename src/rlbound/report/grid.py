"""The index page of a models x benchmarks grid (``rlbound study --config``): Yue et al. 2025
(arXiv 2504.13837) across benchmarks on one page, each benchmark's own report one link away.

The page opens with the findings table (the boundary verdict of every comparison on every
benchmark, with its 95% interval), then the pass@k curves of every model, one panel per benchmark
(the paper's Fig. 2), pass@1, pass@K and the sampling-efficiency gap per model and benchmark with
95% bootstrap intervals over problems (the paper's Table 2 form), solvable coverage per comparison
and benchmark, perplexity where the grid scored responses, and the status of every cell. A cell
that failed leaves its row in the cell table and its comparisons inconclusive; the rest of the
page is unchanged. Inputs are plain values (run folders, findings rows), so the page does not
depend on how the grid ran.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlbound.data.atomic import atomic_write_bytes, atomic_write_text
from rlbound.metrics.passk import default_ks, pass_at_k_matrix
from rlbound.metrics.stats import bootstrap_ci
from rlbound.report import plots
from rlbound.report.analyses.curves import N_BOOT, SEED, CurveStats, passk_curve
from rlbound.report.analyses.distributions import percentile_in
from rlbound.report.analyses.passk import common_k, curve_k
from rlbound.report.analyses.records import Curve, CurveFigure, Panel, RunData, Table
from rlbound.report.html import FigureBlock, NoteBlock, Page, Section, TableBlock, render_page
from rlbound.report.inputs import load_run, read_perplexity
from rlbound.version import __version__

INDEX = "index.html"
PANELS_PER_ROW = 3


@dataclass(frozen=True)
class GridInputs:
    """What the index page shows.

    Attributes:
        title: the grid's name (its config file).
        benchmarks: benchmark names in config order; models: (name, role) in config order.
        runs: (model, benchmark) -> run folder of every finished cell.
        findings: ``findings.json`` rows (``benchmark``, ``base``, ``other``, ``verdict``, ``ci95``, ...).
        cells: one dict per cell (model, benchmark, role, status, error, run_dir).
        reports: "benchmark/base" -> the single-run report page of that group.
        scorers: (model, benchmark) -> (scorer model, scorer label in its perplexity file), where configured.
    """

    title: str
    benchmarks: tuple[str, ...]
    models: tuple[tuple[str, str], ...]
    runs: Mapping[tuple[str, str], Path]
    findings: Sequence[Mapping[str, Any]]
    cells: Sequence[Mapping[str, Any]]
    reports: Mapping[str, str]
    scorers: Mapping[tuple[str, str], tuple[str, str]]


def _runs_of(g: GridInputs, bench: str) -> dict[str, RunData]:
    return {m: load_run(g.runs[(m, bench)], m) for m, _ in g.models if (m, bench) in g.runs}


def _curves(runs: Mapping[str, RunData]) -> tuple[int, dict[str, CurveStats]]:
    """K (the largest power of two every run's n reaches) and each run's pass@k curve with 95% bands."""
    K = common_k(list(runs.values()))
    return K, {lab: passk_curve(r, r.c, sorted(set(default_ks(curve_k(r))) | {1, K})) for lab, r in runs.items()}


def _gap(base: RunData, other: RunData, K: int) -> tuple[float, tuple[float, float]] | None:
    """Sampling-efficiency gap pass@K(base) - pass@1(other) over the shared problems (Yue et al. 2025,
    Table 2), with its 95% percentile-bootstrap interval over problems; None where K > some n."""
    pos = {p: i for i, p in enumerate(other.ids)}
    shared = [(i, pos[p]) for i, p in enumerate(base.ids) if p in pos]
    if not shared:
        return None
    ib, io = (np.asarray(x, dtype=np.int64) for x in zip(*shared, strict=True))
    try:
        pk = pass_at_k_matrix(base.n[ib], base.c[ib], [K])[:, 0]
    except ValueError:
        return None
    per = pk - other.c[io] / other.n[io]
    mean, low, high = bootstrap_ci(per[:, None], n_boot=N_BOOT, seed=SEED)
    return float(mean[0]), (float(low[0]), float(high[0]))


def _figures(g: GridInputs, curves: Mapping[str, tuple[int, dict[str, CurveStats]]],
             colors: Mapping[str, str]) -> list[tuple[str, bytes, bytes, str]]:
    """The pass@k panels, ``PANELS_PER_ROW`` benchmarks per figure: (key, PNG, SVG, title)."""
    panels = [Panel(title=f"{bench} (K = {K})", xlabel="k (log2 scale)", ylabel="pass@k",
                    curves=tuple(Curve(label=lab, x=s.ks, y=s.mean, low=s.low, high=s.high) for lab, s in st.items()),
                    log2_x=True, clamp01=True)
              for bench, (K, st) in curves.items()]
    out = []
    for i in range(0, len(panels), PANELS_PER_ROW):
        key = f"grid_passk_{i // PANELS_PER_ROW + 1}"
        rec = CurveFigure(key=key, title="pass@k per benchmark (95% bootstrap bands over problems)",
                          panels=tuple(panels[i:i + PANELS_PER_ROW]))
        png, svg = plots.draw(rec, dict(colors))
        out.append((key, png, svg, rec.title))
    return out


def _table2(g: GridInputs, runs: Mapping[str, Mapping[str, RunData]],
            curves: Mapping[str, tuple[int, dict[str, CurveStats]]]) -> Table:
    """pass@1, pass@K and the efficiency gap per model per benchmark, in the form of Table 2."""
    rows = []
    for bench, (K, st) in curves.items():
        bases = {}
        for f in g.findings:
            if f["benchmark"] == bench:
                bases.setdefault(f["other"], f["base"])
        for lab, s in st.items():
            base = bases.get(lab)
            gap = _gap(runs[bench][base], runs[bench][lab], K) if base in runs[bench] else None
            rows.append((bench, lab, s.at(1), s.band_at(1), s.at(K), s.band_at(K), K,
                         base, None if gap is None else gap[0], None if gap is None else gap[1]))
    return Table(key="grid_table2", caption="pass@1 and pass@K per model and benchmark in % (95% bootstrap CIs over "
                 "problems; K = the largest power of two every run of the benchmark reaches); sampling-efficiency "
                 "gap = pass@K(base) - pass@1(model) over the problems both share, in percentage points",
                 headers=("benchmark", "model", "pass@1 (%)", "95% CI", "pass@K (%)", "95% CI", "K", "gap vs",
                          "gap (points)", "95% CI"),
                 rows=tuple(rows), percent_columns=(2, 3, 4, 5, 8, 9))


def _findings(g: GridInputs) -> Table:
    rows = tuple((f["benchmark"], f"{f['other']} vs {f['base']}", f["measured"], f.get("tested") or "\u2013",
                  tuple(f["ci95"]) if f.get("ci95") is not None else None, f["verdict"]) for f in g.findings)
    return Table(key="grid_findings", caption="Boundary verdict per comparison and benchmark: widened / narrowed / "
                 "inconclusive from the 95% paired sign-flip interval of pass@K(other) - pass@K(base) over problems",
                 headers=("benchmark", "comparison", "measured", "tested", "95% CI", "verdict"), rows=rows)


def _coverage(g: GridInputs) -> Table:
    rows = []
    for f in g.findings:
        cov, ch = f["numbers"].get("coverage"), f["numbers"].get("coverage_chance")
        if cov:
            rows.append((f["benchmark"], f"{f['other']} vs {f['base']}", cov["both"], cov["only_base"],
                         cov["only_other"], cov["neither"], ch["only_base"], ch["only_other"]))
    return Table(key="grid_coverage", caption="Problems solved at least once (c >= 1 of n) by both runs, by one only "
                 "or by neither, and the one-sided counts expected by chance if one model made both runs",
                 headers=("benchmark", "comparison", "both", "base only", "other only", "neither",
                          "base only by chance", "other only by chance"), rows=tuple(rows))


def _perplexity(g: GridInputs) -> Table | None:
    """Median perplexity of each scored cell's responses, and its percentile among the scorer model's
    own responses on that benchmark when those are scored under it too (Yue et al. 2025, Sec. 4.1:
    RL responses sit in the low-perplexity part of the base model's own distribution)."""
    values: dict[tuple[str, str], np.ndarray] = {}
    for key, (_, label) in g.scorers.items():
        if key in g.runs:
            vals = (read_perplexity(g.runs[key]) or {}).get(label)
            if vals is not None and vals.size:
                values[key] = vals
    if not values:
        return None
    rows = []
    for (m, b), vals in values.items():
        med = float(np.median(vals))
        scorer, label = g.scorers[(m, b)]
        own = values.get((scorer, b)) if g.scorers.get((scorer, b)) == (scorer, label) else None
        rows.append((b, m, scorer, int(vals.size), med, None if own is None else percentile_in(own, med)))
    return Table(key="grid_perplexity", caption="Per-response perplexity under the scorer: median, and its percentile "
                 "within the scorer model's own responses on the same benchmark (scored under itself)",
                 headers=("benchmark", "responses of", "scored under", "responses", "median perplexity",
                          "percentile in scorer's own"), rows=tuple(rows))


def _cells(g: GridInputs, out: Path) -> Table:
    def rel(p: str | None) -> str:
        if not p:
            return "\u2013"
        try:
            return str(Path(p).relative_to(out))
        except ValueError:
            return str(p)

    pages = {bench: rel(page) for bench, page in g.reports.items()}
    rows = tuple((c["benchmark"], c["model"], c["role"], c["status"], c.get("error") or "\u2013",
                  rel(c.get("run_dir"))) for c in g.cells)
    rows += tuple((key.split("/")[0], f"report (base {key.split('/')[1]})", "", "report", "\u2013", page)
                  for key, page in pages.items())
    return Table(key="grid_cells", caption="Every cell of the grid (run folders and report pages relative to this page)",
                 headers=("benchmark", "model", "role", "status", "error", "folder"), rows=rows)


def _summary(g: GridInputs) -> list[str]:
    done = sum(c["status"] == "done" for c in g.cells)
    lines = [f"{done} of {len(g.cells)} cells done; {len(g.findings)} comparison(s) x benchmark judged."]
    lines += [f"FAILED {c['model']} x {c['benchmark']}: {c.get('error')}" for c in g.cells if c["status"] != "done"]
    for f in g.findings:
        lines.append(f"{f['benchmark']}: {f['other']} vs {f['base']}: {f['verdict']}"
                     + (f" (95% CI {f['ci95'][0]:+.3f} to {f['ci95'][1]:+.3f})" if f.get("ci95") else ""))
    return lines


def build_index(g: GridInputs, out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/figures/grid_passk_*.png|svg``; returns the page."""
    out = Path(out_dir)
    runs = {b: _runs_of(g, b) for b in g.benchmarks}
    curves = {b: _curves(r) for b, r in runs.items() if r}
    colors = plots.color_map([m for m, _ in g.models])
    figs = _figures(g, curves, colors)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    for key, png, svg, _ in figs:
        atomic_write_bytes(figdir / f"{key}.png", png)
        atomic_write_bytes(figdir / f"{key}.svg", svg)
    ppl = _perplexity(g)
    sections = (
        Section("passk", "1. pass@k curves per benchmark", "Unbiased pass@k (Chen et al. 2021) of every model against "
                "k, one panel per benchmark (Yue et al. 2025, Fig. 2). Each benchmark's report has the crossing "
                "points and the other analyses.",
                tuple(FigureBlock(key, svg, title, title) for key, _, svg, title in figs)
                or (NoteBlock("No cell finished: no curves."),)),
        Section("table2", "2. pass@1, pass@K and the sampling-efficiency gap", "In the form of Yue et al. 2025, "
                "Table 2, for every model on every benchmark.", (TableBlock(_table2(g, runs, curves)),)),
        Section("coverage", "3. Solvable coverage per comparison", "", (TableBlock(_coverage(g)),)),
        Section("perplexity", "4. Perplexity", "", (TableBlock(ppl),) if ppl is not None
                else (NoteBlock("No perplexity stage configured (or none finished)."),)),
    )
    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    page = Page(title=f"rlbound grid: {g.title}", subtitle=f"{len(g.models)} models x {len(g.benchmarks)} benchmarks; "
                f"analyses of Yue et al. 2025 (arXiv 2504.13837). Generated {created} by rlbound {__version__}.",
                summary=tuple(_summary(g)), config=_cells(g, out), sections=sections, colors=colors,
                findings=_findings(g), footer="Every number is in findings.json next to this page; each benchmark's "
                "report (reports/<benchmark>/<base>/report.html) has the full analyses of its runs.")
    path = out / INDEX
    atomic_write_text(path, render_page(page))
    return path
