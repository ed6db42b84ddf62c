"""Options of ``rlbound serve`` and ``python -m rlbound.backends.serve``, and the serving loop."""

from __future__ import annotations

import argparse
import os
import sys

from rlbound.backends.serve.endpoints import DEFAULT_MAX_REQUEST_TOKENS
from rlbound.backends.serve.protocol import DEFAULT_MAX_LOGPROBS
from rlbound.backends.serve.server import DEFAULT_MAX_BODY_BYTES
from rlbound.errors import InputError

API_KEY_ENV = "RLBOUND_API_KEY"


def build_arg_parser(parser: argparse.ArgumentParser | None = None, *,
                     model_help: str = "model directory (transformers format) or hub id") -> argparse.ArgumentParser:
    """Options of ``rlbound serve`` (the CLI passes its subparser and its own help for MODEL)."""
    p = parser or argparse.ArgumentParser(prog="python -m rlbound.backends.serve",
                                          description="A small OpenAI-compatible server over the hf backend.")
    p.add_argument("model", nargs="?", default=None, help=model_help)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; default 8000)")
    p.add_argument("--name", default=None, help="model name clients use (default: the model argument)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--max-batch", type=int, default=256, help="most samples decoded together")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long to gather requests into a batch")
    p.add_argument("--api-key", default=None,
                   help=f"require 'Authorization: Bearer KEY' on every route but /health "
                   f"(default: ${API_KEY_ENV} if set; none: no check)")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                   help=f"larger request bodies get HTTP 413 (default {DEFAULT_MAX_BODY_BYTES}; 0: no limit)")
    p.add_argument("--max-request-tokens", type=int, default=DEFAULT_MAX_REQUEST_TOKENS,
                   help="most tokens one request may ask to generate, prompts x n x max_tokens "
                   f"(default {DEFAULT_MAX_REQUEST_TOKENS}; 0: no cap)")
    p.add_argument("--max-logprobs", type=int, default=DEFAULT_MAX_LOGPROBS,
                   help=f"most alternatives per token in logprobs / top_logprobs (default {DEFAULT_MAX_LOGPROBS})")
    p.add_argument("--verbose", action="store_true", help="log every request")
    return p


def run(args: argparse.Namespace) -> int:
    """Load the model, bind, print the URL and serve until interrupted."""
    from rlbound.backends.hf import HFBackend, HFOptions
    from rlbound.backends.serve.server import make_server

    if not args.model:
        raise InputError("give the model to serve (a model directory or hub id); 'rlbound serve' without one "
                         "serves the shipped sandbox model 'tiny'", field="model")
    backend = HFBackend(args.model, HFOptions(device=args.device, dtype=args.dtype, threads=args.threads,
                                              batch_size=args.max_batch))
    try:
        server = make_server(backend, host=args.host, port=args.port, model_name=args.name or args.model,
                             api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
                             max_body_bytes=args.max_body_bytes, max_request_tokens=args.max_request_tokens,
                             max_logprobs=args.max_logprobs, batch_wait_s=args.batch_wait_ms / 1000.0,
                             max_batch=args.max_batch, verbose=args.verbose)
    except OSError as e:
        raise InputError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}", field="port") from None
    host, port = server.server_address[:2]
    key = " (API key required)" if server.config.api_key else ""
    print(f"rlbound serve: listening on http://{host}:{port}/v1 (model {server.config.model_name!r}){key}",
          flush=True)
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
