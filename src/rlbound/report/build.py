"""``rlbound report``: read run directories, compute every analysis of Yue et al. 2025
(arXiv 2504.13837), write ``report.html`` (self-contained), ``figures/*.png|svg`` and ``metrics.json``.

The numbers come from ``rlbound.metrics`` (pass@k of Chen et al. 2021 with percentile-bootstrap
bands, ``compare_runs`` for crossing k*, efficiency gap and coverage, ``variants`` for maj@k,
G-Pass@k and Cover@tau); ``analyses`` turns them into figure records, ``plots`` draws them and
``html`` lays out the page. A run that lacks what an analysis needs (no perplexity file, no
step-checked verdicts, a single checkpoint) gets a one-line note instead.

Side files read from a run directory (all optional):

- ``perplexity.parquet``: problem_id, sample_index, scorer, n_tokens, sum_logprob, perplexity —
  the run's responses scored under some model (``rlbound perplexity``);
- ``token_logprobs.parquet``: problem_id, sample_index, logprobs (list<float>) of the sampled tokens
  (``rlbound sample --logprobs``; shards of a killed sampler not merged yet are read too, see
  ``rlbound.data.token_logprobs``).

Training checkpoints are recognised by ``manifest.extra["train_run"]`` (shared name) and
``manifest.extra["train_step"]`` (int).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from rlbound.data import token_logprobs
from rlbound.data.atomic import atomic_write_bytes, atomic_write_text
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.metrics.adaptive import adaptive_interval, small_sample_pass_at_k
from rlbound.metrics.compare import accuracy_histogram, compare_runs, efficiency_gap
from rlbound.metrics.passk import default_ks, pass_at_k_matrix
from rlbound.metrics.planning import ESTIMATORS
from rlbound.metrics.stats import bootstrap_ci
from rlbound.metrics.variants import cover_at_tau, g_pass_at_k, maj_at_k, mg_pass_at_k
from rlbound.report import analyses as A
from rlbound.report import plots
from rlbound.report.html import FigureBlock, NoteBlock, Page, Section, TableBlock, render_page
from rlbound.types import RunManifest

PERPLEXITY_FILE = "perplexity.parquet"
LOGPROBS_FILE = token_logprobs.LOGPROBS_FILE
N_BOOT = 2000
SEED = 0
MAJ_RESAMPLES = 200  # Monte Carlo subsets per problem and k for maj@k (standard error <= 0.035)
GPASS_K = 16  # G-Pass@k of Liu et al. 2024 is reported at k = 16
COVER_TAUS = tuple(float(t) for t in np.round(np.linspace(0.0, 1.0, 51), 10))


# ------------------------------------------------------------------------------------------------
# results and inputs
# ------------------------------------------------------------------------------------------------


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


@dataclass(frozen=True, eq=False)
class RunData:
    """One run as the report needs it: counts (Chen et al. 2021 n, c) and where to find the rest."""

    label: str
    path: Path
    manifest: RunManifest
    ids: tuple[str, ...]
    n: np.ndarray  # [P] samples per problem
    c: np.ndarray  # [P] correct samples per problem
    c_steps: np.ndarray | None  # [P] samples with answer AND steps correct, when verdicts carry it
    store: RunStore
    adaptive: dict[str, Any] | None = None  # manifest.extra["adaptive"] of an adaptively sampled run


def resolve_labels(run_dirs: Sequence[str | os.PathLike[str]], labels: Sequence[str] | str | None) -> list[str]:
    """Labels for the runs: the given ones (comma-separated string or list), else directory names
    (made unique with a numeric suffix)."""
    if isinstance(labels, str):
        labels = [x.strip() for x in labels.split(",")]
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(run_dirs):
            raise InputError(f"{len(labels)} labels given for {len(run_dirs)} runs", field="labels")
        for lab in labels:
            if not lab or lab != lab.strip() or "," in lab:
                raise InputError(f"invalid label {lab!r} (non-empty, no commas, no surrounding spaces)", field="labels")
        if len(set(labels)) != len(labels):
            raise InputError(f"labels must be unique, got {labels}", field="labels")
        return labels
    out: list[str] = []
    for d in run_dirs:
        name = Path(d).resolve().name or str(d)
        lab, i = name, 2
        while lab in out:
            lab, i = f"{name}-{i}", i + 1
        out.append(lab)
    return out


def load_run(path: str | os.PathLike[str], label: str) -> RunData:
    """Open a run directory and read its per-problem counts (and step-checked counts if present)."""
    store = RunStore.open(path)
    ids, n, c = store.counts("correct")
    if not ids:
        raise InputError("run has no verified problems", path=str(path))
    c_steps = None
    vt = store.verdict_table()
    if vt.num_rows and vt.column("steps_correct").null_count < vt.num_rows:
        sids, sn, sc = store.counts("steps_correct")
        if list(sids) != list(ids) or not np.array_equal(sn, n):
            raise InputError("steps_correct counts do not align with correct counts", path=str(path))
        c_steps = sc
    adaptive = (store.manifest.extra or {}).get("adaptive")
    if adaptive is not None:
        est = adaptive.get("estimator") if isinstance(adaptive, dict) else None
        if est not in ESTIMATORS:
            raise InputError(f"manifest extra.adaptive must name an estimator in {ESTIMATORS}, got {adaptive!r}",
                             path=str(path))
    return RunData(label, Path(path), store.manifest, tuple(ids), n, c, c_steps, store, adaptive)


# ------------------------------------------------------------------------------------------------
# side-file readers (tolerate absence; InputError on a malformed file)
# ------------------------------------------------------------------------------------------------


def _read_side(path: Path, required: Sequence[str]) -> pa.Table | None:
    if not path.is_file():
        return None
    try:
        t = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"unreadable parquet file ({e})", path=str(path)) from None
    missing = [c for c in required if c not in t.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path=str(path), field=missing[0])
    return t


def read_perplexity(run_dir: str | os.PathLike[str]) -> dict[str, np.ndarray] | None:
    """Per-response perplexities of a run's responses, by scorer: {scorer: shape [R]}; None when
    the run has no ``perplexity.parquet``.

    Uses the ``perplexity`` column, or exp(-sum_logprob / n_tokens) where it is null; rows with
    n_tokens == 0 or a non-finite value are dropped.
    """
    path = Path(run_dir) / PERPLEXITY_FILE
    t = _read_side(path, ("problem_id", "sample_index", "scorer"))
    if t is None:
        return None
    if "perplexity" not in t.column_names and not {"sum_logprob", "n_tokens"} <= set(t.column_names):
        raise InputError("needs a 'perplexity' column or 'sum_logprob' and 'n_tokens'", path=str(path), field="perplexity")
    rows = t.num_rows
    ppl = np.full(rows, np.nan)
    if "perplexity" in t.column_names:
        ppl = pc.fill_null(t.column("perplexity").cast(pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
    if {"sum_logprob", "n_tokens"} <= set(t.column_names):
        lp = pc.fill_null(t.column("sum_logprob").cast(pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
        nt = pc.fill_null(t.column("n_tokens").cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            derived = np.exp(-lp / nt)
        ppl = np.where(np.isnan(ppl), derived, ppl)
        ppl = np.where(nt > 0, ppl, np.nan)
    scorers = np.asarray(pc.fill_null(t.column("scorer").cast(pa.string()), "").to_pylist(), dtype=object)
    ok = np.isfinite(ppl) & (ppl > 0)
    out: dict[str, np.ndarray] = {}
    for s in dict.fromkeys(scorers.tolist()):
        vals = ppl[(scorers == s) & ok]
        if vals.size:
            out[str(s)] = vals
    return out


def read_token_entropy(run_dir: str | os.PathLike[str]) -> tuple[np.ndarray, float] | None:
    """Sampled-token entropy estimate of a run's responses from ``token_logprobs.parquet``:
    (per-response mean of -logprob, shape [R]; mean of -logprob over all tokens). None when absent.

    This estimates the mean per-token entropy of the sampling distribution from the sampled tokens
    only (E[-log p(x)] with x drawn from p), as Yue et al. 2025 compare entropy of base and RL models.
    """
    path = Path(run_dir) / LOGPROBS_FILE
    if token_logprobs.shard_paths(run_dir):  # a killed sampler's shards: merged in memory, not written
        t = token_logprobs.read_table(RunStore.open(run_dir))
    else:
        t = _read_side(path, ("problem_id", "sample_index", "logprobs"))
    if t is None:
        return None
    col = t.column("logprobs").combine_chunks()
    if not pa.types.is_list(col.type) and not pa.types.is_large_list(col.type):
        raise InputError(f"column has type {col.type}, expected list<float>", path=str(path), field="logprobs")
    col = pc.fill_null(col, pa.scalar([], type=col.type))
    flat = pc.list_flatten(col).cast(pa.float64())
    parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
    vals = pc.fill_null(flat, float("nan")).to_numpy(zero_copy_only=False)
    good = np.isfinite(vals)
    if (vals[good] > 1e-6).any():
        raise InputError("log-probabilities must be <= 0", path=str(path), field="logprobs")
    nll = -vals[good]
    par = parents[good]
    count = np.bincount(par, minlength=t.num_rows)
    total = np.bincount(par, weights=nll, minlength=t.num_rows)
    has = count > 0
    if not has.any():
        return None
    return total[has] / count[has], float(nll.sum() / nll.size)


# ------------------------------------------------------------------------------------------------
# the build
# ------------------------------------------------------------------------------------------------


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


def _curve_json(s: A.CurveStats) -> dict[str, Any]:
    return {"ks": [int(k) if float(k).is_integer() else k for k in s.ks], "mean": list(s.mean),
            "ci95_low": None if s.low is None else list(s.low), "ci95_high": None if s.high is None else list(s.high)}


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100.0 * x:.1f}%"


def _check_ks(ks: Sequence[int] | None, runs: Sequence[RunData]) -> list[int] | None:
    if ks is None:
        return None
    try:
        out = sorted({int(k) for k in ks})
    except (TypeError, ValueError):
        raise InputError(f"ks must be integers, got {ks!r}", field="k") from None
    if not out or out[0] < 1:
        raise InputError("k values must be >= 1", field="k")
    for r in runs:
        if r.adaptive is None and out[-1] > int(r.n.min()):  # adaptive runs: the small-sample estimator
            p = int(np.argmin(r.n))
            raise InputError(f"k={out[-1]} exceeds n={int(r.n[p])} samples of problem {r.ids[p]!r} of run {r.label!r}",
                             path=str(r.path), field="k")
    return out


def _stats(per_problem: np.ndarray, ks: Sequence[float]) -> A.CurveStats:
    mean, low, high = bootstrap_ci(per_problem, n_boot=N_BOOT, seed=SEED)
    return A.CurveStats.of(ks, mean, low, high)


def _passk_stats(r: RunData, c: np.ndarray, ks: Sequence[int]) -> A.CurveStats:
    """pass@k of run ``r`` with correct counts ``c`` (answer or CoT) and its bootstrap band.

    The unbiased estimator of Chen et al. 2021; for an adaptively sampled run the estimator its
    manifest names (``small_sample_pass_at_k``, "bayes": the posterior mean of 1-(1-p)^k under the
    empirical-Bayes Beta-mixture prior fitted to the run, defined for k > n too), since stopping a
    problem on its data biases the unbiased one (docs/statistics.md, section 6); its band adds the
    fitted prior's own uncertainty to the bootstrap over problems (``adaptive_interval``, Laird & Louis 1987).
    """
    if r.adaptive is None:
        return _stats(pass_at_k_matrix(r.n, c, ks, r.ids), ks)
    mean, low, high = adaptive_interval(r.n, c, ks, prior="eb", scope="population", n_boot=N_BOOT, seed=SEED,
                                        estimator=r.adaptive["estimator"])
    return A.CurveStats.of(ks, mean, low, high)


def _adaptive_json(r: RunData, note: Any) -> dict[str, Any]:
    """metrics.json entry of an adaptively sampled run (its manifest entry, the fitted prior, n range,
    predicted benchmark-scope half-width at the targeted ks), and the note that marks its curves."""
    a = r.adaptive or {}
    ks = [int(k) for k in a.get("k") or [] if isinstance(k, int) and k >= 1] or [_curve_k(r)]
    est = small_sample_pass_at_k(r.n, r.c, ks, estimator=a["estimator"])
    _, low, high = adaptive_interval(r.n, r.c, ks, prior="eb", scope="benchmark", estimator=a["estimator"])
    half = {str(k): float(h) for k, h in zip(ks, (high - low) / 2)}
    n_txt = f"{int(r.n.min())}..{int(r.n.max())}"
    what = "the posterior mean of 1-(1-p)^k" + (" at every k" if a["estimator"] == "bayes" else " where n < k")
    note("passk", f"{r.label}: sampled adaptively (n = {n_txt} per problem, target 95% half-width {a.get('ci')} "
         f"at k = {', '.join(map(str, ks))}; now +-{max(half.values()):.4f} over sampling noise and the fit of the prior); its pass@k and "
         f"CoT-pass@k curves are {what} under the empirical-Bayes prior {est.prior.describe()}: model-based, "
         "not the unbiased estimator (docs/statistics.md, sections 5-6).")
    return {**a, "prior": est.prior.to_json_dict(), "n_range": [int(r.n.min()), int(r.n.max())],
            "halfwidth_benchmark": half}


def _curve_k(r: RunData) -> int:
    """Largest k of a run's default curve: its smallest n, or for an adaptive run its targeted k."""
    if r.adaptive is None:
        return int(r.n.min())
    ks = [int(k) for k in r.adaptive.get("k") or [] if isinstance(k, int) and k >= 1]
    return max(ks) if ks else int(r.n.max())


def build_report(
    run_dirs: Sequence[str | os.PathLike[str]],
    labels: Sequence[str] | str | None = None,
    base: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    ks: Sequence[int] | None = None,
    extra_metrics: bool = False,
    progress: bool = True,
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
    order = A.order_labels(names, base)
    by_label = dict(zip(names, run_dirs))
    runs: dict[str, RunData] = {}
    for lab in tqdm(order, desc="reading runs", unit="run", disable=not progress):
        runs[lab] = load_run(by_label[lab], lab)
    user_ks = _check_ks(ks, list(runs.values()))
    notes: dict[str, list[str]] = {}
    metrics: dict[str, Any] = {}
    figures: dict[str, Any] = {}  # key -> record
    colors = plots.color_map(order)

    def note(section: str, text: str) -> None:
        notes.setdefault(section, []).append(text)

    # -- pass@k per run ------------------------------------------------------------------------
    n_common = min(int(r.n.min()) for r in runs.values())
    K = 1 << (n_common.bit_length() - 1)  # largest power of two <= every run's smallest n
    stats: dict[str, A.CurveStats] = {}
    for lab, r in runs.items():
        ks_r = sorted(set(user_ks or default_ks(_curve_k(r))) | {1, K})
        stats[lab] = _passk_stats(r, r.c, ks_r)
    metrics["passk"] = {lab: _curve_json(s) for lab, s in stats.items()}
    adaptive = [lab for lab in order if runs[lab].adaptive is not None]
    metrics["adaptive"] = {lab: _adaptive_json(runs[lab], note) for lab in adaptive} or None

    # -- comparisons against the base ---------------------------------------------------------
    b = runs[base]
    comparisons: dict[str, dict[str, Any]] = {}
    gaps: dict[str, float] = {}
    for lab in order[1:]:
        r = runs[lab]
        shared = set(b.ids) & set(r.ids)
        if not shared:
            note("passk", f"{lab}: shares no problem id with {base}; no crossing, gap or coverage against it.")
            continue
        n_sh = min(int(b.n[[i for i, p in enumerate(b.ids) if p in shared]].min()),
                   int(r.n[[i for i, p in enumerate(r.ids) if p in shared]].min()))
        cks = sorted({k for k in (user_ks or default_ks(n_sh)) if k <= n_sh} | {1, K})
        try:
            cmp = compare_runs(b.ids, b.n, b.c, r.ids, r.n, r.c, ks=cks, n_boot=N_BOOT, seed=SEED).to_json_dict()
        except ValueError as e:
            raise InputError(f"cannot compare {lab} with {base}: {e}", path=str(r.path)) from None
        cmp["gap_K"] = K
        cmp["gap_at_K"] = efficiency_gap(cmp["pass_at_k"]["base"][str(K)], cmp["pass_at_k"]["other"]["1"])
        if r.adaptive is not None or b.adaptive is not None:  # Table 2 reads the curves' estimator
            cmp["gap_at_K"] = efficiency_gap(stats[base].at(K), stats[lab].at(1))
            note("passk", f"{lab}: crossing k* and coverage against {base} use the unbiased estimator at "
                 f"k <= {cks[-1]}, which adaptive sampling's data-dependent stopping biases slightly.")
        comparisons[lab] = cmp
        gaps[lab] = cmp["gap_at_K"]
        if cmp["n_dropped"]["base"] or cmp["n_dropped"]["other"]:
            note("passk", f"{lab}: compared with {base} on the {cmp['n_problems']} shared problems "
                 f"({cmp['n_dropped']['base']} only in {base}, {cmp['n_dropped']['other']} only in {lab}).")
        if r.manifest.dataset_hash and b.manifest.dataset_hash and r.manifest.dataset_hash != b.manifest.dataset_hash:
            note("config", f"{lab}: dataset hash differs from {base}'s; comparisons use shared problem ids only.")
    metrics["comparisons"] = comparisons
    if len(order) == 1:
        note("passk", "only one run: no crossing point, efficiency gap or coverage (they need a second run).")

    figures["passk"] = A.passk_curves(stats, comparisons, base, adaptive=adaptive)
    for lab in order[1:]:
        cmp = comparisons.get(lab)
        if cmp is None:
            continue
        if cmp["crossing_k"] is not None:
            ci = cmp["crossing_k_ci"]
            ci_txt = f", 95% CI [{ci[0]}, {ci[1]}]" if ci else ""
            note("passk_k", f"{lab}: the curves cross at k* = {cmp['crossing_k']}{ci_txt}; the curves cross in "
                 f"{100 * (1 - cmp['crossing_k_no_crossing_share']):.0f}% of bootstrap replicates.")
        else:
            lead = cmp["pass_at_k"]["other"]["1"] > cmp["pass_at_k"]["base"]["1"]
            note("passk_k", f"{lab}: no crossing with {base} for k <= {cmp['ks'][-1]} "
                 + ("(it still leads at the largest k)." if lead else f"({base} is at least as high at every k)."))

    # -- Table 2 -------------------------------------------------------------------------------
    table2 = A.efficiency_table(stats, K, base, gaps)
    metrics["table2"] = {"K": K, "rows": [
        {"run": row[0], "pass_at_1": row[1], "pass_at_1_ci95": row[2], "pass_at_K": row[3], "pass_at_K_ci95": row[4],
         "efficiency_gap": row[5]} for row in table2.rows]}

    # -- coverage ------------------------------------------------------------------------------
    coverage_tables = [A.coverage_table(cmp["coverage"], base, lab) for lab, cmp in comparisons.items()]

    # -- histograms ----------------------------------------------------------------------------
    hists = {lab: accuracy_histogram(r.n, r.c) for lab, r in runs.items()}
    figures["accuracy_hist"] = A.accuracy_histograms(hists, base)
    metrics["histograms"] = {lab: {"labels": list(h[0]), "counts": [int(x) for x in h[1]]} for lab, h in hists.items()}

    # -- perplexity ----------------------------------------------------------------------------
    ppl_tables, metrics["perplexity"] = [], None
    ppl = {}
    for lab, r in runs.items():
        try:
            got = read_perplexity(r.path)
        except InputError as e:
            note("perplexity", f"{lab}: {PERPLEXITY_FILE} skipped: {e}")
            continue
        if got is None:
            note("perplexity", f"{lab}: no {PERPLEXITY_FILE} (score its responses with 'rlbound perplexity').")
        elif got:
            ppl[lab] = got
    if ppl:
        scorer = _pick_scorer(ppl, b.manifest.model)
        if scorer is None:
            note("perplexity", "the perplexity files share no scorer model; cannot put them on one axis "
                 f"(scorers: {', '.join(sorted({s for d in ppl.values() for s in d}))}).")
        else:
            if scorer != b.manifest.model:
                note("perplexity", f"scorer {scorer!r} is taken as the base model (the base run's model is "
                     f"{b.manifest.model!r}).")
            vals = {lab: d[scorer] for lab, d in ppl.items() if scorer in d}
            for lab in ppl:
                if lab not in vals:
                    note("perplexity", f"{lab}: {PERPLEXITY_FILE} has no rows scored by {scorer!r}.")
            if base not in vals:
                note("perplexity", f"{base}: its own responses are not scored, so no percentile can be given.")
            fig, table = A.perplexity_distributions(vals, base, scorer)
            figures["perplexity"] = fig
            ppl_tables.append(table)
            metrics["perplexity"] = {"scorer": scorer, "runs": {row[0]: {
                "n_responses": row[1], "median": row[2], "median_percentile_in_base": row[3]} for row in table.rows},
                "bin_edges": list(fig.edges), "share_per_bin": {d.label: list(d.share) for d in fig.series}}

    # -- training steps ------------------------------------------------------------------------
    points = []
    for lab, r in runs.items():
        extra = r.manifest.extra or {}
        step, group = extra.get("train_step"), extra.get("train_run")
        if step is None or group is None:
            continue
        if isinstance(step, bool) or not isinstance(step, int):
            note("training", f"{lab}: manifest extra.train_step {step!r} is not an integer; left out.")
            continue
        points.append(A.TrainingPoint(str(group), step, lab, stats[lab].at(1), stats[lab].at(K)))
    training = A.training_curves(points, K)
    metrics["training"] = None
    if training is None:
        note("training", "no two runs are checkpoints of one training (manifest extra.train_run and "
             "extra.train_step); nothing to plot over steps.")
    else:
        figures["training"] = training
        groups: dict[str, list[dict[str, Any]]] = {}
        for p in sorted(points, key=lambda p: (p.train_run, p.step)):
            groups.setdefault(p.train_run, []).append(
                {"label": p.label, "step": p.step, "pass_at_1": p.pass1, "pass_at_K": p.passK})
        metrics["training"] = {"K": K, "groups": {g: v for g, v in groups.items() if len(v) >= 2}}

    # -- CoT-pass@k ----------------------------------------------------------------------------
    cot: dict[str, A.CurveStats] = {}
    for lab, r in runs.items():
        if r.c_steps is None:
            note("cot", f"{lab}: verdicts carry no steps_correct (needs a step-checking verifier, e.g. the sandbox).")
            continue
        cot[lab] = _passk_stats(r, r.c_steps, [int(k) for k in stats[lab].ks])
    metrics["cot_passk"] = {lab: _curve_json(s) for lab, s in cot.items()} or None
    if cot:
        figures["cot_passk"] = A.cot_curves(stats, cot, base)

    # -- extra metrics -------------------------------------------------------------------------
    metrics["extra_metrics"] = None
    if extra_metrics:
        figures["extra_metrics"], metrics["extra_metrics"] = _extra_metrics(runs, order, base, K, note, progress)

    # -- entropy -------------------------------------------------------------------------------
    ent, ent_tok = {}, {}
    for lab, r in runs.items():
        try:
            got = read_token_entropy(r.path)
        except InputError as e:
            note("entropy", f"{lab}: {LOGPROBS_FILE} skipped: {e}")
            continue
        if got is None:
            note("entropy", f"{lab}: no token log-probabilities stored ({LOGPROBS_FILE}; sample with logprobs on).")
        else:
            ent[lab], ent_tok[lab] = got
    ent_tables, metrics["entropy"] = [], None
    if ent:
        fig, table = A.entropy_distributions(ent, ent_tok, base)
        figures["entropy"] = fig
        ent_tables.append(table)
        metrics["entropy"] = {"estimator": "sampled-token: mean over tokens of -log p(sampled token), nats/token",
                              "runs": {row[0]: {"n_responses": row[1], "mean_per_response": row[2],
                                                "median_per_response": row[3], "mean_over_tokens": row[4]}
                                       for row in table.rows}}

    # -- runs, summary, page -------------------------------------------------------------------
    metrics["runs"] = {lab: {"run_dir": str(r.path), "manifest": dataclasses.asdict(r.manifest),
                             "n_problems": len(r.ids), "n_min": int(r.n.min()), "n_max": int(r.n.max()),
                             "n_samples": int(r.n.sum()), "has_steps_correct": r.c_steps is not None}
                       for lab, r in runs.items()}
    from rlbound.version import __version__

    created = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    metrics = {"rlbound_version": __version__, "created": created, "base": base, "labels": order, "K": K,
               "bootstrap": {"n_boot": N_BOOT, "seed": SEED, "level": 0.95}, **metrics}
    summary = _summary(metrics, order, base, K)
    metrics["summary"] = summary
    metrics["notes"] = notes

    # render figures
    drawn: dict[str, tuple[bytes, bytes]] = {}
    for key, rec in tqdm(figures.items(), desc="drawing figures", unit="fig", disable=not progress):
        drawn[key] = plots.draw(rec, colors)
    metrics["figures"] = sorted(drawn)

    page = Page(
        title="rlbound report: " + " vs ".join(order),
        subtitle=f"Analyses of Yue et al. 2025 (arXiv 2504.13837), base run: {base}. Generated {created} by "
        f"rlbound {__version__}. Every number here is in metrics.json.",
        summary=tuple(summary),
        config=_config_table(runs, order),
        sections=_sections(figures, drawn, notes, table2, coverage_tables, ppl_tables, ent_tables, base, K),
        colors=colors,
        footer="pass@k: unbiased estimator of Chen et al. 2021, averaged over problems; bands and CIs: 95% "
        f"percentile bootstrap over problems ({N_BOOT} replicates, seed {SEED}). Self-contained page: no scripts, "
        "no network requests.",
    )
    html_text = render_page(page)
    return _write_outputs(out, drawn, metrics, html_text, order, base, notes)


def _pick_scorer(ppl: Mapping[str, Mapping[str, np.ndarray]], base_model: str) -> str | None:
    """The scorer to compare on: the base run's model when every file has it, else the one scorer
    common to every file, else None."""
    common = set.intersection(*(set(d) for d in ppl.values()))
    if base_model in common:
        return base_model
    if len(common) == 1:
        return next(iter(common))
    return None


def _extra_metrics(runs: Mapping[str, RunData], order: Sequence[str], base: str, K: int, note, progress: bool):
    maj: dict[str, A.CurveStats] = {}
    gpass: dict[str, A.CurveStats] = {}
    cover: dict[str, A.CurveStats] = {}
    kg = min(GPASS_K, K)
    taus = [m / kg for m in range(1, kg + 1)]
    out: dict[str, Any] = {"maj_at_k": {}, "g_pass_at_k": {}, "mg_pass_at_k": {}, "cover_at_tau": {},
                           "g_pass_k": kg, "maj_resamples": MAJ_RESAMPLES, "maj_seed": SEED}
    maj_ks = [k for k in default_ks(K) if k <= K]
    todo = [(lab, k) for lab in order for k in maj_ks]
    bar = tqdm(total=len(todo), desc="maj@k", unit="k", disable=not progress)
    for lab in order:
        r = runs[lab]
        vt = r.store.verdict_table()
        answers, correct = _answers_by_problem(vt, r.ids)
        if all(a is None for row in answers for a in row):
            note("extra", f"{lab}: no extracted answers in its verdicts; maj@k left out.")
            bar.update(len(maj_ks))
        else:
            per = np.empty((len(r.ids), len(maj_ks)))
            for j, k in enumerate(maj_ks):
                per[:, j] = maj_at_k(answers, correct, k, n_resamples=MAJ_RESAMPLES, seed=SEED, problem_ids=r.ids)
                bar.update(1)
            maj[lab] = _stats(per, maj_ks)
            out["maj_at_k"][lab] = _curve_json(maj[lab])
        g = np.stack([g_pass_at_k(r.n, r.c, kg, t, r.ids) for t in taus], axis=1)
        gpass[lab] = _stats(g, taus)
        out["g_pass_at_k"][lab] = {"taus": taus, "mean": list(gpass[lab].mean),
                                   "ci95_low": list(gpass[lab].low), "ci95_high": list(gpass[lab].high)}
        out["mg_pass_at_k"][lab] = float(mg_pass_at_k(r.n, r.c, kg, r.ids).mean())
        cv = cover_at_tau(r.n, r.c, COVER_TAUS)
        cover[lab] = A.CurveStats.of(COVER_TAUS, cv)
        out["cover_at_tau"][lab] = {"taus": list(COVER_TAUS), "values": [float(v) for v in cv]}
    bar.close()
    return A.extra_metric_panels(maj, gpass, kg, cover, base), out


def _answers_by_problem(vt: pa.Table, ids: Sequence[str]) -> tuple[list[list[str | None]], list[list[bool]]]:
    pos = {p: i for i, p in enumerate(ids)}
    answers: list[list[str | None]] = [[] for _ in ids]
    correct: list[list[bool]] = [[] for _ in ids]
    for pid, ext, ok in zip(vt.column("problem_id").to_pylist(), vt.column("extracted").to_pylist(),
                            vt.column("correct").to_pylist()):
        i = pos.get(pid)
        if i is not None:
            answers[i].append(ext)
            correct[i].append(bool(ok))
    return answers, correct


def _summary(m: Mapping[str, Any], order: Sequence[str], base: str, K: int) -> list[str]:
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


def _config_table(runs: Mapping[str, RunData], order: Sequence[str]) -> A.Table:
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
    return A.Table(key="config", caption="Configuration of every run (from its manifest.json)",
                   headers=("run", "model", "backend", "sampling", "template", "dataset", "dataset sha256", "problems",
                            "n", "rlbound", "created", "training", "directory"),
                   rows=tuple(rows), details=tuple(details))


_SECTIONS = (
    ("passk", "1. pass@k curves", "Unbiased pass@k of every run against k on a log2 axis, with 95% bootstrap bands "
     "over problems; the crossing point k* of each run with the base run is marked (dotted line, diamond; the "
     "bar through the diamond spans its 95% bootstrap CI). Yue et al. 2025: RL models lead at small k, base models overtake them at large k."),
    ("table2", "2. pass@1, pass@K and the sampling-efficiency gap", "In the form of Yue et al. 2025, Table 2: the gap "
     "pass@K(base) - pass@1(run) measures how much of what the base reaches with K samples a run misses in one."),
    ("coverage", "3. Solvable coverage", "Problems solved at least once (c >= 1 of n samples) by both runs, by one "
     "only, or by neither. Under the paper's hypothesis the RL model's solvable set is nearly a subset of the base's."),
    ("accuracy_hist", "4. Per-problem accuracy", "Histogram of c/n per problem with the paper's bins. RL typically "
     "moves mass towards 1 and also raises the count at exactly 0."),
    ("perplexity", "5. Perplexity under the base model", "Per-response perplexity of each run's responses scored by "
     "the base model. If the RL model's responses sit in the low part of the base's own distribution, they were "
     "already likely under the base model."),
    ("training", "6. Over training steps", "pass@1 and pass@K of checkpoints of one training against the step "
     "(paper: pass@1 rises while pass@256 falls)."),
    ("cot", "7. CoT-pass@k and other metrics", "CoT-pass@k counts a sample only if its answer and every reasoning "
     "step are correct (Wen et al. 2025). maj@k: majority vote of k samples; G-Pass@k_tau: probability that at least "
     "ceil(tau k) of k samples are correct (Liu et al. 2024); Cover@tau: share of problems with c/n >= tau "
     "(Dragoi et al. 2025)."),
    ("entropy", "8. Entropy of responses", "Sampled-token estimate: the mean over a response's tokens of -log p of "
     "the token that was sampled (nats per token), from the log-probabilities stored at sampling time."),
)


def _sections(figures, drawn, notes, table2, coverage_tables, ppl_tables, ent_tables, base, K) -> tuple[Section, ...]:
    def fig_block(key: str, caption: str) -> list[FigureBlock]:
        if key not in drawn:
            return []
        rec = figures[key]
        return [FigureBlock(name=key, svg=drawn[key][1], caption=caption, alt=rec.title)]

    def note_blocks(*keys: str) -> list[NoteBlock]:
        return [NoteBlock(t) for k in keys for t in notes.get(k, [])]

    blocks: dict[str, list[Any]] = {
        "passk": fig_block("passk", "pass@k against k, 95% bands; k* marks where the base catches up with each run.")
        + note_blocks("passk_k", "passk"),
        "table2": [TableBlock(table2)],
        "coverage": [TableBlock(t) for t in coverage_tables]
        or [NoteBlock("Coverage needs a second run sharing problems with the base run.")],
        "accuracy_hist": fig_block("accuracy_hist", "Problems per accuracy bin, one panel per run."),
        "perplexity": fig_block("perplexity", "Share of each run's responses per perplexity bin (log-spaced bins); "
                                "dotted lines: medians.") + [TableBlock(t) for t in ppl_tables] + note_blocks("perplexity"),
        "training": fig_block("training", f"pass@1 and pass@{K} per checkpoint, one line per training run.")
        + note_blocks("training"),
        "cot": fig_block("cot_passk", "Solid: pass@k; dashed: CoT-pass@k with its 95% band.") + note_blocks("cot")
        + fig_block("extra_metrics", "maj@k (Monte Carlo over k-subsets), G-Pass@k against tau, Cover@tau against tau.")
        + note_blocks("extra"),
        "entropy": fig_block("entropy", "Share of each run's responses per bin of the per-response entropy estimate; "
                             "dotted lines: medians.")
        + [TableBlock(t) for t in ent_tables] + note_blocks("entropy"),
    }
    out = []
    for key, title, intro in _SECTIONS:
        if key == "passk" and notes.get("config"):
            blocks[key] += note_blocks("config")
        out.append(Section(id=key, title=title, intro=intro, blocks=tuple(blocks[key])))
    return tuple(out)


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
