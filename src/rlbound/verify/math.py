"""Math answer verifier: extract the final answer, then decide equivalence with Math-Verify.

The grading protocol of Yue et al. 2025 (arXiv 2504.13837): a response is correct when its final
answer (the last ``\\boxed{}`` under the paper's zero-shot prompt) is mathematically equal to the
reference. Extraction is ``rlbound.verify.extract``; equivalence is Math-Verify's ``parse`` +
``verify`` (Hugging Face, 0.9.0) with its SIGALRM timeouts switched off (``parsing_timeout=None``,
``timeout_seconds=None``, as its docstrings prescribe for threaded use): SIGALRM only works on the
main thread (pain point 1), so wall-clock limits are enforced from outside by
``rlbound.verify.runner``, which kills a stuck worker process.

One correction on top of Math-Verify: it compares numbers after rounding to 6 decimals (and chops
tiny differences in ``evalf``), so any two numbers below ~1e-6 compare equal (``1/2004!`` ==
``1/2006!``, Math-Verify #14; ``1e-19 == 5e-19``). When Math-Verify says "equal" for two scalar
numbers of magnitude below 1e-3, rlbound also requires a relative difference of at most 1e-3.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version as _dist_version
from typing import Any, Hashable

from rlbound.types import Problem, Status, Verdict
from rlbound.verify.extract import ExtractionPolicy, extract_answer

VERIFIER_REVISION = "math-1"
TINY_MAGNITUDE = 1e-3  # below this, Math-Verify's 6-decimal rounding keeps < 4 significant digits
TINY_RELATIVE_TOLERANCE = 1e-3


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


def judge(reference: str, answer: str) -> tuple[Status, str]:
    """Decide whether ``answer`` equals ``reference`` (both LaTeX answer strings).

    Math-Verify ``verify(gold, pred)`` on every pair of their parses (it is not symmetric: the
    reference is the gold side), plus the tiny-number check of the module docstring.

    Returns:
        (status, detail): ``correct``; ``wrong``; or ``error`` when the symbolic comparison of the
        two parsed expressions raised and no other pair matched (the exception text is the detail).
    """
    mv = _math_verify()
    gold = _parse_reference(reference)
    if not gold:
        return Status.ERROR, f"Math-Verify could not parse the reference {reference!r}"
    pred = _parse(answer)
    if not pred:
        return Status.WRONG, "Math-Verify found nothing to compare in the answer"
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
        self._cache: OrderedDict[tuple[str, str], tuple[Status, str]] = OrderedDict()
        self._cache_size = cache_size

    def warmup(self) -> None:
        """Import Math-Verify and compile its parsers now (the runner calls this before a worker
        takes its first item, so one-off start-up cost never counts against an item's time limit)."""
        judge("\\frac{1}{2}", "0.5")

    def extract(self, response: str) -> tuple[str | None, str | None]:
        """(answer, policy name) from ``response`` under this verifier's policy."""
        return extract_answer(response, self.policy)

    def cache_key(self, problem: Problem, response: str) -> Hashable | None:
        """(reference, extracted answer, policy): responses with equal keys get equal verdicts."""
        answer, fired = self.extract(response)
        return (problem.reference, answer, fired)

    def _judge_cached(self, reference: str, answer: str) -> tuple[Status, str]:
        key = (reference, answer)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        result = judge(reference, answer)
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

    def verify(self, problem: Problem, response: str) -> Verdict:
        """Grade ``response`` against ``problem.reference``.

        Status: ``correct`` / ``wrong``; ``no_answer`` when no policy extracts an answer; ``error``
        when the problem has no reference or Math-Verify raises (exception text in ``detail``).
        ``detail`` starts with the extraction policy that fired. No timeout is applied here.
        """
        if problem.reference is None or not str(problem.reference).strip():
            return self._verdict(Status.ERROR, None, f"problem {problem.id!r} has no reference answer")
        answer, fired = self.extract(response or "")
        if answer is None:
            tried = ", ".join(self.policy.policies)
            return self._verdict(Status.NO_ANSWER, None, f"no answer found (policies tried: {tried})")
        try:
            status, why = self._judge_cached(str(problem.reference), answer)
        except Exception as exc:  # noqa: BLE001 - a grader crash is an ``error`` verdict
            status, why = Status.ERROR, f"{type(exc).__name__}: {exc}"[:400]
        return self._verdict(status, answer, f"policy={fired}; {why}")
