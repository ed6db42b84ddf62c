"""Sampling from any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, ``rlbound serve``, ...).

Standard library only (urllib + threads). One request per sample, ``n = 1`` with the sample's own
``seed`` (user pain point 5: independent, recorded seeds; pain point 6: no huge ``n`` per request),
at most ``concurrency`` requests in flight. 429, 5xx, connection errors and timeouts are retried with
exponential backoff (honouring ``Retry-After``); a server that cannot be reached at all is an
InputError naming the URL, before any file is written.

``score`` uses the legacy completions API's prompt echo: ``echo=True, logprobs=1, max_tokens=0``
returns a log-probability per prompt token (vLLM and ``rlbound serve`` support it; OpenAI's own API
no longer does, and servers that ignore ``echo`` get a clear InputError). Tokens are selected by
character offset, so a token straddling the prompt/continuation boundary is not counted.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rlbound.backends.protocol import Backend, Completion, SamplingParams, check_seeds
from rlbound.errors import InputError

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class OpenAIOptions:
    """Options of the ``openai`` backend.

    Attributes:
        base_url: the server's API root, e.g. http://127.0.0.1:8000/v1.
        api_key_env: environment variable holding the API key (sent as a Bearer token when set).
        api_key: the key itself (overrides api_key_env; prefer the environment variable).
        endpoint: "completions" (prompt text as is) or "chat" (prompt sent as one user message; the
            server applies the model's chat template).
        concurrency: requests in flight at once.
        max_retries: retries per request after 429/5xx/connection errors/timeouts.
        timeout_s: seconds before one request times out.
        backoff_s: first retry delay; doubles per retry (with jitter), at most backoff_max_s.
        backoff_max_s: longest retry delay.
        check_model: at start, GET /models and refuse a model the server does not list.
    """

    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    api_key: str | None = None
    endpoint: str = "completions"
    concurrency: int = 16
    max_retries: int = 6
    timeout_s: float = 600.0
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    check_model: bool = True


class ServerError(InputError):
    """The server answered with an error we do not retry (or kept failing after all retries).

    ``status`` is the last HTTP status, or None when no HTTP answer came (connection/timeout).
    """

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status


class OpenAIBackend(Backend):
    """Backend over HTTP; see the module docstring."""

    name = "openai"
    tokenizer = None  # the server owns tokenisation and chat templates

    def __init__(self, model: str, options: OpenAIOptions | None = None) -> None:
        self.options = o = options or OpenAIOptions()
        self.model = model
        parsed = urllib.parse.urlparse(o.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError(f"base_url must look like http://host:port/v1, got {o.base_url!r}", field="base_url")
        if o.endpoint not in ("completions", "chat"):
            raise InputError(f"endpoint must be completions or chat, got {o.endpoint!r}", field="endpoint")
        if o.concurrency <= 0:
            raise InputError(f"concurrency must be positive, got {o.concurrency}", field="concurrency")
        self.base = o.base_url.rstrip("/")
        self._key = o.api_key or os.environ.get(o.api_key_env or "", "") or None
        self.served_models = self._check_server()

    # -- HTTP --

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            h["Authorization"] = f"Bearer {self._key}"
        return h

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                 retries: int | None = None, timeout: float | None = None) -> dict[str, Any]:
        """One JSON request with retries; returns the decoded JSON object."""
        url = self.base + path
        data = json.dumps(body).encode("utf-8") if body is not None else None
        retries = self.options.max_retries if retries is None else retries
        timeout = self.options.timeout_s if timeout is None else timeout
        last, status = "", None
        for attempt in range(retries + 1):
            req = urllib.request.Request(url, data=data, method=method, headers=self._headers())
            retry_after = None
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    raw = resp.read()
                try:
                    out = json.loads(raw)
                except ValueError:
                    raise ServerError(f"server at {url} returned non-JSON: {raw[:200]!r}", field="base_url") from None
                if not isinstance(out, dict):
                    raise ServerError(f"server at {url} returned {type(out).__name__}, expected an object",
                                      field="base_url")
                return out
            except urllib.error.HTTPError as e:
                detail = _error_text(e)
                if e.code not in _RETRY_STATUS:
                    raise ServerError(f"server at {url} answered HTTP {e.code}: {detail}", status=e.code,
                                      field="base_url") from None
                last, status = f"HTTP {e.code}: {detail}", e.code
                retry_after = _retry_after(e)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                last = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
                status = None
            if attempt < retries:
                delay = min(self.options.backoff_max_s, self.options.backoff_s * (2 ** attempt))
                delay = delay * random.uniform(0.5, 1.0)
                time.sleep(max(delay, retry_after or 0.0))
        raise ServerError(f"server at {url} failed after {retries + 1} attempts (last: {last})", status=status,
                          field="base_url")

    def _check_server(self) -> list[str]:
        """GET /models once (short timeout, few retries): unreachable -> InputError naming the URL."""
        try:
            out = self._request("GET", "/models", retries=1, timeout=min(10.0, self.options.timeout_s))
        except ServerError as e:
            if e.status == 404:  # a server without /models: carry on
                return []
            if e.status is not None:  # it answered, but with an error (401: bad key, ...)
                raise InputError(f"server at {self.base} refused GET /models: {e.message}", field="base_url") from None
            raise InputError(f"cannot reach an OpenAI-compatible server at {self.base} "
                             f"({str(e).split(' (last: ', 1)[-1].rstrip(')')})", field="base_url") from None
        models = [m.get("id") for m in out.get("data", []) if isinstance(m, dict)]
        if self.options.check_model and models and self.model not in models:
            raise InputError(f"server at {self.base} does not serve model {self.model!r}; it serves: "
                             f"{', '.join(map(str, models))}", field="model")
        return [str(m) for m in models]

    # -- generation --

    def _body(self, prompt: str, params: SamplingParams, seed: int) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": params.max_new_tokens,
                                "temperature": params.temperature, "top_p": params.top_p, "n": 1, "seed": seed}
        if params.stop:
            body["stop"] = list(params.stop)
        if self.options.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
            if params.logprobs:
                body["logprobs"] = True
            return "/chat/completions", body
        body["prompt"] = prompt
        if params.logprobs:
            body["logprobs"] = 1
        return "/completions", body

    def _one(self, job: tuple[str, SamplingParams, int]) -> Completion:
        prompt, params, seed = job
        path, body = self._body(prompt, params, seed)
        out = self._request("POST", path, body)
        try:
            choice = out["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise ServerError(f"server at {self.base}{path} returned no choices: {json.dumps(out)[:200]}",
                              field="base_url") from None
        usage = out.get("usage") or {}
        if path == "/chat/completions":
            text = (choice.get("message") or {}).get("content") or ""
            lp = choice.get("logprobs") or {}
            logprobs = [float(t["logprob"]) for t in lp.get("content") or []] if params.logprobs else None
        else:
            text = choice.get("text") or ""
            lp = choice.get("logprobs") or {}
            logprobs = [float(x) for x in lp.get("token_logprobs") or [] if x is not None] if params.logprobs else None
        return Completion(text=text, completion_tokens=int(usage.get("completion_tokens") or 0),
                          prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          finish_reason=str(choice.get("finish_reason") or "stop"),
                          logprobs=tuple(logprobs) if logprobs is not None else None)

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 seeds: Sequence[Sequence[int]]) -> list[list[Completion]]:
        """One request per (prompt, seed), ``concurrency`` at a time; results in input order."""
        check_seeds(prompts, seeds)
        jobs = [(p, params, int(s)) for p, ss in zip(prompts, seeds) for s in ss]
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            flat = list(pool.map(self._one, jobs))
        out: list[list[Completion]] = []
        k = 0
        for ss in seeds:
            out.append(flat[k:k + len(ss)])
            k += len(ss)
        return out

    # -- scoring --

    def _score_one(self, pair: tuple[str, str]) -> Any:
        import numpy as np

        prompt, cont = pair
        full = prompt + cont
        body = {"model": self.model, "prompt": full, "max_tokens": 0, "echo": True, "logprobs": 1,
                "temperature": 0.0}
        try:
            out = self._request("POST", "/completions", body)
        except ServerError as e:
            if e.status != 400:
                raise
            body["max_tokens"] = 1  # some servers refuse max_tokens=0; the generated token is ignored
            out = self._request("POST", "/completions", body)
        try:
            lp = out["choices"][0]["logprobs"]
            offsets, values = lp["text_offset"], lp["token_logprobs"]
        except (KeyError, IndexError, TypeError):
            lp = None
        if not lp or offsets is None or values is None:
            raise InputError(f"server at {self.base} returned no prompt logprobs for echo=True, logprobs=1; "
                             "scoring needs a server that supports prompt echo (vLLM, rlbound serve)",
                             field="base_url")
        picked = [v for off, v in zip(offsets, values) if len(prompt) <= off < len(full)]
        if any(v is None for v in picked):
            raise InputError(f"server at {self.base} returned a null logprob inside the continuation",
                             field="base_url")
        return np.asarray(picked, dtype=np.float64)

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[Any]:
        """Per-token log-probabilities of each continuation given its prompt, via prompt echo."""
        if len(prompts) != len(continuations):
            raise ValueError(f"got {len(prompts)} prompts but {len(continuations)} continuations")
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            return list(pool.map(self._score_one, zip(prompts, continuations)))

    def describe(self) -> dict[str, Any]:
        """For the manifest: where the samples came from."""
        return {"base_url": self.base, "endpoint": self.options.endpoint, "served_models": self.served_models}

    def close(self) -> None:
        pass


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        raw = e.read()
    except Exception:  # noqa: BLE001 - best effort
        return e.reason if isinstance(e.reason, str) else ""
    try:
        obj = json.loads(raw)
        err = obj.get("error", obj) if isinstance(obj, dict) else obj
        msg = err.get("message") if isinstance(err, dict) else err
        return str(msg if msg is not None else obj)[:300]
    except ValueError:
        return raw[:300].decode("utf-8", "replace")


def _retry_after(e: urllib.error.HTTPError) -> float | None:
    val = e.headers.get("Retry-After") if e.headers else None
    try:
        return min(float(val), 60.0) if val is not None else None
    except ValueError:
        return None
