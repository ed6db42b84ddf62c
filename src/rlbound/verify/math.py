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
* Fast paths that agree with Math-Verify by construction and skip SymPy: the same LaTeX up to
  spelling, two integers, two plain numbers clearly apart.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

from rlbound.types import Problem, Status, Verdict
from rlbound.verify.extract import POLICIES, ExtractionPolicy, boxed_parts, extract_answer

VERIFIER_REVISION = "math-1"
TINY_MAGNITUDE = 1e-3  # below this, Math-Verify's 6-decimal rounding keeps < 4 significant digits
TINY_RELATIVE_TOLERANCE = 1e-3
QUICK_MAX_CHARS = 200  # longer answers are never decided in the runner's parent process


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
_INT_RE = re.compile(r"-?(?:\d{1,3}(?:(?:,|\{,\})\d{3})+|\d+)")
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
        return Status.WRONG, "different numbers"
    first_error: Exception | None = None
    vetoed: str | None = None
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            try:
                same = mv.verify(g, p, timeout_seconds=None, raise_on_error=True)
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

    def _extract_full(self, response: str) -> tuple[str | None, str | None, tuple[str, ...]]:
        """(answer, policy, boxes if several): ``extract`` with one scan for the boxed policy."""
        for name in self.policy.policies:
            if name == "boxed":
                parts = boxed_parts(response)
                if parts:
                    return ", ".join(parts), "boxed", (tuple(parts) if len(parts) > 1 else ())
                continue
            answer, fired = POLICIES[name](response)
            if answer is not None:
                return answer, fired, ()
        return None, None, ()

    def cache_key(self, problem: Problem, response: str) -> Hashable | None:
        """(reference, extracted answer, policy, boxes if several): equal keys get equal verdicts."""
        answer, fired, parts = self._extract_full(response or "")
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
        answer, fired, parts = self._extract_full(response or "")
        if answer is None:
            return self.verify(problem, response)
        reference = str(problem.reference)
        if parts or len(answer) > QUICK_MAX_CHARS or len(reference) > QUICK_MAX_CHARS:
            return None
        decided = _fast_path(reference, answer) or _compare_clock_times(reference, answer)
        if decided is None:
            return None
        status, why = decided
        return self._verdict(status, answer, f"policy={fired}; {why}")

    def verify(self, problem: Problem, response: str) -> Verdict:
        """Grade ``response`` against ``problem.reference``.

        Status: ``correct`` / ``wrong``; ``no_answer`` when no policy extracts an answer; ``error``
        when the problem has no reference or Math-Verify raises (exception text in ``detail``).
        ``detail`` starts with the extraction policy that fired. No timeout is applied here.
        """
        if problem.reference is None or not str(problem.reference).strip():
            return self._verdict(Status.ERROR, None, f"problem {problem.id!r} has no reference answer")
        answer, fired, parts = self._extract_full(response or "")
        if answer is None:
            tried = ", ".join(self.policy.policies)
            return self._verdict(Status.NO_ANSWER, None, f"no answer found (policies tried: {tried})")
        try:
            status, why, judged = self._judge_cached(str(problem.reference), answer, parts)
        except Exception as exc:  # noqa: BLE001 - a grader crash is an ``error`` verdict
            status, why, judged = Status.ERROR, f"{type(exc).__name__}: {exc}"[:400], answer
        return self._verdict(status, judged, f"policy={fired}; {why}")
