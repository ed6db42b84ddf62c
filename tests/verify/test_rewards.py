"""verl and TRL reward adapters route to rlbound's verifiers and return 1.0 / 0.0."""

from __future__ import annotations

import json

import pytest

import rlbound.verify.rewards as rewards
from rlbound.verify.rewards import completion_text, compute_score, make_trl_reward, verifier_for_source

HE_PROMPT = 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n'
HE_TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
CASES = [{"input": "1 2\n", "output": "3\n"}, {"input": "4 5\n", "output": "9\n"}]
SUM_PROGRAM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"


@pytest.fixture(autouse=True)
def fresh_warning_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rewards, "_warned", rewards.Counter())


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("math", "math"), ("math500", "math"), ("HuggingFaceH4/MATH-500", "math"), ("openai/gsm8k", "math"),
        ("aime24", "math"), ("amc23", "math"), ("olympiadbench", "math"), ("minerva_math", "math"),
        ("lighteval/MATH", "math"), ("humaneval", "humaneval"), ("openai_humaneval", "humaneval"),
        ("evalplus/humanevalplus", "humaneval"), ("mbpp", "humaneval"), ("livecodebench", "stdio"),
        ("deepmind/code_contests", "stdio"), ("stdio", "stdio"), ("sandbox", "synthetic"),
        ("synthetic", "synthetic"), ("rlbound-synthetic-v1", "synthetic"),
    ],
)
def test_routing(source: str, name: str) -> None:
    assert verifier_for_source(source) == name


def test_unknown_source_names_the_source() -> None:
    with pytest.raises(ValueError, match="'imagenet'"):
        verifier_for_source("imagenet")
    assert verifier_for_source("imagenet", default="math") == "math"


def test_math_reward() -> None:
    assert compute_score("math500", r"so the answer is $\boxed{\frac{1}{2}}$", "1/2") == 1.0
    assert compute_score("math500", r"so the answer is $\boxed{\frac{1}{3}}$", "1/2") == 0.0
    assert compute_score("aime24", r"\boxed{42}", 42) == 1.0


def test_humaneval_reward_continuation_and_fenced() -> None:
    info = {"entry_point": "add", "prompt": HE_PROMPT}
    assert compute_score("humaneval", "    return a + b\n", HE_TEST, info) == 1.0
    assert compute_score("humaneval", "    return a - b\n", HE_TEST, info) == 0.0
    fenced = "```python\ndef add(a, b):\n    return a + b\n```"
    assert compute_score("humaneval", fenced, HE_TEST, {"entry_point": "add"}) == 1.0


def test_humaneval_reward_without_entry_point_scores_zero_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="rlbound.verify.rewards"):
        assert compute_score("humaneval", "    return a + b\n", HE_TEST, {"prompt": HE_PROMPT}) == 0.0
    assert "entry point" in caplog.text


def test_humaneval_reward_hack_scores_zero() -> None:
    info = {"entry_point": "add", "prompt": HE_PROMPT}
    assert compute_score("humaneval", "    return 0\nimport os\nos._exit(0)\n", HE_TEST, info) == 0.0


def test_stdio_reward_accepts_json_or_list() -> None:
    assert compute_score("livecodebench", SUM_PROGRAM, json.dumps(CASES)) == 1.0
    assert compute_score("livecodebench", SUM_PROGRAM, CASES) == 1.0
    assert compute_score("livecodebench", "print(0)", CASES) == 0.0


def test_synthetic_reward_routes_to_synthetic_verifier() -> None:
    pytest.importorskip("rlbound.toy.tasks", reason="synthetic tasks module not present yet")
    # a malformed graph is the synthetic verifier's "error" verdict: reward 0.0, not an exception
    assert compute_score("synthetic", "#### 1", "not a graph") == 0.0


def test_trl_reward_with_strings_and_conversations() -> None:
    reward = make_trl_reward("stdio", reference_column="tests")
    refs = [json.dumps(CASES)] * 3
    completions = [SUM_PROGRAM, [{"role": "assistant", "content": SUM_PROGRAM}], "print(0)"]
    out = reward(prompts=["p"] * 3, completions=completions, tests=refs, completion_ids=[[1]] * 3, trainer_state=None)
    assert out == [1.0, 1.0, 0.0]


def test_trl_reward_math_default_column() -> None:
    reward = make_trl_reward("math")
    out = reward(prompts=["q", "q"], completions=[r"\boxed{4}", r"\boxed{5}"], reference=["4", "4"])
    assert out == [1.0, 0.0]


def test_trl_reward_humaneval_uses_entry_point_column() -> None:
    reward = make_trl_reward("humaneval", reference_column="test")
    out = reward(prompts=[HE_PROMPT], completions=["    return a + b\n"], test=[HE_TEST], entry_point=["add"])
    assert out == [1.0]


def test_trl_reward_missing_column_raises() -> None:
    reward = make_trl_reward("math", reference_column="solution")
    with pytest.raises(KeyError, match="'solution'.*answer"):
        reward(prompts=["q"], completions=[r"\boxed{1}"], answer=["1"])


def test_trl_reward_unknown_verifier_fails_at_creation() -> None:
    with pytest.raises(KeyError, match="unknown verifier"):
        make_trl_reward("no-such-verifier")


def test_completion_text_rejects_garbage() -> None:
    assert completion_text([{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]) == "a\nb"
    with pytest.raises(ValueError):
        completion_text(42)
