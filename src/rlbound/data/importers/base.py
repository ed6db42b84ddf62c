"""What every importer shares: the imported run, typed field access with located errors, and a
collector that turns rows into problems, samples and verdicts without silent duplicates.

An imported run holds, per problem, the n samples and (where the tool graded them) the per-sample
verdicts whose correct count c feeds the unbiased pass@k estimator (Chen et al. 2021, eq. 1) used by
Yue et al. 2025 (arXiv 2504.13837). A verdict is only ever taken from a per-sample grade; a
per-document aggregate (a mean, maj@k, pass@k over several responses) is never turned into one.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlbound.errors import InputError
from rlbound.types import Problem, Sample, Status, Verdict
from rlbound.verify.extract import extract_boxed


@dataclass(frozen=True)
class ImportedRun:
    """What an import file holds, as rlbound records.

    Attributes:
        path: the file (or folder) read.
        format: one of FORMATS.
        problems: problems in order of first appearance (prompt "" when the file has none).
        samples: one Sample per response (``text`` None when the file has no text).
        verdicts: ``(problem_id, sample_index, Verdict)``; empty when the file has only texts.
        notes: what the import kept, chose or left to ``rlbound verify`` (shown by ``rlbound import``).
    """

    path: str
    format: str
    problems: list[Problem] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    verdicts: list[tuple[str, int, Verdict]] = field(default_factory=list)
    notes: tuple[str, ...] = ()


# ----------------------------------------------------------------------------------------------
# strict field access


def show(v: Any) -> str:
    """A value, short, for an error message."""
    s = json.dumps(v, ensure_ascii=False, default=str)
    return s if len(s) <= 40 else s[:37] + "..."


class Row:
    """Typed field access on one record, with errors naming path, line (or row) and field.

    ``line`` is the 1-based line of a JSONL file; records of a JSON document, a Parquet file or a
    dataset folder have no line and are named ``row N`` in the message instead.
    """

    def __init__(self, obj: dict[str, Any], path: Path | str, line: int | None, row: int | None = None) -> None:
        self.obj, self.path, self.line, self.row = obj, path, line, row

    def err(self, msg: str, fld: str | None) -> InputError:
        if self.line is None and self.row is not None:
            msg = f"row {self.row}: {msg}"
        return InputError(msg, path=str(self.path), line=self.line, field=fld)

    def get(self, name: str, kind: str, required: bool = True) -> Any:
        if name not in self.obj:
            if required:
                raise self.err(f"missing field '{name}'", name)
            return None
        return self.check(self.obj[name], kind, name)

    def check(self, v: Any, kind: str, name: str) -> Any:  # noqa: C901 - one branch per kind
        """Validate ``v`` as ``kind``: bool, int (>= 0), id (str or int -> str), str, str? (str or null),
        answer (str/number/null -> str or None), list, dict (a mapping, or JSON / Python-literal text of one)."""
        if kind == "bool":
            if isinstance(v, bool):
                return v
            raise self.err(f"field '{name}' must be true or false, got {show(v)}", name)
        if kind == "int":
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                return v
            raise self.err(f"field '{name}' must be an integer >= 0, got {show(v)}", name)
        if kind == "id":
            if isinstance(v, str) and v != "":
                return v
            if isinstance(v, int) and not isinstance(v, bool):
                return str(v)
            raise self.err(f"field '{name}' must be a non-empty string or an integer, got {show(v)}", name)
        if kind == "str":
            if isinstance(v, str):
                return v
            raise self.err(f"field '{name}' must be a string, got {show(v)}", name)
        if kind == "str?":
            if v is None or isinstance(v, str):
                return v
            raise self.err(f"field '{name}' must be a string or null, got {show(v)}", name)
        if kind == "answer":
            if v is None or isinstance(v, str):
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return str(v)
            raise self.err(f"field '{name}' must be a string, a number or null, got {show(v)}", name)
        if kind == "list":
            if isinstance(v, (list, tuple)):
                return list(v)
            raise self.err(f"field '{name}' must be a list, got {show(v)}", name)
        if kind == "dict":
            m = as_mapping(v)
            if m is not None:
                return m
            raise self.err(f"field '{name}' must be an object, got {show(v)}", name)
        raise AssertionError(kind)


def as_mapping(v: Any) -> dict[str, Any] | None:
    """``v`` as a dict: a mapping as is, or the JSON / Python-literal text of one (lighteval's
    details fall back to ``str(value)`` columns when a nested value will not fit a Parquet type)."""
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v.lstrip().startswith("{"):
        for parse in (json.loads, ast.literal_eval):
            try:
                out = parse(v)
            except (ValueError, SyntaxError, RecursionError):
                continue
            if isinstance(out, dict):
                return out
    return None


def binary(v: Any) -> bool | None:
    """A per-sample grade as a bool: true/false, or a number equal to 0 or 1; None for anything else."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    return None


def plain_verdict(correct: bool, fmt: str, extracted: str | None = None, status: Status | None = None,
                  detail: str = "") -> Verdict:
    st = status if status is not None else (Status.CORRECT if correct else Status.WRONG)
    return Verdict(correct=correct, status=st, extracted=extracted, detail=detail, verifier=f"import:{fmt}")


_GSM8K_MARK = re.compile(r"####\s*(.+?)\s*$", re.S)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def reference_from_target(target: Any) -> str | None:
    """A gold answer in the math verifier's terms from a harness's target text: the text after
    ``####`` (GSM8K, thousands commas removed), else the last ``\\boxed{}``, else the text itself."""
    if isinstance(target, (list, tuple)) and len(target) == 1:
        target = target[0]
    if isinstance(target, bool) or target is None:
        return None
    if isinstance(target, (int, float)):
        return str(target)
    if not isinstance(target, str):
        return json.dumps(target, ensure_ascii=False, default=str)
    m = _GSM8K_MARK.search(target)
    if m:
        return _THOUSANDS.sub("", m.group(1)).replace("$", "").strip() or None
    if "\\boxed" in target:
        boxed, _ = extract_boxed(target)
        if boxed:
            return boxed
    return target.strip() or None


# ----------------------------------------------------------------------------------------------
# collecting rows


class Collector:
    """Problems, samples and verdicts of one file, refusing a second row for the same cell."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.problems: dict[str, Problem] = {}
        self.samples: list[Sample] = []
        self.verdicts: list[tuple[str, int, Verdict]] = []
        self._next: dict[str, int] = {}
        self._seen: dict[tuple[str, int], str] = {}

    def problem(self, p: Problem) -> None:
        """Add ``p`` unless a problem of that id is already there (the first one is kept)."""
        self.problems.setdefault(p.id, p)

    def next_index(self, pid: str) -> int:
        """The next free sample index of problem ``pid`` (0, 1, ... in row order)."""
        i = self._next.get(pid, 0)
        self._next[pid] = i + 1
        return i

    def add(self, row: Row, pid: str, idx: int, text: str | None, verdict: Verdict | None,
            fld: str = "sample_index") -> None:
        key = (pid, idx)
        if key in self._seen:
            raise row.err(f"duplicate cell (problem {pid!r}, sample {idx}), first at {self._seen[key]}", fld)
        self._seen[key] = f"line {row.line}" if row.line is not None else f"row {row.row}"
        self.samples.append(Sample(problem_id=pid, sample_index=idx, text=text))
        if verdict is not None:
            self.verdicts.append((pid, idx, verdict))

    def run(self, path: Path | str, notes: list[str] | tuple[str, ...] = ()) -> ImportedRun:
        return ImportedRun(str(path), self.fmt, list(self.problems.values()), self.samples, self.verdicts,
                           tuple(notes))


def grade_later_note(why: str, reference: str) -> str:
    """The note of a texts-only import that ``rlbound verify`` can grade (``RUN_DIR``: the run)."""
    return (f"texts only ({why}), so no per-sample verdict is imported; grade them with "
            f"'rlbound verify RUN_DIR' (math verifier against {reference}; --verifier overrides), then "
            "'rlbound passk RUN_DIR'")
