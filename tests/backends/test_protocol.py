"""The backend protocol: required methods are abstract, optional capabilities have defaults that
every registered backend inherits (nothing probes a backend for a method)."""

from __future__ import annotations

import pytest

from rlbound.backends import Backend, Batch, Completion, SamplingParams, stream
from rlbound.backends.protocol import _REGISTRY, _load, available


class _Echo(Backend):
    """A backend whose completion text names its prompt and seed."""

    name, model, tokenizer = "echo", "none", None

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts, params, seeds):
        self.calls.append(sum(len(s) for s in seeds))
        return [[Completion(text=f"{p}|{s}", completion_tokens=1, prompt_tokens=1, finish_reason="stop")
                 for s in ss] for p, ss in zip(prompts, seeds)]

    def score(self, prompts, continuations):
        return []

    def close(self) -> None:
        pass


def test_default_stream_runs_batches_in_order_through_generate():
    batches = [Batch(key=i, prompts=(f"p{i}", "q"), seeds=((i,), (10 + i, 20 + i))) for i in range(3)]
    backend = _Echo()
    got = list(stream(backend, iter(batches), SamplingParams()))
    assert [b.key for b, _ in got] == [0, 1, 2]
    assert backend.calls == [3, 3, 3]
    assert [[c.text for c in cs] for cs in got[2][1]] == [["p2|2"], ["q|12", "q|22"]]
    assert backend.describe() == {}


def test_a_backend_without_the_required_methods_cannot_be_built():
    class NoScore(Backend):
        name, model, tokenizer = "x", "x", None

        def generate(self, prompts, params, seeds):
            return []

        def close(self) -> None:
            pass

    with pytest.raises(TypeError, match="score"):
        NoScore()


@pytest.mark.parametrize("name", available())
def test_every_registered_backend_is_a_backend(name):
    cls = _load(_REGISTRY[name][0])
    assert Backend in cls.__mro__
    assert callable(cls.generate_stream) and callable(cls.describe)
    own_stream = cls.generate_stream is not Backend.generate_stream
    assert own_stream == (name == "ray"), "only ray keeps several batches in flight"
