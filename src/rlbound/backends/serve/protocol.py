"""The requests ``rlbound serve`` accepts and the OpenAI error object it answers with.

Every field of OpenAI's completions and chat-completions requests is known. Fields the server
honours are checked (type, range); fields it cannot honour (``logit_bias``, penalties, tools,
``suffix``, ``best_of`` other than ``n``, non-text ``response_format``, ...) are accepted only at
their neutral value; vLLM's sampling extensions (``top_k``, ``min_p``, ``repetition_penalty``, ...)
likewise. Anything else is refused: a 400 whose ``param`` names the field, never a silently
ignored option.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlbound.errors import InputError

DEFAULT_MAX_LOGPROBS = 20


class APIError(Exception):
    """An answer other than 200, as OpenAI's error object
    ``{"error": {"message", "type", "param", "code"}}`` (``code``: a string or None)."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind = kind or ("server_error" if status >= 500 else "invalid_request_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad(message: str, param: str | None = None) -> APIError:
    """A 400 naming ``param``."""
    return APIError(400, message, param=param)


def as_api_error(e: BaseException) -> APIError:
    """An exception as the error to answer: bad input is a 400 naming its field, anything else a 500."""
    if isinstance(e, APIError):
        return e
    if isinstance(e, InputError):
        return bad(e.message, {"max_new_tokens": "max_tokens"}.get(e.field or "", e.field))
    return APIError(500, f"{type(e).__name__}: {e}")


def _none(v: Any) -> bool:
    return v is None


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# field -> "is this value the neutral one"; these fields change nothing at that value
_NEUTRAL_COMMON: dict[str, Callable[[Any], bool]] = {
    "logit_bias": lambda v: v is None or v == {},
    "presence_penalty": lambda v: v is None or (_num(v) and v == 0),
    "frequency_penalty": lambda v: v is None or (_num(v) and v == 0),
    "user": lambda v: v is None or isinstance(v, str),
    # vLLM's sampling extensions
    "top_k": lambda v: v is None or (_num(v) and v in (-1, 0)),
    "min_p": lambda v: v is None or (_num(v) and v == 0),
    "repetition_penalty": lambda v: v is None or (_num(v) and v == 1),
    "min_tokens": lambda v: v is None or (_num(v) and v == 0),
    "ignore_eos": lambda v: v is None or v is False,
    "skip_special_tokens": lambda v: v is None or v is True,
    "spaces_between_special_tokens": lambda v: v is None or v is True,
    "include_stop_str_in_output": lambda v: v is None or v is False,
}
_NEUTRAL_COMPLETIONS: dict[str, Callable[[Any], bool]] = {
    **_NEUTRAL_COMMON,
    "suffix": lambda v: v is None or v == "",
}
_NEUTRAL_CHAT: dict[str, Callable[[Any], bool]] = {
    **_NEUTRAL_COMMON,
    "tools": lambda v: v is None or v == [],
    "tool_choice": lambda v: v is None or v in ("none", "auto"),
    "functions": lambda v: v is None or v == [],
    "function_call": lambda v: v is None or v in ("none", "auto"),
    "parallel_tool_calls": lambda v: v is None or isinstance(v, bool),
    "response_format": lambda v: v is None or v == {"type": "text"},
    "store": lambda v: v is None or v is False,
    "metadata": lambda v: v is None or isinstance(v, dict),
    "service_tier": lambda v: v is None or v in ("auto", "default"),
    "modalities": lambda v: v is None or v == ["text"],
    "audio": _none, "prediction": _none, "reasoning_effort": _none, "web_search_options": _none,
    "echo": lambda v: v is None or v is False,  # vLLM's chat echo
}
_HONOURED_COMMON = {"model", "n", "temperature", "top_p", "seed", "stop", "stream", "stream_options",
                    "max_tokens"}
_HONOURED_COMPLETIONS = _HONOURED_COMMON | {"prompt", "echo", "logprobs", "best_of"}
_HONOURED_CHAT = _HONOURED_COMMON | {"messages", "logprobs", "top_logprobs", "max_completion_tokens"}


@dataclass
class GenRequest:
    """What both endpoints share. ``max_tokens`` None: the endpoint's default; ``top_n`` None: no
    log-probabilities, else how many alternatives per token."""

    n: int
    temperature: float
    top_p: float
    stop: tuple[str, ...]
    seed: int | None
    max_tokens: int | None
    stream: bool
    include_usage: bool
    top_n: int | None


@dataclass
class CompletionRequest(GenRequest):
    """``prompts``: strings or token-id lists, one entry per prompt."""

    prompts: list[str | list[int]] | None = None
    echo: bool = False


@dataclass
class ChatRequest(GenRequest):
    """``messages``: role and text content of each message."""

    messages: list[dict[str, str]] | None = None


def _check_fields(body: dict[str, Any], honoured: set[str], neutral: dict[str, Callable[[Any], bool]]) -> None:
    for key, value in body.items():
        if key in honoured:
            continue
        ok = neutral.get(key)
        if ok is None:
            raise bad(f"Unrecognized request argument supplied: {key}", key)
        if not ok(value):
            raise bad(f"{key}={value!r} is not supported by rlbound serve (only its default is accepted)", key)


def _int(body: dict[str, Any], key: str, *, lo: int, hi: int | None = None, default: int | None = None) -> int | None:
    v = body.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad(f"{key} must be an integer, got {v!r}", key)
    if v < lo or (hi is not None and v > hi):
        rng = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise bad(f"{key} must be {rng}, got {v}", key)
    return v


def _float(body: dict[str, Any], key: str, default: float, ok: Callable[[float], bool], rule: str) -> float:
    v = body.get(key)
    if v is None:
        return default
    if not _num(v) or math.isnan(v) or not ok(float(v)):
        raise bad(f"{key} must be {rule}, got {v!r}", key)
    return float(v)


def _common(body: dict[str, Any]) -> dict[str, Any]:
    """The shared fields, checked; ``max_tokens`` left to each endpoint."""
    stop = body.get("stop")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise bad("stop must be a non-empty string or a list of non-empty strings", "stop")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad(f"seed must be an integer, got {seed!r}", "seed")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad(f"stream must be a boolean, got {stream!r}", "stream")
    opts = body.get("stream_options")
    include_usage = False
    if opts is not None:
        if not stream:
            raise bad("stream_options is only allowed when stream is true", "stream_options")
        if not isinstance(opts, dict) or set(opts) - {"include_usage", "continuous_usage_stats"}:
            raise bad("stream_options must be an object with include_usage", "stream_options")
        if opts.get("include_usage") not in (None, True, False) or opts.get("continuous_usage_stats"):
            raise bad("stream_options supports include_usage (a boolean) only", "stream_options")
        include_usage = opts.get("include_usage") is True
    return {"n": _int(body, "n", lo=1, default=1),
            "temperature": _float(body, "temperature", 1.0, lambda t: t >= 0, ">= 0"),
            "top_p": _float(body, "top_p", 1.0, lambda p: 0 < p <= 1, "in (0, 1]"),
            "stop": tuple(stop), "seed": seed, "stream": bool(stream), "include_usage": include_usage}


def parse_completion(body: dict[str, Any], max_logprobs: int = DEFAULT_MAX_LOGPROBS) -> CompletionRequest:
    """Check a ``/v1/completions`` body (prompt: a string, a list of strings, a list of token ids
    or a list of token-id lists)."""
    _check_fields(body, _HONOURED_COMPLETIONS, _NEUTRAL_COMPLETIONS)
    common = _common(body)
    prompts = _prompts(body.get("prompt"))
    echo = body.get("echo")
    if echo is not None and not isinstance(echo, bool):
        raise bad(f"echo must be a boolean, got {echo!r}", "echo")
    lp = body.get("logprobs")
    if lp is False:
        lp = None
    if lp is not None and (isinstance(lp, bool) or not isinstance(lp, int) or not 0 <= lp <= max_logprobs):
        raise bad(f"logprobs must be an integer between 0 and {max_logprobs}, got {lp!r}", "logprobs")
    best_of = body.get("best_of")
    if best_of is not None and best_of != common["n"]:
        raise bad("best_of other than n is not supported by rlbound serve", "best_of")
    max_tokens = _int(body, "max_tokens", lo=0, default=16)
    if max_tokens == 0 and not echo:
        raise bad("max_tokens must be at least 1 (0 only with echo, to score the prompt)", "max_tokens")
    return CompletionRequest(**common, max_tokens=max_tokens, top_n=lp, prompts=prompts, echo=bool(echo))


def _prompts(p: Any) -> list[str | list[int]]:
    msg = "prompt must be a string, a list of strings, a list of token ids or a list of token-id lists"
    if isinstance(p, str):
        return [p]
    if not isinstance(p, list) or not p:
        raise bad(msg, "prompt")
    if all(isinstance(x, str) for x in p):
        return list(p)
    if all(_is_id(x) for x in p):
        return [list(p)]
    if all(isinstance(x, list) and x and all(_is_id(t) for t in x) for x in p):
        return [list(x) for x in p]
    raise bad(msg, "prompt")


def _is_id(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_chat(body: dict[str, Any], max_logprobs: int = DEFAULT_MAX_LOGPROBS) -> ChatRequest:
    """Check a ``/v1/chat/completions`` body (message content: a string or a list of text parts)."""
    _check_fields(body, _HONOURED_CHAT, _NEUTRAL_CHAT)
    common = _common(body)
    messages = _messages(body.get("messages"))
    lp = body.get("logprobs")
    if lp is not None and not isinstance(lp, bool):
        raise bad(f"logprobs must be a boolean, got {lp!r}", "logprobs")
    top = _int(body, "top_logprobs", lo=0, hi=max_logprobs)
    if top is not None and not lp:
        raise bad("top_logprobs requires logprobs to be true", "top_logprobs")
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _int(body, key, lo=1)
    return ChatRequest(**common, max_tokens=max_tokens, top_n=(top or 0) if lp else None, messages=messages)


def _messages(msgs: Any) -> list[dict[str, str]]:
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
        raise bad("messages must be a non-empty list of {role, content} objects", "messages")
    out = []
    for m in msgs:
        role, content = m.get("role"), m.get("content")
        if not isinstance(role, str):
            raise bad("every message needs a role", "messages")
        if isinstance(content, list):  # content parts: text only
            if not all(isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str)
                       for c in content):
                raise bad("rlbound serve takes text content parts only", "messages")
            content = "".join(c["text"] for c in content)
        elif content is None:
            content = ""
        elif not isinstance(content, str):
            raise bad("message content must be a string or a list of text parts", "messages")
        out.append({"role": role, "content": content})
    return out
