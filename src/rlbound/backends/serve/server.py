"""The HTTP side of ``rlbound serve``: routes, the API key, the body limit, JSON answers and
server-sent-event streams (``data: {...}\\n\\n`` ... ``data: [DONE]\\n\\n`` over chunked transfer
encoding), on the standard library's ``ThreadingHTTPServer``.

Every answer other than 200 is OpenAI's error object ``{"error": {"message", "type", "param",
"code"}}``. With an API key set, every route but ``/health`` needs ``Authorization: Bearer KEY``
(401 otherwise, before the body is read). A body over the limit is answered 413 without reading
it (also in reply to ``Expect: 100-continue``); the connection is then closed after a short
lingering read, so the client sees the answer rather than a reset.
"""

from __future__ import annotations

import hmac
import json
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rlbound.backends.serve.endpoints import DEFAULT_MAX_REQUEST_TOKENS, Endpoints, Limits
from rlbound.backends.serve.protocol import DEFAULT_MAX_LOGPROBS, APIError, as_api_error, bad
from rlbound.errors import InputError

DEFAULT_MAX_BODY_BYTES = 32 << 20
_LINGER_BYTES = 64 << 20  # most of an unread body drained before closing
_NO_AUTH = {"/health", "/v1/health"}


@dataclass
class ServerConfig:
    """What ``make_server`` was given besides the model."""

    model_name: str
    model_path: str
    api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    limits: Limits = field(default_factory=Limits)
    verbose: bool = False
    created: int = field(default_factory=lambda: int(time.time()))


class Server(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` with the engine, the endpoints and the config attached."""

    daemon_threads = True
    engine: Any
    endpoints: Endpoints
    config: ServerConfig


class Handler(BaseHTTPRequestHandler):
    """Routes one connection's requests (see the module docstring)."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet unless asked
        if self.server.config.verbose:
            super().log_message(fmt, *args)

    # -- answers --

    def _send_json(self, code: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(obj).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)

    def _send_error(self, err: APIError) -> None:
        self._send_json(err.status, err.body(), err.headers)

    def _open_stream(self) -> Any:
        """Send the 200 head of an event stream; returns the function that writes one event."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._streaming = True

        def send(obj: dict[str, Any]) -> None:
            self._event(json.dumps(obj))

        return send

    def _event(self, data: str) -> None:
        raw = f"data: {data}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    # -- request checks --

    def _route(self) -> str:
        path = urllib.parse.urlsplit(self.path).path
        return path.rstrip("/") or "/"

    def _authorized(self) -> bool:
        key = self.server.config.api_key
        if not key or self._route() in _NO_AUTH:
            return True
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())

    def _auth_error(self) -> APIError:
        given = bool(self.headers.get("Authorization"))
        msg = "Incorrect API key provided" if given else "Missing API key: send 'Authorization: Bearer KEY'"
        return APIError(401, msg, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    def _length(self) -> int:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise APIError(411, "chunked request bodies are not supported; send Content-Length", code="length_required")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise bad("Content-Length must be an integer") from None
        if length < 0:
            raise bad("Content-Length must not be negative")
        limit = self.server.config.max_body_bytes
        if limit and length > limit:
            raise APIError(413, f"request body of {length} bytes exceeds this server's limit of {limit} bytes "
                           "(--max-body-bytes)", code="request_too_large")
        return length

    def _precheck(self) -> APIError | None:
        """401 or 413/411/400 from the headers alone, or None."""
        if not self._authorized():
            return self._auth_error()
        try:
            self._length()
        except APIError as e:
            return e
        return None

    def handle_expect_100(self) -> bool:
        err = self._precheck()
        if err is not None:
            self.close_connection = True
            self._send_error(err)
            return False
        return super().handle_expect_100()

    def _refuse_unread(self, err: APIError) -> None:
        """Answer ``err`` without having read the body: drop a small body, else answer and close
        after a lingering read."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        if 0 <= length <= self.server.config.max_body_bytes and not chunked:
            self.rfile.read(length)
            self._send_error(err)
            return
        self.close_connection = True
        self._send_error(err)
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(2.0)
            left = min(length if length > 0 else _LINGER_BYTES, _LINGER_BYTES)
            while left > 0 and (chunk := self.rfile.read1(min(left, 1 << 16))):
                left -= len(chunk)
        except OSError:
            pass

    def _body(self) -> dict[str, Any]:
        length = self._length()
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError as e:
            raise bad(f"malformed JSON body: {e}") from None
        if not isinstance(body, dict):
            raise bad("the request body must be a JSON object")
        return body

    # -- methods --

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        route = self._route()
        if not self._authorized():
            self._send_error(self._auth_error())
            return
        try:
            self._send_json(200, self._get(route))
        except APIError as e:
            self._send_error(e)

    def _get(self, route: str) -> dict[str, Any]:
        ep, cfg = self.server.endpoints, self.server.config
        if route in _NO_AUTH:
            return {"status": "ok"}
        if route in ("/v1/models", "/models"):
            return {"object": "list", "data": [self._model_card()]}
        for prefix in ("/v1/models/", "/models/"):
            if route.startswith(prefix):
                name = urllib.parse.unquote(route[len(prefix):])
                if name != cfg.model_name:
                    raise APIError(404, f"The model {name!r} does not exist; this server serves {cfg.model_name!r}",
                                   param="model", code="model_not_found")
                return self._model_card()
        if route in ("/tokenizer_info", "/v1/tokenizer_info"):
            return ep.tokenizer_info()
        if route in _POST_ROUTES:
            raise APIError(405, f"use POST for {route}", code="method_not_allowed", headers={"Allow": "POST"})
        raise APIError(404, f"Invalid URL (GET {route})", code="unknown_url")

    def _model_card(self) -> dict[str, Any]:
        cfg = self.server.config
        return {"id": cfg.model_name, "object": "model", "created": cfg.created, "owned_by": "rlbound",
                "root": cfg.model_path, "parent": None, "max_model_len": self.server.engine.max_positions}

    def do_POST(self) -> None:  # noqa: N802
        route = self._route()
        self._streaming = False
        if not self._authorized():
            self._refuse_unread(self._auth_error())
            return
        name = _POST_ROUTES.get(route)
        if name is None:
            code = 405 if route in _GET_ROUTES else 404
            self._refuse_unread(APIError(code, f"Invalid URL (POST {route})",
                                         code="method_not_allowed" if code == 405 else "unknown_url"))
            return
        try:
            body = self._body()
        except APIError as e:
            if e.status in (411, 413):
                self._refuse_unread(e)
            else:
                self._send_error(e)
            return
        self._dispatch(getattr(self.server.endpoints, name), body)

    def _dispatch(self, method: Any, body: dict[str, Any]) -> None:
        try:
            out = method(body, self._open_stream)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except Exception as e:  # noqa: BLE001 - a server must answer
            err = as_api_error(e)
            if not self._streaming:
                self._send_error(err)
                return
            try:  # the stream is open: the error as its last event
                self._event(json.dumps(err.body()))
            except OSError:
                self.close_connection = True
                return
        try:
            if self._streaming:
                self._event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self._send_json(200, out)
        except OSError:  # the client is gone
            self.close_connection = True

    def _not_allowed(self) -> None:
        self._refuse_unread(APIError(405, f"method {self.command} is not allowed", code="method_not_allowed"))

    do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815


_POST_ROUTES = {"/v1/completions": "completions", "/completions": "completions",
                "/v1/chat/completions": "chat", "/chat/completions": "chat",
                "/tokenize": "tokenize", "/v1/tokenize": "tokenize",
                "/detokenize": "detokenize", "/v1/detokenize": "detokenize"}
_GET_ROUTES = {"/v1/models", "/models", "/tokenizer_info", "/v1/tokenizer_info", *_NO_AUTH}


def make_server(backend: Any, *, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
                api_key: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS, max_logprobs: int = DEFAULT_MAX_LOGPROBS,
                batch_wait_s: float = 0.005, max_batch: int = 256, verbose: bool = False) -> Server:
    """A ready (not yet serving) HTTP server for the hf backend ``backend``; ``port=0`` picks a free port.

    ``api_key``: required as a Bearer token when set; ``max_body_bytes``: larger bodies get 413
    (0: no limit); ``max_request_tokens``: most tokens one request may ask to generate (0: no
    cap); ``max_logprobs``: most alternatives per token (``logprobs`` / ``top_logprobs``).
    """
    from rlbound.backends.serve.engine import Engine

    for name, value in (("max_body_bytes", max_body_bytes), ("max_request_tokens", max_request_tokens),
                        ("max_logprobs", max_logprobs), ("max_batch", max_batch)):
        if not isinstance(value, int) or value < 0 or (name == "max_batch" and value == 0):
            raise InputError(f"{name} must be a {'positive' if name == 'max_batch' else 'non-negative'} integer, "
                             f"got {value!r}", field=name)
    name = model_name or backend.model
    server = Server((host, port), Handler)
    server.engine = Engine(backend, batch_wait_s=batch_wait_s, max_batch=max_batch)
    server.endpoints = Endpoints(server.engine, name, Limits(max_request_tokens, max_logprobs))
    server.config = ServerConfig(name, str(backend.model), api_key or None, max_body_bytes,
                                 server.endpoints.limits, verbose)
    return server
