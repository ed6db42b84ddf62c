"""Adversarial math answers: every one is graded in bounded time, and what cannot be graded is a
``timeout`` or an ``error``, never folded into ``wrong``.

Limits come from outside the grader: ``rlbound.verify.runner`` SIGKILLs a worker process past its
wall-clock limit (no SIGALRM anywhere), and the math verifier refuses answers over
``MAX_GRADED_CHARS`` up front. Each test bounds its own wall-clock time; the bounds are generous
(pool start-up on a loaded 2-core machine included) and only guard against a hang.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("math_verify")

from rlbound.types import Problem, Status  # noqa: E402
from rlbound.verify.extract import extract_full  # noqa: E402
from rlbound.verify.math import MAX_GRADED_CHARS, MathVerifier, judge  # noqa: E402
from rlbound.verify.runner import verify_items  # noqa: E402

LIMIT_S = 1.5  # per-item wall-clock limit given to the runner


def _nested_frac(depth: int) -> str:
    out = "x"
    for _ in range(depth):
        out = "\\frac{1}{" + out + "}"
    return out


LONG_LATEX = "+".join(["1"] * 25_000)  # 49,999 characters
NESTED = _nested_frac(500)  # 1/(1/(...x)) 500 deep: equal to x

# name -> (reference, response, statuses allowed). A status outside the set is a wrong verdict:
# in particular, an answer that is right (or cannot be decided) must never come back "wrong".
ADVERSARIAL = {
    "latex_50k_chars": ("25000", f"The answer is $\\boxed{{{LONG_LATEX}}}$.", {Status.ERROR}),
    "latex_50k_reference": (LONG_LATEX, "\\boxed{25000}", {Status.ERROR}),
    "frac_nested_500_deep": ("x", f"\\boxed{{{NESTED}}}", {Status.CORRECT, Status.TIMEOUT, Status.ERROR}),
    "factorial_1000000_same": ("1000000!", "\\boxed{1000000!}", {Status.CORRECT}),
    "factorial_1000000_rewritten": ("1000000!", "\\boxed{1000000 \\cdot 999999!}",
                                    {Status.CORRECT, Status.TIMEOUT, Status.ERROR}),
    "factorial_1000000_vs_5": ("5", "\\boxed{1000000!}", {Status.WRONG, Status.TIMEOUT, Status.ERROR}),
    "factorial_1000001_vs_1000000": ("1000000!", "\\boxed{1000001!}", {Status.WRONG, Status.TIMEOUT, Status.ERROR}),
    "power_tower": ("1", "So the answer is $\\boxed{9^{9^{9^{9}}}}$.", {Status.WRONG, Status.TIMEOUT, Status.ERROR}),
    "empty_box": ("5", "\\boxed{}", {Status.NO_ANSWER}),
    "empty_box_in_sentence": ("5", "The answer is $\\boxed{}$.", {Status.NO_ANSWER}),
    "nan_vs_number": ("5", "\\boxed{NaN}", {Status.WRONG, Status.ERROR}),
    "zero_over_zero": ("0", "\\boxed{\\frac{0}{0}}", {Status.WRONG, Status.ERROR}),
    "inf_minus_inf": ("0", "\\boxed{\\infty - \\infty}", {Status.WRONG, Status.ERROR}),
    "inf_vs_inf": ("\\infty", "\\boxed{\\infty}", {Status.CORRECT}),
    "minus_inf_vs_inf": ("\\infty", "\\boxed{-\\infty}", {Status.WRONG}),
    "inf_vs_number": ("5", "\\boxed{\\infty}", {Status.WRONG}),
    "fullwidth_digits": ("12", "\\boxed{１２}", {Status.CORRECT}),
    "fullwidth_in_fraction": ("\\frac{1}{2}", "\\boxed{\\frac{１}{２}}", {Status.CORRECT}),
    "unicode_minus": ("-5", "\\boxed{\u22125}", {Status.CORRECT}),
    "unicode_minus_in_expression": ("x-1", "\\boxed{x \u2212 1}", {Status.CORRECT}),
    "arabic_indic_digit": ("3", "\\boxed{\u0663}", {Status.CORRECT}),
    "superscript_is_a_power": ("x^2+1", "\\boxed{x\u00b2+1}", {Status.CORRECT}),
    "superscript_is_not_a_factor": ("2x+1", "\\boxed{x\u00b2+1}", {Status.WRONG}),  # NFKC alone makes x2
    "vulgar_fraction": ("3.5", "\\boxed{3\u00bd}", {Status.CORRECT}),
    "cyrillic_x_is_not_latin_x": ("2x+1", "\\boxed{2\u0445+1}", {Status.WRONG}),
    "cyrillic_x_same_symbol": ("2\u0445+1", "\\boxed{2\u0445+1}", {Status.CORRECT}),
}


@pytest.fixture(scope="module")
def graded() -> tuple[dict[str, object], float]:
    """Every adversarial item through the runner at once (2 workers, ``LIMIT_S`` each)."""
    items = [(name, Problem(id=name, prompt="", reference=ref), resp) for name, (ref, resp, _) in ADVERSARIAL.items()]
    t0 = time.monotonic()
    out = dict(verify_items("math", items, workers=2, timeout_s=LIMIT_S, progress=False))
    return out, time.monotonic() - t0


def test_all_adversarial_items_finish_in_bounded_time(graded):
    out, seconds = graded
    assert set(out) == set(ADVERSARIAL)
    # 26 items, a few of which run to their limit: far below this even with pool start-up
    assert seconds < 120, f"{seconds:.1f} s"


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_status(name, graded):
    verdict = graded[0][name]
    allowed = ADVERSARIAL[name][2]
    assert verdict.status in allowed, f"{name}: {verdict.status.value} ({verdict.detail})"
    assert verdict.correct == (verdict.status is Status.CORRECT)
    if verdict.status is Status.TIMEOUT:
        assert verdict.detail == f"exceeded {LIMIT_S!r} s wall-clock"


def test_too_long_answers_are_refused_in_the_parent_without_parsing():
    t0 = time.monotonic()
    status, detail = judge("25000", LONG_LATEX)
    assert status is Status.ERROR and f"over the {MAX_GRADED_CHARS} graded" in detail
    verifier = MathVerifier()
    problem = Problem(id="long", prompt="", reference="25000")
    quick = verifier.quick_verify(problem, f"\\boxed{{{LONG_LATEX}}}")
    assert quick is not None and quick.status is Status.ERROR  # no worker needed
    assert quick == verifier.verify(problem, f"\\boxed{{{LONG_LATEX}}}")
    assert len(quick.extracted or "") <= 200  # the stored answer is cut
    assert time.monotonic() - t0 < 10


def test_extraction_of_adversarial_responses_is_fast():
    t0 = time.monotonic()
    for _, response, _ in ADVERSARIAL.values():
        extract_full(response, want_parts=2)
    extract_full("\\boxed{" * 20_000 + "$" * 20_000 + "\\[" * 10_000)
    assert time.monotonic() - t0 < 10
