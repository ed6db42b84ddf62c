"""The vllm backend (offline ``vllm.LLM``) on a tiny random Llama: runs only where vLLM imports and a
CUDA device exists; skipped everywhere else (the CPU development machines and CI).

What it checks when it runs:

* ``generate`` returns one Completion per seed with text, token counts and finish reasons, and
  ``max_new_tokens`` truncation is reported as "length";
* per-request seeds: the same (prompt, seed) gives the same text alone and inside a larger batch
  with other prompts (pain point 5), and different seeds give different samples;
* stop strings never appear in the text;
* greedy decoding (temperature 0) equals transformers' greedy ``generate`` on the same weights
  (float32, so the two engines agree token for token on this tiny model);
* ``score`` (prompt_logprobs) equals the log-probabilities of a transformers forward pass;
* a missing model directory is a one-line InputError.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

vllm = pytest.importorskip("vllm")
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("the vllm backend needs a CUDA device", allow_module_level=True)

from rlbound.backends import SamplingParams, get_backend  # noqa: E402
from rlbound.errors import InputError  # noqa: E402

pytestmark = pytest.mark.gpu

_spec = importlib.util.spec_from_file_location("rlbound_test_sampling_proc",
                                               Path(__file__).resolve().parents[1] / "sampling_proc.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PROMPTS = ["12+3=", "7*8=", "100-1="]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    # head_dim 64 (hidden 256 / 4 heads): a size every vLLM attention backend supports
    return helpers.make_tiny_model(tmp_path_factory.mktemp("tiny") / "llama", hidden=256, heads=4, kv_heads=2)


@pytest.fixture(scope="module")
def vb(tiny):
    b = get_backend("vllm", str(tiny), dtype="float32", gpu_memory_utilization=0.3, max_model_len=256,
                    enforce_eager=True)
    yield b
    b.close()


def test_generate_shapes_and_truncation(vb):
    out = vb.generate(PROMPTS, SamplingParams(temperature=1.0, max_new_tokens=10), [[1, 2, 3], [4], [5, 6]])
    assert [len(cs) for cs in out] == [3, 1, 2]
    for cs in out:
        for c in cs:
            assert 1 <= c.completion_tokens <= 10 and c.prompt_tokens >= 4
            assert c.finish_reason in ("stop", "length")
            if c.finish_reason == "length":
                assert c.completion_tokens == 10


def test_seeds_make_samples_independent_of_batching(vb):
    params = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=24)
    big = vb.generate(PROMPTS * 4, params, [[s, s + 1] for s in range(12)])
    alone = vb.generate([PROMPTS[1]], params, [[1]])
    assert alone[0][0].text == big[1][0].text
    assert big[0][0].text == vb.generate([PROMPTS[0]], params, [[0]])[0][0].text
    assert len({c.text for cs in big for c in cs}) > 6


def test_stop_strings(vb):
    out = vb.generate(PROMPTS, SamplingParams(temperature=1.0, max_new_tokens=30, stop=("*",)),
                      [list(range(8))] * 3)
    assert all("*" not in c.text for cs in out for c in cs)


def test_greedy_matches_transformers(vb, tiny):
    hf = get_backend("hf", str(tiny), device="cuda", dtype="float32")
    params = SamplingParams(temperature=0.0, max_new_tokens=20)
    assert [c.text for cs in vb.generate(PROMPTS, params, [[0]] * 3) for c in cs] == \
           [c.text for cs in hf.generate(PROMPTS, params, [[0]] * 3) for c in cs]


def test_score_matches_transformers(vb, tiny):
    hf = get_backend("hf", str(tiny), device="cuda", dtype="float32")
    p, c = ["12+3=", "7*8="], ["15", "56\nab"]
    for a, b in zip(vb.score(p, c), hf.score(p, c)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=2e-3)


def test_missing_model_dir(tmp_path):
    with pytest.raises(InputError) as e:
        get_backend("vllm", str(tmp_path / "nope"))
    assert e.value.field == "model" and "\n" not in str(e.value)
