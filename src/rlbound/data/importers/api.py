"""Import: tell the format from the first record, load it, write it as a run directory; and the
``(problem_ids, n, c)`` of any run or import file for the pass@k estimator of Chen et al. 2021
(eq. 1), as used by Yue et al. 2025 (arXiv 2504.13837).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlbound.data.benchmarks import hf_split_dir, is_hf_dataset_dir
from rlbound.data.importers.base import ImportedRun, Row
from rlbound.data.importers.code import load_evalplus_results, load_evalplus_samples, load_livecodebench
from rlbound.data.importers.harness import load_lighteval, load_lm_eval
from rlbound.data.importers.native import load_correct_jsonl, load_humaneval, load_rm_maj
from rlbound.data.importers.sources import Source, open_source
from rlbound.data.importers.verl import load_verl
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.types import RunManifest

_LOADERS: dict[str, Callable[[Source, str | None], ImportedRun]] = {
    "correct_jsonl": load_correct_jsonl,
    "humaneval": load_humaneval,
    "rm_maj": load_rm_maj,
    "lm_eval": load_lm_eval,
    "lighteval": load_lighteval,
    "evalplus_samples": load_evalplus_samples,
    "evalplus_results": load_evalplus_results,
    "livecodebench": load_livecodebench,
    "verl": load_verl,
}
FORMATS = tuple(_LOADERS)

# What each format's first record looks like, for detection and for the error naming what was expected.
_EXPECTED = (
    "{problem_id, correct} (correct_jsonl)",
    "{task_id, completion[, passed]} (humaneval)",
    "{idx, score} (rm_maj)",
    "lm-eval --log_samples {doc_id, doc, resps, filtered_resps, ...} (lm_eval)",
    "lighteval details {doc, model_response, metric} (lighteval)",
    "evalplus {task_id, solution} (evalplus_samples) or {eval: {task_id: [...]}} (evalplus_results)",
    "LiveCodeBench {question_id, code_list, graded_list} (livecodebench)",
    "verl validation dump {input, output, score} (verl)",
)


def _detect_rows(first: Row) -> str:
    keys = set(first.obj)
    if {"task_id", "completion"} <= keys:
        return "humaneval"
    if {"task_id", "solution"} <= keys:
        return "evalplus_samples"
    if isinstance(first.obj.get("eval"), dict):
        return "evalplus_results"
    if {"idx", "score"} <= keys:
        return "rm_maj"
    if "problem_id" in keys:  # a missing 'correct' is then reported by the loader, with its line
        return "correct_jsonl"
    if "question_id" in keys and keys & {"code_list", "graded_list", "output_list"}:
        return "livecodebench"
    if {"doc", "model_response"} <= keys:
        return "lighteval"
    if "resps" in keys and keys & {"doc_id", "doc"}:
        return "lm_eval"
    if {"input", "output", "score"} <= keys:
        return "verl"
    raise first.err(f"unknown results format: first row has fields {sorted(keys)[:12]}; expected "
                    + ", ".join(_EXPECTED[:-1]) + " or " + _EXPECTED[-1], None)


def detect_format(path: str | os.PathLike[str], split: str | None = None) -> str:
    """Name of the import format of ``path`` (one of FORMATS), from the fields of its first record.

    A run directory gives ``"run"``. InputError when the first record matches no known format.
    """
    if RunStore.is_run_dir(path):
        return "run"
    return _detect_rows(open_source(path, split).first())


def import_results(path: str | os.PathLike[str], fmt: str | None = None, *, split: str | None = None,
                   metric: str | None = None) -> ImportedRun:
    """Read results produced elsewhere into problems, samples and verdicts.

    ``path``: a JSONL / JSON / Parquet file or a ``save_to_disk`` dataset folder (``split`` picks a
    DatasetDict's split). ``fmt`` is one of FORMATS, or None to detect it from the first record.
    ``metric`` picks which per-sample grade becomes the verdict where a format offers several
    (lm-eval ``NAME[,FILTER]``, lighteval metric name, verl field, evalplus ``base``/``plus``).
    Sizes: P problems, sum over problems of n samples, and as many verdicts when the file has them.
    """
    if fmt is not None and fmt not in _LOADERS:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}", path=str(path), field="format")
    src = open_source(path, split)
    fmt = fmt or _detect_rows(src.first())
    if metric is not None and fmt in ("correct_jsonl", "humaneval", "rm_maj", "evalplus_samples", "livecodebench"):
        raise InputError(f"--metric does not apply to {fmt}: it records one grade per sample", path=src.where,
                         field="metric")
    return _LOADERS[fmt](src, metric)


def _digest(path: Path, split: str | None) -> str:
    """sha256 of a file's bytes; of a dataset folder, of its split folder's files (names and bytes)."""
    h = hashlib.sha256()
    if path.is_dir():
        folder, _ = hf_split_dir(path, split)
        files = sorted(f for f in folder.iterdir() if f.is_file())
    else:
        files = [path]
    for f in files:
        if path.is_dir():
            h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".parquet"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name


@dataclass(frozen=True)
class ImportSummary:
    """What ``import_to_run`` wrote: the run, its size, and the notes of the import.

    ``lines()`` is what ``rlbound import`` prints: one line of counts, then one per note (what was
    kept as verdicts, what was chosen, and what is left for ``rlbound verify``), ``RUN_DIR`` in a
    note replaced by the run's path.
    """

    store: RunStore
    format: str
    n_problems: int
    n_samples: int
    n_verdicts: int
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        head = (f"imported {self.n_samples} samples ({self.n_verdicts} with verdicts) of {self.n_problems} "
                f"problems into {self.store.path} (format {self.format})")
        return [head, *(f"  note: {n.replace('RUN_DIR', str(self.store.path))}" for n in self.notes)]


def import_to_run(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], fmt: str | None = None, *,
                  split: str | None = None, metric: str | None = None) -> ImportSummary:
    """Import results into a run directory (backend "import", model = file stem); see import_results.

    The whole input is parsed before anything is written, so a bad file leaves no directory behind.
    ``dataset_hash`` is the sha256 of the input; importing the same input again into the same
    directory is a no-op, a different one into it is refused (RunStore.create).
    """
    p = Path(path)
    run = import_results(p, fmt, split=split, metric=metric)
    extra = {"import_format": run.format, "source": str(p.resolve()), "import_notes": list(run.notes)}
    if split is not None:
        extra["split"] = split
    if metric is not None:
        extra["metric"] = metric
    manifest = RunManifest(model=_stem(p), backend="import", sampling={}, prompt_template={},
                           dataset_name=run.path, dataset_hash=_digest(p, split), extra=extra)
    store = RunStore.create(out_dir, manifest, run.problems)
    store.add_samples(run.samples)
    if run.verdicts:
        store.add_verdicts(run.verdicts)
    return ImportSummary(store, run.format, len(run.problems), store.sample_table().num_rows,
                         store.verdict_table().num_rows, run.notes)


def import_to_store(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], fmt: str | None = None, *,
                    split: str | None = None, metric: str | None = None) -> RunStore:
    """``import_to_run(...).store``: the run directory the import wrote."""
    return import_to_run(path, out_dir, fmt, split=split, metric=metric).store


def load_counts(path: str | os.PathLike[str], field: str = "correct") -> tuple[list[str], np.ndarray, np.ndarray]:
    """(problem_ids, n, c) from a run directory or any import input, for pass@k (Chen et al. 2021).

    ``n`` and ``c`` are int64 arrays of shape (P,), in problem order; ``c`` counts samples whose
    verdict has ``field`` true (``steps_correct``: CoT-pass@k, run directories only). InputError
    when the path does not exist or the input has no per-sample verdicts (texts only).
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or run directory", path=str(p))
    if p.is_dir() and not is_hf_dataset_dir(p):
        return RunStore.open(p).counts(field)
    if field != "correct":
        raise InputError(f"--field {field} needs a run directory with step-checked verdicts", path=str(p))
    run = import_results(p)
    if not run.verdicts:
        how = run.notes[0] if run.notes else "grade them first"
        raise InputError(f"holds samples but no verdicts; {how}", path=str(p))
    order = {q.id: i for i, q in enumerate(run.problems)}
    ords = np.fromiter((order[pid] for pid, _, _ in run.verdicts), dtype=np.int64, count=len(run.verdicts))
    ok = np.fromiter((v.correct for _, _, v in run.verdicts), dtype=np.int64, count=len(run.verdicts))
    P = len(run.problems)
    n = np.bincount(ords, minlength=P).astype(np.int64)
    c = np.bincount(ords, weights=ok, minlength=P).astype(np.int64)
    keep = n > 0
    if not keep.all():
        ex = [q.id for q, k in zip(run.problems, keep) if not k][:3]
        raise InputError(f"{int((~keep).sum())} problems have samples but no verdicts (e.g. {ex})", path=str(p))
    return [q.id for q in run.problems], n, c
