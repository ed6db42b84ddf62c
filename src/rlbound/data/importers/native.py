"""The first three import formats: rlbound's own ``{problem_id, correct}`` rows, human-eval
samples/results, and the eval_rm_maj rows of the limit-of-RLVR evaluation (Yue et al. 2025,
arXiv 2504.13837). Each keeps the per-sample verdicts the file records (Chen et al. 2021's c)."""

from __future__ import annotations

import json

from rlbound.data.importers.base import Collector, ImportedRun, show
from rlbound.data.importers.base import plain_verdict as _verdict
from rlbound.data.importers.sources import Source
from rlbound.types import Problem, Status


def load_correct_jsonl(src: Source, metric: str | None = None) -> ImportedRun:
    """Rows ``{problem_id, correct}`` plus optional ``sample_index``, ``text``, ``extracted``, ``status``."""
    col = Collector("correct_jsonl")
    has_index: bool | None = None
    for r in src.records():
        pid = r.get("problem_id", "id")
        correct = r.get("correct", "bool")
        idx = r.get("sample_index", "int", required=False)
        if has_index is None:
            has_index = idx is not None
        elif has_index != (idx is not None):
            raise r.err("field 'sample_index' must be given on every row or on none "
                        f"({'present' if has_index else 'absent'} on the first row)", "sample_index")
        if idx is None:
            idx = col.next_index(pid)
        text = r.get("text", "str?", required=False)
        extracted = r.get("extracted", "answer", required=False)
        status = None
        if "status" in r.obj:
            word = r.get("status", "str")
            try:
                status = Status(word)
            except ValueError:
                raise r.err(f"field 'status' must be one of {[s.value for s in Status]}, got {show(word)}",
                            "status") from None
            if (status is Status.CORRECT) != correct:
                raise r.err(f"field 'status' {word!r} contradicts correct={str(correct).lower()}", "status")
        col.problem(Problem(id=pid, prompt="", verifier="external"))
        col.add(r, pid, idx, text, _verdict(correct, "correct_jsonl", extracted, status))
    return col.run(src.where)


def _humaneval_status(result: str | None, passed: bool) -> Status:
    if passed:
        return Status.CORRECT
    if result is not None and result.strip().lower().startswith("timed out"):
        return Status.TIMEOUT
    return Status.WRONG


def load_humaneval(src: Source, metric: str | None = None) -> ImportedRun:
    """human-eval ``{task_id, completion}``; a ``*_results.jsonl`` adds ``passed`` and ``result``."""
    col = Collector("humaneval")
    has_passed: bool | None = None
    for r in src.records():
        tid = r.get("task_id", "id")
        completion = r.get("completion", "str")
        passed = r.get("passed", "bool", required=False)
        if has_passed is None:
            has_passed = passed is not None
        elif has_passed != (passed is not None):
            raise r.err("field 'passed' must be given on every row or on none "
                        f"({'present' if has_passed else 'absent'} on the first row)", "passed")
        col.problem(Problem(id=tid, prompt="", verifier="humaneval"))
        verdict = None
        if passed is not None:
            result = r.get("result", "str?", required=False)
            verdict = _verdict(passed, "humaneval", None, _humaneval_status(result, passed), detail=result or "")
        col.add(r, tid, col.next_index(tid), completion, verdict)
    notes = [] if has_passed else [
        "texts only: human-eval samples without 'passed'; grade them with human-eval's "
        "evaluate_functional_correctness and import the *_results.jsonl it writes"]
    return col.run(src.where, notes)


def load_rm_maj(src: Source, metric: str | None = None) -> ImportedRun:
    """eval_rm_maj rows: ``idx``, ``score`` (one bool per sample), optional ``code``, ``pred``, ``gt``, ``question``."""
    col = Collector("rm_maj")
    seen: dict[str, str] = {}
    for r in src.records():
        pid = r.get("idx", "id")
        if pid in seen:
            raise r.err(f"duplicate problem idx {pid!r}, first on {seen[pid]}", "idx")
        seen[pid] = f"line {r.line}" if r.line is not None else f"row {r.row}"
        scores = r.get("score", "list")
        if not scores:
            raise r.err("field 'score' is an empty list (no samples)", "score")
        scores = [r.check(v, "bool", f"score[{i}]") for i, v in enumerate(scores)]
        texts: list[str | None] = [None] * len(scores)
        preds: list[str | None] = [None] * len(scores)
        for name, kind, target in (("code", "str", texts), ("pred", "answer", preds)):
            if name in r.obj:
                vals = r.get(name, "list")
                if len(vals) != len(scores):
                    raise r.err(f"field '{name}' has {len(vals)} entries but 'score' has {len(scores)}", name)
                target[:] = [r.check(v, kind, f"{name}[{i}]") for i, v in enumerate(vals)]
        gt = r.obj.get("gt")
        reference = None if gt is None else (gt if isinstance(gt, str) else json.dumps(gt, ensure_ascii=False))
        question = r.get("question", "str?", required=False) or ""
        meta = {k: r.obj[k] for k in ("level", "type", "subject") if isinstance(r.obj.get(k), (str, int, float))}
        col.problem(Problem(id=pid, prompt=question, reference=reference, verifier="math", metadata=meta))
        for i, (ok, text, pred) in enumerate(zip(scores, texts, preds)):
            col.add(r, pid, i, text, _verdict(ok, "rm_maj", pred))
    return col.run(src.where)
