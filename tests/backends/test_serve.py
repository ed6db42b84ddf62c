"""``rlbound serve`` (src/rlbound/backends/serve/) over real sockets, with the shipped sandbox model.

These tests speak HTTP with ``http.client`` and parse the server-sent events themselves, to check
the wire format itself (test_serve_openai_client.py drives the official client) (``data: {...}`` blocks,
``data: [DONE]`` last). Samples, log-probabilities and scores are checked against the hf backend
on the same model; every error answer is checked for OpenAI's error object (status, ``param``,
``code`` a string or null).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
import urllib.parse
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

KEY = "test-key-123"
BODY_LIMIT = 64 * 1024
TOKEN_CAP = 4096
PROMPTS = ["a=2-3=?,b=5-1=?;?b", "a=4*2=?,b=a+3=?,c=b-1=?;?c", "a=6+6=?;?a"]


@pytest.fixture(scope="module")
def sandbox() -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from rlbound.study.run import shipped_checkpoint

    path = shipped_checkpoint("tiny")
    assert path is not None, "the shipped sandbox model is missing"
    return path


@pytest.fixture(scope="module")
def hf(sandbox):
    return get_backend("hf", str(sandbox), device="cpu", threads=1)


@pytest.fixture(scope="module")
def url(hf):
    """An in-process server on a free port (API key, small body limit, small token cap)."""
    from rlbound.backends.serve import make_server

    srv = make_server(hf, port=0, model_name="tiny", api_key=KEY, max_body_bytes=BODY_LIMIT,
                      max_request_tokens=TOKEN_CAP)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _conn(url: str) -> http.client.HTTPConnection:
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def _headers(key: str | None = KEY) -> dict[str, str]:
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    return h


def call(url: str, method: str, path: str, body=None, *, key: str | None = KEY, raw: bytes | None = None):
    """(status, JSON answer) of one request."""
    conn = _conn(url)
    try:
        data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=_headers(key))
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def post(url: str, path: str, body, **kw):
    return call(url, "POST", path, body, **kw)


def stream(url: str, path: str, body) -> list[dict]:
    """The JSON events of one streamed request (checks the SSE framing and the final [DONE])."""
    conn = _conn(url)
    try:
        conn.request("POST", path, body=json.dumps({**body, "stream": True}).encode(), headers=_headers())
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        text = resp.read().decode()
    finally:
        conn.close()
    assert text.endswith("\n\n")
    blocks = text[:-2].split("\n\n")
    assert all(b.startswith("data: ") for b in blocks), text[:500]
    assert blocks[-1] == "data: [DONE]" and blocks.count("data: [DONE]") == 1
    return [json.loads(b[len("data: "):]) for b in blocks[:-1]]


def assert_error(status_body, status: int, param: str | None, code: str | None = None) -> str:
    got, body = status_body
    assert got == status, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert err["param"] == param, err
    assert err["code"] is None or isinstance(err["code"], str), err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    return err["message"]


# ---- models ---------------------------------------------------------------------------------


def test_models_list_and_get(url, sandbox):
    status, out = call(url, "GET", "/v1/models")
    assert status == 200 and out["object"] == "list"
    [card] = out["data"]
    assert card["id"] == "tiny" and card["object"] == "model" and card["max_model_len"] == 160
    assert Path(card["root"]) == sandbox
    assert call(url, "GET", "/v1/models/tiny") == (200, card)
    assert_error(call(url, "GET", "/v1/models/gpt-9"), 404, "model", "model_not_found")
    assert_error(post(url, "/v1/completions", {"model": "gpt-9", "prompt": "a"}), 404, "model", "model_not_found")


# ---- completions ----------------------------------------------------------------------------


def test_completions_equal_the_hf_backend_and_usage_counts_each_prompt_once(url, hf):
    params = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=20, stop=(";", "-1="))
    want = hf.generate(PROMPTS[:2], params, [[11, 12, 13], [11, 12, 13]])
    status, out = post(url, "/v1/completions", {"model": "tiny", "prompt": PROMPTS[:2], "n": 3, "seed": 11,
                                                "temperature": 1.0, "top_p": 0.95, "max_tokens": 20,
                                                "stop": [";", "-1="]})
    assert status == 200 and out["object"] == "text_completion"
    assert [c["index"] for c in out["choices"]] == list(range(6))
    flat = [c for cs in want for c in cs]
    assert [c["text"] for c in out["choices"]] == [c.text for c in flat]
    assert [c["finish_reason"] for c in out["choices"]] == [c.finish_reason for c in flat]
    assert len({c.text for c in flat}) > 2
    prompt_tokens = sum(len(hf.encode_prompt(p)) for p in PROMPTS[:2])
    completion_tokens = sum(c.completion_tokens for c in flat)
    assert out["usage"] == {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens}


def test_streamed_completions_equal_the_non_streamed(url, hf):
    body = {"prompt": PROMPTS[:2], "n": 2, "seed": 4, "temperature": 1.0, "max_tokens": 24, "stop": ["-1=", ";"]}
    _, whole = post(url, "/v1/completions", body)
    # some choice ends at the 3-token stop string, which the stream must hold back until it is complete
    free = hf.generate(PROMPTS[:2], SamplingParams(temperature=1.0, max_new_tokens=24), [[4, 5], [4, 5]])
    assert any(f.text.startswith(c["text"] + "-1=") for c, f in zip(whole["choices"], [f for fs in free for f in fs]))
    events = stream(url, "/v1/completions", {**body, "stream_options": {"include_usage": True}})
    *chunks, last = events
    assert last["choices"] == [] and last["usage"] == whole["usage"]
    texts: dict[int, str] = {}
    finishes: dict[int, list] = {}
    for ev in chunks:
        assert ev["object"] == "text_completion" and ev["id"] == last["id"] and ev["usage"] is None
        [c] = ev["choices"]
        texts[c["index"]] = texts.get(c["index"], "") + c["text"]
        finishes.setdefault(c["index"], []).append(c["finish_reason"])
    assert texts == {c["index"]: c["text"] for c in whole["choices"]}
    for c in whole["choices"]:  # one chunk per token at most, the finish reason on the last one only
        assert finishes[c["index"]][-1] == c["finish_reason"] and not any(finishes[c["index"]][:-1])
    assert len(chunks) > len(whole["choices"]), "the text came in one piece, not token by token"
    assert not any("-1=" in t or ";" in t for t in texts.values())


def test_completion_logprobs_with_top_alternatives(url, hf):
    import torch

    body = {"prompt": PROMPTS[1], "seed": 3, "temperature": 1.0, "max_tokens": 10, "logprobs": 3}
    _, out = post(url, "/v1/completions", body)
    [c] = out["choices"]
    lp = c["logprobs"]
    assert set(lp) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"}
    assert "".join(lp["tokens"]) == c["text"] and c["finish_reason"] == "length"
    assert lp["text_offset"] == [sum(len(t) for t in lp["tokens"][:k]) for k in range(len(lp["tokens"]))]
    [[ref]] = hf.generate([PROMPTS[1]], SamplingParams(temperature=1.0, max_new_tokens=10, logprobs=True), [[3]])
    assert ref.text == c["text"]
    np.testing.assert_allclose(lp["token_logprobs"], ref.logprobs, atol=1e-5)
    # the alternatives are the 3 most likely tokens of a forward pass over prompt + completion
    tok = hf.tokenizer
    ids = hf.encode_prompt(PROMPTS[1]) + tok(c["text"], add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logp = torch.log_softmax(hf.lm(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    start = len(hf.encode_prompt(PROMPTS[1]))
    for k, (token, value, top) in enumerate(zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"])):
        best = logp[start - 1 + k].topk(3)
        want = {tok.decode([i]): v for i, v in zip(best.indices.tolist(), best.values.tolist())}
        assert top[token] == value and len(top) in (3, 4)
        assert set(top) - {token} <= set(want) and set(want) <= set(top)
        for s, v in want.items():
            assert top[s] == pytest.approx(v, abs=1e-4)


def test_greedy_sample_is_its_own_top_alternative(url):
    _, out = post(url, "/v1/completions", {"prompt": PROMPTS[0], "temperature": 0, "max_tokens": 8, "logprobs": 2})
    lp = out["choices"][0]["logprobs"]
    for token, value, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
        assert max(top.values()) == value == top[token] and len(top) == 2


def test_token_id_prompts(url, hf):
    ids = [hf.encode_prompt(p) for p in PROMPTS]
    body = {"seed": 9, "temperature": 1.0, "max_tokens": 12}
    _, by_text = post(url, "/v1/completions", {**body, "prompt": PROMPTS[0]})
    _, by_ids = post(url, "/v1/completions", {**body, "prompt": ids[0]})
    assert by_ids["choices"][0]["text"] == by_text["choices"][0]["text"]
    assert by_ids["usage"] == by_text["usage"]
    _, many = post(url, "/v1/completions", {**body, "prompt": ids, "n": 2})
    _, texts = post(url, "/v1/completions", {**body, "prompt": PROMPTS, "n": 2})
    assert [c["text"] for c in many["choices"]] == [c["text"] for c in texts["choices"]]
    assert [c["index"] for c in many["choices"]] == list(range(6))
    assert many["usage"]["prompt_tokens"] == sum(map(len, ids))


def test_lm_eval_loglikelihood_request(url, hf):
    """What lm-eval's local-completions sends for a loglikelihood: token ids of context +
    continuation, echo, max_tokens=1, logprobs=1, temperature 0; it reads
    token_logprobs[ctxlen:-1] and compares each with max(top_logprobs) for is_greedy."""
    tok = hf.tokenizer
    pairs = [("a=2-3=?,b=5-1=?;?b", "=5-1=4"), ("a=6+6=?;?a", "=9")]
    ctx = [hf.encode_prompt(c) for c, _ in pairs]
    cont = [tok(x, add_special_tokens=False)["input_ids"] for _, x in pairs]
    status, out = post(url, "/v1/completions", {"model": "tiny", "prompt": [a + b for a, b in zip(ctx, cont)],
                                                "temperature": 0, "max_tokens": 1, "logprobs": 1, "seed": 1234,
                                                "echo": True})
    assert status == 200
    want = hf.score([c for c, _ in pairs], [x for _, x in pairs])
    for choice, a, b, ref in zip(sorted(out["choices"], key=lambda c: c["index"]), ctx, cont, want):
        lp = choice["logprobs"]
        assert len(lp["token_logprobs"]) == len(a) + len(b) + 1 and lp["token_logprobs"][0] is None
        assert lp["top_logprobs"][0] is None
        np.testing.assert_allclose(lp["token_logprobs"][len(a):-1], ref, atol=1e-5)
        greedy = [v == max(top.values()) for v, top in zip(lp["token_logprobs"][1:], lp["top_logprobs"][1:])]
        assert greedy[-1], "the generated token of a greedy request is its own best alternative"
        assert choice["text"].startswith(pairs[0][0] if a is ctx[0] else pairs[1][0])


def test_echo_scoring_shape(url):
    _, out = post(url, "/v1/completions", {"prompt": PROMPTS[2], "echo": True, "max_tokens": 0, "logprobs": 0})
    [c] = out["choices"]
    assert c["text"] == PROMPTS[2] and out["usage"]["completion_tokens"] == 0
    lp = c["logprobs"]
    assert "".join(lp["tokens"]) == PROMPTS[2] and lp["token_logprobs"][0] is None
    assert all(set(top) == {t} for t, top in zip(lp["tokens"][1:], lp["top_logprobs"][1:]))


# ---- chat -----------------------------------------------------------------------------------


def test_chat_equals_the_hf_backend_streamed_or_not(url, hf):
    msgs = [{"role": "user", "content": PROMPTS[1]}]
    body = {"messages": msgs, "n": 2, "seed": 21, "temperature": 1.0, "max_tokens": 16, "stop": [";"]}
    status, whole = post(url, "/v1/chat/completions", body)
    assert status == 200 and whole["object"] == "chat.completion"
    want = hf.generate([PROMPTS[1]], SamplingParams(temperature=1.0, max_new_tokens=16, stop=(";",)), [[21, 22]])[0]
    assert [c["message"] for c in whole["choices"]] == [{"role": "assistant", "content": w.text} for w in want]
    assert whole["usage"]["prompt_tokens"] == len(hf.encode_prompt(PROMPTS[1]))
    events = stream(url, "/v1/chat/completions", {**body, "stream_options": {"include_usage": True}})
    *chunks, last = events
    assert last["choices"] == [] and last["usage"] == whole["usage"]
    first = {}
    content = {0: "", 1: ""}
    for ev in chunks:
        assert ev["object"] == "chat.completion.chunk"
        [c] = ev["choices"]
        first.setdefault(c["index"], c["delta"])
        content[c["index"]] += c["delta"].get("content", "")
    assert first == {0: {"role": "assistant", "content": ""}, 1: {"role": "assistant", "content": ""}}
    assert [content[0], content[1]] == [w.text for w in want]


def test_chat_logprobs_with_top_logprobs(url, hf):
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": PROMPTS[0]}]}], "seed": 5,
            "temperature": 1.0, "max_tokens": 8, "logprobs": True, "top_logprobs": 2}
    _, out = post(url, "/v1/chat/completions", body)
    [c] = out["choices"]
    content = c["logprobs"]["content"]
    [[ref]] = hf.generate([PROMPTS[0]], SamplingParams(temperature=1.0, max_new_tokens=8, logprobs=True), [[5]])
    assert "".join(e["token"] for e in content) == c["message"]["content"] == ref.text
    np.testing.assert_allclose([e["logprob"] for e in content], ref.logprobs, atol=1e-5)
    for e in content:
        assert e["bytes"] == list(e["token"].encode()) and len(e["top_logprobs"]) == 2
        values = [t["logprob"] for t in e["top_logprobs"]]
        assert values == sorted(values, reverse=True) and values[0] >= e["logprob"]
        assert all(t["bytes"] == list(t["token"].encode()) for t in e["top_logprobs"])
    events = stream(url, "/v1/chat/completions", body)
    streamed = [e for ev in events for e in (ev["choices"][0]["logprobs"] or {}).get("content", [])]
    assert streamed == content


# ---- errors and limits ----------------------------------------------------------------------

COMPLETION_ERRORS = [
    ({"prompt": "a", "n": 0}, "n"),
    ({"prompt": "a", "n": "2"}, "n"),
    ({"prompt": "a", "foo": 1}, "foo"),
    ({"prompt": "a", "frequency_penalty": 0.5}, "frequency_penalty"),
    ({"prompt": "a", "logit_bias": {"5": 10}}, "logit_bias"),
    ({"prompt": "a", "suffix": "b"}, "suffix"),
    ({"prompt": "a", "best_of": 3}, "best_of"),
    ({"prompt": "a", "top_k": 5}, "top_k"),
    ({"prompt": "a", "logprobs": 21}, "logprobs"),
    ({"prompt": "a", "logprobs": True}, "logprobs"),
    ({"prompt": "a", "max_tokens": 0}, "max_tokens"),
    ({"prompt": "a", "temperature": -1}, "temperature"),
    ({"prompt": "a", "top_p": 0}, "top_p"),
    ({"prompt": "a", "seed": 1.5}, "seed"),
    ({"prompt": "a", "stop": [""]}, "stop"),
    ({"prompt": "a", "stream_options": {"include_usage": True}}, "stream_options"),  # without stream
    ({"prompt": "a", "stream": True, "stream_options": {"continuous_usage_stats": True}}, "stream_options"),
    ({"prompt": "a", "stream": "yes"}, "stream"),
    ({"prompt": "a", "echo": 1}, "echo"),
    ({"prompt": 5}, "prompt"),
    ({"prompt": []}, "prompt"),
    ({"prompt": [[1, 2], "a"]}, "prompt"),
    ({"prompt": [99999]}, "prompt"),
    ({"prompt": [5] * 161, "echo": True, "max_tokens": 0}, "prompt"),  # past the 160-token context
    ({"prompt": [5] * 160}, "prompt"),  # no room left to generate
    ({"prompt": "a", "n": 300, "max_tokens": 100}, "n"),  # 30,000 tokens > the 4,096 cap
    ({"prompt": ["a"] * 30, "max_tokens": 150}, "max_tokens"),
]
CHAT_ERRORS = [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "messages"),
    ({"messages": [{"role": "user", "content": "a"}], "top_logprobs": 2}, "top_logprobs"),
    ({"messages": [{"role": "user", "content": "a"}], "logprobs": True, "top_logprobs": 50}, "top_logprobs"),
    ({"messages": [{"role": "user", "content": "a"}], "tools": [{"type": "function"}]}, "tools"),
    ({"messages": [{"role": "user", "content": "a"}], "response_format": {"type": "json_object"}}, "response_format"),
    ({"messages": [{"role": "user", "content": "a"}], "echo": True}, "echo"),
    ({"messages": [{"role": "user", "content": "a"}], "max_tokens": 0}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "a"}], "prompt": "a"}, "prompt"),
]


@pytest.mark.parametrize("body,param", COMPLETION_ERRORS)
def test_completion_errors_name_the_param(url, body, param):
    assert_error(post(url, "/v1/completions", body), 400, param)


@pytest.mark.parametrize("body,param", CHAT_ERRORS)
def test_chat_errors_name_the_param(url, body, param):
    assert_error(post(url, "/v1/chat/completions", body), 400, param)


def test_neutral_values_of_unsupported_params_are_accepted(url):
    body = {"prompt": "a", "max_tokens": 2, "frequency_penalty": 0, "presence_penalty": 0.0, "logit_bias": {},
            "user": "me", "best_of": 1, "top_k": -1, "suffix": None}
    assert post(url, "/v1/completions", body)[0] == 200
    chat = {"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 2, "tools": [],
            "response_format": {"type": "text"}, "store": False}
    assert post(url, "/v1/chat/completions", chat)[0] == 200


def test_bad_bodies_and_routes(url):
    assert_error(post(url, "/v1/completions", None, raw=b"{not json"), 400, None)
    assert_error(post(url, "/v1/completions", [1, 2]), 400, None)
    assert_error(post(url, "/v1/embeddings", {"input": "a"}), 404, None, "unknown_url")
    assert_error(call(url, "GET", "/v1/completions"), 405, None, "method_not_allowed")


def test_body_over_the_limit_is_413(url):
    msg = assert_error(post(url, "/v1/completions", {"prompt": "a" * (BODY_LIMIT + 10)}), 413, None,
                       "request_too_large")
    assert str(BODY_LIMIT) in msg
    # announced with Expect: 100-continue, the body is refused before it is sent
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: 100000000\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413"), head
    assert post(url, "/v1/completions", {"prompt": "a", "max_tokens": 1})[0] == 200  # still serving


def test_api_key(url):
    assert_error(call(url, "GET", "/v1/models", key=None), 401, None, "invalid_api_key")
    assert_error(call(url, "GET", "/v1/models", key="wrong"), 401, None, "invalid_api_key")
    assert_error(post(url, "/v1/completions", {"prompt": "a"}, key=None), 401, None, "invalid_api_key")
    assert call(url, "GET", "/health", key=None) == (200, {"status": "ok"})
    ob = OpenAIBackend("tiny", OpenAIOptions(base_url=url + "/v1", api_key=KEY))
    [[c]] = ob.generate([PROMPTS[0]], SamplingParams(max_new_tokens=4), [[1]])
    assert c.completion_tokens == 4
    with pytest.raises(InputError) as e:
        OpenAIBackend("tiny", OpenAIOptions(base_url=url + "/v1", api_key_env="RLBOUND_TEST_NO_SUCH_VAR",
                                            backoff_s=0.01))
    assert "401" in str(e.value)


def test_client_gone_mid_stream(url):
    u = urllib.parse.urlsplit(url)
    body = json.dumps({"prompt": PROMPTS[0], "n": 8, "max_tokens": 100, "stream": True}).encode()
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    assert post(url, "/v1/completions", {"prompt": "a", "max_tokens": 2})[0] == 200


def test_tokenizer_routes(url, hf):
    _, out = post(url, "/tokenize", {"prompt": PROMPTS[0], "add_special_tokens": False})
    assert out["tokens"] == hf.tokenizer(PROMPTS[0], add_special_tokens=False)["input_ids"]
    assert out["count"] == len(out["tokens"]) and out["max_model_len"] == 160
    assert post(url, "/detokenize", {"tokens": out["tokens"]}) == (200, {"prompt": PROMPTS[0]})
    status, info = call(url, "GET", "/tokenizer_info")
    assert status == 200 and info["eos_token"] == hf.tokenizer.eos_token


# ---- the command line -----------------------------------------------------------------------


def test_rlbound_serve_without_a_model_serves_the_sandbox_model(sandbox):
    cmd = [sys.executable, "-c", "import sys; from rlbound.cli import main; sys.exit(main(sys.argv[1:]))",
           "serve", "--port", "0", "--device", "cpu", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)/v1 \(model 'tiny'\)", line)
        assert m, f"server did not start: {line!r}"
        status, out = call(m.group(1), "GET", "/v1/models", key=None)
        assert status == 200 and out["data"][0]["id"] == "tiny" and Path(out["data"][0]["root"]) == sandbox
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_perplexity_over_the_openai_backend(url, hf, sandbox, tmp_path, monkeypatch, capsys):
    import pyarrow.parquet as pq

    from rlbound.cli import main
    from rlbound.sampling import run_sampling

    bench = helpers.write_problems(tmp_path / "bench.jsonl", PROMPTS)
    run = run_sampling(helpers.sample_config(sandbox, bench, tmp_path / "run", n=2, max_new_tokens=10),
                       progress=False).path
    assert main(["perplexity", str(run), "--model", str(sandbox), "--label", "hf"]) == 0
    ref = pq.read_table(run / "perplexity.parquet").to_pydict()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert main(["perplexity", str(run), "--backend", "openai", "--model", "tiny", "--base-url", url + "/v1",
                 "--label", "served"]) == 0
    got = pq.read_table(run / "perplexity.parquet").to_pydict()
    assert got["n_tokens"] == ref["n_tokens"] and set(got["scorer"]) == {"served"}
    np.testing.assert_allclose(got["sum_logprob"], ref["sum_logprob"], atol=1e-4)
    capsys.readouterr()
    assert main(["perplexity", str(run), "--model", "x", "--base-url", url + "/v1"]) == 2
    assert "--base-url is an option of --backend openai" in capsys.readouterr().err
