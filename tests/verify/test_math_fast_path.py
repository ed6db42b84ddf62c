"""The math verifier's SymPy-free fast paths agree with Math-Verify itself, on generated numbers.

The fast paths (same LaTeX up to spelling; two integers) decide most answers of a pass@k run
without parsing. They once read ``\\boxed{1, 234}`` as the integer 1234 (a false "correct":
Math-Verify reads a pair); here every spelling of a number with every separator is judged by
both, in both directions, and must get Math-Verify's answer.
"""

from __future__ import annotations

import random

import pytest

pytest.importorskip("math_verify")

from math_verify import parse, verify  # noqa: E402

from rlbound.types import Problem, Status  # noqa: E402
from rlbound.verify.math import MathVerifier, judge  # noqa: E402

SEPARATORS = (",", ", ", "{,}", ",\\!", "\\,", " ", "\\ ", ",~", ",\\,")


def _math_verify(reference: str, answer: str) -> bool | None:
    gold = parse(f"${reference}$")
    pred = parse(f"The answer is $\\boxed{{{answer}}}$.")
    try:
        return bool(verify(gold, pred))
    except Exception:  # noqa: BLE001 - no opinion to compare with
        return None


def _cases(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a, b = rng.randint(1, 999), rng.randint(0, 999)
        number = f"{a}{b:03d}"
        sign = rng.choice(("", "-"))
        for sep in SEPARATORS:
            spelled = f"{sign}{a}{sep}{b:03d}"
            out += [(sign + number, spelled), (spelled, sign + number)]
        out += [(f"{a}, {b}", f"{a},{b}"), (f"{a},{b}", f"{a}, {b}"), (f"({a}, {b})", f"({a},{b})")]
    return out


def test_fast_paths_agree_with_math_verify_on_generated_numbers():
    disagree = []
    for reference, answer in _cases(seed=0, count=40):
        theirs = _math_verify(reference, answer)
        if theirs is None:
            continue
        ours = judge(reference, answer)[0] is Status.CORRECT
        if ours != theirs:
            disagree.append((reference, answer, ours, theirs))
    assert not disagree, f"{len(disagree)} disagreements with Math-Verify, e.g. {disagree[:5]}"


@pytest.mark.parametrize(("reference", "answer"), [("1234", "1, 234"), ("2500", "2, 500"), ("1234", "1\\,234"),
                                                   ("1234", "1 234")])
def test_a_pair_or_spaced_digits_is_not_a_thousands_separated_integer(reference, answer):
    problem = Problem(id="p", prompt="", reference=reference, verifier="math")
    verdict = MathVerifier().verify(problem, f"The answer is $\\boxed{{{answer}}}$.")
    assert not verdict.correct and verdict.status is Status.WRONG


@pytest.mark.parametrize("answer", ["1,234", "1{,}234", "1,\\!234", "1234"])
def test_thousands_separators_math_verify_reads_still_pass(answer):
    problem = Problem(id="p", prompt="", reference="1234", verifier="math")
    assert MathVerifier().verify(problem, f"The answer is $\\boxed{{{answer}}}$.").correct
