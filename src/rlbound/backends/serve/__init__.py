"""``rlbound serve``: a small OpenAI-compatible HTTP server over the ``hf`` backend.

Routes: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/completions``,
``POST /v1/chat/completions`` (each also without ``/v1``), ``GET /health``, and vLLM's
``POST /tokenize``, ``POST /detokenize``, ``GET /tokenizer_info`` (lm-eval's remote tokenizer).

* Completions take a string, a list of strings, a list of token ids or a list of token-id lists
  (token ids are used as given, no BOS added); ``n``, ``seed``, ``stop``, ``temperature``,
  ``top_p``, ``max_tokens``, ``echo``, ``logprobs=N`` (``tokens``, ``token_logprobs``,
  ``top_logprobs`` with the N most likely tokens plus the sampled one, ``text_offset``) and prompt
  scoring (``echo=true, logprobs=N, max_tokens=0``: the prompt's tokens, first logprob null).
* Chat completions apply the tokenizer's chat template (no template: the message texts, one per
  line); ``logprobs=true, top_logprobs=N`` gives ``content: [{token, logprob, bytes, top_logprobs}]``.
* ``stream=true`` sends server-sent events as tokens are drawn, ``data: [DONE]`` last;
  ``stream_options.include_usage`` adds a final chunk with ``choices: []`` and the usage.
* Seeds: a request with ``seed`` s gets exactly the hf backend's sample for seed s (choice j of an
  ``n > 1`` request uses s + j; no seed: a random one). Concurrent requests are gathered for a few
  milliseconds and decoded as one batch, which does not change any sample (per-sample seeds).
* Errors are OpenAI's ``{"error": {"message", "type", "param", "code"}}``: an unknown or
  unsupported parameter is a 400 naming it, an unknown model a 404, a missing or wrong API key
  (``--api-key``) a 401, a body over ``--max-body-bytes`` a 413, a request asking for more than
  ``--max-request-tokens`` generated tokens a 400.

Modules: ``protocol`` (request fields, the error object), ``engine`` (micro-batched decoding with
token ids, log-probabilities and streaming), ``render`` (token pieces, text offsets, the
log-probability shapes), ``endpoints`` (requests to jobs, choices to responses and chunks),
``server`` (HTTP, API key, limits, SSE), ``cli`` (options and the serving loop).

Why not ``transformers serve``: in transformers 5.23 its ``serving`` extra pulls accelerate, fastapi,
uvicorn and openai; its /v1/completions ignores ``echo``/``logprobs``/``n`` and seeds through the
global torch RNG, so it can neither score nor give per-request reproducible samples under load.

    rlbound serve [MODEL_DIR] [--host 127.0.0.1] [--port 8000] [--name NAME] [--api-key KEY]
    python -m rlbound.backends.serve MODEL_DIR ...
"""

from __future__ import annotations

from rlbound.backends.serve.cli import build_arg_parser, main, run
from rlbound.backends.serve.protocol import APIError
from rlbound.backends.serve.server import make_server

__all__ = ["APIError", "build_arg_parser", "main", "make_server", "run"]
