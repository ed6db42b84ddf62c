"""The hf backend: counter-based Gumbel-max sampling, KV-cache decoders, batching invariance.

Runs on CPU with a random tiny Llama (vocab 40, hidden 64, 2 layers) built by tests/sampling_proc.py.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlbound.backends import SamplingParams, get_backend  # noqa: E402
from rlbound.backends.hf import (  # noqa: E402
    HFBackend,
    HFOptions,
    choose_tokens,
    cut_at_stop,
    fast_path_supported,
    row_keys,
    splitmix64,
    uniform_noise,
)
from rlbound.errors import InputError  # noqa: E402

_spec = importlib.util.spec_from_file_location("rlbound_test_sampling_proc",
                                               Path(__file__).resolve().parents[1] / "sampling_proc.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PROMPTS = ["12+3=", "7*8=", "100-1=", "9/3=", "(2+2)*2="]  # token lengths 6, 5, 7, 5, 9 (with BOS)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return helpers.make_tiny_model(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def backend(tiny) -> HFBackend:
    torch.set_num_threads(1)
    return HFBackend(str(tiny), HFOptions(device="cpu"))


def _texts(out):
    return [[c.text for c in cs] for cs in out]


# ---- counter-based noise ---------------------------------------------------------------------


def _splitmix_ref(z: int) -> int:
    m = (1 << 64) - 1
    z &= m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def test_splitmix64_matches_unsigned_reference():
    vals = [0, 1, 2, 12345, (1 << 63) - 1, -1, -(1 << 63), 0x9E3779B97F4A7C15 - (1 << 64), 987654321987654321]
    got = splitmix64(torch.tensor(vals, dtype=torch.int64)).tolist()
    for v, g in zip(vals, got):
        assert g & ((1 << 64) - 1) == _splitmix_ref(v), v


def test_uniform_noise_is_a_pure_function_of_seed_step_token():
    keys = row_keys([5, 6, 7])
    u = uniform_noise(keys, step=3, vocab=40)
    assert u.shape == (3, 40) and u.dtype == torch.float32
    assert float(u.min()) > 0 and float(u.max()) < 1
    # the row of seed 6 does not depend on its neighbours or its position in the batch
    alone = uniform_noise(row_keys([6]), step=3, vocab=40)
    assert torch.equal(alone[0], u[1])
    assert not torch.equal(uniform_noise(keys, step=4, vocab=40), u)  # other step, other noise
    assert len({tuple(r) for r in u.tolist()}) == 3


def test_gumbel_max_draws_from_the_tempered_softmax():
    torch.manual_seed(0)
    logits = torch.randn(8) * 2
    rows = 20000
    keys = row_keys(range(rows))
    tok = choose_tokens(logits.expand(rows, 8).clone(), 0.7, 1.0, keys, step=0)
    freq = torch.bincount(tok, minlength=8).double() / rows
    p = torch.softmax(logits.double() / 0.7, -1)
    z = (freq - p).abs() / torch.sqrt(p * (1 - p) / rows)
    assert float(z.max()) < 5.0, (freq, p)


def test_top_p_keeps_exactly_the_nucleus():
    logits = torch.log(torch.tensor([0.5, 0.25, 0.15, 0.06, 0.04]))
    rows = 20000
    tok = choose_tokens(logits.expand(rows, 5).clone(), 1.0, 0.8, row_keys(range(rows)), step=2)
    freq = torch.bincount(tok, minlength=5).double() / rows
    assert freq[3] == 0 and freq[4] == 0  # outside the smallest set with mass >= 0.8
    p = torch.tensor([0.5, 0.25, 0.15]).double() / 0.9
    assert torch.allclose(freq[:3], p, atol=5 * math.sqrt(0.25 / rows))


def test_temperature_zero_is_argmax():
    logits = torch.randn(4, 40)
    assert torch.equal(choose_tokens(logits, 0.0, 0.5, row_keys([1, 2, 3, 4]), 0), logits.argmax(-1))


# ---- the backend -----------------------------------------------------------------------------


def test_fast_path_is_used_for_llama(backend):
    assert backend.fast and fast_path_supported(backend.lm)


def test_greedy_equals_model_generate(backend):
    params = SamplingParams(temperature=0.0, max_new_tokens=24)
    ours = backend.generate(PROMPTS, params, [[0]] * len(PROMPTS))
    tok = backend.tokenizer
    for prompt, cs in zip(PROMPTS, ours):
        ids = tok(prompt, return_tensors="pt")
        with torch.inference_mode():
            ref = backend.lm.generate(**ids, do_sample=False, max_new_tokens=24)
        new = ref[0, ids["input_ids"].shape[1]:].tolist()
        if backend.eos_ids[0] in new:
            new = new[: new.index(backend.eos_ids[0]) + 1]
        assert cs[0].text == tok.decode(new, skip_special_tokens=True)
        assert cs[0].completion_tokens == len(new)
        assert cs[0].prompt_tokens == ids["input_ids"].shape[1]


def test_same_seed_same_text_however_batched(tiny, backend):
    params = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=30)
    seeds = [[11, 12, 13], [21, 22], [31], [41, 42, 43, 44], [51]]
    full = _texts(backend.generate(PROMPTS, params, seeds))
    # every sample alone
    for i, p in enumerate(PROMPTS):
        for j, s in enumerate(seeds[i]):
            assert backend.generate([p], params, [[s]])[0][0].text == full[i][j]
    # other order, other partners, tiny batches (forces splits and row compaction)
    small = HFBackend(str(tiny), HFOptions(device="cpu", batch_size=3))
    order = [4, 2, 0, 3, 1]
    again = _texts(small.generate([PROMPTS[i] for i in order], params, [seeds[i][::-1] for i in order]))
    for k, i in enumerate(order):
        assert again[k][::-1] == full[i]
    # different seeds give different samples
    assert len({t for row in full for t in row}) > len(PROMPTS)


def test_fast_path_matches_the_models_own_forward(tiny, backend):
    slow = HFBackend(str(tiny), HFOptions(device="cpu", fast_path=False))
    assert not slow.fast
    params = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=30)
    seeds = [[1, 2], [3], [4, 5, 6], [7], [8]]
    assert _texts(slow.generate(PROMPTS, params, seeds)) == _texts(backend.generate(PROMPTS, params, seeds))


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_shared_prefix_decoder_gives_the_same_samples(tmp_path, monkeypatch, arch):
    """Many samples per prompt (here forced for short prompts) decode with the prompt's cache shared:
    same texts and log-probabilities as the per-row cache and as the model's own forward, with
    prompts of several lengths (left padding), grouped-query heads (4 heads, 2 kv heads), rows
    finishing early (compaction) and batches that split a prompt's rows."""
    from rlbound.backends.hf import decoders

    path = helpers.make_tiny_model(tmp_path / arch, arch=arch, seed=2)
    params = SamplingParams(temperature=1.0, max_new_tokens=25, logprobs=True)
    seeds = [list(range(100 * i, 100 * i + 40)) for i in range(3)]
    prompts = PROMPTS[:3]
    shared = HFBackend(str(path), HFOptions(device="cpu", batch_size=100))
    monkeypatch.setattr(decoders, "SHARED_PREFIX_MIN_KEYS", 1)
    used = []
    real = decoders.SharedPrefixDecoder.prefill
    monkeypatch.setattr(decoders.SharedPrefixDecoder, "prefill", lambda self, *a: used.append(1) or real(self, *a))
    got = shared.generate(prompts, params, seeds)
    assert len(used) == 2, "both batches (33 and 20 rows per prompt) must take the shared-prefix decoder"
    assert any(c.finish_reason == "stop" for cs in got for c in cs), "some rows must finish early"
    monkeypatch.setattr(decoders, "SHARED_PREFIX_MIN_KEYS", 10 ** 9)
    per_row = shared.generate(prompts, params, seeds)
    own = HFBackend(str(path), HFOptions(device="cpu", fast_path=False)).generate(prompts, params, seeds)
    assert _texts(got) == _texts(per_row) == _texts(own)
    for a, b in zip((c for cs in got for c in cs), (c for cs in per_row for c in cs)):
        np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)


@pytest.mark.parametrize("arch", ["qwen2", "qwen3", "gpt2"])
def test_other_architectures(tmp_path, backend, arch):
    path = helpers.make_tiny_model(tmp_path / arch, arch=arch, seed=1)
    fast = HFBackend(str(path), HFOptions(device="cpu"))
    assert fast.fast == (arch != "gpt2")
    params = SamplingParams(temperature=1.0, max_new_tokens=20)
    seeds = [[1, 2], [3], [4]]
    out = fast.generate(PROMPTS[:3], params, seeds)
    assert [len(cs) for cs in out] == [2, 1, 1]
    if arch != "gpt2":  # static-KV decoder (q/k/v biases, q/k norms) == the model's own forward
        slow = HFBackend(str(path), HFOptions(device="cpu", fast_path=False))
        assert _texts(slow.generate(PROMPTS[:3], params, seeds)) == _texts(out)


def test_stop_strings_cut_the_same_sample(backend):
    base = SamplingParams(temperature=1.0, max_new_tokens=40)
    stop = SamplingParams(temperature=1.0, max_new_tokens=40, stop=("*", "(g"))
    seeds = [[s] for s in range(40)]
    prompts = [PROMPTS[s % len(PROMPTS)] for s in range(40)]
    free = backend.generate(prompts, base, seeds)
    cut = backend.generate(prompts, stop, seeds)
    hits = 0
    for f, c in zip(free, cut):
        f, c = f[0], c[0]
        assert c.text == cut_at_stop(f.text, stop.stop)  # same tokens, stopped early
        assert "*" not in c.text and "(g" not in c.text
        if c.text != f.text:
            hits += 1
            assert c.finish_reason == "stop" and c.completion_tokens < f.completion_tokens
    assert hits > 10


def test_finish_reasons_and_token_counts(backend):
    params = SamplingParams(temperature=1.0, max_new_tokens=12)
    out = [c for cs in backend.generate(PROMPTS, params, [list(range(20))] * len(PROMPTS)) for c in cs]
    reasons = {c.finish_reason for c in out}
    assert reasons == {"stop", "length"}
    for c in out:
        assert 1 <= c.completion_tokens <= 12
        if c.finish_reason == "length":
            assert c.completion_tokens == 12
        if c.completion_tokens < 12:  # ended at EOS
            assert c.finish_reason == "stop" and len(c.text) < c.completion_tokens


def test_logprobs_match_score(backend):
    params = SamplingParams(temperature=1.0, max_new_tokens=15, logprobs=True)
    out = backend.generate(PROMPTS, params, [list(range(6))] * len(PROMPTS))
    checked = 0
    for prompt, cs in zip(PROMPTS, out):
        for c in cs:
            assert len(c.logprobs) == c.completion_tokens
            # one character per token unless a special token (skipped in the text) was drawn;
            # a sample ended by EOS has one more token (the EOS) than characters
            visible = c.completion_tokens - (1 if c.finish_reason == "stop" else 0)
            if len(c.text) == visible and c.text:
                [scored] = backend.score([prompt], [c.text])
                np.testing.assert_allclose(scored, c.logprobs[:visible], atol=1e-4)
                checked += 1
    assert checked >= 5


def test_score_against_a_plain_forward(backend):
    prompts, conts = ["12+3=", "7*8="], ["15", "56\n"]
    got = backend.score(prompts, conts)
    tok = backend.tokenizer
    for p, c, g in zip(prompts, conts, got):
        ids = tok(p + c)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(backend.lm(input_ids=torch.tensor([ids])).logits[0].double(), -1)
        n_p = len(tok(p)["input_ids"])
        want = [float(logp[i - 1, ids[i]]) for i in range(n_p, len(ids))]
        assert g.shape == (len(c),)
        np.testing.assert_allclose(g, want, atol=1e-5)


@pytest.mark.parametrize("batch_size", [256, 3])
def test_shared_prefix_score_equals_one_forward_per_sequence(tiny, batch_size):
    """Prompts of several lengths (left padding in the shared prefix), each with continuations of
    lengths 0, 1 and more, in batches that split one prompt's rows: same numbers as ``score_full``."""
    b = HFBackend(str(tiny), HFOptions(device="cpu", batch_size=batch_size))
    prompts, conts = [], []
    for p in PROMPTS:
        for c in ["", "7", "15", "56\n", "15", "1+1=2 and more"]:
            prompts.append(p)
            conts.append(c)
    shared, full = b.score(prompts, conts), b.score_full(prompts, conts)
    for c, s, f in zip(conts, shared, full):
        assert s.shape == f.shape == (len(b.tokenizer(c, add_special_tokens=False)["input_ids"]),)
        np.testing.assert_allclose(s, f, atol=1e-5)


def test_errors_are_one_line_input_errors(tmp_path, tiny, backend):
    with pytest.raises(InputError) as e:
        HFBackend(str(tmp_path / "no-such-model"), HFOptions(device="cpu"))
    assert e.value.field == "model" and "\n" not in str(e.value)
    with pytest.raises(InputError) as e:
        get_backend("hf", str(tiny), device="cpu", batchsize=4)
    assert e.value.field == "batchsize"
    with pytest.raises(InputError):
        get_backend("nope", str(tiny))
    long_prompt = "1" * 300  # beyond the model's 256 positions
    with pytest.raises(InputError) as e:
        backend.generate([long_prompt], SamplingParams(max_new_tokens=4), [[0]])
    assert e.value.field == "max_new_tokens"


@pytest.mark.parametrize("kw,field", [({"n": 0}, "n"), ({"temperature": -0.1}, "temperature"),
                                      ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"),
                                      ({"max_new_tokens": 0}, "max_new_tokens"), ({"stop": [""]}, "stop")])
def test_sampling_params_validation(kw, field):
    with pytest.raises(InputError) as e:
        SamplingParams(**kw)
    assert e.value.field == field


def test_importing_backends_does_not_import_torch():
    code = ("import sys, rlbound.backends, rlbound.backends.templates, rlbound.sampling.loop;"
            "bad = [m for m in ('torch', 'transformers', 'vllm', 'ray') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
