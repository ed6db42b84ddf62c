"""Token ids to what the OpenAI API returns: text pieces per token, text offsets, and the two
log-probability shapes (legacy completions: ``tokens / token_logprobs / top_logprobs /
text_offset``; chat: ``content: [{token, logprob, bytes, top_logprobs}]``).

A generated token's *piece* is the text it adds to ``decode(ids, skip_special_tokens=True)``
(incremental decoding over a sliding window, as vLLM and TGI stream text): EOS and a token that
ends inside a multi-byte character add "" (the next one carries the character), so the pieces
concatenate to the decoded text and ``text_offset`` points into the returned text. A token's
string in ``tokens`` / ``token`` is its piece, or the token decoded alone where the piece is empty
("</s>"). Log-probabilities are clamped at -9999.0 (JSON has no -inf), as vLLM does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rlbound.backends.serve.engine import Top

LOGPROB_FLOOR = -9999.0


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the stop string that ends first (the hf backend's rule)."""
    from rlbound.backends.hf.backend import cut_at_stop as cut

    return cut(text, stop)


class Detokenizer:
    """Incremental decoding of one sequence of generated ids (``add`` returns each token's piece)."""

    def __init__(self, tokenizer: Any, *, skip_special: bool = True) -> None:
        self.tok = tokenizer
        self.skip = skip_special
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0
        self.text = ""

    def add(self, token_id: int) -> str:
        self.ids.append(int(token_id))
        before = self.tok.decode(self.ids[self.prefix:self.read], skip_special_tokens=self.skip)
        after = self.tok.decode(self.ids[self.prefix:], skip_special_tokens=self.skip)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            piece = after[len(before):]
            self.prefix, self.read = self.read, len(self.ids)
        else:
            piece = ""
        self.text += piece
        return piece


class Renderer:
    """Turns ids into text and log-probability objects for one tokenizer (token strings cached)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tok = tokenizer
        self._alone: dict[int, str] = {}

    def alone(self, token_id: int) -> str:
        """A token decoded by itself, special tokens shown ("</s>")."""
        s = self._alone.get(token_id)
        if s is None:
            s = self._alone[token_id] = self.tok.decode([int(token_id)], skip_special_tokens=False)
        return s

    def text(self, ids: Sequence[int], stop: Sequence[str]) -> str:
        """The completion text of generated ``ids``: decoded without special tokens, cut before a stop string."""
        return cut_at_stop(self.tok.decode(list(ids), skip_special_tokens=True), stop)

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """Each generated token's piece (see the module docstring)."""
        d = Detokenizer(self.tok)
        return [d.add(t) for t in ids]

    def prompt_pieces(self, ids: Sequence[int]) -> tuple[str, list[str]]:
        """A token-id prompt as text (special tokens kept) and each token's piece of it."""
        d = Detokenizer(self.tok, skip_special=False)
        pieces = [d.add(t) for t in ids]
        return self.tok.decode(list(ids), skip_special_tokens=False), pieces

    def token_strings(self, ids: Sequence[int], pieces: Sequence[str]) -> list[str]:
        return [p if p else self.alone(t) for t, p in zip(ids, pieces)]

    # -- legacy completions --

    def completion_logprobs(self, ids: Sequence[int], tokens: Sequence[str], offsets: Sequence[int],
                            lps: Sequence[float | None], tops: Sequence[Top | None] | None,
                            top_n: int) -> dict[str, Any]:
        """``{tokens, token_logprobs, top_logprobs, text_offset}``; each ``top_logprobs`` entry
        holds the sampled token and the ``top_n`` most likely ones (so top_n or top_n + 1 keys;
        tokens whose strings coincide keep the first), None where the logprob is None."""
        top_out: list[dict[str, float] | None] = []
        for k, (tid, s, lp) in enumerate(zip(ids, tokens, lps)):
            if lp is None:
                top_out.append(None)
                continue
            entry = {s: _clamp(lp)}
            for alt, alt_lp in (tops[k] or ())[:top_n] if tops is not None else ():
                if alt != tid:
                    entry.setdefault(self.alone(alt), _clamp(alt_lp))
            top_out.append(entry)
        return {"tokens": list(tokens), "token_logprobs": [None if v is None else _clamp(v) for v in lps],
                "top_logprobs": top_out, "text_offset": list(offsets)}

    # -- chat --

    def chat_logprobs(self, ids: Sequence[int], tokens: Sequence[str], lps: Sequence[float],
                      tops: Sequence[Top] | None, top_n: int) -> list[dict[str, Any]]:
        """``content`` entries: token, logprob, UTF-8 bytes, and the ``top_n`` most likely tokens."""
        out = []
        for k, (s, lp) in enumerate(zip(tokens, lps)):
            alts = []
            for alt, alt_lp in (tops[k] if tops is not None else ())[:top_n]:
                a = self.alone(alt) if alt != ids[k] else s
                alts.append({"token": a, "logprob": _clamp(alt_lp), "bytes": list(a.encode("utf-8", "replace"))})
            out.append({"token": s, "logprob": _clamp(lp), "bytes": list(s.encode("utf-8", "replace")),
                        "top_logprobs": alts})
        return out


def offsets_from(pieces: Sequence[str], start: int = 0) -> list[int]:
    """Character offset of each piece when the pieces are laid end to end from ``start``."""
    out, pos = [], start
    for p in pieces:
        out.append(pos)
        pos += len(p)
    return out


def _clamp(v: float) -> float:
    return v if v == v and v > LOGPROB_FLOOR else LOGPROB_FLOOR  # NaN and -inf -> the floor
