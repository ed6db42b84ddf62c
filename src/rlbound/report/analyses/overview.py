"""The head of the report: what each run is (the ``runs`` entry of metrics.json and the
configuration table, from the manifests) and the summary lines that state the findings of the
sections in the words of Yue et al. 2025 (arXiv 2504.13837).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from rlbound.report.analyses.records import RunData, Table


def runs_entry(runs: Mapping[str, RunData]) -> dict[str, Any]:
    """``runs`` of metrics.json: per run its directory, manifest and the range of its n."""
    return {lab: {"run_dir": str(r.path), "manifest": dataclasses.asdict(r.manifest),
                  "n_problems": len(r.ids), "n_min": int(r.n.min()), "n_max": int(r.n.max()),
                  "n_samples": int(r.n.sum()), "has_steps_correct": r.c_steps is not None}
            for lab, r in runs.items()}


def summary(m: Mapping[str, Any], order: Sequence[str], base: str, K: int) -> list[str]:
    """One line per run (pass@1, pass@K), per comparison (k*, efficiency gap, coverage), and on
    perplexity and entropy where present, read from the metrics.json entries ``m``."""
    out = []
    rows = {row["run"]: row for row in m["table2"]["rows"]}
    for lab in order:
        row = rows[lab]
        out.append(f"{lab}: pass@1 {_pct(row['pass_at_1'])}, pass@{K} {_pct(row['pass_at_K'])} "
                   f"({m['runs'][lab]['n_problems']} problems, n = {m['runs'][lab]['n_min']}"
                   + (f"..{m['runs'][lab]['n_max']}" if m['runs'][lab]['n_max'] != m['runs'][lab]['n_min'] else "")
                   + " samples each).")
    for lab, cmp in m["comparisons"].items():
        cross = (f"curves cross at k* = {cmp['crossing_k']}" if cmp["crossing_k"] is not None
                 else f"no crossing for k <= {cmp['ks'][-1]}")
        f = cmp["coverage_fraction"]
        out.append(f"{lab} vs {base}: {cross}; sampling-efficiency gap pass@{K}({base}) - pass@1({lab}) = "
                   f"{100 * cmp['gap_at_K']:.1f} points; solvable: both {_pct(f['both'])}, {base} only "
                   f"{_pct(f['only_base'])}, {lab} only {_pct(f['only_other'])}, neither {_pct(f['neither'])}.")
    if m.get("perplexity"):
        p = m["perplexity"]
        for lab, v in p["runs"].items():
            if lab != base and v["median_percentile_in_base"] is not None:
                out.append(f"Perplexity under {p['scorer']}: the median of {lab}'s responses "
                           f"({v['median']:.3g}) sits at the {v['median_percentile_in_base']:.1f}th percentile of "
                           f"{base}'s own responses.")
    if m.get("entropy"):
        ent = ", ".join(f"{lab} {v['mean_over_tokens']:.3g}" for lab, v in m["entropy"]["runs"].items())
        out.append(f"Sampled-token entropy (nats/token): {ent}.")
    return out


def findings_table(findings: Sequence[Mapping[str, Any]] | None, comparisons: Mapping[str, Mapping[str, Any]],
                   base: str) -> Table:
    """The report's first table: each finding, what was measured, the 95% interval of the quantity
    it tests and the verdict (held / contradicted / inconclusive / info).

    ``findings`` are ``rlbound.study.findings.to_json`` rows (``rlbound study`` passes them); without
    them every comparison against the base gets its boundary verdict at pass@K (widened / narrowed /
    inconclusive, ``rlbound.metrics.verdicts``, Yue et al. 2025's reading of large-k pass@k) and its
    one-sided coverage against the count expected by chance."""
    rows: list[tuple[Any, ...]] = []
    if findings is not None:
        for f in findings:
            ci = tuple(f["ci95"]) if f.get("ci95") is not None else None
            rows.append((f["claim"], f["measured"], f.get("tested") or "\u2013", ci, f["verdict"]))
    else:
        for lab, cmp in comparisons.items():
            b = cmp["boundary"]
            rows.append((f"{lab} vs {base}: boundary at pass@{b['k']}",
                         f"pass@{b['k']} {base} {b['base']:.3f}, {lab} {b['other']:.3f}; {b['test']}",
                         f"pass@{b['k']}({lab}) - pass@{b['k']}({base})", tuple(b["ci95"]), b["verdict"]))
            ch, cov = cmp["coverage_chance"], cmp["coverage"]
            rows.append((f"{lab} vs {base}: solvable only by one run",
                         f"{base} only {len(cov['only_base'])} (about {ch['only_base']:.1f} expected by chance), "
                         f"{lab} only {len(cov['only_other'])} (about {ch['only_other']:.1f} expected by chance)",
                         "\u2013", None, "info"))
    return Table(key="findings", caption="Findings: each verdict is read off the 95% interval of the tested quantity "
                 "(held / contradicted when it excludes 0 on the predicted / other side; inconclusive when it holds 0)",
                 headers=("finding", "measured", "tested quantity", "95% interval", "verdict"), rows=tuple(rows))


def config_table(runs: Mapping[str, RunData], order: Sequence[str]) -> Table:
    """The configuration of every run from its manifest (model, backend, sampling, template, dataset,
    n, training step), with each run's prompt template text folded in ``details``."""
    rows, details = [], []
    for lab in order:
        r = runs[lab]
        mf = r.manifest
        sampling = ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(mf.sampling.items()))
        tmpl = mf.prompt_template or {}
        tname = str(tmpl.get("name", "")) or ("(custom)" if tmpl else "\u2013")
        extra = mf.extra or {}
        train = (f"{extra.get('train_run')} step {extra.get('train_step')}"
                 if extra.get("train_step") is not None else "\u2013")
        n_txt = str(int(r.n.min())) if r.n.min() == r.n.max() else f"{int(r.n.min())}..{int(r.n.max())}"
        n_txt += " (adaptive)" if r.adaptive is not None else ""
        rows.append((lab, mf.model, mf.backend, sampling or "\u2013", tname, mf.dataset_name or "\u2013",
                     mf.dataset_hash or "\u2013", len(r.ids), n_txt, mf.rlbound_version or "\u2013",
                     mf.created or "\u2013", train, str(r.path)))
        text = tmpl.get("text") or tmpl.get("template")
        if text:
            details.append((f"prompt template of {lab} ({tname})", (str(text),)))
    return Table(key="config", caption="Configuration of every run (from its manifest.json)",
                 headers=("run", "model", "backend", "sampling", "template", "dataset", "dataset sha256", "problems",
                          "n", "rlbound", "created", "training", "directory"),
                 rows=tuple(rows), details=tuple(details))


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100.0 * x:.1f}%"
