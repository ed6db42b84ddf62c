"""The official ``openai`` client against ``rlbound serve``: streaming, logprobs and the models calls
(the calls a user's script makes), on the shipped sandbox model."""

from __future__ import annotations

import threading

import pytest

openai = pytest.importorskip("openai")

KEY = "client-key"
PROMPT = "a=2-3=?,b=5-1=?;?b"


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("torch")
    from rlbound.backends import get_backend
    from rlbound.backends.serve import make_server
    from rlbound.study.run import shipped_checkpoint

    hf = get_backend("hf", str(shipped_checkpoint("tiny")), device="cpu", threads=1)
    srv = make_server(hf, port=0, model_name="tiny", api_key=KEY)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield openai.OpenAI(base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", api_key=KEY, max_retries=0)
    srv.shutdown()
    srv.server_close()
    hf.close()


def test_models_list_and_retrieve(client) -> None:
    assert [m.id for m in client.models.list()] == ["tiny"]
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_streamed_completion_equals_the_unstreamed_one_with_logprobs(client) -> None:
    kw = {"model": "tiny", "prompt": PROMPT, "max_tokens": 12, "temperature": 1.0, "seed": 7, "logprobs": 2}
    full = client.completions.create(**kw)
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == full.choices[0].text and text
    lp = full.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset)
    assert all(len(alt) >= 2 for alt in lp.top_logprobs) and all(x <= 0 for x in lp.token_logprobs)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_chat_logprobs_and_streaming(client) -> None:
    msgs = [{"role": "user", "content": PROMPT}]
    r = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=8, seed=3, logprobs=True,
                                       top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert content and all(t.logprob <= 0 and len(t.top_logprobs) == 2 and t.bytes for t in content)
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="tiny", messages=msgs, max_tokens=8, seed=3, stream=True) if c.choices)
    assert streamed == r.choices[0].message.content


def test_wrong_key_and_bad_parameter_raise_the_clients_errors(client) -> None:
    bad = client.with_options(api_key="wrong")
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt=PROMPT, max_tokens=4, n=0)
    assert e.value.body["param"] == "n"
