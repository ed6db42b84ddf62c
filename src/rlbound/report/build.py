"""``rlbound report``: read run directories, run every analysis of Yue et al. 2025
(arXiv 2504.13837), write ``report.html`` (self-contained), ``figures/*.png|svg`` and ``metrics.json``.

This module only assembles: ``inputs`` reads the runs and their side files through
``rlbound.data``; each module of ``analyses`` turns counts and metric outputs into the numbers,
figure records, tables and notes of one section (a ``SectionResult``); ``plots`` draws the figures,
``page`` lays out the sections and ``html`` renders them. A run that lacks what an analysis needs
(no perplexity file, no step-checked verdicts, a single checkpoint) gets a one-line note instead.

Training checkpoints are recognised by ``manifest.extra["train_run"]`` (shared name) and
``manifest.extra["train_step"]`` (int).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rlbound.data.atomic import atomic_write_bytes, atomic_write_text
from rlbound.errors import InputError
from rlbound.report import page, plots
from rlbound.report.analyses import (
    comparisons,
    cot,
    coverage,
    efficiency,
    entropy,
    extra,
    histograms,
    overview,
    passk,
    perplexity,
    training,
)
from rlbound.report.analyses.curves import N_BOOT, SEED
from rlbound.report.analyses.records import FigureRecord, RunData, SectionResult, Table, order_labels
from rlbound.report.html import render_page
from rlbound.report.inputs import load_run, read_answers, read_entropies, read_perplexities, resolve_labels
from rlbound.version import __version__


@dataclass(frozen=True)
class ReportResult:
    """What ``build_report`` wrote.

    Attributes:
        out_dir: the report directory.
        html_path: ``out_dir/report.html``; metrics_path: ``out_dir/metrics.json``.
        figures: every figure file written (``figures/<key>.png`` and ``.svg``).
        labels: run labels, base first; base: the base label.
        notes: the one-line notes (analyses skipped for some run, caveats).
    """

    out_dir: Path
    html_path: Path
    metrics_path: Path
    figures: tuple[Path, ...]
    labels: tuple[str, ...]
    base: str
    notes: tuple[str, ...]


@dataclass
class _Report:
    """The sections' results gathered in report order: metrics.json entries, figure records, the
    tables of each page section and the notes by note key."""

    metrics: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, FigureRecord] = field(default_factory=dict)
    tables: dict[str, list[Table]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, result: SectionResult, section: str = "") -> SectionResult:
        self.metrics.update(result.metrics)
        self.figures.update(result.figures)
        if result.tables:
            self.tables.setdefault(section, []).extend(result.tables)
        for key, text in result.notes:
            self.notes.setdefault(key, []).append(text)
        return result

    def note(self, key: str, texts: Sequence[str]) -> None:
        self.add(SectionResult(notes=tuple((key, t) for t in texts)))


def build_report(
    run_dirs: Sequence[str | os.PathLike[str]],
    labels: Sequence[str] | str | None = None,
    base: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    ks: Sequence[int] | None = None,
    extra_metrics: bool = False,
    progress: bool = True,
    findings: Sequence[Mapping[str, Any]] | None = None,
) -> ReportResult:
    """Build the report of Yue et al. 2025's analyses for ``run_dirs`` into ``out_dir``.

    Args:
        run_dirs: run directories (``RunStore``), at least one.
        labels: a label per run (list or comma-separated); default the directory names.
        base: label of the base run (default the first run); it comes first everywhere.
        out_dir: report directory (created; ``report.html``, ``metrics.json`` and ``figures/``
            inside are replaced, other files are left alone).
        ks: k values of the pass@k curves (default powers of two up to each run's smallest n,
            plus that n); 1 and K (the largest power of two every run reaches) are always added.
        extra_metrics: also compute maj@k (Monte Carlo), G-Pass@k_tau, mG-Pass@k and Cover@tau.
        progress: show tqdm bars.
        findings: verdict rows to open the report with (``rlbound.study.findings.to_json``, as
            ``rlbound study`` passes them); default: each run's boundary verdict against the base.

    Returns:
        ``ReportResult``. Raises InputError for bad input (unknown base, k above n, an unreadable
        run or side file); nothing already written is left half-written.
    """
    if out_dir is None:
        raise InputError("an output directory is required", field="out")
    if not run_dirs:
        raise InputError("no run directories given", field="runs")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", path=str(out), field="out")
    names = resolve_labels(run_dirs, labels)
    base = base if base is not None else names[0]
    if base not in names:
        raise InputError(f"base {base!r} is not one of the labels {names}", field="base")
    order = order_labels(names, base)
    by_label = dict(zip(names, run_dirs))
    runs = {lab: load_run(by_label[lab], lab) for lab in tqdm(order, desc="reading runs", unit="run", disable=not progress)}
    user_ks = passk.check_ks(ks, list(runs.values()))
    K = passk.common_k(list(runs.values()))

    rep = _Report()
    stats, curves = passk.curves(runs, K, user_ks)
    rep.add(curves)
    cmps = rep.add(comparisons.against_base(runs, base, K, user_ks, stats)).metrics["comparisons"]
    rep.add(passk.figure(stats, cmps, runs, base))
    rep.add(efficiency.table2(stats, K, base, cmps), "table2")
    rep.add(coverage.tables(cmps, base), "coverage")
    rep.add(histograms.accuracy(runs, base))
    ppl, unread = read_perplexities(runs)
    rep.note("perplexity", unread)
    rep.add(perplexity.under_base(ppl, base, runs[base].manifest.model), "perplexity")
    rep.add(training.over_steps(runs, stats, K))
    rep.add(cot.cot_passk(runs, stats, base))
    rep.add(_extra_metrics(runs, base, K, progress) if extra_metrics else SectionResult(metrics={"extra_metrics": None}))
    per_response, token_weighted, unread = read_entropies(runs)
    rep.note("entropy", unread)
    rep.add(entropy.of_responses(per_response, token_weighted, base), "entropy")
    rep.metrics["runs"] = overview.runs_entry(runs)

    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    metrics = {"rlbound_version": __version__, "created": created, "base": base, "labels": order, "K": K,
               "bootstrap": {"n_boot": N_BOOT, "seed": SEED, "level": 0.95}, **rep.metrics}
    summary = overview.summary(metrics, order, base, K)
    metrics["summary"] = summary
    verdicts = overview.findings_table(findings, metrics["comparisons"], base)
    metrics["findings"] = [dict(zip(("finding", "measured", "tested", "ci95", "verdict"), row, strict=True))
                           for row in verdicts.rows]
    metrics["notes"] = rep.notes
    colors = plots.color_map(order)
    drawn = {key: plots.draw(rec, colors)
             for key, rec in tqdm(rep.figures.items(), desc="drawing figures", unit="fig", disable=not progress)}
    metrics["figures"] = sorted(drawn)
    sections = page.sections(rep.figures, drawn, rep.notes, rep.tables, K)
    html_text = render_page(page.report_page(order, base, created, summary, overview.config_table(runs, order),
                                             sections, colors, verdicts))
    return _write_outputs(out, drawn, metrics, html_text, order, base, rep.notes)


def _extra_metrics(runs: Mapping[str, RunData], base: str, K: int, progress: bool) -> SectionResult:
    """maj@k, G-Pass@k, mG-Pass@k and Cover@tau (``analyses.extra``) with a maj@k progress bar."""
    answers = {lab: read_answers(r) for lab, r in runs.items()}
    with tqdm(total=len(runs) * len(extra.maj_ks(K)), desc="maj@k", unit="k", disable=not progress) as bar:
        return extra.variants(runs, answers, base, K, tick=bar.update)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean_json(x: Any) -> Any:
    """Plain Python values, NaN/inf replaced by None, so metrics.json is strict JSON."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    elif isinstance(x, (np.floating, np.integer, np.bool_)):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean_json(v) for v in x]
    return x


def _write_outputs(out: Path, drawn: Mapping[str, tuple[bytes, bytes]], metrics: dict[str, Any], html_text: str,
                   order: Sequence[str], base: str, notes: Mapping[str, list[str]]) -> ReportResult:
    """Write figures, then metrics.json, then report.html (each atomically); remove figures that an
    earlier report in the same directory wrote and this one does not (as listed in its metrics.json)."""
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    previous: list[str] = []
    old_metrics = out / "metrics.json"
    if old_metrics.is_file():
        try:
            previous = list(json.loads(old_metrics.read_text(encoding="utf-8")).get("figures", []))
        except (OSError, ValueError, AttributeError):
            previous = []
    paths: list[Path] = []
    for key, (png, svg) in drawn.items():
        for ext, data in (("png", png), ("svg", svg)):
            dest = figdir / f"{key}.{ext}"
            atomic_write_bytes(dest, data)
            paths.append(dest)
    text = json.dumps(_clean_json(metrics), indent=1, default=_json_default, allow_nan=False)
    atomic_write_text(out / "metrics.json", text)
    html_path = out / "report.html"
    atomic_write_text(html_path, html_text)
    for key in previous:
        if isinstance(key, str) and key not in drawn and "/" not in key and not key.startswith("."):
            for ext in ("png", "svg"):
                (figdir / f"{key}.{ext}").unlink(missing_ok=True)
    return ReportResult(out_dir=out, html_path=html_path, metrics_path=out / "metrics.json", figures=tuple(paths),
                        labels=tuple(order), base=base, notes=tuple(t for v in notes.values() for t in v))
