"""verl validation dumps (``trainer.validation_data_dir``): the JSONL ``RayPPOTrainer._dump_generations``
writes, one line per sampled response with ``input``, ``output``, ``gts``, ``score``, ``step`` and
the reward function's extra fields (e.g. ``acc``, ``pred``).

A response's ``score`` is its reward. It becomes the per-sample verdict that counts toward c in
pass@k (Chen et al. 2021; Yue et al. 2025, arXiv 2504.13837) only when it is 0/1 on every line (or
from the reward's own ``acc`` field, preferred when present); a shaped reward (format bonuses,
-1/+1, partial credit) is not a verdict, and the texts are left to ``rlbound verify``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rlbound.data.importers.base import Collector, ImportedRun, Row, binary, grade_later_note, plain_verdict, show
from rlbound.data.importers.sources import Source
from rlbound.errors import InputError
from rlbound.types import Problem

VERL_GRADE_FIELDS = ("acc", "score")  # tried in this order without --metric


def _reference(gts: Any) -> str | None:
    if isinstance(gts, (list, tuple)) and len(gts) == 1:
        gts = gts[0]
    if gts is None or isinstance(gts, bool):
        return None
    if isinstance(gts, str):
        return gts
    if isinstance(gts, (int, float)):
        return str(gts)
    return json.dumps(gts, ensure_ascii=False, sort_keys=True, default=str)


def _problem_id(prompt: str, reference: str | None) -> str:
    """A stable id for a prompt: the dump has none, and the same validation prompt recurs n times."""
    key = json.dumps([prompt, reference], ensure_ascii=False)
    return "verl-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _grade_field(rows: list[Row], asked: str | None) -> str | None:
    if asked is not None:
        for r in rows:
            if binary(r.obj.get(asked)) is None:
                raise r.err(f"field {asked!r} is {show(r.obj.get(asked))} here, not 0/1 or true/false: "
                            "not a per-sample verdict", asked)
        return asked
    for name in VERL_GRADE_FIELDS:
        if all(binary(r.obj.get(name)) is not None for r in rows):
            return name
    return None


def load_verl(src: Source, metric: str | None = None) -> ImportedRun:
    """Read: ``input`` (-> prompt; with ``gts`` it names the problem: problem_id is a hash of both),
    ``output`` (-> text; sample_index is the order within a problem), ``gts`` (-> reference),
    ``acc`` or ``score`` (-> verdict when 0/1), ``pred`` (-> extracted), ``step`` (one per file)."""
    rows = list(src.records())
    steps = sorted({r.obj.get("step") for r in rows if isinstance(r.obj.get("step"), int)})
    if len(steps) > 1:
        raise InputError(f"lines of several training steps ({', '.join(map(str, steps[:5]))}); import one "
                         "step's file (validation_data_dir/<step>.jsonl)", path=src.where, field="step")
    chosen = _grade_field(rows, metric)
    col = Collector("verl")
    for r in rows:
        prompt = r.get("input", "str")
        output = r.get("output", "str")
        reference = _reference(r.obj.get("gts"))
        pid = _problem_id(prompt, reference)
        col.problem(Problem(id=pid, prompt=prompt, reference=reference, verifier="math",
                            metadata={k: r.obj[k] for k in ("data_source",) if isinstance(r.obj.get(k), str)}))
        verdict = None
        if chosen is not None:
            pred = r.obj.get("pred")
            verdict = plain_verdict(bool(binary(r.obj[chosen])), "verl", pred if isinstance(pred, str) else None,
                                    detail=f"verl: {chosen}={r.obj[chosen]}")
        col.add(r, pid, col.next_index(pid), output, verdict)
    step = f" of step {steps[0]}" if steps else ""
    if chosen is not None:
        note = f"verdicts: verl's per-sample {chosen!r}{step} (0/1 on every line)"
    else:
        bad = next((r for r in rows if binary(r.obj.get("score")) is None), None)
        val = show(bad.obj.get("score")) if bad is not None else "?"
        at = f"line {bad.line}" if bad is not None and bad.line is not None else "a row"
        note = grade_later_note(f"verl's score{step} is a reward, not 0/1 ({val} on {at}) and there is no 0/1 "
                                "'acc'", "'gts'")
    return col.run(src.where, [note])
