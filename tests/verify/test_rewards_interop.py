"""The reward adapters called exactly as TRL and verl call them.

``trl_calculate_rewards`` reproduces TRL's ``GRPOTrainer._calculate_rewards`` (trl/trainer/grpo_trainer.py):
the current form passes every dataset column but ``prompt``, ``completion`` and ``completion_ids``
as keyword lists plus ``completion_ids`` and ``trainer_state``; the older form (0.14-0.18) passes
the columns but ``prompt`` and ``completion``. ``verl_naive_manager`` reproduces verl's naive
reward manager (verl/workers/reward_manager/naive.py): ``compute_score`` called by keyword, with
``custom_reward_function.reward_kwargs`` merged in (verl/trainer/ppo/reward.py), and a dict result
read as ``score["score"]`` with every key appended to ``reward_extra_info``.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

import rlbound.verify.rewards as rewards
from rlbound.verify.rewards import code_tests, completion_text, compute_score, dapo_response, make_trl_reward

HE_PROMPT = 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n'
HE_NODOC = "def add(a, b):\n"
HE_TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
GOOD_BODY = "    return a + b\n"
FENCED_ADD = "```python\ndef add(a, b):\n    return a + b\n```"
SUM_PROGRAM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
PRIME_CASES = {"inputs": ["1 2\n", "4 5\n"], "outputs": ["3\n", "9\n"]}


@pytest.fixture(autouse=True)
def fresh_warning_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rewards, "_warned", rewards.Counter())


class TrainerState:
    """Stands in for transformers.TrainerState, which TRL passes as one object (not a list)."""

    global_step = 3


def trl_calculate_rewards(reward_func: Callable[..., list[Any]], inputs: list[dict[str, Any]],
                          prompts: list[Any], completions: list[Any], *, legacy: bool = False) -> list[float]:
    """TRL's ``_calculate_rewards`` for one custom reward function (None -> NaN, then a float tensor)."""
    if legacy:
        keys = [key for key in inputs[0] if key not in ["prompt", "completion"]]
        reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
        output = reward_func(prompts=prompts, completions=completions, **reward_kwargs)
    else:
        keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
        reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
        reward_kwargs["trainer_state"] = TrainerState()
        completion_ids = [[7, 8, 9] for _ in completions]
        output = reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids, **reward_kwargs)
    output = [r if r is not None else math.nan for r in output]
    assert len(output) == len(inputs) and all(type(r) is float for r in output)
    return output


def repeat(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """TRL's RepeatSampler: each row ``n`` times in a row (one per generation)."""
    return [copy.deepcopy(r) for r in rows for _ in range(n)]


def conversational(inputs: list[dict[str, Any]], texts: list[str], *, legacy: bool) -> tuple[list[Any], list[Any]]:
    """(prompts, completions) as TRL builds them for a conversational dataset. Older releases pop an
    assistant prefill off the prompt and put it before the generated text (the "bootstrap")."""
    prompts = [copy.deepcopy(x["prompt"]) for x in inputs]
    completions = []
    for prompt, text in zip(prompts, texts):
        bootstrap = prompt.pop()["content"] if legacy and prompt[-1]["role"] == "assistant" else ""
        completions.append([{"role": "assistant", "content": bootstrap + text}])
    return prompts, completions


@pytest.mark.parametrize("legacy", [False, True])
def test_trl_standard_format_math(legacy: bool) -> None:
    inputs = repeat([{"prompt": "What is 2+2?", "answer": "4", "level": 1}], 3)
    out = trl_calculate_rewards(make_trl_reward("math", reference_column="answer"), inputs,
                                [x["prompt"] for x in inputs], [r"\boxed{4}", r"\boxed{5}", "no idea"], legacy=legacy)
    assert out == [1.0, 0.0, 0.0]


def test_trl_tool_calls_and_content_none_score_by_their_text() -> None:
    call = {"type": "function", "function": {"name": "calc", "arguments": {"expr": "2+2"}}}
    completions = [
        # a tool round trip, then the answer in a later assistant turn
        [{"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "name": "calc", "content": "4"},
         {"role": "assistant", "content": r"So it is $\boxed{4}$."}],
        [{"role": "assistant", "content": None, "tool_calls": [call]}],  # only a tool call
        [{"role": "assistant", "tool_calls": [call]}],  # no content key at all
        [{"role": "assistant", "content": "", "tool_calls": [call]}, {"role": "tool", "name": "calc", "content": "4"}],
        [{"role": "assistant", "content": [{"type": "text", "text": r"\boxed{4}"}]}],  # content as parts
        [{"role": "assistant", "content": r"\boxed{5}", "tool_calls": [call]}, {"role": "tool", "content": r"\boxed{4}"}],
    ]
    inputs = repeat([{"prompt": [{"role": "user", "content": "2+2?"}], "reference": "4"}], len(completions))
    out = trl_calculate_rewards(make_trl_reward("math"), inputs, [x["prompt"] for x in inputs], completions)
    assert out == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]  # the tool's own text never counts as the answer


@pytest.mark.parametrize("legacy", [False, True])
def test_trl_humaneval_continuation_after_chat_prompt(legacy: bool) -> None:
    user = {"role": "user", "content": "Complete the function.\n```python\n" + HE_PROMPT + "```"}
    inputs = repeat([{"prompt": [user], "test": HE_TEST, "entry_point": "add"}], 3)
    prompts, completions = conversational(inputs, [GOOD_BODY, "    return a - b\n", FENCED_ADD], legacy=legacy)
    reward = make_trl_reward("humaneval", reference_column="test")
    assert trl_calculate_rewards(reward, inputs, prompts, completions, legacy=legacy) == [1.0, 0.0, 1.0]


def test_trl_humaneval_prompt_in_prose_without_fence() -> None:
    user = {"role": "user", "content": "Complete this Python function.\n\n" + HE_PROMPT}
    inputs = repeat([{"prompt": [user], "test": HE_TEST, "entry_point": "add"}], 2)
    prompts, completions = conversational(inputs, [GOOD_BODY, "    return 0\n"], legacy=False)
    reward = make_trl_reward("humaneval", reference_column="test")
    assert trl_calculate_rewards(reward, inputs, prompts, completions) == [1.0, 0.0]


@pytest.mark.parametrize("legacy", [False, True])
def test_trl_humaneval_assistant_prefill(legacy: bool) -> None:
    # The conversation ends with an assistant turn that opens the code; the model continues it and
    # closes the fence. Newer TRL keeps the prefill in the prompt, older moves it into the completion.
    msgs = [{"role": "user", "content": "Write add."}, {"role": "assistant", "content": "```python\n" + HE_PROMPT}]
    inputs = repeat([{"prompt": msgs, "test": HE_TEST, "entry_point": "add"}], 2)
    prompts, completions = conversational(inputs, [GOOD_BODY + "```\nThat adds them.", "    return a * b\n```"],
                                          legacy=legacy)
    reward = make_trl_reward("humaneval", reference_column="test")
    assert trl_calculate_rewards(reward, inputs, prompts, completions, legacy=legacy) == [1.0, 0.0]


def test_trl_humaneval_standard_format_uses_prompts_though_prompt_column_is_dropped() -> None:
    inputs = repeat([{"prompt": HE_PROMPT, "test": HE_TEST, "entry_point": "add"}], 2)
    reward = make_trl_reward("humaneval", reference_column="test")
    out = trl_calculate_rewards(reward, inputs, [x["prompt"] for x in inputs], [GOOD_BODY, "    return a\n"])
    assert out == [1.0, 0.0]


def test_trl_humaneval_prompt_column_option() -> None:
    chat = [{"role": "user", "content": "Finish the code I gave you earlier."}]
    inputs = repeat([{"prompt": chat, "code": HE_PROMPT, "test": HE_TEST, "entry_point": "add"}], 2)
    prompts, completions = conversational(inputs, [GOOD_BODY, "    return b\n"], legacy=False)
    reward = make_trl_reward("humaneval", reference_column="test", prompt_column="code")
    assert trl_calculate_rewards(reward, inputs, prompts, completions) == [1.0, 0.0]
    without = make_trl_reward("humaneval", reference_column="test")  # the chat holds no code: continuation fails
    assert trl_calculate_rewards(without, inputs, prompts, completions) == [0.0, 0.0]


@pytest.mark.parametrize("prompt", [HE_NODOC, "def add(a, b):\n    ", "import math\n\n\ndef add(a, b):\n    # sum\n"])
def test_humaneval_prompt_without_docstring_scores(prompt: str) -> None:
    inputs = repeat([{"prompt": prompt, "test": HE_TEST, "entry_point": "add"}], 4)
    body = GOOD_BODY if prompt.endswith("\n") else GOOD_BODY.lstrip()
    texts = [body, "    return a - b\n", FENCED_ADD, "def add(a, b):\n    return a + b\n"]
    reward = make_trl_reward("humaneval", reference_column="test")
    assert trl_calculate_rewards(reward, inputs, [x["prompt"] for x in inputs], texts) == [1.0, 0.0, 1.0, 1.0]
    info = {"entry_point": "add", "prompt": prompt}
    assert compute_score("humaneval", body, HE_TEST, info) == 1.0
    assert compute_score("humaneval", "    return 0\n", HE_TEST, info) == 0.0


def test_trl_missing_columns_raise_at_the_first_step() -> None:
    inputs = repeat([{"prompt": HE_PROMPT, "test": HE_TEST}], 1)
    with pytest.raises(KeyError, match="'entry_point'.*test"):
        trl_calculate_rewards(make_trl_reward("humaneval", reference_column="test"), inputs, [HE_PROMPT], [GOOD_BODY])
    with pytest.raises(KeyError, match="'code'"):
        trl_calculate_rewards(make_trl_reward("humaneval", reference_column="test", prompt_column="code"),
                              [{"prompt": HE_PROMPT, "test": HE_TEST, "entry_point": "add"}], [HE_PROMPT], [GOOD_BODY])


def test_trl_bad_rows_score_zero_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    inputs = [{"prompt": "q", "reference": r} for r in ("4", None, ["4"], "4")]
    completions = [r"\boxed{4}", r"\boxed{4}", r"\boxed{4}", 42]  # a None reference, a garbage completion
    with caplog.at_level("WARNING", logger="rlbound.verify.rewards"):
        out = trl_calculate_rewards(make_trl_reward("math"), inputs, ["q"] * 4, completions)
    assert out == [1.0, 0.0, 1.0, 0.0]
    assert "not graded" in caplog.text


def test_trl_positional_call_and_stdio_prime_cases() -> None:
    reward = make_trl_reward("stdio", reference_column="tests")
    tests = [json.dumps(PRIME_CASES), PRIME_CASES]
    assert reward(["p", "p"], [SUM_PROGRAM, "print(3)"], tests=tests) == [1.0, 0.0]


def test_trl_dapo_answer_format() -> None:
    text = "6 * 7 = 42.\nAnswer: 42\n\nMy first guess was 41."
    assert make_trl_reward("math", answer_format="dapo")(prompts=["q"], completions=[text], reference=["42"]) == [1.0]
    assert make_trl_reward("math")(prompts=["q"], completions=[text], reference=["42"]) == [0.0]
    with pytest.raises(ValueError, match="answer_format"):
        make_trl_reward("math", answer_format="auto")


# ---- verl ----

def verl_naive_manager(items: list[dict[str, Any]], reward_kwargs: dict[str, Any] | None = None
                       ) -> tuple[list[float], dict[str, list[Any]]]:
    """verl's naive reward manager over decoded items, with the custom function wrapped as verl does."""
    extra = dict(reward_kwargs or {})

    def wrapped_fn(*args: Any, **kwargs: Any) -> Any:  # verl.trainer.ppo.reward._call_with_kwargs
        return compute_score(*args, **{**kwargs, **extra})

    rewards_out: list[float] = []
    reward_extra_info: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        score = wrapped_fn(
            data_source=item["data_source"],
            solution_str=item["response"],
            ground_truth=item["reward_model"]["ground_truth"],
            extra_info=item.get("extra_info", None),
        )
        if isinstance(score, dict):
            reward = score["score"]
            for key, value in score.items():
                reward_extra_info[key].append(value)
        else:
            reward = score
        rewards_out.append(float(reward))
    for key, values in reward_extra_info.items():  # verl turns each key into one array per batch
        assert len(values) == len(items), key
    return rewards_out, dict(reward_extra_info)


def item(source: str, response: str, truth: Any, extra: Any = None) -> dict[str, Any]:
    return {"data_source": source, "response": response, "reward_model": {"style": "rule", "ground_truth": truth},
            "extra_info": extra}


def test_verl_signature() -> None:
    params = inspect.signature(compute_score).parameters
    assert list(params)[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert params["extra_info"].default is None
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_verl_naive_manager_floats_and_dicts() -> None:
    items = [
        item("lighteval/MATH", r"so $\boxed{\frac{1}{2}}$", "1/2", {"index": 0, "num_turns": None}),
        item("openai/gsm8k", "#### 7", "8", {}),
        item("math_dapo", "So.\nAnswer: 42", "42"),
        item("codecontests", SUM_PROGRAM, json.dumps(PRIME_CASES)),
    ]
    scores, info = verl_naive_manager(items)
    assert scores == [1.0, 0.0, 1.0, 1.0] and info == {}
    scores, info = verl_naive_manager(items, {"return_dict": True})
    assert scores == [1.0, 0.0, 1.0, 1.0]
    assert set(info) == {"score", "acc", "pred"}
    assert info["acc"] == [True, False, True, True]
    assert info["pred"][:3] == [r"\frac{1}{2}", "7", "42"]


def test_verl_loads_the_file_by_path(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # verl.trainer.ppo.reward.get_custom_reward_fn: spec_from_file_location("custom_module", path)
    spec = importlib.util.spec_from_file_location("custom_module", rewards.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "custom_module", module)
    spec.loader.exec_module(module)
    reward_kwargs = {"return_dict": True}

    def wrapped_fn(*args: Any, **kwargs: Any) -> Any:
        return module.compute_score(*args, **{**kwargs, **reward_kwargs})

    with caplog.at_level("WARNING", logger="rlbound.verify.rewards"):
        out = wrapped_fn(data_source="who_knows", solution_str=r"\boxed{2}", ground_truth="2", extra_info={"index": 1})
    assert out == {"score": 1.0, "acc": True, "pred": "2"}
    assert "who_knows" in caplog.text  # logged under rlbound's logger name, not "custom_module"


def test_verl_default_arguments_from_the_sandbox_path_are_accepted() -> None:
    score = compute_score("openai/gsm8k", r"\boxed{3}", "3", None, sandbox_fusion_url=None,
                          concurrent_semaphore=None, memory_limit_mb=1024)
    assert score == 1.0


def test_verl_unknown_source_falls_back_to_math_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="rlbound.verify.rewards"):
        scores, _ = verl_naive_manager([item("my_org/new_set", r"\boxed{3}", "3"),
                                        item("my_org/new_set", r"\boxed{2}", "3"), item(None, r"\boxed{3}", 3)])
    assert scores == [1.0, 0.0, 1.0]
    warnings = [r for r in caplog.records if "unknown data_source" in r.getMessage()]
    assert [r.levelname for r in warnings] == ["WARNING", "WARNING"]  # once per source
    assert "'my_org/new_set'" in warnings[0].getMessage()


def test_verl_dapo_format_auto_and_forced() -> None:
    text = "6 * 7 = 42.\nAnswer: 42\n\nMy first guess was 41."
    assert compute_score("math_dapo", text, "42") == 1.0
    assert compute_score("aime2024", text, "42") == 1.0
    assert compute_score("BytedTsinghua-SIA/DAPO-Math-17k", text, "42") == 1.0
    assert compute_score("math500", text, "42") == 0.0  # rlbound's extraction reads 41
    assert compute_score("math500", text, "42", answer_format="dapo") == 1.0
    assert compute_score("math_dapo", text, "42", answer_format="default") == 0.0
    assert compute_score("math_dapo", r"no answer line, but $\boxed{42}$", "42") == 1.0
    assert compute_score("math_dapo", "Answer: $\\frac{1}{2}$.", "0.5", return_dict=True) == \
        {"score": 1.0, "acc": True, "pred": r"\frac{1}{2}"}
    with pytest.raises(ValueError, match="answer_format"):
        compute_score("math", "x", "1", answer_format="minerva")


def test_dapo_response_reads_the_last_answer_line_in_the_tail() -> None:
    assert dapo_response("Answer: 1\nmore\nanswer : 2") == r"\boxed{2}"
    assert dapo_response("Answer: 7" + "x" * 400) == "Answer: 7" + "x" * 400  # outside the 300-char window
    assert dapo_response(r"Answer: \boxed{3}") == r"\boxed{3}"


def test_verl_prime_code_ground_truth() -> None:
    assert compute_score("codecontests", SUM_PROGRAM, json.dumps(PRIME_CASES)) == 1.0
    assert compute_score("apps", SUM_PROGRAM, PRIME_CASES) == 1.0
    assert compute_score("taco", "```python\nprint(3)\n```", PRIME_CASES) == 0.0
    lines = {"inputs": [["1 2"], ["4 5"]], "outputs": [["3"], ["9"]]}  # TACO-style line lists
    assert compute_score("taco", SUM_PROGRAM, lines) == 1.0
    assert compute_score("apps", SUM_PROGRAM, {"inputs": ["1 2\n"], "outputs": []}) == 0.0  # malformed: 0, no raise


def test_verl_prime_call_based_ground_truth() -> None:
    truth = json.dumps({"fn_name": "add", "inputs": [[1, 2], [4, 5]], "outputs": [[3], [9]]})
    assert compute_score("apps", FENCED_ADD, truth) == 1.0
    solution = "```python\nclass Solution:\n    def add(self, a: int, b: int) -> List[int]:\n        return a + b\n```"
    assert compute_score("apps", solution, truth) == 1.0
    assert compute_score("apps", "```python\ndef add(a, b):\n    return a * b\n```", truth) == 0.0
    pairs = json.dumps({"fn_name": "pair", "inputs": [[1]], "outputs": [[1, 1]]})
    assert compute_score("apps", "```python\ndef pair(x):\n    return (x, x)\n```", pairs) == 1.0


def test_code_tests_forms() -> None:
    cases = [{"input": "1 2\n", "output": "3\n"}]
    assert code_tests(json.dumps(cases)) == (cases, None)
    assert code_tests(PRIME_CASES) == ([{"input": "1 2\n", "output": "3\n"}, {"input": "4 5\n", "output": "9\n"}], None)
    assert code_tests({"fn_name": "f", "inputs": [[1], 2], "outputs": [[1], [2]]}) == ([[[1], [1]], [[2], [2]]], "f")
    with pytest.raises(ValueError):
        code_tests("not json")


def test_verl_numpy_ground_truth_from_parquet() -> None:
    np = pytest.importorskip("numpy")
    assert compute_score("math", r"\boxed{0.5}", np.array(["1/3", "1/2"], dtype=object)) == 1.0
    assert compute_score("math", r"\boxed{0.25}", np.array(["1/3", "1/2"], dtype=object)) == 0.0
    assert compute_score("math", r"\boxed{4}", np.int64(4)) == 1.0
    cases = np.array([{"input": "1 2\n", "output": "3\n"}], dtype=object)
    assert compute_score("livecodebench", SUM_PROGRAM, cases) == 1.0


def test_verl_humaneval_prompt_as_messages() -> None:
    info = {"entry_point": "add", "prompt": [{"role": "user", "content": "Complete:\n```python\n" + HE_PROMPT + "```"}]}
    assert compute_score("openai_humaneval", GOOD_BODY, HE_TEST, info) == 1.0
    assert compute_score("openai_humaneval", "    return a\n", HE_TEST, info) == 0.0


def test_verl_never_raises_on_bad_items() -> None:
    assert compute_score("math", None, "1") == 0.0
    assert compute_score("math", r"\boxed{1}", None) == 0.0
    assert compute_score("math", r"\boxed{1}", "1", extra_info="not a mapping") == 1.0
    assert compute_score("livecodebench", SUM_PROGRAM, "not json", return_dict=True) == \
        {"score": 0.0, "acc": False, "pred": ""}


def test_completion_text_forms() -> None:
    assert completion_text(None) == ""
    assert completion_text({"role": "assistant", "content": "x"}) == "x"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": None}]) == ""
    assert completion_text([{"content": [{"type": "image"}, {"type": "text", "text": "t"}]}]) == "t"


def test_code_prompt_from_prose() -> None:
    from rlbound.verify.rewards import code_prompt

    text = "Complete this.\n" + HE_PROMPT + "\nKeep it short and fast.\n"
    assert code_prompt(text, "add") == (HE_PROMPT + "\n", False)
    assert code_prompt("Write a function add(a, b).", "add") == ("", False)
    assert code_prompt([{"role": "system", "content": HE_NODOC}, {"role": "user", "content": "No code."}], "add") == \
        ("", False)
    assert code_prompt([{"role": "user", "content": "```python\n" + HE_PROMPT + "```"}], "add") == (HE_PROMPT, False)
    assert code_prompt([{"role": "assistant", "content": "```py\n" + HE_NODOC}], "add") == (HE_NODOC, True)
