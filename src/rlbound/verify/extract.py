"""Final-answer extraction from free-form math responses.

Each policy is a pure function ``text -> (answer or None, policy name)``; an ``ExtractionPolicy``
lists the policies to try in order, and ``extract_answer`` returns the first answer found together
with the name of the policy that produced it (the verifier records it in ``Verdict.detail``).

Policies (conventions of the MATH / GSM8K evaluation harnesses used by Yue et al. 2025,
arXiv 2504.13837, whose zero-shot prompt asks for the answer "within \\boxed{}"):

``boxed``
    the last complete ``\\boxed{...}``, ``\\boxed X``, ``\\fbox{...}`` or ``\\framebox{...}``, with
    brace matching (nested and escaped braces). Boxes placed directly one after another, separated
    only by commas, "and"/"or" or math delimiters (``\\boxed{1}, \\boxed{-2}``), are joined with
    ", " so a multi-part answer is not cut to its last part.
``final_answer``
    the text after the last "final answer is", "final answer:" or "the answer is".
``gsm8k``
    the text after the last ``#### `` (GSM8K reference format), thousands separators removed.
``last_number``
    the last number in the text. OFF by default: it turns responses that never state an answer
    into guesses, which inflates pass@k at large k (the "lucky guess" effect the paper discusses);
    turn it on with ``ExtractionPolicy.with_last_number()`` to mimic harnesses that use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Extraction = tuple["str | None", str]

_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
# Tokens that matter for brace matching: an escaped character (\{ \} \\ ...) or a bare brace.
_BRACE_TOKEN_RE = re.compile(r"\\.|[{}]", re.DOTALL)
# What may stand between two boxes that belong to one answer.
_BOX_GAP_RE = re.compile(
    r"(?:\s|,|;|&|\$|\\[()\[\]]|\\quad|\\qquad|\\,|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b)*"
)
_MAX_JOINED_BOXES = 10
_TOKEN_RE = re.compile(r"[^\s$]+")


def _match_braces(text: str, start: int) -> dict[int, int]:
    """Map each ``{`` at or after ``start`` to the index of its matching ``}`` (one linear pass)."""
    match: dict[int, int] = {}
    stack: list[int] = []
    for tok in _BRACE_TOKEN_RE.finditer(text, start):
        ch = tok.group()
        if ch == "{":
            stack.append(tok.start())
        elif ch == "}" and stack:
            match[stack.pop()] = tok.start()
    return match


def _box_spans(text: str) -> list[tuple[int, int, str]]:
    """All complete boxes as (start, end, content), in text order; unclosed boxes are skipped.

    A box nested inside another is the same answer: only outermost boxes are returned, and a box
    whose whole content is another box (``\\boxed{\\boxed{5}}``) gets the inner content.
    """
    commands = list(_BOX_RE.finditer(text))
    if not commands:
        return []
    braces = _match_braces(text, commands[0].end())
    # (start, end, content start, content end) for every complete box
    raw: list[tuple[int, int, int, int]] = []
    for m in commands:
        i = m.end()
        j = i
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            close = braces.get(j)
            if close is None:
                continue
            raw.append((m.start(), close + 1, j + 1, close))
        elif j > i:  # "\boxed 5" -- the argument is the next token
            tok = _TOKEN_RE.match(text, j)
            if tok is None:
                continue
            raw.append((m.start(), tok.end(), j, j + len(tok.group().rstrip(".,;"))))
    by_start = {r[0]: r for r in raw}
    content_of: dict[int, tuple[int, int]] = {}
    for start, _end, c0, c1 in reversed(raw):  # inner boxes first
        a, b = c0, c1
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        inner = by_start.get(a)
        if inner is not None and inner[1] == b:  # the content is exactly one box
            a, b = content_of[a]
        content_of[start] = (a, b)
    spans: list[tuple[int, int, str]] = []
    for start, end, _c0, _c1 in raw:
        if spans and start < spans[-1][1]:
            continue  # nested in the previous outermost box
        a, b = content_of[start]
        if a < b:
            spans.append((start, end, text[a:b]))
    return spans


def boxed_parts(text: str) -> list[str]:
    """The contents of the last box and of the boxes directly before it (joined by ``extract_boxed``).

    Boxes belong together when only commas, semicolons, "and"/"or", spaces or math delimiters stand
    between them; equal contents are kept once. Empty list when the text has no complete box.
    """
    spans = _box_spans(text)
    if not spans:
        return []
    group = [spans[-1]]
    for span in reversed(spans[:-1]):
        if len(group) >= _MAX_JOINED_BOXES:
            break
        gap = text[span[1] : group[0][0]]
        if not _BOX_GAP_RE.fullmatch(gap):
            break
        group.insert(0, span)
    parts: list[str] = []
    for _, _, content in group:
        if content not in parts:  # "\boxed{5} \boxed{5}" is one answer, not the set {5, 5}
            parts.append(content)
    return parts


def extract_boxed(text: str) -> Extraction:
    """Last complete ``\\boxed{}`` / ``\\boxed X`` / ``\\fbox{}`` answer (adjacent boxes joined by ", ").

    The convention of the MATH benchmark (Hendrycks et al. 2021) and of the zero-shot prompt in
    Yue et al. 2025. Linear in ``len(text)``.
    """
    parts = boxed_parts(text)
    return (", ".join(parts) if parts else None), "boxed"


_FINAL_RE = re.compile(
    r"(?:final\s+answer\s*(?:is\b|:)|\bthe\s+answer\s+is\b)\s*:?[ \t]*", re.IGNORECASE
)
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _strip_markup(ans: str) -> str:
    ans = ans.strip()
    ans = re.sub(r"^\*+|\*+$", "", ans).strip()  # markdown bold
    for left, right in _DELIMS:
        if ans.startswith(left) and ans.endswith(right) and len(ans) >= len(left) + len(right):
            ans = ans[len(left) : len(ans) - len(right)].strip()
            break
    return ans.rstrip(".").strip()


def extract_final_answer(text: str) -> Extraction:
    """Text after the last "final answer is" / "final answer:" / "the answer is".

    The answer-sentence convention of the Minerva prompt (Lewkowycz et al. 2022, "Final Answer: The
    final answer is X. I hope it is correct.") and of the Qwen2.5-Math harness. A math-delimited
    answer ($...$, \\(...\\), \\[...\\]) is taken whole; plain text is cut at the end of the line
    or sentence.
    """
    last = None
    for m in _FINAL_RE.finditer(text):
        last = m
    if last is None:
        return None, "final_answer"
    rest = text[last.end() :].lstrip("* \t")
    ans: str | None = None
    for left, right in _DELIMS:
        if rest.startswith(left):
            close = rest.find(right, len(left))
            if close > len(left):
                ans = rest[len(left) : close]
            break
    if ans is None:
        line = rest.split("\n", 1)[0]
        ans = re.split(r"\.(?:\s|$)|\s+I hope\b", line, maxsplit=1)[0]
    ans = _strip_markup(ans)
    return (ans or None), "final_answer"


_GSM8K_RE = re.compile(r"####[ \t]*([^\n]*)")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def extract_gsm8k(text: str) -> Extraction:
    """Text after the last ``####`` marker (GSM8K, Cobbe et al. 2021), thousands commas removed."""
    last = None
    for m in _GSM8K_RE.finditer(text):
        last = m
    if last is None:
        return None, "gsm8k"
    ans = _THOUSANDS_RE.sub("", _strip_markup(last.group(1)))
    return (ans or None), "gsm8k"


_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def extract_last_number(text: str) -> Extraction:
    """The last number in the text (thousands commas removed); an opt-in fallback."""
    last = None
    for m in _NUMBER_RE.finditer(text):
        last = m
    if last is None:
        return None, "last_number"
    ans = _THOUSANDS_RE.sub("", last.group()).rstrip(",")
    return ans, "last_number"


POLICIES: dict[str, Callable[[str], Extraction]] = {
    "boxed": extract_boxed,
    "final_answer": extract_final_answer,
    "gsm8k": extract_gsm8k,
    "last_number": extract_last_number,
}

DEFAULT_POLICIES: tuple[str, ...] = ("boxed", "final_answer", "gsm8k")


@dataclass(frozen=True)
class ExtractionPolicy:
    """The ordered extraction policies to try; the first one that finds an answer wins.

    Attributes:
        policies: names from ``POLICIES``; default ``("boxed", "final_answer", "gsm8k")`` --
            ``last_number`` is off by default (see the module docstring).
    """

    policies: tuple[str, ...] = DEFAULT_POLICIES

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        if not self.policies:
            raise ValueError("an ExtractionPolicy needs at least one policy")
        unknown = [p for p in self.policies if p not in POLICIES]
        if unknown:
            raise ValueError(
                f"unknown extraction policy {', '.join(map(repr, unknown))}; known: {', '.join(POLICIES)}"
            )

    @classmethod
    def with_last_number(cls) -> ExtractionPolicy:
        """The default policies followed by the ``last_number`` fallback."""
        return cls(DEFAULT_POLICIES + ("last_number",))

    @property
    def is_default(self) -> bool:
        """True for the default policy list (the verifier version then carries no policy suffix)."""
        return self.policies == DEFAULT_POLICIES


def extract_answer(text: str, policy: ExtractionPolicy = ExtractionPolicy()) -> tuple[str | None, str | None]:
    """Run ``policy``'s extractors in order on ``text``.

    Returns:
        (answer, policy name) for the first policy that finds an answer, else (None, None).
    """
    for name in policy.policies:
        answer, fired = POLICIES[name](text)
        if answer is not None:
            return answer, fired
    return None, None
