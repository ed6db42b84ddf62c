"""Answer extraction policies."""

from __future__ import annotations

import time

import pytest

from rlbound.verify.extract import (
    DEFAULT_POLICIES,
    ExtractionPolicy,
    boxed_parts,
    extract_answer,
    extract_boxed,
    extract_final_answer,
    extract_gsm8k,
    extract_last_number,
)


@pytest.mark.parametrize(
    "text, answer",
    [
        (r"so $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"first \boxed{3}, then finally \boxed{4}.", "4"),
        (r"\boxed{\left\{ 1, 2 \right\}}", r"\left\{ 1, 2 \right\}"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),  # escaped braces do not count
        (r"\boxed{ \sqrt{x^{2}} }", r"\sqrt{x^{2}}"),
        (r"\boxed{\boxed{5}}", "5"),
        (r"the answer is \boxed 7$.", "7"),
        (r"\fbox{12}", "12"),
        (r"\framebox{204} minutes", "204"),
        (r"\(\boxed{4:30 \text{ p.m.}}\)", r"4:30 \text{ p.m.}"),
        (r"\boxed{4} and later a truncated \boxed{5", "4"),  # unclosed box skipped
        (r"\boxed{1} and \boxed{-2}", "1, -2"),  # adjacent boxes: one multi-part answer
        (r"\(\boxed{1}\), \(\boxed{2}\) or \(\boxed{3}\)", "1, 2, 3"),
        (r"\boxed{5} \boxed{5}", "5"),
        (r"$x=\boxed{3}$, so $y=\boxed{4}$", "4"),  # not adjacent: last only
        (r"\boxedfoo{1}", None),
        (r"\boxed{}", None),
        ("no box here", None),
    ],
)
def test_extract_boxed(text, answer):
    assert extract_boxed(text) == (answer, "boxed")


def test_boxed_parts():
    assert boxed_parts(r"\boxed{1} or \boxed{\frac12}") == ["1", r"\frac12"]
    assert boxed_parts("nothing") == []


def test_boxed_is_linear_on_adversarial_input():
    t0 = time.perf_counter()
    assert extract_boxed("\\boxed{" * 20000) == (None, "boxed")
    assert extract_boxed("\\boxed{" * 5000 + "x" + "}" * 5000) == ("x", "boxed")
    assert time.perf_counter() - t0 < 30  # hang guard only; it takes milliseconds


@pytest.mark.parametrize(
    "text, answer",
    [
        ("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "\\frac{1}{2}"),
        ("Final Answer: 42", "42"),
        ("So the answer is 1,234.", "1,234"),
        ("the answer is **7**", "7"),
        ("The answer is \\(x+1\\) indeed", "x+1"),
        ("The answer is: 3.\nThen more text", "3"),
        ("The final answer is 5 I hope it is correct", "5"),
        ("no marker", None),
        ("The answer is $$", None),
    ],
)
def test_extract_final_answer(text, answer):
    assert extract_final_answer(text) == (answer, "final_answer")


def test_extract_gsm8k():
    assert extract_gsm8k("She makes 9 * 2 = $18.\n#### 18") == ("18", "gsm8k")
    assert extract_gsm8k("#### 1,234,567") == ("1234567", "gsm8k")
    assert extract_gsm8k("#### 3\n... #### 4") == ("4", "gsm8k")
    assert extract_gsm8k("no marker") == (None, "gsm8k")


def test_extract_last_number():
    assert extract_last_number("3 apples and 1,000.5 pears") == ("1000.5", "last_number")
    assert extract_last_number("it is -7.") == ("-7", "last_number")
    assert extract_last_number("none") == (None, "last_number")


def test_policy_order_and_defaults():
    assert ExtractionPolicy().policies == DEFAULT_POLICIES == ("boxed", "final_answer", "gsm8k")
    text = "The answer is 3. Actually \\boxed{4}"
    assert extract_answer(text) == ("4", "boxed")
    assert extract_answer(text, ExtractionPolicy(("final_answer", "boxed"))) == ("3", "final_answer")
    # last_number is off by default, opt-in only
    assert extract_answer("we get 12 in the end") == (None, None)
    assert extract_answer("we get 12 in the end", ExtractionPolicy.with_last_number()) == ("12", "last_number")


def test_policy_validation():
    with pytest.raises(ValueError, match="unknown extraction policy"):
        ExtractionPolicy(("boxed", "vibes"))
    with pytest.raises(ValueError):
        ExtractionPolicy(())
    with pytest.raises(AttributeError):
        ExtractionPolicy().policies = ("boxed",)  # type: ignore[misc]
