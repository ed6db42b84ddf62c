"""``rlbound serve``: a small OpenAI-compatible HTTP server over the ``hf`` backend.

Serves ``GET /v1/models``, ``POST /v1/completions`` and ``POST /v1/chat/completions`` with the
standard library's ``ThreadingHTTPServer``. Concurrent requests are gathered for a few milliseconds
and sampled as one batch by the hf backend, whose per-sample seeds make every answer independent of
what it was batched with: a request with ``seed`` s returns exactly what ``HFBackend.generate`` gives
for seed s (choice j of an ``n > 1`` request uses seed s + j; no seed: a random one).

Prompt scoring follows the legacy completions API: ``echo=true, logprobs=1, max_tokens=0`` returns
``logprobs.tokens / token_logprobs / text_offset`` for the prompt (first token: null), which is what
the ``openai`` backend's ``score`` uses.

Why not ``transformers serve``: in transformers 5.23 its ``serving`` extra pulls accelerate, fastapi,
uvicorn and openai; its /v1/completions ignores ``echo``/``logprobs``/``n`` and seeds through the
global torch RNG, so it can neither score nor give per-request reproducible samples under load.

    python -m rlbound.backends.serve MODEL_DIR [--host 127.0.0.1] [--port 8000] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rlbound.errors import InputError


class BadRequest(Exception):
    """A request the client must fix (HTTP 400)."""


@dataclass
class _Job:
    prompt: str
    params: Any
    seeds: list[int]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Engine:
    """Owns the hf backend; a worker thread samples queued jobs in micro-batches."""

    def __init__(self, backend: Any, *, batch_wait_s: float = 0.005, max_batch: int = 256) -> None:
        self.backend = backend
        self.batch_wait_s = batch_wait_s
        self.max_batch = max_batch
        self.lock = threading.Lock()  # the model is used by one thread at a time
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.worker = threading.Thread(target=self._loop, name="rlbound-serve-engine", daemon=True)
        self.worker.start()

    def submit(self, prompt: str, params: Any, seeds: list[int]) -> list[Any]:
        job = _Job(prompt, params, seeds)
        self.jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def _loop(self) -> None:
        while True:
            first = self.jobs.get()
            batch = [first]
            size = len(first.seeds)
            deadline = time.monotonic() + self.batch_wait_s
            while size < self.max_batch:
                try:
                    job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                batch.append(job)
                size += len(job.seeds)
            groups: dict[Any, list[_Job]] = {}
            for job in batch:
                groups.setdefault(job.params, []).append(job)
            for params, jobs in groups.items():
                try:
                    with self.lock:
                        out = self.backend.generate([j.prompt for j in jobs], params, [j.seeds for j in jobs])
                    for j, res in zip(jobs, out):
                        j.result = res
                except BaseException as e:  # noqa: BLE001 - reported to the waiting request
                    for j in jobs:
                        j.error = e
                for j in jobs:
                    j.done.set()

    def prompt_logprobs(self, text: str) -> tuple[list[str], list[float | None], list[int]]:
        """Tokens of ``text`` (as the model sees it), the log-probability of each given the ones
        before it (first: None) and each token's character offset in ``text``."""
        import torch

        tok = self.backend.tokenizer
        bos = tok.bos_token
        add = not (bos and text.startswith(bos))
        enc = tok(text, add_special_tokens=add, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), [int(a) for a, _ in enc["offset_mapping"]]
        with self.lock, torch.inference_mode():
            logits = self.backend.lm(input_ids=torch.tensor([ids], device=self.backend.device)).logits[0]
            logp = torch.log_softmax(logits.float(), dim=-1)
            vals = logp[:-1].gather(1, torch.tensor(ids[1:], device=logp.device)[:, None])[:, 0].tolist()
        tokens = tok.convert_ids_to_tokens(ids)
        return tokens, [None, *vals], offsets


def _sampling_params(body: dict[str, Any], default_max: int) -> Any:
    from rlbound.backends.protocol import SamplingParams

    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    temperature, top_p = body.get("temperature"), body.get("top_p")
    try:
        return SamplingParams(
            n=int(body.get("n") or 1), temperature=1.0 if temperature is None else float(temperature),
            top_p=1.0 if top_p is None else float(top_p),
            max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or default_max),
            stop=tuple(stop), logprobs=bool(body.get("logprobs")))
    except InputError as e:
        raise BadRequest(str(e)) from None
    except (TypeError, ValueError) as e:
        raise BadRequest(f"bad sampling parameter: {e}") from None


def _seeds(body: dict[str, Any], n: int) -> list[int]:
    seed = body.get("seed")
    if seed is None:
        seed = random.getrandbits(62)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise BadRequest("seed must be an integer")
    return [seed + j for j in range(n)]


class Handler(BaseHTTPRequestHandler):
    """Routes requests; ``server.engine`` and ``server.model_name`` come from ``make_server``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet unless asked
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def _send(self, code: int, obj: dict[str, Any]) -> None:
        raw = json.dumps(obj).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, code: int, message: str, kind: str = "invalid_request_error") -> None:
        self._send(code, {"error": {"message": message, "type": kind, "code": code}})

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [
                {"id": self.server.model_name, "object": "model", "created": 0, "owned_by": "rlbound"}]})
        elif self.path.rstrip("/") in ("/health", "/v1/health"):
            self._send(200, {"status": "ok"})
        else:
            self._error(404, f"no route GET {self.path}", "not_found")

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise BadRequest("request body must be a JSON object")
            model = body.get("model")
            if model is not None and model != self.server.model_name:
                self._error(404, f"model {model!r} not found; this server serves {self.server.model_name!r}",
                            "not_found")
                return
            route = self.path.rstrip("/")
            if route in ("/v1/completions", "/completions"):
                self._send(200, self._completions(body))
            elif route in ("/v1/chat/completions", "/chat/completions"):
                self._send(200, self._chat(body))
            else:
                self._error(404, f"no route POST {self.path}", "not_found")
        except BadRequest as e:
            self._error(400, str(e))
        except json.JSONDecodeError as e:
            self._error(400, f"malformed JSON: {e}")
        except InputError as e:
            self._error(400, str(e))
        except Exception as e:  # noqa: BLE001 - a server must answer
            self._error(500, f"{type(e).__name__}: {e}", "server_error")

    def _completions(self, body: dict[str, Any]) -> dict[str, Any]:
        engine: Engine = self.server.engine
        prompts = body.get("prompt", "")
        prompts = [prompts] if isinstance(prompts, str) else prompts
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts) or not prompts:
            raise BadRequest("prompt must be a string or a non-empty list of strings")
        echo = bool(body.get("echo"))
        want_lp = body.get("logprobs") is not None and body.get("logprobs") is not False
        max_tokens = body.get("max_tokens", 16)
        choices, usage_p, usage_c = [], 0, 0
        for p in prompts:
            if echo and max_tokens == 0:  # prompt scoring only
                tokens, lps, offs = engine.prompt_logprobs(p)
                usage_p += len(tokens)
                choices.append({"index": len(choices), "text": p, "finish_reason": "length",
                                "logprobs": {"tokens": tokens, "token_logprobs": lps, "text_offset": offs,
                                             "top_logprobs": None} if want_lp else None})
                continue
            params = _sampling_params(body, 16)
            results = engine.submit(p, params, _seeds(body, params.n))
            head = None
            if echo and want_lp:
                head = engine.prompt_logprobs(p)
            for c in results:
                usage_p, usage_c = usage_p + c.prompt_tokens, usage_c + c.completion_tokens
                lp = None
                if want_lp:
                    lp = {"tokens": None, "token_logprobs": list(c.logprobs or []), "text_offset": None,
                          "top_logprobs": None}
                    if head is not None:
                        lp["token_logprobs"] = head[1] + lp["token_logprobs"]
                choices.append({"index": len(choices), "text": (p if echo else "") + c.text,
                                "finish_reason": c.finish_reason, "logprobs": lp})
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": self.server.model_name, "choices": choices,
                "usage": {"prompt_tokens": usage_p, "completion_tokens": usage_c,
                          "total_tokens": usage_p + usage_c}}

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        engine: Engine = self.server.engine
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
            raise BadRequest("messages must be a non-empty list of {role, content} objects")
        tok = engine.backend.tokenizer
        if getattr(tok, "chat_template", None):
            prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        else:  # no chat template: the message texts, one per line
            prompt = "\n".join(str(m.get("content") or "") for m in msgs)
        params = _sampling_params({**body, "logprobs": bool(body.get("logprobs"))}, 16)
        results = engine.submit(prompt, params, _seeds(body, params.n))
        choices = []
        for j, c in enumerate(results):
            lp = {"content": [{"token": None, "logprob": v} for v in c.logprobs or []]} if params.logprobs else None
            choices.append({"index": j, "message": {"role": "assistant", "content": c.text},
                            "finish_reason": c.finish_reason, "logprobs": lp})
        p_tok = results[0].prompt_tokens if results else 0
        c_tok = sum(c.completion_tokens for c in results)
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": self.server.model_name, "choices": choices,
                "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok, "total_tokens": p_tok + c_tok}}


def make_server(backend: Any, *, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
                batch_wait_s: float = 0.005, max_batch: int = 256, verbose: bool = False) -> ThreadingHTTPServer:
    """A ready (not yet serving) HTTP server for ``backend``; ``port=0`` picks a free port."""
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.engine = Engine(backend, batch_wait_s=batch_wait_s, max_batch=max_batch)  # type: ignore[attr-defined]
    server.model_name = model_name or backend.model  # type: ignore[attr-defined]
    server.verbose = verbose  # type: ignore[attr-defined]
    return server


def build_arg_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Options of ``rlbound serve`` (the CLI can pass its subparser)."""
    p = parser or argparse.ArgumentParser(prog="rlbound serve", description=__doc__.splitlines()[0])
    p.add_argument("model", help="model directory (transformers format)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; default 8000)")
    p.add_argument("--name", default=None, help="model name clients use (default: the model argument)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--max-batch", type=int, default=256, help="most samples decoded together")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long to gather requests into a batch")
    p.add_argument("--verbose", action="store_true", help="log every request")
    return p


def run(args: argparse.Namespace) -> int:
    """Load the model, bind, print the URL and serve until interrupted."""
    from rlbound.backends.hf import HFBackend, HFOptions

    backend = HFBackend(args.model, HFOptions(device=args.device, dtype=args.dtype, threads=args.threads,
                                              batch_size=args.max_batch))
    try:
        server = make_server(backend, host=args.host, port=args.port, model_name=args.name or args.model,
                             batch_wait_s=args.batch_wait_ms / 1000.0, max_batch=args.max_batch,
                             verbose=args.verbose)
    except OSError as e:
        raise InputError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}", field="port") from None
    host, port = server.server_address[:2]
    print(f"rlbound serve: listening on http://{host}:{port}/v1 (model {server.model_name!r})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    try:
        return run(args)
    except InputError as e:
        print(f"rlbound: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
