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
    ", " so a multi-part answer is not cut to its last part. When the reference has several parts
    (``extract_full(..., want_parts=n)``), the last ``n`` boxes of one sentence are joined even with
    words between them (``y_1=\\boxed{2}, y_2=\\boxed{3}``), as Math-Verify does.
``final_answer``
    the answer stated after the last "final answer is", "final answer:" or "the answer is"; in a
    sentence (``Final Answer: The largest $n$ is 34.``) the math after its last "is"/"=" (else its
    last math or number) is the answer. A "final answer" statement written after the last box wins
    over the box (``\\boxed{255} ... The final answer is $10,455$``), as in Math-Verify.
``gsm8k``
    the text after the last ``#### `` (GSM8K reference format), thousands separators removed.
``last_math``
    no marker at all: the last math expression, as Math-Verify falls back to it -- the last
    ``$...$`` / ``\\(...\\)`` / ``\\[...\\]`` / ``$$...$$`` span or the last number of the prose,
    whichever comes later (``... the solution of the system is $(7, 6)$.``). Never from a response
    that stops inside an open ``\\[``, ``$$`` or ``\\(`` (cut off at the token limit mid-formula).
``last_number``
    the last number anywhere in the text. OFF by default: it also reads numbers out of a cut-off
    formula, turning responses that never state an answer into guesses, which inflates pass@k at
    large k (the "lucky guess" effect the paper discusses); turn it on with
    ``ExtractionPolicy.with_last_number()`` to mimic harnesses that use it.

Text after a chat-template control token (``<|im_start|>``, ``<|im_end|>``, ``<|endoftext|>``,
``<|eot_id|>``) is a new turn the model went on to write, not its answer: it is ignored.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

Extraction = tuple["str | None", str]
FullExtraction = tuple["str | None", "str | None", tuple[str, ...]]

_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
# Tokens that matter for brace matching: an escaped character (\{ \} \\ ...) or a bare brace.
_BRACE_TOKEN_RE = re.compile(r"\\.|[{}]", re.DOTALL)
# What may stand between two boxes that belong to one answer.
_BOX_GAP_RE = re.compile(
    r"(?:\s|,|;|&|\$|\\[()\[\]]|\\quad|\\qquad|\\,|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b)*"
)
_MAX_JOINED_BOXES = 10
_MAX_PART_GAP = 250  # boxes joined for a multi-part reference stand at most this far apart...
_SENTENCE_BREAK_RE = re.compile(r"[.!?](?:\s|$)|\n\s*\n")  # ...in one sentence
_TOKEN_RE = re.compile(r"[^\s$]+")
_CONTROL_TOKEN_RE = re.compile(r"<\|(?:im_start|im_end|endoftext|eot_id|end_of_text)\|>")


def strip_control_tokens(text: str) -> str:
    """The text from the last leading chat-template control token to the first one after some content."""
    if "<|" not in text:
        return text
    begin = 0
    for m in _CONTROL_TOKEN_RE.finditer(text):
        if text[begin : m.start()].strip():
            return text[begin : m.start()]
        begin = m.end()
    return text[begin:]


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


def _box_group(text: str, want_parts: int = 1) -> tuple[list[str], int] | None:
    """(contents of the last box and the boxes that belong with it, end of the last box), or None.

    Boxes belong together when only commas, semicolons, "and"/"or", spaces or math delimiters stand
    between them; for a reference of ``want_parts`` >= 2 parts, the last ``want_parts`` boxes also
    belong together when each gap is at most ``_MAX_PART_GAP`` characters within one sentence (no
    sentence end or blank line: "\\boxed{2} is wrong. So \\boxed{3}" is one answer, 3). Equal
    contents are kept once.
    """
    spans = _box_spans(text)
    if not spans:
        return None
    group = [spans[-1]]
    for span in reversed(spans[:-1]):
        if len(group) >= _MAX_JOINED_BOXES:
            break
        gap = text[span[1] : group[0][0]]
        adjacent = _BOX_GAP_RE.fullmatch(gap) is not None
        if not adjacent and not (len(group) < want_parts and len(gap) <= _MAX_PART_GAP
                                 and not _SENTENCE_BREAK_RE.search(gap)):
            break
        group.insert(0, span)
    parts: list[str] = []
    for _, _, content in group:
        if content not in parts:  # "\boxed{5} \boxed{5}" is one answer, not the set {5, 5}
            parts.append(content)
    return parts, spans[-1][1]


def boxed_parts(text: str, want_parts: int = 1) -> list[str]:
    """The contents of the last box and of the boxes that belong with it (joined by ``extract_boxed``).

    See ``_box_group``; empty list when the text has no complete box.
    """
    group = _box_group(text, want_parts)
    return group[0] if group else []


def extract_boxed(text: str) -> Extraction:
    """Last complete ``\\boxed{}`` / ``\\boxed X`` / ``\\fbox{}`` answer (adjacent boxes joined by ", ").

    The convention of the MATH benchmark (Hendrycks et al. 2021) and of the zero-shot prompt in
    Yue et al. 2025. Linear in ``len(text)``.
    """
    parts = boxed_parts(text)
    return (", ".join(parts) if parts else None), "boxed"


# ------------------------------------------------------------------------------------ math spans

# Delimiter tokens, scanned left to right (an escaped backslash first, so "\\[" is not "\[").
_DELIM_TOKEN_RE = re.compile(r"\\\\|\\\$|\$\$|\$|\\\[|\\\]|\\\(|\\\)")
_CLOSER = {"$$": "$$", "\\[": "\\]", "$": "$", "\\(": "\\)"}
_INLINE = ("$", "\\(")


def _math_regions(text: str) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int]], bool]:
    """Math spans of ``text`` in one linear pass.

    Returns (spans as (start, end, content start, content end); regions that are not spans but
    must not be read as prose -- an inline ``$...$`` or ``\\(...\\)`` across a line break, which
    Math-Verify does not read either; True when the text ends inside an open ``$$``, ``\\[`` or
    ``\\(``). A ``$`` right after a digit (``1,000.99$``) is a currency sign, not a delimiter.
    """
    spans: list[tuple[int, int, int, int]] = []
    invalid: list[tuple[int, int]] = []
    open_tok: str | None = None
    open_at = 0
    for m in _DELIM_TOKEN_RE.finditer(text):
        tok = m.group()
        if open_tok is None:
            if tok in _CLOSER and not (tok == "$" and m.start() > 0 and text[m.start() - 1].isdigit()):
                open_tok, open_at = tok, m.start()
            continue
        if tok != _CLOSER[open_tok]:
            continue
        c0, c1 = open_at + len(open_tok), m.start()
        if open_tok in _INLINE and "\n" in text[c0:c1]:
            invalid.append((open_at, m.end()))
        elif text[c0:c1].strip():
            spans.append((open_at, m.end(), c0, c1))
        open_tok = None
    return spans, invalid, open_tok in ("$$", "\\[", "\\(")


_SPAN_GAP_RE = re.compile(r"\s*(?:,|,?\s*and|,?\s*or)\s*", re.IGNORECASE)
_PERCENT_AFTER_RE = re.compile(r"\s*(?:\\?%|[Pp]ercent(?:age)?\b|[Pp]ct\b)")
_MAX_JOINED_SPANS = 6
_MAX_SPAN_GAP = 40


_EMPTY_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)\s*\{\s*\}")


def _clean_math(content: str) -> str:
    """Span content without sentence punctuation written inside the delimiters (``$\\frac13.$``)
    and without empty boxes (``$\\boxed{}$`` states nothing)."""
    out = _EMPTY_BOX_RE.sub("", content).strip() if "box" in content else content.strip()
    if (out.endswith(".") and not out.endswith("..")) or out.endswith(","):
        out = out[:-1].rstrip()
    return out


def _last_span_answer(text: str, spans: list[tuple[int, int, int, int]]) -> str:
    """The last span's content, joined with the spans directly before it (``$-2$ and $1$``)."""
    group = [spans[-1]]
    for span in reversed(spans[:-1]):
        gap = text[span[1] : group[0][0]]
        if len(group) >= _MAX_JOINED_SPANS or len(gap) > _MAX_SPAN_GAP or not _SPAN_GAP_RE.fullmatch(gap):
            break
        group.insert(0, span)
    parts = [p for p in (_clean_math(text[c0:c1]) for _, _, c0, c1 in group) if p]
    answer = ", ".join(parts)
    if answer and _PERCENT_AFTER_RE.match(text, spans[-1][1]):
        answer += "\\%"
    return answer


# A number of the prose, as Math-Verify's expression fallback reads it: after a space, "=" or "(",
# optionally after a currency sign, a mixed number (4 4/9), thousands-separated or with a decimal
# point or comma, maybe a simple fraction or product, maybe followed by a percent word.
_PROSE_NUMBER_RE = re.compile(
    r"(?<![^\s=(:])[$€£¥₹]?(?P<num>[-+]?(?:\d+[ \t]+\d+/\d+(?![\d/])|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|\.\d+)"
    r"(?:[ \t]*[/*×÷^][ \t]*\d+(?:\.\d+)?)*)(?P<pct>[ \t]*(?:%|[Pp]ercent(?:age)?\b|[Pp]ct\b))?",
    re.ASCII,
)
_DECIMAL_COMMA_RE = re.compile(r"^([-+]?\d+),(\d{1,2}|\d{4,})$")


def _prose_number(match: re.Match[str]) -> str:
    """A prose number as an answer: thousands separators dropped, a decimal comma read as a point."""
    num = match.group("num")
    if "/" in num and re.match(r"[-+]?\d+[ \t]+\d", num):  # a mixed number keeps its space
        return " ".join(num.split()) + ("\\%" if match.group("pct") else "")
    num = num.replace(" ", "").replace("\t", "")
    if _DECIMAL_COMMA_RE.match(num) or re.fullmatch(r"[-+]?0,\d+", num):
        num = num.replace(",", ".")
    else:
        num = _THOUSANDS_RE.sub("", num)
    return num + ("\\%" if match.group("pct") else "")


def _blank(text: str, regions: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in regions:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def _last_math_in(text: str) -> tuple[str | None, bool]:
    """(last math expression of ``text`` -- span or prose number, whichever ends later; truncated?)."""
    spans, invalid, truncated = _math_regions(text)
    prose = _blank(text, [(s[0], s[1]) for s in spans] + invalid) if spans or invalid else text
    number = None
    for m in _PROSE_NUMBER_RE.finditer(prose):
        number = m
    if number is not None and (not spans or number.end() > spans[-1][1]):
        return _prose_number(number), truncated
    if spans:
        return (_last_span_answer(text, spans) or None), truncated
    return None, truncated


def extract_last_math(text: str) -> Extraction:
    """The last math span or prose number (Math-Verify's fallback), unless the text is cut off mid-formula."""
    answer, truncated = _last_math_in(text)
    return (None if truncated else answer), "last_math"


# ---------------------------------------------------------------------------------- final answer

_FINAL_RE = re.compile(
    r"(?:final\s+answer\s*(?:is\b|:)|\bthe\s+answer\s+is\b)\s*:?[ \t]*", re.IGNORECASE
)
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
# The last "is" / "=" of a sentence: what follows it is the answer ("The largest $n$ is 34").
_VERB_RE = re.compile(r"(?:\s(?:is|are|was|equals|be)\b|=)\s*", re.IGNORECASE)
_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
_CONNECTIVES = frozenset({"and"})
_MAX_PLAIN_WORDS = 3
# End of the answer sentence; the look-behind keeps a long run of spaces from being rescanned.
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)|(?<!\s)\s+I hope\b")


def _strip_markup(ans: str) -> str:
    ans = ans.strip()
    ans = re.sub(r"^\*+|\*+$", "", ans).strip()  # markdown bold
    ans = re.sub(r'^\\?"|\\?"$', "", ans).strip()  # quotes around the answer
    for left, right in _DELIMS:
        if ans.startswith(left) and ans.endswith(right) and len(ans) >= len(left) + len(right):
            ans = ans[len(left) : len(ans) - len(right)].strip()
            break
    return ans.rstrip(".").strip()


def _has_prose(ans: str) -> bool:
    """True when ``ans`` has words outside its math (``The largest $n$ is 34``), not just an answer."""
    spans, _, _ = _math_regions(ans)
    outside = _blank(ans, [(s[0], s[1]) for s in spans]) if spans else ans
    outside = re.sub(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}", " ", outside)
    return any(w.lower() not in _CONNECTIVES for w in _WORD_RE.findall(outside))


def _answer_in_sentence(sentence: str) -> str | None:
    """The answer a final-answer sentence states: after its last "is"/"=", else its last math."""
    spans, _, _ = _math_regions(sentence)
    last_verb = None
    for m in _VERB_RE.finditer(sentence):
        if not _inside(spans, m.start()):
            last_verb = m
    tail = sentence[last_verb.end() :].strip() if last_verb else sentence
    if tail and not _has_prose(tail):
        return _strip_markup(tail) or None
    found, _ = _last_math_in(tail)
    if found is None and len(sentence.split()) <= _MAX_PLAIN_WORDS:
        return sentence  # "The answer is yes"
    return found


def _inside(spans: list[tuple[int, int, int, int]], pos: int) -> bool:
    """Whether ``pos`` lies inside one of ``spans`` (sorted, disjoint): a binary search."""
    i = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] < pos < spans[i][1]


def _final_matches(text: str, final_only: bool = False, pos: int = 0) -> list[re.Match[str]]:
    out = list(_FINAL_RE.finditer(text, pos))
    return [m for m in out if m.group().lower().startswith("final")] if final_only else out


def _answer_after(text: str, marker: re.Match[str]) -> str | None:
    """The answer stated after one final-answer marker."""
    rest = text[marker.end() :].lstrip("* \t")
    rest = re.sub(r'^\\?"', "", rest)
    ans: str | None = None
    for left, right in _DELIMS:
        if rest.startswith(left):
            close = rest.find(right, len(left))
            if close > len(left):
                spans, _, _ = _math_regions(rest)
                ans = _last_span_answer(rest, _joined_prefix(rest, spans)) if spans else rest[len(left) : close]
            break
    if ans is None:
        line = rest.split("\n", 1)[0]
        ans = _SENTENCE_END_RE.split(line, maxsplit=1)[0]
        ans = _strip_markup(ans)
        if ans and _has_prose(ans):
            return _answer_in_sentence(ans)
    ans = _clean_math(_strip_markup(ans))
    return ans or None


def _joined_prefix(text: str, spans: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The spans at the start of ``text`` joined by commas / "and" / "or" (the first answer group)."""
    out = spans[:1]
    for span in spans[1:_MAX_JOINED_SPANS]:
        gap = text[out[-1][1] : span[0]]
        if len(gap) > _MAX_SPAN_GAP or not _SPAN_GAP_RE.fullmatch(gap):
            break
        out.append(span)
    return out


def extract_final_answer(text: str) -> Extraction:
    """The answer after the last "final answer is" / "final answer:" / "the answer is".

    The answer-sentence convention of the Minerva prompt (Lewkowycz et al. 2022, "Final Answer: The
    final answer is X. I hope it is correct.") and of the Qwen2.5-Math harness. A math-delimited
    answer ($...$, \\(...\\), \\[...\\]) is taken whole (with the spans joined to it by "and"/","); a
    plain answer is cut at the end of the line or sentence, and a sentence with words in it gives
    the math after its last "is"/"=" (``Final Answer: The largest $n$ is 34.`` -> ``34``).
    """
    matches = _final_matches(text)
    if not matches:
        return None, "final_answer"
    return _answer_after(text, matches[-1]), "final_answer"


def _final_statement_after(text: str, pos: int) -> str | None:
    """The answer of the last "final answer" statement that starts at or after ``pos``, if any."""
    tail = text[pos:]
    if "nswer" not in tail and "NSWER" not in tail:  # the usual case, decided without the regex
        return None
    matches = _final_matches(text, final_only=True, pos=pos)
    return _answer_after(text, matches[-1]) if matches else None


# --------------------------------------------------------------------------------- gsm8k, numbers

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
    "last_math": extract_last_math,
    "last_number": extract_last_number,
}

DEFAULT_POLICIES: tuple[str, ...] = ("boxed", "final_answer", "gsm8k", "last_math")


@dataclass(frozen=True)
class ExtractionPolicy:
    """The ordered extraction policies to try; the first one that finds an answer wins.

    Attributes:
        policies: names from ``POLICIES``; default ``("boxed", "final_answer", "gsm8k",
            "last_math")`` -- ``last_number`` is off by default (see the module docstring).
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


# A later "final answer" statement must state math to win over a box ("see above" does not).
_LOOKS_LIKE_MATH_RE = re.compile(r"[\d\\^_=+\-*/()\[\]{}]|^[A-Za-z]{1,2}$")
_AND_RE = re.compile(r"\\text\s*\{\s*(?:and|or)\s*\}|\band\b|\bor\b")
_OPEN, _CLOSE = "([{", ")]}"


@lru_cache(maxsize=4096)
def answer_part_count(reference: str) -> int:
    """How many parts a reference answer lists: top-level commas (not thousands separators) and "and".

    ``1,-2`` and ``(3, 3) \\text{ and } (1, 1)`` have 2; ``(1, 2)``, ``\\{1, 2\\}``, ``[0, 1)`` and
    ``10{,}000`` have 1. Linear in ``len(reference)``.
    """
    text = _AND_RE.sub(",", reference.replace("\\{", "{").replace("\\}", "}"))
    depth, count = 0, 1
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0 and text[:i].strip() and text[i + 1 :].strip():
            if i > 0 and text[i - 1].isdigit() and re.match(r"\d{3}(?!\d)", text[i + 1 : i + 5]):
                continue  # 1,000
            count += 1
    return count


def extract_full(text: str, policy: ExtractionPolicy = ExtractionPolicy(), want_parts: int = 1) -> FullExtraction:
    """Run ``policy``'s extractors in order on ``text``; one scan of the boxes.

    Args:
        want_parts: parts the reference lists (``answer_part_count``); boxes further apart are
            joined up to that many.

    Returns:
        (answer, policy name, the boxes' contents when several were joined) for the first policy
        that finds an answer, else (None, None, ()). With both ``boxed`` and ``final_answer`` in the
        policy (in that order), a "final answer" statement after the last box wins over it.
    """
    text = strip_control_tokens(text)
    for name in policy.policies:
        if name != "boxed":
            answer, fired = POLICIES[name](text)
            if answer is not None:
                return answer, fired, ()
            continue
        group = _box_group(text, want_parts)
        if group is None:
            continue
        parts, end = group
        rest = policy.policies[policy.policies.index("boxed") + 1 :]
        if "final_answer" in rest:
            later = _final_statement_after(text, end)
            if later is not None and _LOOKS_LIKE_MATH_RE.search(later):
                return later, "final_answer", ()
        return ", ".join(parts), "boxed", (tuple(parts) if len(parts) > 1 else ())
    return None, None, ()


def extract_answer(text: str, policy: ExtractionPolicy = ExtractionPolicy()) -> tuple[str | None, str | None]:
    """Run ``policy``'s extractors in order on ``text`` (see ``extract_full``).

    Returns:
        (answer, policy name) for the first policy that finds an answer, else (None, None).
    """
    answer, fired, _ = extract_full(text, policy)
    return answer, fired
