"""Reward functions for RL trainers, backed by rlbound's verifiers.

RLVR (reinforcement learning with verifiable rewards) trains on a 0/1 reward from a verifier; Yue et
al. 2025 (arXiv 2504.13837, Sec. 2.2) study models trained exactly so. These adapters let a trainer
use the same verifiers rlbound grades with, so training reward and evaluation pass@k (Chen et al.
2021) agree by construction:

* ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)``: verl's
  ``custom_reward_function`` signature (verl ``default_compute_score``), routed by ``data_source``;
  returns a float, or verl's dict form ``{"score", "acc", "pred"}`` with ``return_dict=True``;
* ``make_trl_reward(verifier, reference_column="reference", ...)``: a TRL ``GRPOTrainer`` reward
  function ``reward(prompts, completions, **columns) -> list[float]``.

Reward is 1.0 for a verdict ``correct`` and 0.0 otherwise. A ``timeout`` or ``error`` verdict is
also 0.0 (a trainer needs a number) but is logged as a warning with its detail, never silently
(user pain point 2). Neither adapter stops a training run over one item: an item that cannot be
graded (a malformed reference, a missing entry point, a completion made only of tool calls) scores
0.0 and is logged (the first few times per kind of problem). Only set-up errors raise, when the
function is made or first called: an unknown verifier name, a dataset column TRL does not pass.

Routing of ``data_source`` (case-insensitive; the first rule that matches):

* a registered verifier name ("math", "humaneval", "stdio", "synthetic") -> that verifier;
* "sandbox" or contains "synthetic" -> "synthetic";
* contains "humaneval" or "mbpp" -> "humaneval" (unit tests defining ``check(candidate)``);
* contains "livecodebench", "code_contests", "codecontests", "codeforces", "apps", "taco" or
  "stdio" -> "stdio";
* contains "math", "gsm8k", "aime", "amc", "olympiad", "minerva", "numina" or "dapo" -> "math";
* anything else -> "math", with a warning logged once per source (``verifier_for_source`` itself
  raises ``ValueError`` for it).

What each verifier needs from verl's arguments: "math": ``ground_truth`` is the answer (a string or
number; a list of them is any-of). "humaneval": ``ground_truth`` is the test code;
``extra_info["entry_point"]`` the function name and ``extra_info["prompt"]`` the prompt the
completion continues (a string or chat messages; may be omitted when the response holds a fenced
block defining the function). "stdio": ``ground_truth`` is the JSON list (or a list) of
``{"input", "output"}`` cases, or PRIME's ``{"inputs": [...], "outputs": [...]}`` (dict or JSON);
with a ``"fn_name"`` it is APPS's call-based form: each input is the argument list of one call of
``fn_name`` (a function, or a method of ``class Solution``), graded as unit tests. "synthetic":
``ground_truth`` is the serialised graph.

Answer formats for "math" (``answer_format``): ``"default"`` is rlbound's extraction
(``rlbound.verify.extract``: the last box, "the answer is", ...); ``"dapo"`` first reads DAPO's
final line ``Answer: X`` (verl ``math_dapo``: the last match of ``(?i)Answer\\s*:\\s*([^\\n]+)`` in
the last 300 characters), equivalence still by rlbound's math verifier; ``"auto"`` (verl's default)
is ``"dapo"`` for the sources verl itself grades with ``math_dapo`` ("math_dapo", "aime*") and for
any source containing "dapo", else ``"default"``.

HumanEval prompts: TRL does not pass the dataset's ``prompt`` column to reward functions, so the
code the completion continues comes from ``prompts`` (a string, or chat messages: an assistant
prefill when the conversation ends with one, else the last user message; the code is the message
itself when it is Python, else its fenced block defining the entry point, else the text from its
first ``def``/``import`` line). A prompt that is not valid Python on its own (a signature with no
docstring) is graded with a ``pass`` body for the test process, so it scores, not fails to load.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rlbound.types import Problem, Status, Verdict
from rlbound.verify.base import Verifier, available, get_verifier
from rlbound.verify.code import compiles, stub_prompt

# A fixed name: verl loads this file by path as "custom_module", and its warnings should still be rlbound's.
log = logging.getLogger("rlbound.verify.rewards")

_CONTAINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("synthetic", ("synthetic",)),
    ("humaneval", ("humaneval", "mbpp")),
    ("stdio", ("livecodebench", "code_contests", "codecontests", "codeforces", "apps", "taco", "stdio")),
    ("math", ("math", "gsm8k", "aime", "amc", "olympiad", "minerva", "numina", "dapo")),
)
FALLBACK_VERIFIER = "math"
ANSWER_FORMATS = ("default", "dapo", "auto")
_DAPO_ANSWER = re.compile(r"(?i)Answer\s*:\s*([^\n]+)")
_DAPO_WINDOW = 300  # verl math_dapo reads the answer line from the last 300 characters only
_CODE_LANGS = {"", "python", "py", "python3", "py3"}
_FENCE_LINE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*(?:\n|$)", re.M)
_CODE_START = re.compile(r"^(?:from\s|import\s|def\s|async\s+def\s|class\s|@)", re.M)
_MAX_TRAILING_PROSE = 20  # lines of text after a prompt's code that are dropped to find the code
_MAX_REWRITE_CHARS = 200_000  # longer HumanEval inputs are graded as they are, never compiled here
# Imports APPS-style call-based solutions take for granted (LeetCode signatures use typing.List).
_CALL_HEADER = ("from typing import *\nimport bisect, collections, functools, heapq, itertools, math, re, string\n"
                "from collections import *\n")
_WARN_LIMIT = 3

_verifiers: dict[str, Verifier] = {}
_verifiers_lock = threading.Lock()
_warned: Counter[str] = Counter()
_warned_lock = threading.Lock()


def _warn(kind: str, message: str, *args: Any, limit: int = _WARN_LIMIT) -> None:
    """Log a warning of ``kind`` the first ``limit`` times (then say that further ones are not)."""
    with _warned_lock:
        _warned[kind] += 1
        n = _warned[kind]
    if n <= limit:
        more = " (further warnings of this kind are not logged)" if n == limit and limit > 1 else ""
        log.warning(message + more, *args)


def verifier_for_source(data_source: str, default: str | None = None) -> str:
    """The verifier name ``compute_score`` uses for ``data_source`` (routing rules in the module doc).

    An unknown (or non-string) source returns ``default``, or raises ``ValueError`` naming it when
    ``default`` is None."""
    if isinstance(data_source, str):
        key = data_source.strip().lower()
        if key in available():
            return key
        if key == "sandbox":
            return "synthetic"
        for name, needles in _CONTAINS:
            if any(n in key for n in needles):
                return name
    if default is not None:
        return default
    if not isinstance(data_source, str):
        raise ValueError(f"data_source must be a string, got {type(data_source).__name__}")
    raise ValueError(
        f"unknown data_source {data_source!r}: no rlbound verifier for it "
        f"(known verifiers: {', '.join(available())}; see rlbound.verify.rewards for the routing rules)"
    )


def shared_verifier(name: str) -> Verifier:
    """The process's one instance of verifier ``name`` (thread-safe): every reward function of
    rlbound (TRL, verl, ``rlbound train`` / ``distill``) grades through it."""
    with _verifiers_lock:
        if name not in _verifiers:
            _verifiers[name] = get_verifier(name)
        return _verifiers[name]


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (numpy arrays and scalars from verl's parquet batches included)."""
    def default(obj: Any) -> Any:
        if hasattr(obj, "tolist"):
            return obj.tolist()
        if isinstance(obj, (set, frozenset, tuple)):
            return list(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON data")

    return json.loads(json.dumps(value, default=default))


def _many(value: Any) -> bool:
    """A list-like of items (a numpy array from verl's batches included), not a string or mapping."""
    if isinstance(value, (str, bytes, Mapping)):
        return False
    return isinstance(value, Sequence) or (hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0)


def _math_reference(ground_truth: Any) -> str:
    if hasattr(ground_truth, "item") and not isinstance(ground_truth, str):
        ground_truth = ground_truth.item()  # a numpy scalar
    if isinstance(ground_truth, str):
        return ground_truth
    if isinstance(ground_truth, (int, float)) and not isinstance(ground_truth, bool):
        return str(ground_truth)
    raise ValueError(f"ground_truth for verifier 'math' must be a string or number, got {type(ground_truth).__name__}")


def _lines(value: Any) -> str:
    """One stdin/stdout text: APPS and TACO store some as lists of lines."""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ValueError(f"a stdio case input/output must be text, got {type(value).__name__}")
    return value


def code_tests(ground_truth: Any) -> tuple[list[Any], str | None]:
    """(cases, fn_name) from a code ground truth: rlbound's / LiveCodeBench's list of
    ``{"input", "output"}`` cases, or PRIME's ``{"inputs": [...], "outputs": [...]}`` (verl
    ``prime_code``), either as JSON text or as data. ``fn_name`` is set for APPS's call-based form;
    its cases are then ``[arguments, expected]`` pairs. Raises ``ValueError`` for anything else."""
    data = ground_truth
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ValueError(f"code ground_truth is not JSON ({exc})") from None
    data = _plain(data)
    if isinstance(data, dict) and "inputs" in data and "outputs" in data:
        ins, outs = data["inputs"], data["outputs"]
        if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs) or not ins:
            raise ValueError("PRIME ground_truth needs equally long, non-empty 'inputs' and 'outputs' lists")
        fn = data.get("fn_name")
        if fn:
            return [[a if isinstance(a, list) else [a], o] for a, o in zip(ins, outs)], str(fn)
        return [{"input": _lines(i), "output": _lines(o)} for i, o in zip(ins, outs)], None
    if isinstance(data, list):
        return data, None
    raise ValueError(f"code ground_truth must be a list of cases or {{'inputs', 'outputs'}}, got {type(data).__name__}")


def _call_test(cases: list[Any]) -> str:
    """HumanEval-style test code for APPS call-based cases, compared as APPS's harness does (a
    tuple result as a list; an expected ``[x]`` also accepts ``x``)."""
    return (
        "import json as _rl_json\n"
        f"_RL_CASES = _rl_json.loads({json.dumps(cases)!r})\n"
        "def check(candidate):\n"
        "    for args, want in _RL_CASES:\n"
        "        got = candidate(*args)\n"
        "        if isinstance(got, tuple):\n"
        "            got = list(got)\n"
        "        ok = got == want or (isinstance(want, list) and len(want) > 0 and got == want[0])\n"
        "        assert ok, 'wrong result for arguments %.200r' % (args,)\n"
    )


def _call_response(response: str, fn: str) -> str:
    """The response as one fenced block defining ``fn`` at top level (a ``class Solution`` method
    gets a forwarding function), so the HumanEval harness can call it."""
    from rlbound.verify.code import fenced_blocks

    blocks = fenced_blocks(response)
    defining = [b for b in blocks if re.search(rf"^\s*(async\s+)?def\s+{re.escape(fn)}\s*\(", b, re.M)]
    code = (defining or blocks or [response])[-1]
    if not re.search(rf"^(async\s+)?def\s+{re.escape(fn)}\s*\(", code, re.M) and \
            re.search(r"^class\s+Solution\b", code, re.M) and fn.isidentifier():
        code += f"\n\ndef {fn}(*args, **kwargs):\n    return Solution().{fn}(*args, **kwargs)\n"
    return response if "```" in code else f"```python\n{code}\n```"


def _content_text(content: Any) -> str:
    """The text of a message ``content``: a string, None (a tool-call-only turn), or a list of
    parts (``{"type": "text", "text": ...}``; images and other parts carry no text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        texts = [p if isinstance(p, str) else p.get("text") for p in content if isinstance(p, (str, Mapping))]
        return "".join(t for t in texts if isinstance(t, str))
    return ""


def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string, or a conversation (a list of messages, or one
    message), of which the assistant turns' text contents are joined with newlines (TRL's
    conversational format). Tool calls and tool results carry no answer text: a turn that is only a
    tool call (``content`` None or empty) adds nothing, and ``"tool"`` turns are skipped.
    Raises ``ValueError`` for anything that is neither a string nor messages."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence) and not isinstance(completion, (bytes, bytearray)):
        parts = []
        for msg in completion:
            if isinstance(msg, Mapping) and msg.get("role", "assistant") == "assistant":
                text = _content_text(msg.get("content"))
                if text:
                    parts.append(text)
        return "\n".join(parts)
    raise ValueError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")


def _defines(code: str, entry: str) -> bool:
    return re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry)}\s*\(", code, re.M) is not None


def _code_of(text: str, entry: str) -> tuple[str, bool]:
    """(the code in a prompt text, whether it ends inside an open code fence): see module doc."""
    if not text.strip() or len(text) > _MAX_REWRITE_CHARS or stub_prompt(text) is not None:
        return text if text.strip() else "", False
    fences = list(_FENCE_LINE.finditer(text))
    if len(fences) % 2 == 1 and fences[-1].group(1).lower() in _CODE_LANGS:
        return text[fences[-1].end():], True
    from rlbound.verify.code import fenced_blocks

    blocks = [b for b in fenced_blocks(text) if _defines(b, entry)]
    if blocks:
        return blocks[-1], False
    start = _CODE_START.search(text)
    if start is None:
        return "", False
    lines = text[start.start():].splitlines(keepends=True)
    for end in range(len(lines), max(len(lines) - _MAX_TRAILING_PROSE, 0), -1):  # drop prose after the code
        if stub_prompt("".join(lines[:end])) is not None:
            return "".join(lines[:end]), False
    return "", False


def code_prompt(prompt: Any, entry: str) -> tuple[str, bool]:
    """(HumanEval code a completion continues, whether inside an open fence) from a prompt: a
    string, or chat messages (TRL's conversational format, verl's ``prompt``): see module doc."""
    if isinstance(prompt, str):
        return _code_of(prompt, entry)
    if _many(prompt):
        msgs = [m for m in prompt if isinstance(m, Mapping)]
        if msgs and msgs[-1].get("role") == "assistant":
            return _code_of(_content_text(msgs[-1].get("content")), entry)
        users = [m for m in msgs if m.get("role", "user") == "user"]
        if users:
            return _code_of(_content_text(users[-1].get("content")), entry)
    return "", False


def _cut_at_fence(response: str) -> str:
    """A continuation written inside an open fence ends where the fence closes."""
    m = re.search(r"^[ \t]*```", response, re.M)
    return response[: m.start()] if m else response


def humaneval_inputs(prompt: str, response: str, entry: str, in_fence: bool = False) -> tuple[str, str]:
    """(prompt, response) to grade with the "humaneval" verifier, so that a prompt which is not valid
    Python alone (a signature with no docstring) does not fail with IndentationError in the test
    process: that process gets the prompt with a ``pass`` body, and the candidate the prompt and
    its continuation (or the response's own definition) as one fenced block defining ``entry``."""
    if in_fence:
        response = _cut_at_fence(response)
    if len(prompt) + len(response) > _MAX_REWRITE_CHARS:
        return prompt, response
    stub = stub_prompt(prompt)
    if stub is None or stub == prompt:
        return prompt, response
    from rlbound.verify.code import humaneval_program

    source, policy = humaneval_program(prompt, response, entry)
    if policy == "fenced-def":
        return stub, response
    code = source[len(prompt):]
    full = prompt + code if compiles(prompt + code) or not compiles(code) else code
    if "```" in full:
        return prompt, response
    return stub, f"```python\n{full}\n```"


def dapo_response(text: str) -> str:
    """The response with DAPO's final ``Answer: X`` line (verl ``math_dapo``) put in a box for the
    math verifier; unchanged when there is no such line in the last 300 characters."""
    found = _DAPO_ANSWER.findall(text[-_DAPO_WINDOW:])
    if not found:
        return text
    answer = found[-1].strip()
    if "\\boxed" in answer:
        return answer
    answer = answer.rstrip(".").strip()
    if len(answer) >= 2 and answer[0] == "$" and answer[-1] == "$":
        answer = answer.strip("$").strip()
    return "\\boxed{" + answer + "}"


def grade_item(name: str, ground_truth: Any, response: str, *, prompt: Any = "",
               metadata: Mapping[str, Any] | None = None, answer_format: str = "default") -> Verdict:
    """The verdict of the verifier ``name`` on one trainer item (the adapters' one grading path).

    Turns the trainer's fields into a ``Problem``: a list of math answers is any-of, PRIME's code
    tests and APPS's call-based tests are converted (``code_tests``), HumanEval prompts go through
    ``code_prompt`` and ``humaneval_inputs``, ``answer_format="dapo"`` reads DAPO's answer line.
    Raises ``ValueError`` (or the verifier's ``InputError``) for an item that cannot be graded."""
    meta = dict(metadata or {})
    pid = str(meta.get("id", meta.get("index", "")))
    if name == "math":
        if _many(ground_truth):
            answers = _plain(ground_truth)
            if not answers:
                raise ValueError("ground_truth for verifier 'math' is an empty list")
            verdicts = [grade_item(name, a, response, metadata=meta, answer_format=answer_format) for a in answers]
            return next((v for v in verdicts if v.correct), verdicts[-1])
        if answer_format == "dapo":
            response = dapo_response(response)
        problem = Problem(id=pid, prompt="", reference=_math_reference(ground_truth), verifier=name, metadata=meta)
        return shared_verifier(name).verify(problem, response)
    if name == "stdio":
        cases, fn = code_tests(ground_truth)
        if fn is None:
            problem = Problem(id=pid, prompt="", reference=json.dumps(cases), verifier=name, metadata=meta)
            return shared_verifier(name).verify(problem, response)
        meta["entry_point"] = fn
        problem = Problem(id=pid, prompt=_CALL_HEADER, reference=_call_test(cases), verifier="humaneval",
                          metadata=meta)
        return shared_verifier("humaneval").verify(problem, _call_response(response, fn))
    if not isinstance(ground_truth, str):
        raise ValueError(f"ground_truth for verifier {name!r} must be a string, got {type(ground_truth).__name__}")
    text = prompt if isinstance(prompt, str) else ""
    if name == "humaneval":
        entry = meta.get("entry_point")
        if not isinstance(entry, str):
            raise ValueError("verifier 'humaneval' needs the entry point (the function name)")
        code, in_fence = code_prompt(prompt, entry)
        text, response = humaneval_inputs(code, response, entry, in_fence)
    problem = Problem(id=pid, prompt=text, reference=ground_truth, verifier=name, metadata=meta)
    return shared_verifier(name).verify(problem, response)


def _reward(verdict: Verdict, where: str) -> float:
    if verdict.status in (Status.TIMEOUT, Status.ERROR):
        log.warning("%s: verdict %s (%s) scored 0.0", where, verdict.status.value, verdict.detail)
    return 1.0 if verdict.correct else 0.0


def _safe_grade(where: str, name: str, ground_truth: Any, response: Any, **kw: Any) -> Verdict | None:
    """``grade_item``, or None (logged) when the item cannot be graded: a trainer gets 0.0, not a crash."""
    try:
        return grade_item(name, ground_truth, completion_text(response), **kw)
    except Exception as exc:  # noqa: BLE001 - one bad item must not end someone's training run
        _warn(f"{where}:{type(exc).__name__}", "%s: item not graded, scored 0.0 (%s: %s)", where,
              type(exc).__name__, exc)
        return None


def _source_format(data_source: Any, answer_format: str) -> str:
    if answer_format != "auto":
        return answer_format
    key = data_source.strip().lower() if isinstance(data_source, str) else ""
    return "dapo" if "dapo" in key or key.startswith("aime") else "default"


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    return_dict: bool = False,
    answer_format: str = "auto",
    **kwargs: Any,
) -> float | dict[str, Any]:
    """verl custom reward: 1.0 when ``solution_str`` is verified correct, else 0.0.

    RLVR's binary verifiable reward (Yue et al. 2025, Sec. 2.2), with the verifier picked from
    ``data_source`` (module doc; an unknown source is graded as math, with a warning logged once).
    verl passes the four arguments by keyword and merges ``custom_reward_function.reward_kwargs``
    into them: ``return_dict=True`` returns verl's dict form ``{"score": 1.0/0.0, "acc": bool,
    "pred": extracted answer or ""}`` (the naive reward manager takes ``"score"`` as the reward and
    logs every key), ``answer_format`` is "auto", "dapo" or "default" (module doc). Other keyword
    arguments (``sandbox_fusion_url``, ``concurrent_semaphore``, ``memory_limit_mb``, ...) are
    accepted and unused. An item that cannot be graded scores 0.0 and is logged; it never raises.
    """
    if answer_format not in ANSWER_FORMATS:
        raise ValueError(f"answer_format must be one of {', '.join(ANSWER_FORMATS)}, got {answer_format!r}")
    name = verifier_for_source(data_source, default="")
    if not name:
        name = FALLBACK_VERIFIER
        _warn(f"source:{data_source!r}", "compute_score: unknown data_source %r, graded with the %r verifier "
              "(see rlbound.verify.rewards for the routing rules)", data_source, FALLBACK_VERIFIER, limit=1)
    info = extra_info if isinstance(extra_info, Mapping) else {}
    where = f"compute_score[{data_source}]"
    verdict = _safe_grade(where, name, ground_truth, solution_str, prompt=info.get("prompt", ""), metadata=info,
                          answer_format=_source_format(data_source, answer_format))
    score = 0.0 if verdict is None else _reward(verdict, where)
    if not return_dict:
        return score
    pred = verdict.extracted if verdict is not None and verdict.extracted is not None else ""
    return {"score": score, "acc": score == 1.0, "pred": pred}


def _column(columns: Mapping[str, Any], name: str, n: int) -> Sequence[Any]:
    if name not in columns:
        raise KeyError(
            f"reward function needs the dataset column {name!r}; "
            f"got columns: {', '.join(sorted(columns)) or '(none)'}"
        )
    values = columns[name]
    if not _many(values) or len(values) != n:
        raise ValueError(f"column {name!r} must hold one entry per completion ({n}), got {values!r:.80}")
    return values


def make_trl_reward(verifier: str, reference_column: str = "reference", *, prompt_column: str | None = None,
                    entry_point_column: str = "entry_point", answer_format: str = "default"
                    ) -> Callable[..., list[float]]:
    """A TRL ``GRPOTrainer`` reward function grading completions with the verifier ``verifier``.

    TRL calls ``reward(prompts=..., completions=..., completion_ids=..., <dataset columns>=...,
    trainer_state=...)`` with one list entry per completion, every dataset column but ``prompt``
    (older releases: without ``completion_ids`` and ``trainer_state``); completions are strings or,
    for conversational datasets, lists of messages (tool calls and ``content`` None included,
    ``completion_text``). ``reference_column`` names the column holding each problem's reference
    (answer, test code, cases); for "humaneval", ``entry_point_column`` the function names, and the
    code the completion continues comes from ``prompt_column`` when given, else from ``prompts``
    (``code_prompt``). ``answer_format`` ("default" or "dapo") is as for ``compute_score``.
    A missing column raises ``KeyError`` naming the columns received (at the first step); an item
    that cannot be graded scores 0.0 and is logged. Returns 1.0/0.0 per completion (RLVR's binary
    reward, Yue et al. 2025, Sec. 2.2).
    """
    shared_verifier(verifier)  # fail now, not at the first training step, on an unknown name
    if answer_format not in ("default", "dapo"):
        raise ValueError(f"answer_format must be 'default' or 'dapo', got {answer_format!r}")
    where = f"trl reward[{verifier}]"

    def reward(prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None,
               **columns: Any) -> list[float]:
        # Bookkeeping TRL adds (completion_ids, trainer_state, log_metric, ...) lands in columns, unread.
        if completions is None:
            raise ValueError("TRL reward called without 'completions'")
        n = len(completions)
        refs = _column(columns, reference_column, n)
        entries = _column(columns, entry_point_column, n) if verifier == "humaneval" else None
        code_prompts = _column(columns, prompt_column, n) if prompt_column is not None else \
            columns.get("prompt", prompts)  # TRL drops "prompt" from the columns; a direct caller may pass it
        out: list[float] = []
        for i, completion in enumerate(completions):
            meta = {"entry_point": entries[i]} if entries is not None else {}
            prompt = code_prompts[i] if code_prompts is not None and i < len(code_prompts) else ""
            verdict = _safe_grade(where, verifier, refs[i], completion, prompt=prompt, metadata=meta,
                                  answer_format=answer_format)
            out.append(0.0 if verdict is None else _reward(verdict, where))
        return out

    reward.__name__ = f"rlbound_{verifier}_reward"
    return reward
