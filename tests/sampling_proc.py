"""Test helpers for the sampling engine, and a real sampling process for the kill/resume test.

``make_tiny_model(dir)`` writes a random-initialised tiny ``LlamaForCausalLM`` (vocab 40, hidden 64,
2 layers) and a character-level ``PreTrainedTokenizerFast`` with ``save_pretrained``, so the tests
need neither the sandbox package nor a hub download. The test files load this module by path.

As a script (``python tests/sampling_proc.py MODEL BENCH OUT --seed S --batch-size B``) it runs
``rlbound.sampling.loop.run_sampling`` on a JSONL benchmark; ``--delay`` sleeps before every batch so a
test can SIGKILL it mid-run; ``--logprobs`` stores token log-probabilities.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CHARS = "0123456789+-*/=()., ?\nabcdefghijklmn"  # 36 characters
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]


def make_tokenizer():
    """Character-level fast tokenizer: ids 0-3 special (<pad> <s> </s> <unk>), 4-39 characters; BOS added."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + list(CHARS))}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def make_tiny_model(path: str | Path, *, seed: int = 0, arch: str = "llama", hidden: int = 64,
                    layers: int = 2, heads: int = 4, kv_heads: int = 2, max_positions: int = 256) -> Path:
    """Save a random tiny causal LM + tokenizer under ``path``; returns the path."""
    import torch
    from transformers import GenerationConfig

    path = Path(path)
    tok = make_tokenizer()
    common = dict(vocab_size=len(SPECIALS) + len(CHARS), hidden_size=hidden, intermediate_size=2 * hidden,
                  num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                  max_position_embeddings=max_positions, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                  tie_word_embeddings=False)
    torch.manual_seed(seed)
    if arch == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM
        model = LlamaForCausalLM(LlamaConfig(**common))
    elif arch == "qwen2":
        from transformers import Qwen2Config, Qwen2ForCausalLM
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    elif arch == "qwen3":  # q_norm / k_norm over the head dimension
        from transformers import Qwen3Config, Qwen3ForCausalLM
        model = Qwen3ForCausalLM(Qwen3Config(**common, head_dim=hidden // heads))
        with torch.no_grad():  # non-trivial norm weights, so a wrong permutation would show
            for layer in model.model.layers:
                layer.self_attn.q_norm.weight.uniform_(0.5, 1.5)
                layer.self_attn.k_norm.weight.uniform_(0.5, 1.5)
    elif arch == "gpt2":  # not on the fast path: exercises the generic DynamicCache decoder
        from transformers import GPT2Config, GPT2LMHeadModel
        model = GPT2LMHeadModel(GPT2Config(vocab_size=common["vocab_size"], n_embd=hidden, n_layer=layers,
                                           n_head=heads, n_positions=256, bos_token_id=1, eos_token_id=2))
    else:
        raise ValueError(arch)
    with torch.no_grad():  # sharper logits than the default init, so texts are not uniform noise
        model.get_output_embeddings().weight.mul_(10.0)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def write_problems(path: str | Path, prompts: list[str]) -> Path:
    """A JSONL benchmark file with fields id, problem, answer."""
    path = Path(path)
    with path.open("w") as fh:
        for i, p in enumerate(prompts):
            fh.write(json.dumps({"id": f"p{i}", "problem": p, "answer": "0"}) + "\n")
    return path


FIELD_MAP = ("id=id", "prompt=problem", "reference=answer")


def sample_config(model_dir: str | Path, bench: str | Path, out: str | Path, **overrides):
    """A ``SampleConfig`` for the tiny model on a ``write_problems`` file: hf backend, n=4, T=1,
    top-p 0.95, one thread; ``overrides`` replace any field (``model`` included)."""
    from rlbound.sampling.config import SampleConfig

    base = dict(model=str(model_dir), benchmark=str(bench), out=str(out), backend="hf", n=4, temperature=1.0,
                top_p=0.95, max_new_tokens=16, seed=3, template="raw", field_map=FIELD_MAP, batch_size=5,
                device="cpu", threads=1)
    base.update(overrides)
    return SampleConfig(**base)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("bench")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--logprobs", action="store_true")
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from rlbound.backends import hf as hf_mod
    from rlbound.sampling import run_sampling
    from rlbound.sampling.config import SampleConfig

    if a.delay:  # slow each batch down so the parent can kill us mid-run
        orig = hf_mod.HFBackend.generate

        def slow(self, *args, **kw):
            time.sleep(a.delay)
            return orig(self, *args, **kw)

        hf_mod.HFBackend.generate = slow
    cfg = SampleConfig(model=a.model, benchmark=a.bench, out=a.out, backend="hf", n=a.n, temperature=1.0,
                       top_p=0.95, max_new_tokens=a.max_new_tokens, seed=a.seed, template="raw",
                       field_map=("id=id", "prompt=problem", "reference=answer"), batch_size=a.batch_size,
                       device="cpu", logprobs=a.logprobs)
    run_sampling(cfg, progress=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
