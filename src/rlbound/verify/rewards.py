"""Reward functions for RL trainers, backed by rlbound's verifiers.

RLVR (reinforcement learning with verifiable rewards) trains on a 0/1 reward from a verifier; Yue et
al. 2025 (arXiv 2504.13837, Sec. 2.2) study models trained exactly so. These adapters let a trainer
use the same verifiers rlbound grades with, so training reward and evaluation pass@k (Chen et al.
2021) agree by construction:

* ``compute_score(data_source, solution_str, ground_truth, extra_info=None) -> float``: verl's
  ``custom_reward_function`` signature (verl ``default_compute_score``), routed by ``data_source``;
* ``make_trl_reward(verifier, reference_column="reference")``: a TRL ``GRPOTrainer`` reward
  function ``reward(prompts, completions, **columns) -> list[float]``.

Reward is 1.0 for a verdict ``correct`` and 0.0 otherwise. A ``timeout`` or ``error`` verdict is
also 0.0 (a trainer needs a number) but is logged as a warning with its detail, never silently
(user pain point 2).

Routing of ``data_source`` (case-insensitive; the first rule that matches):

* a registered verifier name ("math", "humaneval", "stdio", "synthetic") -> that verifier;
* "sandbox" or contains "synthetic" -> "synthetic";
* contains "humaneval" or "mbpp" -> "humaneval" (unit tests defining ``check(candidate)``);
* contains "livecodebench", "code_contests", "codecontests", "codeforces", "apps", "taco" or
  "stdio" -> "stdio";
* contains "math", "gsm8k", "aime", "amc", "olympiad", "minerva" or "numina" -> "math";
* anything else: ``ValueError`` naming the source.

What each verifier needs from verl's arguments: "math": ``ground_truth`` is the answer. "humaneval":
``ground_truth`` is the test code; ``extra_info["entry_point"]`` the function name and
``extra_info["prompt"]`` the prompt the completion continues (may be omitted when the response
holds a fenced block defining the function). "stdio": ``ground_truth`` is the JSON list (or a
list) of ``{"input", "output"}`` cases. "synthetic": ``ground_truth`` is the serialised graph.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rlbound.types import Problem, Status, Verdict
from rlbound.verify.base import Verifier, available, get_verifier

log = logging.getLogger(__name__)

_CONTAINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("synthetic", ("synthetic",)),
    ("humaneval", ("humaneval", "mbpp")),
    ("stdio", ("livecodebench", "code_contests", "codecontests", "codeforces", "apps", "taco", "stdio")),
    ("math", ("math", "gsm8k", "aime", "amc", "olympiad", "minerva", "numina")),
)

_verifiers: dict[str, Verifier] = {}
_verifiers_lock = threading.Lock()


def verifier_for_source(data_source: str) -> str:
    """The verifier name ``compute_score`` uses for ``data_source`` (routing rules in the module doc)."""
    if not isinstance(data_source, str):
        raise ValueError(f"data_source must be a string, got {type(data_source).__name__}")
    key = data_source.strip().lower()
    if key in available():
        return key
    if key == "sandbox":
        return "synthetic"
    for name, needles in _CONTAINS:
        if any(n in key for n in needles):
            return name
    raise ValueError(
        f"unknown data_source {data_source!r}: no rlbound verifier for it "
        f"(known verifiers: {', '.join(available())}; see rlbound.verify.rewards for the routing rules)"
    )


def _verifier(name: str) -> Verifier:
    with _verifiers_lock:
        if name not in _verifiers:
            _verifiers[name] = get_verifier(name)
        return _verifiers[name]


def _reference(name: str, ground_truth: Any) -> str:
    if name == "stdio" and isinstance(ground_truth, (list, tuple)):
        return json.dumps(list(ground_truth))
    if isinstance(ground_truth, str):
        return ground_truth
    if name == "math" and isinstance(ground_truth, (int, float)) and not isinstance(ground_truth, bool):
        return str(ground_truth)
    raise ValueError(f"ground_truth for verifier {name!r} must be a string, got {type(ground_truth).__name__}")


def _problem(name: str, ground_truth: Any, info: Mapping[str, Any]) -> Problem:
    prompt = info.get("prompt", "")
    if not isinstance(prompt, str):
        prompt = ""
    pid = info.get("id", info.get("index", ""))
    metadata = dict(info)
    if name == "humaneval" and not isinstance(info.get("entry_point"), str):
        raise ValueError("data_source routes to 'humaneval': extra_info['entry_point'] (the function name) is required")
    return Problem(id=str(pid), prompt=prompt, reference=_reference(name, ground_truth), verifier=name, metadata=metadata)


def _reward(verdict: Verdict, where: str) -> float:
    if verdict.status in (Status.TIMEOUT, Status.ERROR):
        log.warning("%s: verdict %s (%s) scored 0.0", where, verdict.status.value, verdict.detail)
    return 1.0 if verdict.correct else 0.0


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
) -> float:
    """verl custom reward: 1.0 when ``solution_str`` is verified correct, else 0.0.

    RLVR's binary verifiable reward (Yue et al. 2025, Sec. 2.2), with the verifier picked from
    ``data_source`` (module doc). Unknown sources raise ``ValueError`` naming the source.
    """
    name = verifier_for_source(data_source)
    if extra_info is not None and not isinstance(extra_info, Mapping):
        raise ValueError(f"extra_info must be a mapping or None, got {type(extra_info).__name__}")
    problem = _problem(name, ground_truth, extra_info or {})
    return _reward(_verifier(name).verify(problem, solution_str or ""), f"compute_score[{data_source}]")


def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string, or a conversation (list of {"role", "content"}),
    of which the assistant turns' contents are joined (TRL's conversational format)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and not isinstance(completion, (bytes, bytearray)):
        parts = []
        for msg in completion:
            if not isinstance(msg, Mapping) or not isinstance(msg.get("content"), str):
                raise ValueError("a conversational completion must be a list of {'role', 'content'} messages")
            if msg.get("role", "assistant") == "assistant":
                parts.append(msg["content"])
        return "".join(parts)
    raise ValueError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")


def make_trl_reward(verifier: str, reference_column: str = "reference") -> Callable[..., list[float]]:
    """A TRL ``GRPOTrainer`` reward function grading completions with the verifier ``verifier``.

    TRL calls ``reward(prompts=..., completions=..., <dataset columns>=...)`` with one list entry per
    completion. ``reference_column`` names the column holding each problem's reference (answer, test
    code, cases); a column "entry_point" (and "prompt" text for HumanEval-style continuations) is
    used when present. A missing reference column raises ``KeyError`` naming the columns received.
    Returns 1.0/0.0 per completion (RLVR's binary reward, Yue et al. 2025, Sec. 2.2).
    """
    get_verifier(verifier)  # fail now, not at the first training step, on an unknown name

    def reward(prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
               **columns: Any) -> list[float]:
        # TRL passes every dataset column as a keyword argument (its calling convention), plus
        # bookkeeping such as completion_ids and trainer_state; only the named columns are read.
        if completions is None:
            raise ValueError("TRL reward called without 'completions'")
        if reference_column not in columns:
            raise KeyError(
                f"reward function needs the dataset column {reference_column!r}; "
                f"got columns: {', '.join(sorted(columns)) or '(none)'}"
            )
        refs = columns[reference_column]
        if len(refs) != len(completions):
            raise ValueError(f"column {reference_column!r} has {len(refs)} entries for {len(completions)} completions")
        entry_points = columns.get("entry_point")
        prompt_texts = columns.get("prompt")
        out: list[float] = []
        v = _verifier(verifier)
        for i, completion in enumerate(completions):
            meta: dict[str, Any] = {}
            if entry_points is not None:
                meta["entry_point"] = entry_points[i]
            prompt = ""
            if prompt_texts is not None and isinstance(prompt_texts[i], str):
                prompt = prompt_texts[i]
            elif prompts is not None and i < len(prompts) and isinstance(prompts[i], str) and verifier == "humaneval":
                prompt = prompts[i]
            problem = Problem(id=str(i), prompt=prompt, reference=_reference(verifier, refs[i]), verifier=verifier,
                              metadata=meta)
            out.append(_reward(v.verify(problem, completion_text(completion)), f"trl reward[{verifier}]"))
        return out

    reward.__name__ = f"rlbound_{verifier}_reward"
    return reward
