"""Tiny decoder-only models for the sandbox: a standard ``transformers`` Llama with small dimensions.

Being a stock ``LlamaForCausalLM`` saved with ``save_pretrained``, the models load in HF
``transformers``, vLLM and TRL without custom code. FLOP counting follows Kaplan et al. 2020
("Scaling Laws for Neural Language Models", 6 N per token for a training step) plus the attention
term of Chowdhery et al. 2022 (PaLM, App. B: 12 * n_layers * d_model * T per token).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

ARCHES = ("llama", "gpt2")


@dataclass(frozen=True)
class ModelSpec:
    """Dimensions of a sandbox model.

    ``arch="llama"``: RMSNorm, rotary positions, SwiGLU MLP (``intermediate_size`` wide).
    ``arch="gpt2"``: LayerNorm, learned absolute positions, GELU MLP (``intermediate_size`` wide).
    Both tie input and output embeddings and have no dropout.

    Attributes:
        hidden_size: d_model.
        num_layers: transformer blocks.
        num_heads: attention heads (no grouped-query attention; head dim = hidden_size / num_heads).
        intermediate_size: SwiGLU inner width.
        max_positions: longest sequence (prompt + completion) the model is configured for.
    """

    hidden_size: int = 128
    num_layers: int = 3
    num_heads: int = 4
    intermediate_size: int = 384
    max_positions: int = 256
    arch: str = "llama"

    def __post_init__(self) -> None:
        if self.arch not in ARCHES:
            raise ValueError(f"arch must be one of {ARCHES}, got {self.arch!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} not divisible by num_heads {self.num_heads}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(spec: ModelSpec, tokenizer: Any, seed: int = 0) -> Any:
    """A freshly initialised ``LlamaForCausalLM`` (float32) for ``spec`` and the sandbox tokenizer.

    The initialisation is seeded by ``seed`` (``torch.manual_seed``), so a recipe rebuilds the same
    weights.
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    if spec.arch == "gpt2":
        gcfg = GPT2Config(
            vocab_size=len(tokenizer), n_positions=spec.max_positions, n_embd=spec.hidden_size,
            n_layer=spec.num_layers, n_head=spec.num_heads, n_inner=spec.intermediate_size,
            activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, attn_implementation="sdpa",
        )
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(gcfg)
        for k in ("pad_token_id", "eos_token_id", "bos_token_id"):
            setattr(model.generation_config, k, getattr(tokenizer, k))
        return model
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_positions,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="sdpa",
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def count_parameters(model: Any) -> dict[str, int]:
    """``total`` (unique tensors; tied embeddings once), ``embedding`` (token, plus position
    embeddings for GPT-2) and ``non_embedding`` parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    wpe = getattr(getattr(model, "transformer", None), "wpe", None)  # GPT-2 learned positions
    if wpe is not None:
        emb += wpe.weight.numel()
    return {"total": int(total), "non_embedding": int(total - emb), "embedding": int(emb)}


def train_flops_per_token(spec: ModelSpec, vocab_size: int, seq_len: float) -> float:
    """Training FLOPs per token (forward + backward): ``6 * N + 12 * n_layers * d_model * T``.

    N counts the matmul parameters: attention and MLP weights plus the (tied) output projection
    ``vocab_size * d_model``; the input embedding lookup is free. The attention term is PaLM's
    (Chowdhery et al. 2022, App. B) with ``T`` the sequence length, which counts the full (not
    causal-halved) score and value products.
    """
    d, L, f = spec.hidden_size, spec.num_layers, spec.intermediate_size
    mlp = 2 * d * f if spec.arch == "gpt2" else 3 * d * f
    n_matmul = L * (4 * d * d + mlp) + vocab_size * d
    return 6.0 * n_matmul + 12.0 * L * d * seq_len


def sample_completions(model: Any, tokenizer: Any, prompts: Sequence[str], n: int, *, temperature: float = 1.0,
                       max_new_tokens: int = 128, seed: int = 0, batch_size: int = 512,
                       progress: bool = False) -> list[list[str]]:
    """``n`` sampled completions per prompt (ancestral sampling at ``temperature``, top-p 1).

    Prompts are grouped by token length and each batch holds prompts of one length, so no
    attention mask or padding is needed. Returns ``out[i][j]``: completion ``j`` of prompt ``i``,
    decoded without special tokens. Shapes: input ids ``[B, prompt length]``, B <= batch_size.
    Deterministic in ``seed`` for a given batch composition.
    """
    import torch
    from tqdm import tqdm

    enc = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    flat = sorted((len(enc[i]), i) for i in range(len(prompts)) for _ in range(n))
    out: list[list[str]] = [[] for _ in prompts]
    model.eval()
    g = torch.Generator().manual_seed(seed)
    bar = tqdm(total=len(flat), desc="sampling", unit="seq", disable=not progress)
    with torch.inference_mode():
        start = 0
        while start < len(flat):
            width = flat[start][0]
            stop = start
            while stop < len(flat) and stop - start < batch_size and flat[stop][0] == width:
                stop += 1
            chunk = [i for _, i in flat[start:stop]]
            ids = torch.tensor([enc[i] for i in chunk])
            gen = _sample_loop(model, ids, temperature, max_new_tokens, tokenizer.eos_token_id, g)
            for i, row in zip(chunk, gen):
                out[i].append(tokenizer.decode(row, skip_special_tokens=True))
            bar.update(len(chunk))
            start = stop
    bar.close()
    return out


def _sample_loop(model: Any, ids: Any, temperature: float, max_new_tokens: int, eos: int, g: Any) -> list[list[int]]:
    """Batched ancestral sampling with a KV cache; rows stop at ``eos`` (not included)."""
    import torch

    B = ids.shape[0]
    out = model(input_ids=ids, use_cache=True)
    past = out.past_key_values
    logits = out.logits[:, -1, :]
    done = torch.zeros(B, dtype=torch.bool)
    rows: list[list[int]] = [[] for _ in range(B)]
    for _ in range(max_new_tokens):
        if temperature <= 0:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits.float() / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=g).squeeze(1)
        for b in torch.nonzero(~done).flatten().tolist():
            t = int(nxt[b])
            if t == eos:
                done[b] = True
            else:
                rows[b].append(t)
        if bool(done.all()):
            break
        out = model(input_ids=nxt[:, None], past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1, :]
    return rows
