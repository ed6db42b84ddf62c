"""What the report reads from run directories, through ``rlbound.data``: the labels, each run's
per-problem counts (``RunStore.counts``, Chen et al. 2021 n and c; step-checked counts where the
verdicts carry them), the extracted answers for maj@k, and the optional side files.

Side files (all optional):

- ``perplexity.parquet``: problem_id, sample_index, scorer, n_tokens, sum_logprob, perplexity —
  the run's responses scored under some model (``rlbound perplexity``; read by the run store,
  ``rlbound.data.store.read_perplexity``);
- ``token_logprobs.parquet``: problem_id, sample_index, logprobs (list<float>) of the sampled tokens
  (``rlbound sample --logprobs``; shards of a killed sampler not merged yet are read too, see
  ``rlbound.data.token_logprobs``).

A missing side file is None; a malformed one raises InputError (the readers of many runs turn
both into notes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rlbound.data import token_logprobs
from rlbound.data.store import PERPLEXITY_FILE, RunStore
from rlbound.data.store import read_perplexity as read_perplexity_table
from rlbound.errors import InputError
from rlbound.metrics.planning import ESTIMATORS
from rlbound.report.analyses.extra import Answers
from rlbound.report.analyses.records import RunData

LOGPROBS_FILE = token_logprobs.LOGPROBS_FILE


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
    return RunData(label, Path(path), store.manifest, tuple(ids), n, c, c_steps, adaptive)


def read_answers(r: RunData) -> Answers:
    """Per problem of ``r`` (in its id order) the extracted answer and the verdict of each sample,
    from the run's deduplicated verdict table (``RunStore.verdict_table``), for maj@k."""
    vt = RunStore.open(r.path).verdict_table()
    pos = {p: i for i, p in enumerate(r.ids)}
    answers: list[list[str | None]] = [[] for _ in r.ids]
    correct: list[list[bool]] = [[] for _ in r.ids]
    for pid, ext, ok in zip(vt.column("problem_id").to_pylist(), vt.column("extracted").to_pylist(),
                            vt.column("correct").to_pylist()):
        i = pos.get(pid)
        if i is not None:
            answers[i].append(ext)
            correct[i].append(bool(ok))
    return answers, correct


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

    The run store reads the file (``rlbound.data.store.read_perplexity``: the ``perplexity`` column,
    or exp(-sum_logprob / n_tokens) where it is null); rows without a finite positive value are dropped.
    """
    t = read_perplexity_table(run_dir)
    if t is None:
        return None
    ppl = t.column("perplexity").to_numpy(zero_copy_only=False)
    scorers = np.asarray(t.column("scorer").to_pylist(), dtype=object)
    ok = np.isfinite(ppl) & (ppl > 0)
    out: dict[str, np.ndarray] = {}
    for s in dict.fromkeys(scorers.tolist()):
        vals = ppl[(scorers == s) & ok]
        if vals.size:
            out[str(s)] = vals
    return out


def read_perplexities(runs: Mapping[str, RunData]) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """``read_perplexity`` of every run that has scored responses, and a note per run that has no
    file or a malformed one (skipped)."""
    return _read_each(runs, read_perplexity, PERPLEXITY_FILE,
                      f"no {PERPLEXITY_FILE} (score its responses with 'rlbound perplexity').")


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
    _, per_response, count = token_logprobs.mean_nll(t, str(path))
    if not len(count):
        return None
    return per_response, float((per_response * count).sum() / count.sum())


def read_entropies(runs: Mapping[str, RunData]) -> tuple[dict[str, np.ndarray], dict[str, float], list[str]]:
    """``read_token_entropy`` of every run that stored its tokens' log-probabilities (per-response
    means, token-weighted means), and a note per run that has none or a malformed file (skipped)."""
    got, notes = _read_each(runs, read_token_entropy, LOGPROBS_FILE,
                            f"no token log-probabilities stored ({LOGPROBS_FILE}; sample with logprobs on).")
    return {lab: g[0] for lab, g in got.items()}, {lab: g[1] for lab, g in got.items()}, notes


def _read_each(runs: Mapping[str, RunData], read: Callable[[Path], Any], file: str,
               missing: str) -> tuple[dict[str, Any], list[str]]:
    """``read(run.path)`` of every run, and a note per run whose file is absent (``read`` gave None)
    or malformed (InputError; the run is skipped). Empty results are dropped without a note."""
    out, notes = {}, []
    for lab, r in runs.items():
        try:
            got = read(r.path)
        except InputError as e:
            notes.append(f"{lab}: {file} skipped: {e}")
            continue
        if got is None:
            notes.append(f"{lab}: {missing}")
        elif len(got):
            out[lab] = got
    return out, notes
