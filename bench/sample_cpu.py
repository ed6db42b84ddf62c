"""Tokens/s of the ``hf`` backend against ``model.generate(do_sample=True)`` on the same tiny model.

The model is a random-initialised Llama shaped like the sandbox's ``tiny`` preset (vocab 40,
hidden 128, 3 layers, 4 heads, MLP 384: 0.65M parameters). Both samplers decode the same batch
(default 256 rows = 16 prompts x 16 samples, as a run samples n per problem;
``--samples-per-prompt 1`` makes all rows distinct) of 16-token prompts for exactly
``--new-tokens`` tokens: ``generate`` gets ``min_new_tokens == max_new_tokens`` and the backend's
EOS set is emptied, so neither stops early. Both use temperature 1.0 and top-p 0.95. Runs
alternate between the two samplers; the best of ``--repeats`` is reported for each, by wall clock
and by process CPU time (the latter is steadier on a machine shared with other jobs). Goal: >= 2x.
When the batch takes the shared-prefix decoder (enough samples per prompt x prompt tokens; the demo's
shape is ``--batch 1024 --samples-per-prompt 256 --prompt-len 69 --new-tokens 32``), the same
backend is also timed with per-row prompt caches, and the gain is printed.

    .venv/bin/python bench/sample_cpu.py [--threads 1] [--batch 256] [--new-tokens 64]

One thread is the default: on a loaded 2-core machine two OpenMP threads wait on each other and
both samplers slow down several-fold; pass ``--threads 2`` on an idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def build_model(path: Path, hidden: int, layers: int, intermediate: int) -> int:
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = "0123456789+-*/=()., ?\nabcdefghijklmn"
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>"] + list(chars))}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                  unk_token="<unk>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=intermediate,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = LlamaForCausalLM(cfg)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--intermediate", type=int, default=384)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples-per-prompt", type=int, default=16,
                    help="rows sharing one prompt (a run samples n per problem); 1 = all prompts distinct")
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    from rlbound.backends.hf import HFBackend, HFOptions
    from rlbound.backends.hf import decoders as hf
    from rlbound.backends.protocol import SamplingParams

    with tempfile.TemporaryDirectory() as tmp:
        n_params = build_model(Path(tmp), a.hidden, a.layers, a.intermediate)
        backend = HFBackend(tmp, HFOptions(device="cpu", batch_size=a.batch, threads=a.threads))
    backend.eos_ids = []  # fixed length: never stop early
    tok, lm = backend.tokenizer, backend.lm
    # Fixed-width prompts (the sandbox's shape): prompt_len - 1 characters after BOS.
    chars = "0123456789+-*="
    k = a.samples_per_prompt
    assert a.batch % k == 0, "batch must be a multiple of --samples-per-prompt"
    prompts = ["".join(chars[(i * 7 + j * 3) % len(chars)] for j in range(a.prompt_len - 1))
               for i in range(a.batch // k)]
    params = SamplingParams(n=k, temperature=1.0, top_p=0.95, max_new_tokens=a.new_tokens)
    seeds = [[i * k + j for j in range(k)] for i in range(len(prompts))]
    enc = tok([p for p in prompts for _ in range(k)], return_tensors="pt")  # generate: one row per sample
    assert enc["input_ids"].shape == (a.batch, a.prompt_len)

    def run_ours() -> int:
        out = backend.generate(prompts, params, seeds)
        return sum(c.completion_tokens for cs in out for c in cs)

    def run_per_row() -> int:  # the same backend with the prompt cache copied to every row
        saved = hf.SHARED_PREFIX_MIN_KEYS
        hf.SHARED_PREFIX_MIN_KEYS = float("inf")
        try:
            return run_ours()
        finally:
            hf.SHARED_PREFIX_MIN_KEYS = saved

    def run_generate() -> int:
        with torch.inference_mode():
            out = lm.generate(**enc, do_sample=True, temperature=1.0, top_p=0.95, top_k=0,
                              max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens)
        return int((out.shape[1] - a.prompt_len) * out.shape[0])

    def timed(fn) -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        n = fn()
        assert n == a.batch * a.new_tokens, n  # both generated exactly batch x new_tokens tokens
        return n / (time.perf_counter() - w), n / (time.process_time() - c)

    shared = k >= hf.SHARED_PREFIX_MIN_ROWS and k * a.prompt_len >= hf.SHARED_PREFIX_MIN_KEYS
    run_ours(), run_generate()  # warm-up
    ours, gen, per_row = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    for _ in range(a.repeats):
        ours = [max(x, y) for x, y in zip(ours, timed(run_ours))]
        gen = [max(x, y) for x, y in zip(gen, timed(run_generate))]
        if shared:
            per_row = [max(x, y) for x, y in zip(per_row, timed(run_per_row))]
    decoder = "shared-prefix decoder" if shared else "per-row cache"
    print(f"sample_cpu: {n_params / 1e6:.2f}M-param Llama, batch {a.batch} ({len(prompts)} prompts x {k} samples), "
          f"{a.prompt_len}+{a.new_tokens} tokens, "
          f"{a.threads} thread(s): hf backend ({decoder}) {ours[0]:,.0f} tok/s, model.generate {gen[0]:,.0f} tok/s, "
          f"ratio {ours[0] / gen[0]:.2f}x (per CPU-second: {ours[1]:,.0f} vs {gen[1]:,.0f}, "
          f"{ours[1] / gen[1]:.2f}x; goal >= 2x)")
    if shared:
        print(f"  same backend with a per-row prompt cache: {per_row[0]:,.0f} tok/s -> shared prefix "
              f"{ours[0] / per_row[0]:.2f}x (per CPU-second {ours[1] / per_row[1]:.2f}x)")


if __name__ == "__main__":
    main()
