"""Code benchmarks graded by their own harnesses: evalplus (``samples.jsonl``, ``eval_results.json``)
and LiveCodeBench (``..._eval_all.json``).

Their grades are per sample (one status per solution), so they are kept as verdicts: the c of the
unbiased pass@k (Chen et al. 2021) that Yue et al. 2025 (arXiv 2504.13837) compare across k. The
tests themselves are not in these files, so a texts-only file cannot be graded by ``rlbound verify``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlbound.data.importers.base import Collector, ImportedRun, Row, plain_verdict
from rlbound.data.importers.sources import Source
from rlbound.errors import InputError
from rlbound.types import Problem, Status

# evalplus/eval/__init__.py: PASS = "pass", FAIL = "fail", TIMEOUT = "timeout"; None when unknown.
EVALPLUS_STATUS = {"pass": Status.CORRECT, "fail": Status.WRONG, "timeout": Status.TIMEOUT, None: Status.ERROR}
EVALPLUS_TESTS = ("base", "plus")


def _results_beside(path: Path) -> Path | None:
    """The ``eval_results.json`` evalplus.evaluate writes for ``path`` (same names as its own lookup)."""
    name = path.name.removesuffix(".gz")
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else path.stem
    for cand in (path.with_name(f"{stem}_eval_results.json"), path.with_name(f"{stem}.eval_results.json"),
                 path.with_name("eval_results.json")):
        if cand.is_file():
            return cand
    return None


def load_evalplus_samples(src: Source, metric: str | None = None) -> ImportedRun:
    """evalplus ``samples.jsonl``: ``{task_id, solution}`` rows (texts only; the order within a task
    is evalplus's ``completion_id``, -> sample_index)."""
    col = Collector("evalplus_samples")
    for r in src.records():
        tid = r.get("task_id", "id")
        solution = r.get("solution", "str")
        col.problem(Problem(id=tid, prompt="", verifier="humaneval"))
        col.add(r, tid, col.next_index(tid), solution, None)
    beside = _results_beside(src.path) if src.container != "hf_dataset" else None
    where = f"import {beside}" if beside else "run 'evalplus.evaluate --samples ...' and import the eval_results.json it writes"
    return col.run(src.where, [
        "texts only: evalplus samples carry no tests, so 'rlbound verify' cannot grade them; for verdicts "
        f"{where}"])


def _entries(r: Row, tid: str, val: Any) -> list[tuple[Any, str | None, str | None]]:
    """(solution, base_status, plus_status) per sample of one task, from the current layout (a list of
    ``{solution, base_status, plus_status, ...}``) or the one before it (``{nfiles, base: [[status,
    details]], plus: [...]}``, which evalplus's ``compatible_eval_result`` converts)."""
    if isinstance(val, list):
        out = []
        for i, e in enumerate(val):
            if not isinstance(e, dict):
                raise r.err(f"eval[{tid!r}][{i}] must be an object, got {type(e).__name__}", "eval")
            out.append((e.get("solution"), e.get("base_status"), e.get("plus_status")))
        return out
    if isinstance(val, dict) and isinstance(val.get("base"), list):
        base = [b[0] if isinstance(b, list) and b else b for b in val["base"]]
        plus = [p[0] if isinstance(p, list) and p else p for p in (val.get("plus") or [])]
        return [(None, b, plus[i] if i < len(plus) else None) for i, b in enumerate(base)]
    raise r.err(f"eval[{tid!r}] must be a list of results, got {type(val).__name__}", "eval")


def _evalplus_verdict(r: Row, tid: str, i: int, base: Any, plus: Any, tests: str) -> Any:
    for name, st in (("base_status", base), ("plus_status", plus)):
        if st not in EVALPLUS_STATUS:
            raise r.err(f"eval[{tid!r}][{i}].{name} must be pass, fail, timeout or null, got {st!r}", "eval")
    deciding = base if tests == "base" or base != "pass" else plus
    status = EVALPLUS_STATUS[deciding]
    return plain_verdict(status is Status.CORRECT, "evalplus_results", None, status,
                         detail=f"base: {base}" + (f", plus: {plus}" if tests == "plus" else ""))


def load_evalplus_results(src: Source, metric: str | None = None) -> ImportedRun:
    """evalplus ``eval_results.json``: ``eval`` -> task_id -> one result per sample, in
    completion_id order (-> sample_index), with ``base_status`` / ``plus_status`` (-> verdict) and
    ``solution`` (-> text). ``--metric base`` grades on the base tests only (HumanEval / MBPP);
    the default ``plus`` needs both (HumanEval+ / MBPP+), as evalplus's own ``base + extra`` score."""
    if metric not in (None, *EVALPLUS_TESTS):
        raise InputError(f"--metric for evalplus results is base or plus, got {metric!r}", path=src.where,
                         field="metric")
    col = Collector("evalplus_results")
    notes: list[str] = []
    for r in src.records():
        ev = r.get("eval", "dict")
        per_task = {tid: _entries(r, tid, val) for tid, val in ev.items()}
        has_plus = any(p is not None for es in per_task.values() for _, _, p in es)
        tests = metric or ("plus" if has_plus else "base")
        if tests == "plus" and not has_plus:
            raise r.err("no plus_status in the file (evaluated with --base-only); use --metric base", "metric")
        for tid, entries in per_task.items():
            col.problem(Problem(id=str(tid), prompt="", verifier="humaneval"))
            for i, (solution, base, plus) in enumerate(entries):
                text = solution if isinstance(solution, str) else None
                col.add(r, str(tid), i, text, _evalplus_verdict(r, str(tid), i, base, plus, tests))
        notes.append(f"verdicts: evalplus {'base + plus' if tests == 'plus' else 'base'} tests (a sample is correct "
                     f"when {'both base_status and plus_status are' if tests == 'plus' else 'base_status is'} 'pass')")
    return col.run(src.where, notes)


# ----------------------------------------------------------------------------------------------
# LiveCodeBench

_LCB_TIMEOUT = -3  # lcb_runner/evaluation/testing_util.py: error_code -3 is "Time Limit Exceeded"


def _lcb_meta(entry: Any) -> dict[str, Any]:
    if isinstance(entry, str):
        try:
            entry = json.loads(entry)
        except json.JSONDecodeError:
            return {}
    return entry if isinstance(entry, dict) else {}


def load_livecodebench(src: Source, metric: str | None = None) -> ImportedRun:
    """LiveCodeBench ``..._eval_all.json``: one record per problem with ``question_id`` (->
    problem_id), ``question_content`` (-> prompt), ``output_list`` (the raw responses, -> text; else
    ``code_list``), ``code_list`` (the extracted programs, -> extracted), ``graded_list`` (one bool per
    sample, -> verdict) and ``metadata`` (one JSON string per sample; error_code -3 -> timeout)."""
    col = Collector("livecodebench")
    graded_any = False
    for r in src.records():
        qid = r.get("question_id", "id")
        codes = r.get("code_list", "list", required=False)
        outputs = r.get("output_list", "list", required=False)
        texts = outputs if outputs is not None else codes
        if texts is None:
            raise r.err("missing field 'output_list' (and 'code_list')", "output_list")
        graded = r.get("graded_list", "list", required=False)
        meta = r.get("metadata", "list", required=False) or []
        for name, vals in (("code_list", codes), ("graded_list", graded)):
            if vals is not None and len(vals) != len(texts):
                raise r.err(f"field '{name}' has {len(vals)} entries but there are {len(texts)} responses", name)
        info = {k: r.obj[k] for k in ("difficulty", "platform", "contest_date", "question_title")
                if isinstance(r.obj.get(k), str)}
        col.problem(Problem(id=qid, prompt=r.get("question_content", "str?", required=False) or "",
                            verifier="external", metadata=info))
        for i, text in enumerate(texts):
            r.check(text, "str", f"output_list[{i}]" if outputs is not None else f"code_list[{i}]")
            verdict = None
            if graded is not None:
                ok = r.check(graded[i], "bool", f"graded_list[{i}]")
                m = _lcb_meta(meta[i]) if i < len(meta) else {}
                status = (Status.CORRECT if ok else
                          Status.TIMEOUT if m.get("error_code") == _LCB_TIMEOUT else Status.WRONG)
                code = codes[i] if codes is not None and isinstance(codes[i], str) else None
                verdict = plain_verdict(ok, "livecodebench", code, status, detail=str(m.get("error_message", "")))
            col.add(r, qid, i, text, verdict)
        graded_any = graded_any or graded is not None
    notes = ["verdicts: LiveCodeBench's graded_list (one per sample)"] if graded_any else [
        "texts only: no graded_list (a generation file, not ..._eval_all.json) and no tests in the file, so "
        "'rlbound verify' cannot grade them; run LiveCodeBench with --evaluate and import its _eval_all.json"]
    return col.run(src.where, notes)
