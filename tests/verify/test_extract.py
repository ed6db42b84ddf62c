"""Answer extraction policies."""

from __future__ import annotations

import time

import pytest

from rlbound.types import Problem, Status
from rlbound.verify.extract import (
    DEFAULT_POLICIES,
    ExtractionPolicy,
    answer_part_count,
    boxed_parts,
    extract_answer,
    extract_boxed,
    extract_final_answer,
    extract_full,
    extract_gsm8k,
    extract_last_math,
    extract_last_number,
    strip_control_tokens,
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
    assert ExtractionPolicy().policies == DEFAULT_POLICIES == ("boxed", "final_answer", "gsm8k", "last_math")
    text = "The answer is 3. Actually \\boxed{4}"
    assert extract_answer(text) == ("4", "boxed")
    assert extract_answer(text, ExtractionPolicy(("final_answer", "boxed"))) == ("3", "final_answer")
    # A number stated in prose is read by the default last_math fallback, as by Math-Verify (this
    # was (None, None) before last_math existed).
    assert extract_answer("we get 12 in the end") == ("12", "last_math")
    # last_number stays opt-in: only it reads a number out of a response cut off inside a formula
    cut = "so we get \\[ x = \\frac{12}{"
    assert extract_answer(cut) == (None, None)
    assert extract_answer(cut, ExtractionPolicy.with_last_number()) == ("12", "last_number")


def test_policy_validation():
    with pytest.raises(ValueError, match="unknown extraction policy"):
        ExtractionPolicy(("boxed", "vibes"))
    with pytest.raises(ValueError):
        ExtractionPolicy(())
    with pytest.raises(AttributeError):
        ExtractionPolicy().policies = ("boxed",)  # type: ignore[misc]


# ------------------------------------------------------------------ no box: the last math expression


@pytest.mark.parametrize(
    "text, answer",
    [
        (r"So, the ordered pair $(x, y)$ that solves the system is $(7, 6)$. <|im_start|>user", "(7, 6)"),
        (r"...the solution of the system is $(7, 6)$.", "(7, 6)"),
        (r"$\frac{1}{3}.$", r"\frac{1}{3}"),  # sentence punctuation inside the delimiters
        (r"$$\frac{1}{3}.$$", r"\frac{1}{3}"),
        (r"\[\frac{1}{3},\]", r"\frac{1}{3}"),
        ("Answer \\[ \n 9 \n \\]", "9"),  # display math may span lines
        ("Answer $ \n 9 \n $", None),  # inline math may not, and the number in it is not prose
        ("Answer \\( \n 9 \n \\)", None),
        (r"$1, 2, 3, ...$", "1, 2, 3, ..."),  # an ellipsis is not punctuation
        (r"The roots are $-2$ and $1$.", "-2, 1"),
        ("$28$ %", "28\\%"),
        ("28 percent", "28\\%"),
        ("Therefore, the probability that Alice wins the game is 2/3. <|im_start|>user", "2/3"),
        ("the number is not 10 which is 1,000.99€", "1000.99"),
        ("Soucis : 2,74 $ a..", "2.74"),  # a decimal comma in prose
        ("$1,000.99", "1000.99"),  # a currency sign, not a delimiter
        ("It costs 5 dollars, i.e. $5.00", "5.00"),
        ("The answer is 4 4/9 percent", "4 4/9\\%"),
        ("AZYUK2A", None),  # a digit inside a word is not a number
        ("I give up.", None),
        # cut off inside a formula (Qwen2.5-Math parser.py's own example): no answer, no guess
        ("This is still not equal to $0$, so we must have made another mistake.\n\n\\[\\frac{386}{64}\n", None),
    ],
)
def test_extract_last_math(text, answer):
    assert extract_last_math(strip_control_tokens(text)) == (answer, "last_math")


def test_last_math_is_the_default_fallback():
    assert extract_answer(r"the solution of the system is $(7, 6)$.") == ("(7, 6)", "last_math")
    assert extract_answer("It is \\boxed{3}, i.e. $x = 3$.") == ("3", "boxed")  # a box still wins


def test_control_tokens_end_the_response():
    assert strip_control_tokens("ok \\boxed{1} <|im_end|> \\boxed{2}") == "ok \\boxed{1} "
    assert strip_control_tokens("<|im_start|>assistant\n$5$<|im_end|>") == "assistant\n$5$"
    assert extract_answer("so \\boxed{1}.<|im_start|>user Next problem: \\boxed{7}") == ("1", "boxed")


# -------------------------------------------------------------- final-answer sentences and ordering


@pytest.mark.parametrize(
    "text, answer",
    [
        (r"Final Answer: The largest $n$ is 34.", "34"),
        (r"Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", "120"),
        (r"Final Answer: The maximum number of points in the domain of $f(x)$ is 19.", "19"),
        ("Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct.", "3"),
        (r"Final Answer: The final answer is \((-6, 10)\). I hope it is correct.", "(-6, 10)"),
        (r"The final answer is $12$ and $13$. I hope it is correct.", "12, 13"),
        ("The answer is yes", "yes"),
        ("The answer is: $x = 2$, which we check below", "x = 2"),
    ],
)
def test_final_answer_sentence(text, answer):
    assert extract_final_answer(text) == (answer, "final_answer")


def test_a_later_final_answer_statement_beats_an_earlier_box():
    text = (r"$0.04 \cdot 10,000 \cdot \frac{1}{2} = \boxed{200}$ So ... $0.05 \cdot 10,200 \cdot \frac{1}{2} = "
            r"\boxed{255}$ So Dr. Zaius has $10,455. Final Answer: The final answer is $10,455$. I hope it is correct.")
    assert extract_answer(text) == ("10,455", "final_answer")
    # a box inside or after the statement is the answer
    assert extract_answer(r"Final Answer: The final answer is $\boxed{7}$.") == ("7", "boxed")
    assert extract_answer(r"The final answer is 6. Wait, no: \boxed{7}") == ("7", "boxed")
    # a statement with no math in it does not displace the box
    assert extract_answer("\\boxed{5}\n\nFinal answer: see the box above.") == ("5", "boxed")
    # "the answer is" (no "final") after a box does not either, as in Math-Verify
    assert extract_answer(r"worth $\boxed{16386.20}$. The answer is $16386.2$ dollars") == ("16386.20", "boxed")
    # with boxed first and no final_answer policy, the box is all there is
    assert extract_answer(text, ExtractionPolicy(("boxed",))) == ("255", "boxed")


# ---------------------------------------------------------------------- several boxes, several parts


@pytest.mark.parametrize(
    "reference, parts",
    [("1,-2", 2), ("(3, 3) \\text{ and } (1, 1)", 2), ("(1, 2)", 1), ("\\{1, 2\\}", 1), ("[0, 1)", 1),
     ("10{,}000", 1), ("1,000", 1), ("1, 2, 3", 3), ("x=1 \\text{ or } x=2", 2), ("7", 1), ("", 1)],
)
def test_answer_part_count(reference, parts):
    assert answer_part_count(reference) == parts


def test_boxes_with_words_between_them_join_when_the_reference_has_parts():
    text = r"\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}"
    assert extract_full(text, want_parts=2) == ("(3, 3), (1, 1)", "boxed", ("(3, 3)", "(1, 1)"))
    assert extract_full(text) == ("(1, 1)", "boxed", ())  # a one-part reference: the last box
    ys = r"So $y_1=\boxed{2}$, and the other root gives $y_2=\boxed{-3}$."
    assert extract_full(ys, want_parts=2)[0] == "2, -3"
    # boxes far apart are not joined (an early intermediate box is not part of the answer)
    far = r"\boxed{5} " + "reasoning " * 40 + r"\boxed{1}"
    assert extract_full(far, want_parts=2)[0] == "1"
    # nor across a sentence end: a discarded candidate is not a part
    assert extract_full(r"Is it \boxed{2}? No. So the answer is \boxed{3}", want_parts=2)[0] == "3"
    assert extract_full("(a) \\boxed{2}\n\n(b) \\boxed{3}", want_parts=2)[0] == "3"


def test_multi_part_boxes_are_graded_against_a_multi_part_reference():
    from rlbound.verify.math import MathVerifier

    v = MathVerifier()
    text = r"\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}"
    assert v.verify(Problem(id="a", prompt="", reference="(3, 3), (1, 1)"), text).status is Status.CORRECT
    assert v.verify(Problem(id="b", prompt="", reference="(1, 1)"), text).status is Status.CORRECT
    ys = r"So $y_1=\boxed{2}$, and the other root gives $y_2=\boxed{-3}$."
    assert v.verify(Problem(id="c", prompt="", reference="2, -3"), ys).status is Status.CORRECT
    assert v.verify(Problem(id="d", prompt="", reference="2, 3"), ys).status is Status.WRONG


# ---------------------------------------------------------------- decimal commas, stated precision


@pytest.mark.parametrize(
    "reference, answer, expected",
    [
        ("1000.99", "1000,99", Status.CORRECT),
        ("1,22", "1.22", Status.CORRECT),
        ("0,111", "0.111", Status.CORRECT),
        ("1000.99", "1000,98", Status.WRONG),
        ("1234", "1,234", Status.CORRECT),  # three digits after the comma: a thousands separator
        ("12", "1,2", Status.WRONG),  # no decimal on the other side: a pair
        ("\\frac{1}{3}", "0.3333", Status.CORRECT),  # at the precision the answer states
        ("\\frac{1}{3}", "0.33", Status.CORRECT),
        ("\\frac{1}{3}", "0.3", Status.WRONG),  # one significant digit states nothing
        ("\\frac{1}{3}", "0.3334", Status.WRONG),
        ("33.3", "\\frac{100}{3}", Status.CORRECT),  # the reference states the precision
        ("\\frac{70}{9}", "7.78", Status.CORRECT),
        ("\\frac{1}{8}", "0.13", Status.WRONG),  # 1/8 is 0.125 exactly: no rounding allowed
        ("(\\frac{3}{5},\\frac{8}{3}]", "(0.6,2.6667]", Status.CORRECT),
        ("(\\frac{3}{5},\\frac{8}{3}]", "(0.7,2.6667]", Status.WRONG),
        ("\\frac{1}{2004!}", "0.00", Status.WRONG),
        ("\\pi", "3.14", Status.WRONG),  # only rationals are read at a stated precision
    ],
)
def test_decimal_commas_and_stated_precision(reference, answer, expected):
    from rlbound.verify.math import MathVerifier

    verdict = MathVerifier().verify(Problem(id="p", prompt="", reference=reference), f"The answer is $\\boxed{{{answer}}}$.")
    assert verdict.status is expected, verdict.detail


def test_new_extraction_is_linear_on_adversarial_input():
    t0 = time.perf_counter()
    for text in (" " * 50000 + "x", "The answer is 5" + " " * 50000 + "x", "$" * 50000, "\\[" * 25000,
                 "\\(" * 25000, "Final answer: " + "$a$ is " * 7000, "1/" * 25000, "$1$ and " * 6000,
                 "<|im_start|>" * 4000, "\\boxed{1} text " * 3000):
        extract_full(text, want_parts=3)
        answer_part_count(text)
    assert time.perf_counter() - t0 < 30  # hang guard only; it takes well under a second
