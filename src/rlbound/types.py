"""The data model every part of rlbound reads and writes.

Names follow Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"): a problem is
sampled ``n`` times, ``c`` of the samples are correct, and pass@k is estimated from (n, c).
The study design these records serve is Yue et al. 2025 (arXiv 2504.13837).

All records are frozen dataclasses of plain values, so they round-trip through JSON and Parquet.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rlbound.errors import InputError


class Status(str, enum.Enum):
    """Outcome of verifying one response.

    ``timeout`` and ``error`` are kept apart from ``wrong``: a grader that hangs or crashes says
    nothing about the model (user pain point 2: silent timeouts counted as wrong).
    """

    CORRECT = "correct"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class Problem:
    """One benchmark item.

    Attributes:
        id: unique within its dataset (string, even for integer ids).
        prompt: the problem statement (before any prompt template is applied).
        reference: the gold answer in the verifier's terms (a LaTeX answer, a test program, a
            serialised dependency graph), or None when the verifier needs none.
        verifier: registry name of the verifier that grades responses to this problem.
        metadata: anything else (difficulty level, subject, entry point, ...).
    """

    id: str
    prompt: str
    reference: str | None = None
    verifier: str = "math"
    metadata: dict[str, Any] = field(default_factory=dict)

    FIELDS: ClassVar[frozenset[str]] = frozenset({"id", "prompt", "reference", "verifier", "metadata"})

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, path: str = "", line: int | None = None) -> Problem:
        """The one parser of a problem row (``dataclasses.asdict(Problem)`` as JSON: rlbound's own
        problem files, the sandbox's, RL training sets). ``id`` and ``prompt`` are required;
        ``reference`` (string or null), ``verifier`` (default ``"math"``) and ``metadata`` (object)
        are optional; any other key is refused. InputError names the file, line and field."""
        def bad(msg: str, name: str) -> InputError:
            return InputError(msg, path=path or None, line=line, field=name)

        if not isinstance(row, Mapping):
            raise bad(f"a problem row must be a JSON object, got {type(row).__name__}", "id")
        unknown = sorted(set(row) - cls.FIELDS)
        if unknown:
            raise bad(f"unknown field '{unknown[0]}'", unknown[0])
        for name, kinds, required in (("id", (str, int), True), ("prompt", (str,), True),
                                      ("verifier", (str,), False), ("metadata", (dict,), False)):
            if name not in row:
                if required:
                    raise bad(f"missing field '{name}'", name)
                continue
            if not isinstance(row[name], kinds) or isinstance(row[name], bool):
                raise bad(f"field '{name}' must be {'/'.join(k.__name__ for k in kinds)}", name)
        ref = row.get("reference")
        if ref is not None and not isinstance(ref, str):
            raise bad("field 'reference' must be a string or null", "reference")
        return cls(id=str(row["id"]), prompt=row["prompt"], reference=ref, verifier=row.get("verifier") or "math",
                   metadata=dict(row.get("metadata") or {}))


@dataclass(frozen=True)
class Sample:
    """One sampled response.

    Attributes:
        problem_id: the ``Problem.id`` it answers.
        sample_index: 0..n-1 within the problem; (problem_id, sample_index) is the cell key.
        seed: the per-sample seed it was drawn with (pain point 5: independent samples), or None
            when imported from elsewhere.
        text: the completion text (without the prompt); None when only a verdict was imported.
        finish_reason: "stop", "length" (truncated) or the backend's word; None when unknown.
        prompt_tokens: prompt length in tokens, when known.
        completion_tokens: completion length in tokens, when known.
    """

    problem_id: str
    sample_index: int
    seed: int | None = None
    text: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement of one response.

    Attributes:
        correct: True only when ``status`` is ``correct``.
        status: see ``Status``.
        extracted: the answer the verifier extracted from the response (for maj@k), if any.
        detail: a short human-readable reason (extraction policy used, exception text, limit hit).
        verifier: registry name of the verifier.
        verifier_version: version string of the verifier (pain point 4: reproducibility).
        answer_correct: final answer right (step-checked verifiers; else None).
        steps_correct: every reasoning step right (CoT-pass@k, Wen et al. 2025; else None).
    """

    correct: bool
    status: Status
    extracted: str | None = None
    detail: str = ""
    verifier: str = ""
    verifier_version: str = ""
    answer_correct: bool | None = None
    steps_correct: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        if self.correct != (self.status is Status.CORRECT):
            raise ValueError(f"Verdict.correct={self.correct} contradicts status={self.status.value}")


@dataclass(frozen=True)
class RunManifest:
    """What produced a run: enough to reproduce it (pain point 4).

    Attributes:
        model: checkpoint path, hub id or server model name.
        backend: sampling backend name ("hf", "vllm", "openai", "ray", "import" for imported data).
        sampling: sampling parameters (n, temperature, top_p, max_new_tokens, stop, seed).
        prompt_template: the template name and its rendered text.
        dataset_name: benchmark name or file path.
        dataset_hash: sha256 of the dataset's canonical content (problems as loaded).
        created: ISO-8601 UTC timestamp.
        rlbound_version: version of rlbound that wrote the run.
        extra: free-form (training step of a checkpoint, resolved config, labels, ...).
    """

    model: str
    backend: str
    sampling: dict[str, Any] = field(default_factory=dict)
    prompt_template: dict[str, Any] = field(default_factory=dict)
    dataset_name: str = ""
    dataset_hash: str = ""
    created: str = ""
    rlbound_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunManifest:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown manifest field(s): {', '.join(sorted(unknown))}")
        return cls(**d)
