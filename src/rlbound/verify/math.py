"""Math answer verifier: extract the final answer, then decide equivalence with Math-Verify.

The grading protocol of Yue et al. 2025 (arXiv 2504.13837): a response is correct when its final
answer (the last ``\\boxed{}`` under the paper's zero-shot prompt) is mathematically equal to the
reference. Extraction is ``rlbound.verify.extract``; equivalence is Math-Verify's ``parse`` +
``verify`` (Hugging Face, 0.9.0) with its SIGALRM timeouts switched off (``parsing_timeout=None``,
``timeout_seconds=None``, as its docstrings prescribe for threaded use): SIGALRM only works on the
main thread (pain point 1), so wall-clock limits are enforced from outside by
``rlbound.verify.runner``, which kills a stuck worker process.

On top of Math-Verify (each documented, with the real cases, in docs/grading-agreement.md):

* Tiny numbers: Math-Verify compares numbers after rounding to 6 decimals (and chops tiny
  differences in ``evalf``), so any two numbers below ~1e-6 compare equal (``1/2004!`` ==
  ``1/2006!``, Math-Verify #14; ``1e-19 == 5e-19``). When it says "equal" for two scalar numbers of
  magnitude below 1e-3, rlbound also requires a relative difference of at most 1e-3.
* Times of day: ``4:30 \\text{ p.m.}`` is compared as a time, not as the ratio 4/30.
* Spelling read before comparing: Unicode compatibility forms (fullwidth digits, U+2212 minus),
  doubled backslashes (``\\\\le`` from over-escaped JSON), plain mixed numbers (``4 4/9`` is
  40/9, not 16/9) and decimal commas (``1000,99`` against a decimal reference such as 1000.99).
* Stated precision: a decimal with >= 3 significant digits (or >= 2 decimals and >= 2 significant
  digits) against an exact rational with no finite decimal expansion is compared at the decimals it
  states (``0.3333`` for 1/3, ``33.3`` for 100/3, ``(0.6, 2.6667]`` for (3/5, 8/3]); Math-Verify
  rounds both to 6 decimals and calls them different.
* Sets written as relations: ``-2 \\le x \\le 7`` against a reference ``x \\in [-2, 7]`` is the same
  set (Math-Verify's ``allow_set_relation_comp``, which it only applies one way by default).
* Fast paths that agree with Math-Verify by construction and skip SymPy: the same LaTeX up to
  spelling, two integers, two plain numbers clearly apart.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Hashable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

from rlbound.types import Problem, Status, Verdict
from rlbound.verify.extract import ExtractionPolicy, answer_part_count, extract_answer, extract_full

# math-2: last-math fallback, later final-answer statements, multi-part boxes, decimal commas,
# stated precision, mixed numbers, Unicode and doubled-backslash spellings, sets as relations.
VERIFIER_REVISION = "math-2"
TINY_MAGNITUDE = 1e-3  # below this, Math-Verify's 6-decimal rounding keeps < 4 significant digits
TINY_RELATIVE_TOLERANCE = 1e-3
QUICK_MAX_CHARS = 200  # longer answers are never decided in the runner's parent process
MAX_GRADED_CHARS = 32_000  # longer answers or references are an ``error``, never parsed


def _dist(name: str) -> str:
    try:
        return _dist_version(name)
    except PackageNotFoundError:
        return "unknown"


class _DropTimeoutDisabledWarning(logging.Filter):
    """Math-Verify warns once that its timeout is disabled; here that is on purpose (see module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


@lru_cache(maxsize=1)
def _math_verify() -> Any:
    """Import Math-Verify lazily (sympy + ANTLR, ~0.6 s) so that extraction-only callers stay light."""
    import math_verify

    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(_DropTimeoutDisabledWarning())
    return math_verify


def _parse(latex: str) -> list[Any]:
    """Math-Verify ``parse`` of one extracted answer, read as the content of a ``\\boxed{}``.

    Returns Math-Verify's list: the SymPy object(s) it could build, then the normalised string.
    """
    mv = _math_verify()
    return mv.parse(
        "\\boxed{" + latex + "}",
        extraction_config=(mv.LatexExtractionConfig(), mv.ExprExtractionConfig()),
        parsing_timeout=None,
        raise_on_error=True,
    )


@lru_cache(maxsize=4096)
def _parse_reference(reference: str) -> tuple[Any, ...]:
    return tuple(_parse(reference))


def _plain_number(expr: Any) -> Any:
    """``expr`` evaluated to 30 digits if it is a scalar number (not a percentage, set, relation)."""
    import sympy

    if not isinstance(expr, sympy.Expr) or not expr.is_number or expr.has(sympy.UnevaluatedExpr):
        return None
    value = expr.evalf(30)
    return value if value.is_finite else None


def _clearly_different(gold: Any, pred: Any) -> bool:
    """Two scalar numbers more than 1e-5 apart (relative to max(1, |x|)).

    Math-Verify could only call them equal by rounding to 6 decimals, by exact equality or by
    simplifying their difference to zero, none of which can hold; deciding here skips its
    ``simplify``, which costs ~10 ms per wrong answer and up to seconds for surds.
    """
    import sympy

    try:
        g, p = _plain_number(gold), _plain_number(pred)
        if g is None or p is None:
            return False
        scale = sympy.Max(1, abs(g), abs(p))
        return bool(abs(g - p) > sympy.Float("1e-5") * scale)
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return False


def _tiny_number_mismatch(gold: Any, pred: Any) -> str | None:
    """Why two scalars that Math-Verify called equal are not (magnitude < 1e-3), else None."""
    import sympy

    if not (isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr)):
        return None
    if not (gold.is_number and pred.is_number) or gold == pred:
        return None
    try:
        g = gold.doit().evalf(30)
        p = pred.doit().evalf(30)
        scale = sympy.Max(abs(g), abs(p))
        if not scale.is_finite or scale.is_zero or bool(scale >= TINY_MAGNITUDE):
            return None
        rel = abs(g - p) / scale
        if bool(rel > TINY_RELATIVE_TOLERANCE):
            return (
                f"Math-Verify called them equal, but the relative difference is "
                f"{sympy.sstr(sympy.Float(rel, 3))} at magnitude {sympy.sstr(sympy.Float(scale, 3))} "
                f"(< {TINY_MAGNITUDE:g})"
            )
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return None
    return None


_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})(?:([ap])\.?m?\.?)?", re.IGNORECASE)
_CLOCK_NOISE_RE = re.compile(r"\\(?:text|mathrm|textrm|mbox)\s*\{([^{}]*)\}|\\[ ,;!:]|~|\s+|\$")


def _clock_time(text: str) -> tuple[int, int, str | None] | None:
    """(hour, minute, "a"/"p"/None) when ``text`` is a time of day such as ``4:30 \\text{ p.m.}``."""
    flat = "".join(_CLOCK_NOISE_RE.sub(lambda m: m.group(1) or "", text).split())
    m = _CLOCK_RE.fullmatch(flat)
    if m is None:
        return None
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 24 or minute > 59:
        return None
    return hour, minute, (m.group(3) or "").lower() or None


def _compare_clock_times(reference: str, answer: str) -> tuple[Status, str] | None:
    """Times of day are not ratios: Math-Verify reads ``4:30`` as 4/30, and fails ``4:30 p.m.``.

    Applies only when both sides are h:mm times and at least one says a.m. or p.m.; a missing
    a.m./p.m. on one side is not held against it (the question usually fixes the half-day).
    """
    ref, ans = _clock_time(reference), _clock_time(answer)
    if ref is None or ans is None or (ref[2] is None and ans[2] is None):
        return None

    def minutes(t: tuple[int, int, str | None]) -> int:
        hour = t[0] % 12 + (12 if t[2] == "p" else 0) if t[2] else t[0] % 12
        return hour * 60 + t[1]

    if ref[2] and ans[2]:
        same = minutes(ref) == minutes(ans)
    else:
        same = ref[0] % 12 == ans[0] % 12 and ref[1] == ans[1]
    return (Status.CORRECT if same else Status.WRONG), "compared as times of day"


_SIZED_DELIM_RE = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![A-Za-z])")
_FRAC_RE = re.compile(r"\\[dt]frac(?![A-Za-z])")
_THIN_SPACE_RE = re.compile(r"\\[,;:! ]")
# Whitespace goes unless it stands after a letter, digit or comma and before a letter or digit:
# to Math-Verify "865 394" is not "865394" and "865, 394" (a pair) is not "865,394" (an integer),
# so such spellings are left for it to decide.
_SPACE_RE = re.compile(r"(?<![A-Za-z0-9,])\s+|\s+(?![A-Za-z0-9])")
_INT_RE = re.compile(r"-?(?:\d{1,3}(?:(?:,|\{,\})\d{3})+|\d+)", re.ASCII)
# Spacing that Math-Verify does not read as a thousands separator: "1, 234", "1\,234", "1~234".
_INT_SPACING_RE = re.compile(r"\s|~|\\[,;: ]")


def _canonical(latex: str) -> str:
    """Spelling variants that cannot change the value: spacing, ``\\dfrac``, ``\\left(``."""
    text = _THIN_SPACE_RE.sub(" ", latex)
    text = _FRAC_RE.sub(r"\\frac", _SIZED_DELIM_RE.sub("", text))
    return _SPACE_RE.sub("", " ".join(text.split()))


def _as_integer(latex: str) -> int | None:
    """The integer ``latex`` spells, with the thousands separators Math-Verify reads as such
    (``,`` ``{,}`` ``,\\!``), or None. Any inner spacing (``1, 234`` is a pair; ``1\\,234`` and
    ``1 234`` are not 1234 to Math-Verify) leaves the answer to Math-Verify."""
    text = latex.strip().replace(r"\!", "")
    if _INT_SPACING_RE.search(text):
        return None
    if _INT_RE.fullmatch(text):
        return int(text.replace("{,}", "").replace(",", ""))
    return None


def _fast_path(reference: str, answer: str) -> tuple[Status, str] | None:
    """Cases decided without SymPy: the same LaTeX up to spelling, or two integers.

    Both agree with Math-Verify (it compares equal strings and integers exactly), which
    tests/verify/test_math_fast_path.py checks on generated numbers with every separator; they
    spare the ~4 ms of parsing that most answers of a pass@k run would otherwise cost.
    """
    if _canonical(reference) == _canonical(answer):
        return Status.CORRECT, "identical"
    ref_int, ans_int = _as_integer(reference), _as_integer(answer)
    if ref_int is not None and ans_int is not None:
        return (Status.CORRECT, "equal integers") if ref_int == ans_int else (Status.WRONG, "different integers")
    return None


_DOUBLED_BACKSLASH_RE = re.compile(r"(?<!\\)\\\\(?=[A-Za-z])")
_MIXED_NUMBER_RE = re.compile(r"([+-]?)(\d+)\s+(\d+)\s*/\s*(\d+)(\s*\\?%)?", re.ASCII)
_DECIMAL_COMMA_RE = re.compile(r"[+-]?(?:0,\d+|\d+,(?:\d{1,2}|\d{4,}))", re.ASCII)
_DECIMAL_POINT_RE = re.compile(r"[+-]?\d*\.\d+", re.ASCII)
_UNICODE_SIGNS = str.maketrans({"\u2212": "-", "\u00d7": "\\times ", "\u00f7": "\\div "})


def normalize_answer(latex: str) -> str:
    """Spellings Math-Verify misreads, rewritten before any comparison.

    Unicode compatibility forms (NFKC: fullwidth digits and letters), the minus sign U+2212, the
    times and division signs, decimal digits of other scripts; a doubled backslash before a
    command (``\\\\le``, left by over-escaped JSON) as one; a plain mixed number ``4 4/9`` as
    ``\\frac{40}{9}`` (LaTeX would multiply); one with an improper fraction (``11 6/6``, ``4 4/0``)
    as text, equal to no number (as in Math-Verify's tests). Look-alike letters of other scripts
    (Cyrillic ``х``) are left as they are: another symbol, not the Latin letter.
    """
    text = latex if latex.isascii() else _unicode_math(latex)
    if "\\\\" in text:
        text = _DOUBLED_BACKSLASH_RE.sub(r"\\", text)
    m = _MIXED_NUMBER_RE.fullmatch(text.strip()) if "/" in text else None
    if m:
        sign, whole, num, den, percent = m.groups()
        if int(den) > 0 and int(num) < int(den):
            text = f"{sign}\\frac{{{int(whole) * int(den) + int(num)}}}{{{den}}}" + ("\\%" if percent else "")
        else:  # "11 6/6", "4 4/0": no mixed number, and no value to compare
            text = f"\\text{{{text.strip()}}}"
    return text


_SUPER_RE = re.compile("[\u2070\u00b9\u00b2\u00b3\u2074-\u207e\u207f]+")
_SUB_RE = re.compile("[\u2080-\u208e]+")
_VULGAR_RE = re.compile("[\u00bc-\u00be\u2150-\u215e]")


def _unicode_math(text: str) -> str:
    """Unicode math spellings as LaTeX: superscripts and subscripts (``x²`` is ``x^{2}``, not the
    ``x2`` that NFKC alone makes of it), vulgar fractions (``3½``), then NFKC, the signs, and
    decimal digits of any script (Arabic-Indic ``٣``, Devanagari ``३``) as ASCII digits."""
    text = _SUPER_RE.sub(lambda m: "^{" + unicodedata.normalize("NFKC", m.group()) + "}", text)
    text = _SUB_RE.sub(lambda m: "_{" + unicodedata.normalize("NFKC", m.group()) + "}", text)
    text = _VULGAR_RE.sub(lambda m: "\\frac{{{}}}{{{}}}".format(*unicodedata.normalize("NFKC", m.group()).split("\u2044")),
                          text)
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE_SIGNS)
    return "".join(str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text)


def _decimal_commas(reference: str, answer: str) -> tuple[str, str]:
    """``1000,99`` / ``0,111`` read as decimals when the other side is a decimal written with a point."""
    if "," not in reference and "," not in answer:
        return reference, answer
    ref, ans = reference.strip(), answer.strip()
    if _DECIMAL_COMMA_RE.fullmatch(ans) and _DECIMAL_POINT_RE.fullmatch(ref):
        return reference, ans.replace(",", ".")
    if _DECIMAL_COMMA_RE.fullmatch(ref) and _DECIMAL_POINT_RE.fullmatch(ans):
        return ref.replace(",", "."), answer
    return reference, answer


def _prepare(reference: str, answer: str) -> tuple[str, str]:
    return _decimal_commas(normalize_answer(reference), normalize_answer(answer))


_DECIMAL_LITERAL_RE = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])", re.ASCII)
MIN_STATED_SIGNIFICANT = 3  # digits a decimal must carry to be read at its stated precision


def _stated_decimals(latex: str) -> int | None:
    """The most decimals a decimal literal of ``latex`` states, if that literal carries enough digits.

    None when there is no decimal literal, or the longest has fewer than ``MIN_STATED_SIGNIFICANT``
    significant digits (and fewer than 2 decimals with 2 significant digits): ``0.3`` does not
    state 1/3, ``0.3333`` and ``0.33`` do. Every number is then compared at that many decimals, so
    a shorter literal (``0.6`` in ``(0.6, 2.6667]``) must be exact.
    """
    found = _DECIMAL_LITERAL_RE.findall(latex)
    if not found:
        return None
    whole, frac = max(found, key=lambda lit: len(lit[1]))
    significant = len((whole + frac).lstrip("0"))
    if not (significant >= MIN_STATED_SIGNIFICANT or (len(frac) >= 2 and significant >= 2)):
        return None
    return len(frac)


def _rational_leaves(obj: Any) -> list[Any] | None:
    """The numbers of a parsed answer (number, tuple, set, interval, matrix) if all are rational."""
    import sympy

    if isinstance(obj, sympy.MatrixBase):
        items = list(obj)
    elif isinstance(obj, sympy.Interval):
        items = [obj.start, obj.end]
    elif isinstance(obj, (sympy.Tuple, sympy.FiniteSet, tuple)):
        items = list(obj.args if isinstance(obj, sympy.Basic) else obj)
    else:
        return [obj] if isinstance(obj, sympy.Rational) else None
    leaves: list[Any] = []
    for item in items:
        sub = _rational_leaves(item)
        if sub is None:
            return None
        leaves += sub
    return leaves


def _equal_at_stated_precision(gold: Any, pred: Any, reference: str, answer: str) -> bool:
    """True when one side is decimals stated to d places and the other exact rationals, some with no
    finite decimal expansion, that round to them (``0.3333`` for 1/3); see the module docstring."""
    ref_d, ans_d = _stated_decimals(reference), _stated_decimals(answer)
    if (ref_d is None) == (ans_d is None):
        return False
    exact = _rational_leaves(pred if ans_d is None else gold)
    if not exact or all(_terminates(q) for q in exact):
        return False
    digits = ref_d if ans_d is None else ans_d
    try:
        return bool(_math_verify().verify(gold, pred, float_rounding=digits, timeout_seconds=None,
                                          allow_set_relation_comp=True))
    except Exception:  # noqa: BLE001 - no decision here: the caller reports "not equivalent"
        return False


def _terminates(q: Any) -> bool:
    """A rational whose decimal expansion is finite (its denominator has no prime but 2 and 5)."""
    den = int(q.q)
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def _too_long(reference: str, answer: str) -> tuple[Status, str] | None:
    """An ``error`` for an answer or reference over ``MAX_GRADED_CHARS`` (no benchmark answer comes
    near; Math-Verify's parser takes seconds on such input and its result would mean nothing)."""
    for what, text in (("answer", answer), ("reference", reference)):
        if len(text) > MAX_GRADED_CHARS:
            return Status.ERROR, f"{what} of {len(text)} characters is over the {MAX_GRADED_CHARS} graded"
    return None


def judge(reference: str, answer: str) -> tuple[Status, str]:
    """Decide whether ``answer`` equals ``reference`` (both LaTeX answer strings).

    In order: the fast paths (same LaTeX up to spelling; two integers), times of day, two plain
    numbers clearly apart, then Math-Verify ``verify(gold, pred)`` on every pair of their parses (it
    is not symmetric: the reference is the gold side) with the tiny-number check of the module
    docstring on any "equal".

    Returns:
        (status, detail): ``correct``; ``wrong``; or ``error`` when the symbolic comparison of the
        two parsed expressions raised and no other pair matched (the exception text is the detail).
    """
    too_long = _too_long(reference, answer)
    if too_long is not None:
        return too_long
    reference, answer = _prepare(reference, answer)
    decided = _fast_path(reference, answer) or _compare_clock_times(reference, answer)
    if decided is not None:
        return decided
    mv = _math_verify()
    gold = _parse_reference(reference)
    if not gold:
        return Status.ERROR, f"Math-Verify could not parse the reference {reference!r}"
    pred = _parse(answer)
    if not pred:
        return Status.WRONG, "Math-Verify found nothing to compare in the answer"
    if _clearly_different(gold[0], pred[0]):
        if _equal_at_stated_precision(gold[0], pred[0], reference, answer):
            return Status.CORRECT, "equal at the precision the decimal states"
        return Status.WRONG, "different numbers"
    first_error: Exception | None = None
    vetoed: str | None = None
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            try:
                same = mv.verify(g, p, timeout_seconds=None, raise_on_error=True, allow_set_relation_comp=True)
            except Exception as exc:  # noqa: BLE001 - reported as Status.ERROR below
                if gi == 0 and pi == 0 and not isinstance(g, str) and not isinstance(p, str):
                    first_error = exc
                continue
            if not same:
                continue
            why_not = _tiny_number_mismatch(g, p)
            if why_not is None:
                return Status.CORRECT, "equivalent"
            vetoed = vetoed or why_not
    if vetoed is not None:
        return Status.WRONG, vetoed
    if _equal_at_stated_precision(gold[0], pred[0], reference, answer):
        return Status.CORRECT, "equal at the precision the decimal states"
    if first_error is not None:
        text = f"{type(first_error).__name__}: {first_error}"
        return Status.ERROR, f"comparison failed: {text[:300]}"
    return Status.WRONG, "not equivalent"


def judge_answer(reference: str, answer: str, parts: tuple[str, ...] = ()) -> tuple[Status, str, str]:
    """``judge`` for an extracted answer that may join several boxes (``parts``, see
    ``rlbound.verify.extract.boxed_parts``).

    A multi-box answer is judged as a whole (``\\boxed{1}, \\boxed{-2}`` is the set {1, -2}), unless
    all its boxes hold one value written differently (``\\boxed{0.5} or \\boxed{\\frac12}``): then the
    last box alone is judged.

    Returns:
        (status, detail, the answer as judged).
    """
    if len(parts) >= 2:
        last = parts[-1]
        if all(judge(last, other)[0] is Status.CORRECT for other in parts[:-1]):
            status, why = judge(reference, last)
            return status, f"{len(parts)} boxes hold one value; {why}", last
    status, why = judge(reference, answer)
    return status, why, answer


_WARMUP_FORMS = (
    "\\frac{1}{2}", "-\\dfrac{40}{153}", "1\\frac{1}{10}", "0.25", "3\\sqrt{2}+1", "7\\pi", "4a-2",
    "(1, 2)", "\\{1, -2\\}", "[0, 1)", "x^{2}+1", "\\text{(A)}", "25\\%", "45^\\circ", "10{,}000",
    "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\infty", "x = 3", "2^{10}", "\\log_{2} 8",
)


class MathVerifier:
    """Verifier for final-answer math problems (MATH500, AIME, AMC, Minerva, OlympiadBench, GSM8K).

    ``verify`` extracts the answer with ``policy`` and judges it with Math-Verify; judgements are
    cached per (reference, extracted answer) in this object (one cache per worker process), and
    ``cache_key`` lets ``rlbound.verify.runner`` verify each distinct key only once.
    """

    name = "math"
    # Modules a forkserver may import once for all worker processes (rlbound.verify.runner).
    preload_modules = ("math_verify",)

    def __init__(self, policy: ExtractionPolicy | None = None, cache_size: int = 65536) -> None:
        self.policy = policy or ExtractionPolicy()
        self.version = (
            f"{VERIFIER_REVISION}+math-verify-{_dist('math-verify')}"
            f"+latex2sympy2-extended-{_dist('latex2sympy2_extended')}"
        )
        if not self.policy.is_default:
            self.version += "+policy-" + ".".join(self.policy.policies)
        self._cache: OrderedDict[tuple[str, str, tuple[str, ...]], tuple[Status, str, str]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # verify() may be called from several threads

    def warmup(self) -> None:
        """Import Math-Verify and exercise its parser on common answer forms now.

        The runner calls this before a worker takes its first item (and once in its forkserver),
        so one-off start-up cost -- imports, regex compilation, ANTLR's lazily built DFA -- never
        counts against an item's time limit.
        """
        for latex in _WARMUP_FORMS:
            _parse(latex)
        judge("\\frac{1}{2}", "0.5")

    def extract(self, response: str) -> tuple[str | None, str | None]:
        """(answer, policy name) from ``response`` under this verifier's policy."""
        return extract_answer(response, self.policy)

    def _extract_full(self, reference: str | None, response: str) -> tuple[str | None, str | None, tuple[str, ...]]:
        """(answer, policy, boxes if several) for ``response``, joining as many boxes as the
        reference has parts (``rlbound.verify.extract.extract_full``)."""
        want = answer_part_count(str(reference)) if reference is not None and len(str(reference)) <= 2000 else 1
        return extract_full(response, self.policy, want)

    def cache_key(self, problem: Problem, response: str) -> Hashable | None:
        """(reference, extracted answer, policy, boxes if several): equal keys get equal verdicts."""
        answer, fired, parts = self._extract_full(problem.reference, response or "")
        return (problem.reference, answer, fired, parts)

    def _judge_cached(self, reference: str, answer: str, parts: tuple[str, ...]) -> tuple[Status, str, str]:
        key = (reference, answer, parts)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        result = judge_answer(reference, answer, parts)
        with self._lock:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _verdict(self, status: Status, extracted: str | None, detail: str) -> Verdict:
        return Verdict(
            correct=status is Status.CORRECT,
            status=status,
            extracted=extracted,
            detail=detail,
            verifier=self.name,
            verifier_version=self.version,
        )

    def quick_verify(self, problem: Problem, response: str) -> Verdict | None:
        """The verdict ``verify`` would give, when it needs no SymPy; else None.

        Covers a missing reference, no extractable answer, and one-box answers decided by the fast
        paths (same LaTeX up to spelling, two integers) or as times of day: pure-Python string work
        bounded by the answer's length (answers over ``QUICK_MAX_CHARS`` are left to ``verify``), so
        ``rlbound.verify.runner`` runs it in the parent and starts no worker for such items. A job
        whose answers are all integers (AIME, AMC, GSM8K) then never imports SymPy.
        """
        if problem.reference is None or not str(problem.reference).strip():
            return self.verify(problem, response)
        answer, fired, parts = self._extract_full(problem.reference, response or "")
        if answer is None:
            return self.verify(problem, response)
        reference = str(problem.reference)
        too_long = _too_long(reference, answer)
        if too_long is not None:  # the same verdict ``verify`` gives, without a worker
            return self._verdict(too_long[0], answer[:QUICK_MAX_CHARS], f"policy={fired}; {too_long[1]}")
        if parts or len(answer) > QUICK_MAX_CHARS or len(reference) > QUICK_MAX_CHARS:
            return None
        reference, prepared = _prepare(reference, answer)
        decided = _fast_path(reference, prepared) or _compare_clock_times(reference, prepared)
        if decided is None:
            return None
        status, why = decided
        return self._verdict(status, answer, f"policy={fired}; {why}")

    def verify(self, problem: Problem, response: str) -> Verdict:
        """Grade ``response`` against ``problem.reference``.

        Status: ``correct`` / ``wrong``; ``no_answer`` when no policy extracts an answer; ``error``
        when the problem has no reference, the answer or reference is over ``MAX_GRADED_CHARS``
        characters (the stored answer is then cut to ``QUICK_MAX_CHARS``) or Math-Verify raises
        (exception text in ``detail``). ``detail`` starts with the extraction policy that fired. No
        timeout is applied here: ``rlbound.verify.runner`` applies it from outside.
        """
        if problem.reference is None or not str(problem.reference).strip():
            return self._verdict(Status.ERROR, None, f"problem {problem.id!r} has no reference answer")
        answer, fired, parts = self._extract_full(problem.reference, response or "")
        if answer is None:
            tried = ", ".join(self.policy.policies)
            return self._verdict(Status.NO_ANSWER, None, f"no answer found (policies tried: {tried})")
        too_long = _too_long(str(problem.reference), answer)
        if too_long is not None:  # the stored answer is cut, too
            return self._verdict(too_long[0], answer[:QUICK_MAX_CHARS], f"policy={fired}; {too_long[1]}")
        try:
            status, why, judged = self._judge_cached(str(problem.reference), answer, parts)
        except Exception as exc:  # noqa: BLE001 - a grader crash is an ``error`` verdict
            status, why, judged = Status.ERROR, f"{type(exc).__name__}: {exc}"[:400], answer
        return self._verdict(status, judged, f"policy={fired}; {why}")
