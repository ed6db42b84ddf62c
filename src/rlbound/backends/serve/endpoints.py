"""``/v1/completions`` and ``/v1/chat/completions``: requests to engine jobs, choices to the
OpenAI response and stream-chunk shapes (vLLM's ``serving_completion.py`` / ``serving_chat.py``
are the reference for the details: choice ``index = prompt_index * n + j``, echo, usage, the
final usage chunk with ``choices: []``).

Usage counts each prompt's tokens once (not once per choice) and every generated token (EOS and
stop-completing tokens included). A stream sends a choice's text as its tokens are drawn, holding
back the last ``len(longest stop string) - 1`` characters until they cannot start a stop string;
the concatenated deltas equal the non-streamed text.
"""

from __future__ import annotations

import queue
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rlbound.backends.serve.engine import Choice, Engine, Job, prompt_logprobs
from rlbound.backends.serve.protocol import (
    DEFAULT_MAX_LOGPROBS,
    APIError,
    ChatRequest,
    CompletionRequest,
    GenRequest,
    as_api_error,
    bad,
    parse_chat,
    parse_completion,
)
from rlbound.backends.serve.render import Detokenizer, Renderer, offsets_from
from rlbound.errors import InputError

DEFAULT_MAX_REQUEST_TOKENS = 1 << 20

Send = Callable[[dict[str, Any]], None]  # writes one stream chunk


@dataclass
class Limits:
    """Per-request limits. ``max_request_tokens``: most tokens one request may ask to generate
    (prompts x n x max_tokens, each prompt's max_tokens cut to its room in the context; 0: no cap)."""

    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS
    max_logprobs: int = DEFAULT_MAX_LOGPROBS


@dataclass
class _Prompt:
    ids: list[int]
    text: str  # as echoed
    pieces: list[str] = field(default_factory=list)  # each token's share of ``text`` (echo only)
    offsets: list[int] = field(default_factory=list)


class Endpoints:
    """The two generation endpoints over one engine."""

    def __init__(self, engine: Engine, model_name: str, limits: Limits | None = None) -> None:
        self.engine = engine
        self.model_name = model_name
        self.limits = limits or Limits()
        self.render = Renderer(engine.tokenizer)

    # -- shared --

    def check_model(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if model is not None and model != self.model_name:
            raise APIError(404, f"The model {model!r} does not exist; this server serves {self.model_name!r}",
                           param="model", code="model_not_found")

    def _params(self, req: GenRequest) -> Any:
        from rlbound.backends.protocol import SamplingParams

        try:
            return SamplingParams(n=1, temperature=req.temperature, top_p=req.top_p, max_new_tokens=1,
                                  stop=req.stop, logprobs=req.top_n is not None)
        except InputError as e:
            raise bad(str(e), e.field) from None

    def _room(self, n_ids: int, param: str, *, generate: bool) -> int | None:
        """Tokens left in the context after a prompt of ``n_ids`` tokens (None: no known limit)."""
        cap = self.engine.max_positions
        if not cap:
            return None
        if n_ids > cap or (generate and n_ids >= cap):
            raise bad(f"This model's maximum context length is {cap} tokens; the prompt has {n_ids} tokens"
                      f"{', leaving no room to generate' if generate and n_ids == cap else ''}", param)
        return cap - n_ids

    def _check_work(self, work: int, n: int) -> None:
        cap = self.limits.max_request_tokens
        if cap and work > cap:
            raise bad(f"this request asks for up to {work} generated tokens (prompts x n x max_tokens); "
                      f"this server allows {cap} per request (--max-request-tokens)", "n" if n > 1 else "max_tokens")

    def _jobs(self, prompts: list[_Prompt], limits: list[int], req: GenRequest, events: queue.Queue | None) -> list[Job | None]:
        params = self._params(req)
        jobs: list[Job | None] = []
        for i, (p, limit) in enumerate(zip(prompts, limits)):
            if limit == 0:  # echo only: nothing to sample
                jobs.append(None)
                continue
            base = req.seed if req.seed is not None else random.getrandbits(62)
            job = Job(tuple(p.ids), params, [base + j for j in range(req.n)], limit,
                      top_n=req.top_n or 0, tag=i, events=events)
            jobs.append(self.engine.start(job))
        return jobs

    # -- completions --

    def _prompt(self, p: str | list[int], echo: bool) -> _Prompt:
        if isinstance(p, str):
            ids, offsets = self.engine.encode_with_offsets(p)
            if not ids:
                raise bad("the prompt encodes to zero tokens and the tokenizer adds no BOS token", "prompt")
            ends = offsets[1:] + [len(p)]
            pieces = [p[a:b] if b > a else "" for a, b in zip(offsets, ends)] if echo else []
            return _Prompt(ids, p, pieces, offsets if echo else [])
        bad_ids = [t for t in p if not 0 <= t < self.engine.vocab_size]
        if bad_ids:
            raise bad(f"token id {bad_ids[0]} is outside the vocabulary (0..{self.engine.vocab_size - 1})", "prompt")
        if not echo:
            return _Prompt(list(p), "")
        text, pieces = self.render.prompt_pieces(p)
        return _Prompt(list(p), text, pieces, offsets_from(pieces))

    def completions(self, body: dict[str, Any], open_stream: Callable[[], Send]) -> dict[str, Any] | None:
        """The response object, or None after streaming it through ``open_stream()``."""
        self.check_model(body)
        req = parse_completion(body, self.limits.max_logprobs)
        prompts = [self._prompt(p, req.echo) for p in req.prompts or []]
        limits = []
        for p in prompts:
            room = self._room(len(p.ids), "prompt", generate=req.max_tokens > 0)
            limits.append(req.max_tokens if room is None else min(req.max_tokens, room))
        self._check_work(sum(limits) * req.n, req.n)
        heads = [self._echo_logprobs(p, req) for p in prompts]
        events: queue.Queue | None = queue.Queue() if req.stream else None
        jobs = self._jobs(prompts, limits, req, events)
        rid, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        if req.stream:
            _CompletionStream(self, req, prompts, heads, jobs, rid, created).run(open_stream(), events)
            return None
        choices, n_gen = [], 0
        for p, head, job in zip(prompts, heads, jobs):
            results = _wait(job) if job is not None else [None] * req.n
            for c in results:
                choices.append(self._completion_choice(len(choices), p, head, c, req))
                n_gen += len(c.ids) if c is not None else 0
        return {"id": rid, "object": "text_completion", "created": created, "model": self.model_name,
                "choices": choices, "usage": _usage(sum(len(p.ids) for p in prompts), n_gen)}

    def _echo_logprobs(self, p: _Prompt, req: CompletionRequest) -> dict[str, Any] | None:
        """The echoed prompt's part of ``logprobs`` (first token: null), or None."""
        if not req.echo or req.top_n is None:
            return None
        lps, tops = prompt_logprobs(self.engine, p.ids, req.top_n)
        tokens = self.render.token_strings(p.ids, p.pieces)
        return self.render.completion_logprobs(p.ids, tokens, p.offsets, lps, tops, req.top_n)

    def _completion_choice(self, index: int, p: _Prompt, head: dict[str, Any] | None, c: Choice | None,
                           req: CompletionRequest) -> dict[str, Any]:
        echo = p.text if req.echo else ""
        text = echo + (self.render.text(c.ids, req.stop) if c is not None else "")
        lp = None
        if req.top_n is not None:
            lp = self._gen_logprobs(c, len(echo), req.top_n) if c is not None else _empty_logprobs()
            if head is not None:
                lp = {k: head[k] + lp[k] for k in lp}
        return {"index": index, "text": text, "logprobs": lp,
                "finish_reason": c.finish_reason if c is not None else "length"}

    def _gen_logprobs(self, c: Choice, start: int, top_n: int) -> dict[str, Any]:
        pieces = self.render.pieces(c.ids)
        tokens = self.render.token_strings(c.ids, pieces)
        return self.render.completion_logprobs(c.ids, tokens, offsets_from(pieces, start), c.logprobs or (),
                                               c.top, top_n)

    # -- chat --

    def _chat_prompt(self, req: ChatRequest) -> list[int]:
        tok = self.engine.tokenizer
        msgs = req.messages or []
        if getattr(tok, "chat_template", None):
            try:
                text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            except Exception as e:  # noqa: BLE001 - a template that refuses these messages
                raise bad(f"the chat template cannot render these messages: {e}", "messages") from None
        else:  # no chat template: the message texts, one per line
            text = "\n".join(m["content"] for m in msgs)
        ids = self.engine.encode(text)
        if not ids:
            raise bad("the messages encode to zero tokens and the tokenizer adds no BOS token", "messages")
        return ids

    def chat(self, body: dict[str, Any], open_stream: Callable[[], Send]) -> dict[str, Any] | None:
        """The response object, or None after streaming it through ``open_stream()``."""
        self.check_model(body)
        req = parse_chat(body, self.limits.max_logprobs)
        ids = self._chat_prompt(req)
        room = self._room(len(ids), "messages", generate=True)
        if req.max_tokens is None:  # vLLM's default: the rest of the context
            limit = room if room is not None else 16
            cap = self.limits.max_request_tokens
            limit = min(limit, max(1, cap // req.n)) if cap else limit
        else:
            limit = req.max_tokens if room is None else min(req.max_tokens, room)
        self._check_work(limit * req.n, req.n)
        events: queue.Queue | None = queue.Queue() if req.stream else None
        [job] = self._jobs([_Prompt(ids, "")], [limit], req, events)
        rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if req.stream:
            _ChatStream(self, req, len(ids), job, rid, created).run(open_stream(), events)
            return None
        choices = []
        results = _wait(job)
        for j, c in enumerate(results):
            lp = None
            if req.top_n is not None:
                pieces = self.render.pieces(c.ids)
                lp = {"content": self.render.chat_logprobs(c.ids, self.render.token_strings(c.ids, pieces),
                                                           c.logprobs or (), c.top, req.top_n), "refusal": None}
            choices.append({"index": j, "message": {"role": "assistant", "content": self.render.text(c.ids, req.stop)},
                            "logprobs": lp, "finish_reason": c.finish_reason})
        return {"id": rid, "object": "chat.completion", "created": created, "model": self.model_name,
                "choices": choices, "usage": _usage(len(ids), sum(len(c.ids) for c in results))}


    # -- tokenizer (vLLM's /tokenize, /detokenize, /tokenizer_info; lm-eval's remote tokenizer) --

    def tokenize(self, body: dict[str, Any], _open_stream: Callable[[], Send]) -> dict[str, Any]:
        self.check_model(body)
        extra = set(body) - {"model", "prompt", "add_special_tokens"}
        if extra:
            raise bad(f"Unrecognized request argument supplied: {sorted(extra)[0]}", sorted(extra)[0])
        prompt, add = body.get("prompt"), body.get("add_special_tokens", True)
        if not isinstance(prompt, str):
            raise bad("prompt must be a string", "prompt")
        if not isinstance(add, bool):
            raise bad("add_special_tokens must be a boolean", "add_special_tokens")
        ids, _ = self.engine.encode_with_offsets(prompt, add_special=add)
        return {"count": len(ids), "max_model_len": self.engine.max_positions, "tokens": ids, "token_strs": None}

    def detokenize(self, body: dict[str, Any], _open_stream: Callable[[], Send]) -> dict[str, Any]:
        self.check_model(body)
        extra = set(body) - {"model", "tokens"}
        if extra:
            raise bad(f"Unrecognized request argument supplied: {sorted(extra)[0]}", sorted(extra)[0])
        ids = body.get("tokens")
        if not isinstance(ids, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in ids):
            raise bad("tokens must be a list of token ids", "tokens")
        if any(not 0 <= t < self.engine.vocab_size for t in ids):
            raise bad(f"token ids must lie in 0..{self.engine.vocab_size - 1}", "tokens")
        return {"prompt": self.engine.tokenizer.decode(ids, skip_special_tokens=False)}

    def tokenizer_info(self) -> dict[str, Any]:
        tok = self.engine.tokenizer
        return {"tokenizer_class": type(tok).__name__, "bos_token": tok.bos_token, "eos_token": tok.eos_token,
                "pad_token": tok.pad_token, "unk_token": tok.unk_token,
                "chat_template": getattr(tok, "chat_template", None),
                "model_max_length": self.engine.max_positions}


def _wait(job: Job) -> list[Choice]:
    job.done.wait()
    if job.error is not None:
        raise job.error
    return list(job.result)  # type: ignore[arg-type]


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _empty_logprobs() -> dict[str, Any]:
    return {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}


class _ChoiceText:
    """One streamed choice: its tokens so far and how much of its text was sent."""

    def __init__(self, render: Renderer, stop: tuple[str, ...], start: int = 0) -> None:
        self.render, self.stop, self.start = render, stop, start
        self.det = Detokenizer(render.tok)
        self.sent = 0
        self.hold = max((len(s) for s in stop), default=1) - 1

    def add(self, token_id: int, finished: bool) -> tuple[str, str, int]:
        """This token's text delta to send, its token string and its text offset."""
        piece = self.det.add(token_id)
        offset = self.start + len(self.det.text) - len(piece)
        if finished:
            final = self.render.text(self.det.ids, self.stop)
            delta = final[self.sent:]
            self.sent = len(final)
        else:
            visible = max(self.sent, len(self.det.text) - self.hold)
            delta = self.det.text[self.sent:visible]
            self.sent = visible
        return delta, piece or self.render.alone(token_id), offset


class _Stream:
    """Reads a request's engine events and writes chunks; shared by both endpoints."""

    obj = ""

    def __init__(self, ep: Endpoints, req: GenRequest, jobs: list[Job | None], rid: str, created: int) -> None:
        self.ep, self.req, self.jobs, self.rid, self.created = ep, req, jobs, rid, created

    def chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        out = {"id": self.rid, "object": self.obj, "created": self.created, "model": self.ep.model_name,
               "choices": choices}
        if self.req.include_usage:
            out["usage"] = None
        return out

    def pump(self, send: Send, events: queue.Queue | None, on_token: Callable[..., dict[str, Any] | None]) -> bool:
        """Forward every token event to ``on_token``; False after an engine error (already sent)."""
        pending = sum(1 for j in self.jobs if j is not None)
        try:
            while pending:
                tag, j, tid, lp, top, finish = events.get()  # type: ignore[union-attr]
                if j is None:
                    pending -= 1
                elif j == "error":
                    send(as_api_error(tid).body())
                    return False
                else:
                    c = on_token(tag, j, tid, lp, top, finish)
                    if c is not None:
                        send(c)
        except BaseException:  # the client is gone (or worse): stop sampling for it
            for job in self.jobs:
                if job is not None:
                    job.cancelled = True
            raise
        return True

    def usage(self, send: Send, prompt_tokens: int) -> None:
        if self.req.include_usage:
            n_gen = sum(len(c.ids) for job in self.jobs if job is not None for c in job.result if c is not None)
            send({"id": self.rid, "object": self.obj, "created": self.created, "model": self.ep.model_name,
                  "choices": [], "usage": _usage(prompt_tokens, n_gen)})


class _CompletionStream(_Stream):
    obj = "text_completion"

    def __init__(self, ep: Endpoints, req: CompletionRequest, prompts: list[_Prompt],
                 heads: list[dict[str, Any] | None], jobs: list[Job | None], rid: str, created: int) -> None:
        super().__init__(ep, req, jobs, rid, created)
        self.creq, self.prompts, self.heads = req, prompts, heads
        start = [len(p.text) if req.echo else 0 for p in prompts]
        self.texts = {(i, j): _ChoiceText(ep.render, req.stop, start[i]) for i in range(len(prompts))
                      for j in range(req.n)}

    def run(self, send: Send, events: queue.Queue | None) -> None:
        n = self.req.n
        for i, (p, head, job) in enumerate(zip(self.prompts, self.heads, self.jobs)):
            if not self.creq.echo:
                continue
            for j in range(n):  # the echoed prompt first; an echo-only choice ends here
                send(self.chunk([{"index": i * n + j, "text": p.text, "logprobs": head,
                                  "finish_reason": "length" if job is None else None}]))
        if self.pump(send, events, self.on_token):
            self.usage(send, sum(len(p.ids) for p in self.prompts))

    def on_token(self, i: int, j: int, tid: int, lp: float | None, top: Any, finish: str | None) -> dict[str, Any] | None:
        delta, token, offset = self.texts[(i, j)].add(tid, finish is not None)
        lps = None
        if self.req.top_n is not None:
            lps = self.ep.render.completion_logprobs([tid], [token], [offset], [lp], [top], self.req.top_n)
        if not delta and lps is None and finish is None:
            return None
        return self.chunk([{"index": i * self.req.n + j, "text": delta, "logprobs": lps, "finish_reason": finish}])


class _ChatStream(_Stream):
    obj = "chat.completion.chunk"

    def __init__(self, ep: Endpoints, req: ChatRequest, n_prompt: int, job: Job | None, rid: str, created: int) -> None:
        super().__init__(ep, req, [job], rid, created)
        self.n_prompt = n_prompt
        self.texts = [_ChoiceText(ep.render, req.stop) for _ in range(req.n)]

    def run(self, send: Send, events: queue.Queue | None) -> None:
        for j in range(self.req.n):
            send(self.chunk([{"index": j, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                              "finish_reason": None}]))
        if self.pump(send, events, self.on_token):
            self.usage(send, self.n_prompt)

    def on_token(self, _i: int, j: int, tid: int, lp: float | None, top: Any, finish: str | None) -> dict[str, Any] | None:
        delta, token, _ = self.texts[j].add(tid, finish is not None)
        lps = None
        if self.req.top_n is not None:
            lps = {"content": self.ep.render.chat_logprobs([tid], [token], [lp], [top] if top is not None else None,
                                                           self.req.top_n), "refusal": None}
        if not delta and lps is None and finish is None:
            return None
        return self.chunk([{"index": j, "delta": {"content": delta} if delta else {}, "logprobs": lps,
                            "finish_reason": finish}])
