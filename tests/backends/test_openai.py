"""The openai backend against a real OpenAI-compatible server over real sockets.

* ``rlbound serve`` (src/rlbound/backends/serve/) is started as a subprocess on 127.0.0.1 serving the tiny
  model; the backend's samples must equal the hf backend's for the same seeds, and ``score`` (prompt
  echo) must equal the hf backend's scores.
* Tiny stdlib servers inside the test check retries (503, 503, 200), no retry on 400, the
  concurrency bound, give-up after max_retries, and a server that cannot score.
* An unreachable URL gives a one-line InputError naming the URL.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from rlbound.backends import SamplingParams, get_backend
from rlbound.backends.openai import OpenAIBackend, OpenAIOptions
from rlbound.errors import InputError

_spec = importlib.util.spec_from_file_location("rlbound_test_sampling_proc",
                                               Path(__file__).resolve().parents[1] / "sampling_proc.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PROMPTS = ["12+3=", "7*8=", "100-1="]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    return helpers.make_tiny_model(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def served(tiny):
    """``python -m rlbound.backends.serve`` on a free port; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "rlbound.backends.serve", str(tiny), "--port", "0", "--name", "tiny",
                             "--device", "cpu", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # printed once the model is loaded and the socket bound
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert m, f"server did not start: {line!r}"
        yield m.group(1)
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def hf(tiny):
    return get_backend("hf", str(tiny), device="cpu", threads=1)


def test_samples_equal_the_hf_backend(served, hf):
    ob = get_backend("openai", "tiny", base_url=served, concurrency=4)
    params = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=20, stop=("*",))
    seeds = [[1, 2, 3], [4, 5], [6]]
    got, want = ob.generate(PROMPTS, params, seeds), hf.generate(PROMPTS, params, seeds)
    assert got == want  # text, token counts, finish reason: sample by sample
    assert len({c.text for cs in got for c in cs}) > 2


def test_chat_endpoint(served, hf):
    ob = get_backend("openai", "tiny", base_url=served, endpoint="chat")
    params = SamplingParams(temperature=0.6, max_new_tokens=12)
    # the tiny tokenizer has no chat template: rlbound serve sends the message text as the prompt
    assert ob.generate(["7*8="], params, [[9, 10]]) == hf.generate(["7*8="], params, [[9, 10]])


def test_logprobs_over_http(served, hf):
    ob = get_backend("openai", "tiny", base_url=served)
    params = SamplingParams(temperature=1.0, max_new_tokens=8, logprobs=True)
    [[a]], [[b]] = ob.generate(["9/3="], params, [[3]]), hf.generate(["9/3="], params, [[3]])
    np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)


def test_score_by_prompt_echo(served, hf):
    ob = get_backend("openai", "tiny", base_url=served)
    prompts, conts = ["12+3=", "7*8="], ["15", "56\nab"]
    for a, b in zip(ob.score(prompts, conts), hf.score(prompts, conts)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_unknown_model_name(served):
    with pytest.raises(InputError) as e:
        get_backend("openai", "gpt-9", base_url=served)
    assert e.value.field == "model" and "tiny" in str(e.value)


def test_unreachable_server_is_one_line_naming_the_url():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    t = time.monotonic()
    with pytest.raises(InputError) as e:
        OpenAIBackend("m", OpenAIOptions(base_url=url, backoff_s=0.01))
    msg = str(e.value)
    assert url in msg and "\n" not in msg and e.value.field == "base_url"
    assert time.monotonic() - t < 10


def test_bad_base_url():
    with pytest.raises(InputError) as e:
        OpenAIBackend("m", OpenAIOptions(base_url="localhost:8000"))
    assert e.value.field == "base_url"


# ---- scripted stdlib servers -----------------------------------------------------------------


class _Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _json(self, code, obj, headers=()):
        raw = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        code = self.server.state.get("get_code", 200)
        if code != 200:
            self._json(code, {"error": {"message": "invalid api key"}})
            return
        self._json(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        st = self.server.state
        with st["lock"]:
            st["posts"] += 1
            st["bodies"].append(body)
            n = st["posts"]
            st["inflight"] += 1
            st["max_inflight"] = max(st["max_inflight"], st["inflight"])
        try:
            time.sleep(st.get("delay", 0.0))
            code = st["codes"][n - 1] if n <= len(st["codes"]) else st.get("default", 200)
            if code != 200:
                self._json(code, {"error": {"message": f"scripted {code}"}}, [("Retry-After", "0")])
                return
            choice = {"index": 0, "text": f"ok{body.get('seed')}", "finish_reason": "length", "logprobs": None}
            self._json(200, {"choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 5}})
        finally:
            with st["lock"]:
                st["inflight"] -= 1


@pytest.fixture
def scripted():
    servers = []

    def start(codes=(), default=200, delay=0.0, get_code=200):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
        srv.daemon_threads = True
        srv.state = {"codes": list(codes), "default": default, "delay": delay, "get_code": get_code,
                     "posts": 0, "bodies": [],
                     "inflight": 0, "max_inflight": 0, "lock": threading.Lock()}
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1", srv.state

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_503_twice_then_200_is_retried(scripted):
    url, st = scripted(codes=[503, 503, 200])
    ob = OpenAIBackend("m", OpenAIOptions(base_url=url, backoff_s=0.01, concurrency=1))
    [[c]] = ob.generate(["p"], SamplingParams(max_new_tokens=5), [[77]])
    assert c.text == "ok77" and c.completion_tokens == 5 and c.prompt_tokens == 3 and c.finish_reason == "length"
    assert st["posts"] == 3
    body = st["bodies"][-1]
    assert body["seed"] == 77 and body["n"] == 1 and body["prompt"] == "p" and body["max_tokens"] == 5


def test_400_is_not_retried(scripted):
    url, st = scripted(codes=[400])
    ob = OpenAIBackend("m", OpenAIOptions(base_url=url, backoff_s=0.01))
    with pytest.raises(InputError) as e:
        ob.generate(["p"], SamplingParams(), [[1]])
    assert "HTTP 400" in str(e.value) and "scripted 400" in str(e.value) and st["posts"] == 1


def test_gives_up_after_max_retries(scripted):
    url, st = scripted(default=503)
    ob = OpenAIBackend("m", OpenAIOptions(base_url=url, backoff_s=0.01, max_retries=2))
    with pytest.raises(InputError) as e:
        ob.generate(["p"], SamplingParams(), [[1]])
    assert "after 3 attempts" in str(e.value) and st["posts"] == 3


def test_concurrency_is_bounded_and_order_kept(scripted):
    url, st = scripted(delay=0.05)
    ob = OpenAIBackend("m", OpenAIOptions(base_url=url, concurrency=3))
    out = ob.generate(["a", "b", "c"], SamplingParams(), [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    assert [[c.text for c in cs] for cs in out] == [[f"ok{s}" for s in range(i, i + 4)] for i in (1, 5, 9)]
    assert 2 <= st["max_inflight"] <= 3


def test_server_without_echo_cannot_score(scripted):
    url, _ = scripted()
    ob = OpenAIBackend("m", OpenAIOptions(base_url=url))
    with pytest.raises(InputError) as e:
        ob.score(["p"], ["q"])
    assert "prompt logprobs" in str(e.value)


def test_rejected_api_key_is_reported_as_such(scripted):
    url, _ = scripted(get_code=401)
    with pytest.raises(InputError) as e:
        OpenAIBackend("m", OpenAIOptions(base_url=url, backoff_s=0.01))
    assert "HTTP 401" in str(e.value) and "invalid api key" in str(e.value) and "cannot reach" not in str(e.value)
