"""The ``synthetic`` verifier: gold solutions pass, each kind of corrupted step is caught."""

from __future__ import annotations

import dataclasses
import random

import pytest

from rlbound.toy.tasks import DEFAULT_CONFIG, ORDERS, Graph, generate_split, solution_text
from rlbound.types import Status
from rlbound.verify.base import get_verifier
from rlbound.verify.synthetic import SyntheticVerifier

V = SyntheticVerifier()
CFG = dataclasses.replace(DEFAULT_CONFIG, test_difficulty=tuple((d, 1.0) for d in range(1, 13)))
PROBLEMS = generate_split(CFG, "test", 240, seed=11)


def graph(p):
    return Graph.from_json(p.reference)


def hard_problem(min_d: int = 5):
    return next(p for p in PROBLEMS if p.metadata["difficulty"] >= min_d)


def test_registry_resolves_synthetic():
    v = get_verifier("synthetic")
    assert isinstance(v, SyntheticVerifier) and v.version


def test_every_gold_solution_is_accepted_in_every_style_and_order():
    rng = random.Random(0)
    n = 0
    for p in PROBLEMS:
        g = graph(p)
        for style in ("step1", "step2"):
            for order in ORDERS:
                v = V.verify(p, solution_text(g, style, order, rng))
                assert v.correct and v.status is Status.CORRECT, (p.id, style, order, v.detail)
                assert v.answer_correct is True and v.steps_correct is True, v.detail
                n += 1
        bare = V.verify(p, solution_text(g, "bare"))
        assert bare.correct and bare.answer_correct is True
        assert bare.steps_correct is False  # no reasoning shown: never counts for CoT-pass@k
    assert n == 240 * 6


def _steps(text: str) -> tuple[list[str], str]:
    body, _, ans = text.rpartition("####")
    return [s for s in body.split(";") if s], ans


def _join(steps: list[str], ans: str) -> str:
    return "".join(s + ";" for s in steps) + "####" + ans


def test_wrong_step_value_is_caught_even_with_right_answer():
    p = hard_problem()
    steps, ans = _steps(solution_text(graph(p), "step1"))
    lhs, _, val = steps[0].rpartition("=")
    steps[0] = f"{lhs}={(int(val) + 1) % graph(p).modulus}"
    v = V.verify(p, _join(steps, ans))
    assert v.answer_correct is True and v.steps_correct is False and v.correct
    assert "step 1" in v.detail


def test_wrong_parent_is_caught():
    p = hard_problem(6)
    g = graph(p)
    steps, ans = _steps(solution_text(g, "step1"))
    # a step whose operand is an earlier quantity gets another earlier quantity instead
    k, node = next((k, n) for k, n in enumerate(g.nodes) if n.right.isalpha() and k >= 2)
    other = next(m.name for m in g.nodes[:k] if m.name not in (node.left, node.right))
    value = steps[k].rpartition("=")[2]
    steps[k] = f"{node.name}={node.left}{node.op}{other}={value}"
    v = V.verify(p, _join(steps, ans))
    assert v.steps_correct is False and v.answer_correct is True
    assert f"step {k + 1}" in v.detail and "the problem says" in v.detail
    # a wrong constant operand is a wrong parent too
    steps, ans = _steps(solution_text(g, "step1"))
    n0 = g.nodes[0]
    c = str((int(n0.right) + 1) % g.modulus)
    steps[0] = f"{n0.name}={n0.left}{n0.op}{c}={steps[0].rpartition('=')[2]}"
    assert V.verify(p, _join(steps, ans)).steps_correct is False


def test_wrong_operator_is_caught():
    p = hard_problem()
    g = graph(p)
    steps, ans = _steps(solution_text(g, "step1"))
    n0 = g.nodes[0]
    op = "+" if n0.op != "+" else "*"
    steps[0] = steps[0].replace(f"{n0.left}{n0.op}{n0.right}", f"{n0.left}{op}{n0.right}", 1)
    assert V.verify(p, _join(steps, ans)).steps_correct is False


def test_missing_node_is_caught():
    p = hard_problem()
    steps, ans = _steps(solution_text(graph(p), "step1", "dfs"))
    # drop a step that nothing later depends on: the last one computes a target
    v = V.verify(p, _join(steps[:-1], ans))
    assert v.steps_correct is False and "never computed" in v.detail
    # dropping an early step makes a later step use an uncomputed quantity
    v = V.verify(p, _join(steps[1:], ans))
    assert v.steps_correct is False and "before it is computed" in v.detail


def test_wrong_final_answer_is_caught():
    p = hard_problem()
    g = graph(p)
    steps, ans = _steps(solution_text(g, "step2", "prompt", random.Random(0)))
    vals = [int(a) for a in ans.split(",")]
    vals[-1] = (vals[-1] + 1) % g.modulus
    v = V.verify(p, _join(steps, ",".join(map(str, vals))))
    assert not v.correct and v.status is Status.WRONG
    assert v.answer_correct is False and v.steps_correct is True
    # too few values: wrong, not correct
    if len(vals) > 1:
        assert V.verify(p, _join(steps, str(vals[0]))).status is Status.WRONG


def test_duplicate_and_out_of_order_steps_are_caught():
    p = hard_problem()
    steps, ans = _steps(solution_text(graph(p), "step1"))
    assert V.verify(p, _join(steps + steps[:1], ans)).steps_correct is False
    assert "twice" in V.verify(p, _join(steps + steps[:1], ans)).detail
    # a step may not define a given quantity (named-leaf variant of the task)
    cfg = dataclasses.replace(CFG, inline_constants=False)
    q = generate_split(cfg, "test", 5, seed=1)[-1]
    g = graph(q)
    leaf, val = g.leaves[0]
    qsteps, qans = _steps(solution_text(g, "step1"))
    assert V.verify(q, _join(qsteps, qans)).steps_correct is True
    v = V.verify(q, _join([f"{leaf}={leaf}+{leaf}={val}"] + qsteps, qans))
    assert v.steps_correct is False and "given quantity" in v.detail
    # steps in an invalid order: a quantity used before its step
    k = next(k for k, n in enumerate(graph(p).nodes) if n.left.isalpha() or n.right.isalpha())
    swapped = steps[:]
    swapped.insert(0, swapped.pop(k))
    assert "before it is computed" in V.verify(p, _join(swapped, ans)).detail


def test_compound_step_with_wrong_inner_operation_is_caught():
    rng = random.Random(1)
    for p in PROBLEMS:
        text = solution_text(graph(p), "step2", "prompt", rng)
        if "(" in text:
            break
    i = text.index("(")
    inner_op = text[i + 2]
    bad = text[:i + 2] + ("-" if inner_op != "-" else "+") + text[i + 3:]
    v = V.verify(p, bad)
    assert v.steps_correct is False and "not an operation" in v.detail


def test_commutative_operands_may_be_swapped_and_whitespace_is_ignored():
    for p in PROBLEMS:
        g = graph(p)
        n0 = g.nodes[0]
        if n0.op in ("+", "*") and len(g.nodes) == 1:
            break
    steps, ans = _steps(solution_text(g, "step1"))
    value = steps[0].rpartition("=")[2]
    swapped = f" {n0.name} = {n0.right} {n0.op} {n0.left} = {value} ;\n#### {ans}\n"
    v = V.verify(p, swapped)
    assert v.correct and v.steps_correct is True


def test_subtraction_operands_may_not_be_swapped():
    p = next(p for p in PROBLEMS if graph(p).nodes[0].op == "-")
    g = graph(p)
    n0 = g.nodes[0]
    steps, ans = _steps(solution_text(g, "step1"))
    steps[0] = f"{n0.name}={n0.right}-{n0.left}={steps[0].rpartition('=')[2]}"
    assert V.verify(p, _join(steps, ans)).steps_correct is False


@pytest.mark.parametrize("response,status", [
    ("", Status.NO_ANSWER),
    ("c=a+b=3;", Status.NO_ANSWER),
    ("####", Status.NO_ANSWER),
    ("####seven", Status.NO_ANSWER),
    ("####3x", Status.NO_ANSWER),
])
def test_missing_or_unparseable_answers(response, status):
    v = V.verify(PROBLEMS[0], response)
    assert v.status is status and not v.correct
    assert v.answer_correct is False and v.steps_correct is False


def test_malformed_steps_and_two_answer_marks():
    p = hard_problem()
    steps, ans = _steps(solution_text(graph(p), "step1"))
    assert "grammar" in V.verify(p, _join(["c=a+"] + steps, ans)).detail
    assert "grammar" in V.verify(p, _join(["c=(a+b)*(d+e)=1"] + steps, ans)).detail
    v = V.verify(p, _join(steps, ans) + "####" + ans)
    assert v.answer_correct is True and v.steps_correct is False


def test_malformed_reference_is_an_error_not_a_wrong_answer():
    p = dataclasses.replace(PROBLEMS[0], reference='{"format":1}')
    v = V.verify(p, "####1")
    assert v.status is Status.ERROR and not v.correct


def test_steps_that_show_operand_values_are_checked():
    cfg = dataclasses.replace(CFG, operand_values=True)
    rng = random.Random(3)
    probs = generate_split(cfg, "test", 60, seed=2)
    for p in probs:
        g = graph(p)
        for style in ("step1", "step2"):
            v = V.verify(p, solution_text(g, style, rng.choice(ORDERS), rng, operand_values=True))
            assert v.correct and v.steps_correct, v.detail
    p = next(p for p in probs if p.metadata["difficulty"] >= 3)
    g = graph(p)
    text = solution_text(g, "step1", "prompt", rng, operand_values=True)
    first = text.split(";")[0]  # e.g. e=c*d=22*5=18
    name_part, shown, value = first.rsplit("=", 2)
    n0 = g.nodes[0]
    a, b = shown.split(n0.op, 1) if not shown.startswith("-") else (None, None)
    bad = f"{name_part}={(int(a) + 1) % g.modulus}{n0.op}{b}={value}"
    v = V.verify(p, text.replace(first, bad, 1))
    assert v.steps_correct is False and "operand values" in v.detail
    # the plain grammar is accepted for the same problem too
    assert V.verify(p, solution_text(g, "step1", "prompt")).steps_correct is True
