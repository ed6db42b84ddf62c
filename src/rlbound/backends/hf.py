"""Sampling with transformers models on CPU or GPU: a batched KV-cache decode loop.

Why not ``model.generate``: for the small models of a boundary study (and the sandbox's tiny
Llama/Qwen2 models), ``generate`` spends most of its time outside the model (logits processors,
a key/value cache grown by concatenation every step, mask rebuilding). This backend runs its own
loop:

* **Static KV cache, own attention** (``fast_path``, Llama / Qwen2 / Qwen3 / Mistral without a
  sliding window): key/value buffers of shape ``[rows, kv_heads, prompt_len + max_new_tokens,
  head_dim]`` are allocated once; each step writes one position and attends over a view. The
  model's weights and modules are used as they are, except that for models under 1B parameters
  q/k/v and gate/up are fused into one matmul each, the attention scale is folded into W_q, the
  o/down projections are added to the residual inside the GEMM and rotary embedding is one complex
  product: the same function as the model's ``forward`` up to float rounding (tests: same sampled
  texts as the model's own forward, greedy text equal to ``model.generate``). Other architectures
  go through the model's ``forward`` with a ``DynamicCache`` (same sampling rule, slower).
* **Shared prefill**: the ``n`` samples of a problem share one prompt; the prompt is encoded once
  and its keys/values copied to the sample rows.
* **Finished rows leave the batch** once a quarter of the rows are done (the caches are compacted).
* **Left padding** with a key mask and per-row position ids when prompts differ in length; the
  equal-length case (the sandbox's fixed-width prompts) needs neither.

Sampling rule and reproducibility (user pain point 5: independent samples). Each sample row has its
own 64-bit seed. Tokens are drawn by the Gumbel-max trick (Gumbel 1954; Maddison et al. 2014):
``token = argmax_v (logits_v / T + G_v)`` over the top-p nucleus (Holtzman et al. 2020), which is
an exact draw from ``softmax(logits / T)`` restricted to the nucleus. The uniform noise behind
``G_v = -log(-log(U_v))`` is counter-based: ``U_v`` is a splitmix64 hash (Steele et al. 2014) of
(row seed, step, token id) computed with vectorised int64 tensor ops, so it is a pure function of
those three numbers. A sample's tokens therefore depend only on its seed and its prompt, never on
which other samples share its batch or how the batch was split: a resumed run redraws a missing
sample exactly. (Bitwise identity also needs the model's logits to be bitwise identical, which
holds for the same hardware, dtype and prompt length; mixing prompt lengths in one batch (padding)
or very different batch sizes can change logits in the last bits, which changes a token only when
two perturbed scores tie to ~1e-7 -- the same caveat as any GPU engine.) Temperature 0 is greedy.
Per-row ``torch.Generator`` objects would give the same independence at one RNG call per row and
step; the hash costs a handful of elementwise int64 ops, drawn for up to 16 steps at once.
With ``params.logprobs`` each completion also carries ``log softmax(logits)[token]`` of its sampled
tokens: the model's raw distribution (temperature 1, before top-p), as vLLM returns by default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlbound.backends.protocol import Completion, SamplingParams, check_seeds, encode_prompt
from rlbound.errors import InputError


@dataclass(frozen=True)
class HFOptions:
    """Options of the ``hf`` backend.

    Attributes:
        device: "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", ...
        dtype: "auto" (float32 on CPU, bfloat16 on GPUs that support it, else float16),
            "float32", "bfloat16" or "float16".
        batch_size: most sample rows decoded together (also the scoring batch size).
        fast_path: use the static-KV decoder for Llama/Qwen2/Qwen3/Mistral models; False forces
            the model's own forward with a DynamicCache (slower; for comparison and other models).
        threads: torch CPU threads (None: torch's default).
        trust_remote_code: passed to transformers' from_pretrained.
    """

    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 256
    fast_path: bool = True
    threads: int | None = None
    trust_remote_code: bool = False


# ---- counter-based noise ---------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _s64(x: int) -> int:
    """An unsigned 64-bit constant as the signed int64 torch stores."""
    x &= _MASK64
    return x - (1 << 64) if x >= 1 << 63 else x


_GOLDEN = _s64(0x9E3779B97F4A7C15)
_MIX1 = _s64(0xBF58476D1CE4E5B9)
_MIX2 = _s64(0x94D049BB133111EB)


def _srl(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 tensors (torch's >> is arithmetic)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def splitmix64(z: torch.Tensor) -> torch.Tensor:
    """The splitmix64 finaliser (Steele, Lea & Flood 2014) on int64 tensors, any shape.

    Multiplication wraps modulo 2**64 in torch's int64 arithmetic, so this equals the reference
    unsigned 64-bit function reinterpreted as signed.
    """
    z = (z ^ _srl(z, 30)) * _MIX1
    z = (z ^ _srl(z, 27)) * _MIX2
    return z ^ _srl(z, 31)


def row_keys(seeds: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Per-row hash keys, shape ``[rows]`` int64, from per-sample seeds (any Python ints)."""
    t = torch.tensor([_s64(s) for s in seeds], dtype=torch.int64, device=device)
    return splitmix64(t + _GOLDEN)


def uniform_noise(keys: torch.Tensor, step: int, vocab: int, steps: int = 1) -> torch.Tensor:
    """U[row, (step), v] in (0, 1), float32 with 24 random bits, a pure function of (key, step, v).

    Shapes: keys ``[rows]`` -> ``[rows, vocab]``; with ``steps > 1``, the noise of steps
    ``step .. step + steps - 1`` at once, ``[rows, steps, vocab]``.
    """
    dev = keys.device
    s = torch.arange(step + 1, step + steps + 1, dtype=torch.int64, device=dev) * _GOLDEN  # wraps mod 2**64
    k = splitmix64(keys[:, None] + s[None, :])  # [rows, steps]
    tok = torch.arange(1, vocab + 1, dtype=torch.int64, device=dev) * _GOLDEN
    z = splitmix64(k[:, :, None] ^ tok[None, None, :])
    u = (_srl(z, 40).to(torch.float32) + 0.5) * (1.0 / (1 << 24))
    return u[:, 0] if steps == 1 else u


def gumbel_noise(keys: torch.Tensor, step: int, vocab: int, steps: int = 1) -> torch.Tensor:
    """Gumbel(0, 1) noise ``-log(-log U)`` with U from ``uniform_noise`` (same shapes)."""
    return -torch.log(-torch.log(uniform_noise(keys, step, vocab, steps)))


def choose_tokens(logits: torch.Tensor, temperature: float, top_p: float, keys: torch.Tensor,
                  step: int, gumbel: torch.Tensor | None = None) -> torch.Tensor:
    """Next token per row by Gumbel-max over the top-p nucleus; greedy when temperature is 0.

    Shapes: logits ``[rows, vocab]`` (float32), keys ``[rows]`` -> tokens ``[rows]`` int64.
    ``gumbel`` is this step's precomputed ``gumbel_noise(keys, step, vocab)`` if at hand.
    """
    if temperature == 0:
        return logits.argmax(-1)
    scores = logits / temperature
    if top_p < 1.0:
        srt, idx = torch.sort(scores, dim=-1, descending=True)
        probs = torch.softmax(srt, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of strictly more likely tokens
        srt = srt.masked_fill(before >= top_p, float("-inf"))  # the top token always stays
        scores = torch.empty_like(scores).scatter_(-1, idx, srt)
    if gumbel is None:
        gumbel = gumbel_noise(keys, step, scores.shape[-1])
    return torch.argmax(scores + gumbel, dim=-1)


# ---- decoders --------------------------------------------------------------------------------

_FAST_TYPES = {"llama", "qwen2", "qwen3", "mistral"}
# A batch decodes with _SharedPrefixDecoder when it has at least SHARED_PREFIX_MIN_ROWS rows per
# distinct prompt and rows per prompt x prompt length >= SHARED_PREFIX_MIN_KEYS (the prompt-key reads
# per step it saves). Measured with bench/sample_cpu.py (docs/LOG.md 2026-12-03), 2 threads:
# 16 rows x 16-token prompts 0.90x, 64 x 16 1.05x, 16 x 69 1.19x, 64 x 69 1.47x, 256 x 69 1.56x.
SHARED_PREFIX_MIN_ROWS = 8
SHARED_PREFIX_MIN_KEYS = 1024


def fast_path_supported(model: Any) -> bool:
    """True when ``_StaticKVDecoder`` reproduces ``model``'s forward (full causal attention)."""
    cfg = model.config
    if getattr(cfg, "model_type", None) not in _FAST_TYPES:
        return False
    layer_types = getattr(cfg, "layer_types", None) or []
    if any(t != "full_attention" for t in layer_types):
        return False
    if cfg.model_type == "mistral" and getattr(cfg, "sliding_window", None):
        return False
    if cfg.model_type in ("qwen2", "qwen3") and getattr(cfg, "use_sliding_window", False):
        return False
    inner = getattr(model, "model", None)
    needed = ("embed_tokens", "layers", "norm", "rotary_emb")
    return all(hasattr(inner, a) for a in needed) and hasattr(model, "lm_head")


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding (Su et al. 2021), rotate-half convention, over the last dim of ``x``;
    ``cos``/``sin`` broadcast against ``x`` (e.g. x ``[B, T, heads, d]``, cos ``[B, T, 1, d]``)."""
    half = x.shape[-1] // 2
    rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rot * sin


def _rope_complex(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Rotary embedding on the interleaved layout (pairs (x_i, y_i) adjacent in the last dim) as a
    complex product; ``freqs = cos + i sin`` broadcasts against ``x``'s complex view."""
    xc = torch.view_as_complex(x.unflatten(-1, (-1, 2)))
    return torch.view_as_real(xc * freqs).flatten(-2)


@dataclass(frozen=True)
class _Norm:
    weight: torch.Tensor
    eps: float


def _eps(norm: Any) -> float:
    return getattr(norm, "variance_epsilon", None) or getattr(norm, "eps", None) or 1e-6


def _rms_norm(x: torch.Tensor, norm: Any) -> torch.Tensor:
    """A Llama-style RMSNorm module's function (float32 statistics, then ``weight * x``)."""
    eps = _eps(norm)
    if x.dtype == torch.float32 and norm.weight.dtype == torch.float32:
        return torch.nn.functional.rms_norm(x, (x.shape[-1],), norm.weight, eps)
    y = torch.nn.functional.rms_norm(x.float(), (x.shape[-1],), eps=eps)
    return norm.weight * y.to(x.dtype)


class _Layer:
    """One decoder layer's weights, with q/k/v and gate/up projections fused for small models."""

    def __init__(self, layer: Any, fuse: bool, head_dim: int, interleave: bool, scale: float) -> None:
        attn, mlp = layer.self_attn, layer.mlp
        self.ln1, self.ln2 = layer.input_layernorm, layer.post_attention_layernorm
        self.q_norm, self.k_norm = getattr(attn, "q_norm", None), getattr(attn, "k_norm", None)
        self.o_proj, self.down_proj, self.act = attn.o_proj, mlp.down_proj, mlp.act_fn
        self.fused = fuse
        # the attention scale folded into W_q (rotary embedding is linear, so it commutes);
        # not with Qwen3's q_norm, which would undo it
        self.q_scaled = fuse and self.q_norm is None
        # decode steps add the o/down projections to the residual inside the GEMM (addmm)
        self.addmm = fuse and attn.o_proj.bias is None and mlp.down_proj.bias is None
        if fuse:
            # q and k rows reordered within each head from (x_0..x_{d/2-1}, y_0..y_{d/2-1}) to
            # (x_0, y_0, x_1, y_1, ...): rotary embedding becomes one complex multiplication, and
            # q.k is unchanged because both sides are permuted alike (v is left as it is).
            half = head_dim // 2
            perm = (torch.stack([torch.arange(half), torch.arange(half) + half], dim=1).flatten()
                    if interleave else torch.arange(head_dim))
            dev = attn.q_proj.weight.device

            def rows(m: Any) -> torch.Tensor:
                idx = (torch.arange(m.out_features // head_dim)[:, None] * head_dim + perm[None]).flatten()
                return idx.to(dev)

            q_idx, k_idx = rows(attn.q_proj), rows(attn.k_proj)
            qs = scale if self.q_scaled else 1.0
            self.w_qkv = torch.cat([attn.q_proj.weight[q_idx] * qs, attn.k_proj.weight[k_idx],
                                    attn.v_proj.weight]).detach()
            projs = (attn.q_proj, attn.k_proj, attn.v_proj)
            self.b_qkv = (torch.cat([attn.q_proj.bias[q_idx] * qs, attn.k_proj.bias[k_idx], attn.v_proj.bias]).detach()
                          if all(m.bias is not None for m in projs) else None)
            self.w_o_t = attn.o_proj.weight.detach().t()
            self.w_down_t = mlp.down_proj.weight.detach().t()
            if self.q_norm is not None:
                self.q_norm = _Norm(self.q_norm.weight[perm.to(dev)].detach(), _eps(self.q_norm))
                self.k_norm = _Norm(self.k_norm.weight[perm.to(dev)].detach(), _eps(self.k_norm))
            self.w_gu = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach()
            self.b_gu = (torch.cat([mlp.gate_proj.bias, mlp.up_proj.bias]).detach()
                         if mlp.gate_proj.bias is not None else None)
        else:
            self.q_proj, self.k_proj, self.v_proj = attn.q_proj, attn.k_proj, attn.v_proj
            self.gate_proj, self.up_proj = mlp.gate_proj, mlp.up_proj

    def qkv(self, h: torch.Tensor) -> torch.Tensor:
        """``[..., hidden]`` -> ``[..., (heads + 2 kv_heads) * head_dim]`` (q, k, v concatenated)."""
        if self.fused:
            return torch.nn.functional.linear(h, self.w_qkv, self.b_qkv)
        return torch.cat([self.q_proj(h), self.k_proj(h), self.v_proj(h)], dim=-1)

    def _gated(self, h: torch.Tensor) -> torch.Tensor:
        if self.fused:
            gate, up = torch.nn.functional.linear(h, self.w_gu, self.b_gu).chunk(2, dim=-1)
        else:
            gate, up = self.gate_proj(h), self.up_proj(h)
        return self.act(gate) * up

    def mlp(self, h: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self._gated(h))

    def add_attn_out(self, x: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        """``x + o_proj(o)`` for 2-d ``x [B, hidden]``, ``o [B, heads * d]``."""
        return torch.addmm(x, o, self.w_o_t) if self.addmm else x + self.o_proj(o)

    def add_mlp(self, x: torch.Tensor) -> torch.Tensor:
        """``x + mlp(post_attention_layernorm(x))`` for 2-d ``x``."""
        a = self._gated(_rms_norm(x, self.ln2))
        return torch.addmm(x, a, self.w_down_t) if self.addmm else x + self.down_proj(a)


class _StaticKVDecoder:
    """Decoder-only transformer forward with preallocated key/value buffers.

    Uses the weights of a Llama-family ``*ForCausalLM`` (q/k/v and gate/up fused into one matmul
    each for models under 1B parameters); attention is recomputed here: prefill through SDPA (once
    per distinct prompt), decode steps as ``softmax(q K^T / sqrt(d)) V`` over a cache view. Rotary
    tables come from the model's own rotary module, once per batch. Caches are
    ``[rows, kv_heads, cap, head_dim]`` with ``cap = prompt_len + max_new_tokens``; each step
    writes one position in place and attends over the view ``[..., :t + 1, :]``.
    Tried and dropped on CPU (no gain measured): keys stored transposed (cheaper ``q @ K^T``, but
    a strided write per step). Keeping the prompt part once per distinct prompt gains nothing with
    few rows per prompt (the extra matmul calls cost as much as the cache reads they save) and a
    lot with many: ``_SharedPrefixDecoder`` takes the batches that have enough (``SHARED_PREFIX_MIN_*``).
    """

    def __init__(self, model: Any) -> None:
        cfg = model.config
        inner = model.model
        fuse = sum(p.numel() for p in model.parameters()) < 1_000_000_000
        self.embed, self.norm = inner.embed_tokens, inner.norm
        self.rotary, self.lm_head = inner.rotary_emb, model.lm_head
        self.n_heads = cfg.num_attention_heads
        self.n_kv = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        # q/k in the interleaved rotary layout (see _Layer); complex float32 only
        self.interleaved = fuse and model.dtype == torch.float32 and self.head_dim % 2 == 0
        self.groups = self.n_heads // self.n_kv
        scale = getattr(inner.layers[0].self_attn, "scaling", self.head_dim ** -0.5)
        self.layers = [_Layer(layer, fuse, self.head_dim, self.interleaved, scale) for layer in inner.layers]
        self.scales = [1.0 if layer.q_scaled else scale for layer in self.layers]  # left to apply to q.k

    def _qkv(self, layer: _Layer, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """Rotated q and k ``[..., heads + kv_heads, d]`` and v ``[..., kv_heads, d]`` of ``x [..., hidden]``."""
        h, hk, d = self.n_heads, self.n_kv, self.head_dim
        y = layer.qkv(_rms_norm(x, layer.ln1)).unflatten(-1, (h + 2 * hk, d))
        qk, v = y[..., : h + hk, :], y[..., h + hk:, :]
        if layer.q_norm is not None:  # Qwen3: RMSNorm over the head dimension
            qk = torch.cat([_rms_norm(qk[..., :h, :], layer.q_norm), _rms_norm(qk[..., h:, :], layer.k_norm)], -2)
        if self.interleaved:
            return _rope_complex(qk, cos), v
        return _rope(qk, cos, sin), v

    def _rotary_tables(self, x: torch.Tensor, cap: int) -> None:
        """cos/sin ``[cap, d]`` from the model's rotary module, or ``cos + i sin`` ``[cap, d/2]``."""
        cos_t, sin_t = self.rotary(x, torch.arange(cap, device=x.device)[None])
        self.cos_t, self.sin_t = cos_t[0], sin_t[0]
        if self.interleaved:
            half = self.head_dim // 2
            self.cos_t = torch.complex(self.cos_t[:, :half].float(), self.sin_t[:, :half].float())
            self.sin_t = self.cos_t

    def prefill(self, ids: torch.Tensor, pad: torch.Tensor, row_src: torch.Tensor, max_new: int) -> torch.Tensor:
        """Encode ``ids [U, L]`` (left-padded by ``pad [U]``); rows take prompt ``row_src [B]``.
        Returns next-token logits ``[B, V]`` float32."""
        u, length = ids.shape
        dev = ids.device
        h = self.n_heads
        self.cap = length + max_new
        x = self.embed(ids)
        self._rotary_tables(x, self.cap)
        ar = torch.arange(length, device=dev)
        pos = (ar[None, :] - pad[:, None]).clamp(min=0)
        cos, sin = self.cos_t[pos][:, :, None], self.sin_t[pos][:, :, None]  # [U, L, 1, d]
        padded = bool((pad > 0).any())
        mask = None
        if padded:  # causal, keys not padding; the diagonal keeps all-pad query rows finite
            causal = ar[None, :] <= ar[:, None]
            valid = ar[None, :] >= pad[:, None]
            mask = (causal[None] & valid[:, None, :]) | torch.eye(length, dtype=torch.bool, device=dev)[None]
            mask = mask[:, None]
        self.k_cache, self.v_cache = [], []
        for layer, scale in zip(self.layers, self.scales):
            qk, v = self._qkv(layer, x, cos, sin)
            q, k, v = qk[:, :, :h].transpose(1, 2), qk[:, :, h:].transpose(1, 2), v.transpose(1, 2)
            self._cache_prompt(k, v, row_src, max_new)
            if self.groups > 1:
                k, v = k.repeat_interleave(self.groups, dim=1), v.repeat_interleave(self.groups, dim=1)
            o = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=mask is None, scale=scale)
            x = x + layer.o_proj(o.transpose(1, 2).reshape(u, length, -1))
            x = x + layer.mlp(_rms_norm(x, layer.ln2))
        rows = row_src.shape[0]
        self.t = length
        self.pos = (length - pad)[row_src]
        self.key_ok = None
        if padded:
            ok = (ar[None, :] >= pad[:, None])[row_src]
            self.key_ok = torch.cat([ok, torch.ones(rows, max_new, dtype=torch.bool, device=dev)], 1)
        return self.lm_head(_rms_norm(x[:, -1], self.norm)).float()[row_src]

    def _cache_prompt(self, k: torch.Tensor, v: torch.Tensor, row_src: torch.Tensor, max_new: int) -> None:
        """One layer's prompt keys/values ``[U, kv_heads, L, d]`` into per-row caches ``[B, kv_heads, cap, d]``."""
        u, hk, length, d = k.shape
        kc = torch.empty(row_src.shape[0], hk, length + max_new, d, dtype=k.dtype, device=k.device)
        vc = torch.empty_like(kc)
        kc[:, :, :length] = k[row_src]
        vc[:, :, :length] = v[row_src]
        self.k_cache.append(kc)
        self.v_cache.append(vc)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row ``[B]``; returns logits ``[B, V]`` float32."""
        b = tokens.shape[0]
        h, hk, d = self.n_heads, self.n_kv, self.head_dim
        x = torch.nn.functional.embedding(tokens, self.embed.weight)  # [B, hidden]
        cos, sin = self.cos_t[self.pos][:, None], self.sin_t[self.pos][:, None]  # [B, 1, d]
        for i, layer in enumerate(self.layers):
            qk, v = self._qkv(layer, x, cos, sin)  # [B, h + hk, d], [B, hk, d]
            o = self._attend(i, qk[:, :h].unflatten(1, (hk, self.groups)), qk[:, h:], v)  # [B, hk, g, d]
            x = layer.add_attn_out(x, o.reshape(b, h * d))
            x = layer.add_mlp(x)
        self.t += 1
        self.pos = self.pos + 1
        return self.lm_head(_rms_norm(x, self.norm)).float()

    def _attend(self, i: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Layer ``i``: write this step's ``k``/``v`` ``[B, hk, d]`` at position ``t`` and attend with
        ``q [B, hk, g, d]`` over positions ``0..t``; returns ``[B, hk, g, d]``."""
        t, kc, vc = self.t, self.k_cache[i], self.v_cache[i]
        kc[:, :, t] = k
        vc[:, :, t] = v
        p = self._probs(i, torch.matmul(q, kc[:, :, : t + 1].transpose(-1, -2)), vc.dtype)
        return torch.matmul(p, vc[:, :, : t + 1])

    def _probs(self, i: int, s: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Attention weights from raw scores ``s [B, hk, g, n]`` over the first ``n`` cache positions
        (layer ``i``'s scale, padding keys masked; softmax in float32)."""
        low = s.dtype != torch.float32
        if low:
            s = s.float()
        if self.scales[i] != 1.0:
            s = s * self.scales[i]
        if self.key_ok is not None:
            s = s.masked_fill(~self.key_ok[:, None, None, : s.shape[-1]], float("-inf"))
        p = torch.softmax(s, dim=-1)
        return p.to(dtype) if low else p

    def keep(self, idx: torch.Tensor) -> None:
        """Keep only rows ``idx`` (compaction after rows finished)."""
        self.k_cache = [c[idx] for c in self.k_cache]
        self.v_cache = [c[idx] for c in self.v_cache]
        self.pos = self.pos[idx]
        if self.key_ok is not None:
            self.key_ok = self.key_ok[idx]


class _SharedPrefixDecoder(_StaticKVDecoder):
    """``_StaticKVDecoder`` for many rows per prompt (n samples of each problem, as a pass@k run draws).

    The prompt's keys and values are kept once per distinct prompt (``[U, kv_heads, L, d]``), not
    copied to every row, and each decode step scores them with one matrix product per prompt over
    all of its rows (``[rows x d] @ [d x L]``) instead of one matrix-vector product per row; only the
    generated part of the cache is per row. The softmax runs over prompt and generated keys together,
    so the result is the same attention up to float rounding. Rows must be grouped by prompt (the
    backend orders them so, and compaction keeps the order).
    """

    def prefill(self, ids: torch.Tensor, pad: torch.Tensor, row_src: torch.Tensor, max_new: int) -> torch.Tensor:
        self.k_prompt, self.v_prompt, self.k_cache, self.v_cache = [], [], [], []
        logits = super().prefill(ids, pad, row_src, max_new)
        self.prompt_len = ids.shape[1]
        self._set_rows(row_src)
        return logits

    def _cache_prompt(self, k: torch.Tensor, v: torch.Tensor, row_src: torch.Tensor, max_new: int) -> None:
        u, hk, length, d = k.shape
        self.k_prompt.append(k.transpose(-1, -2).contiguous())  # [U, hk, d, L]
        self.v_prompt.append(v.contiguous())  # [U, hk, L, d]
        self.k_cache.append(torch.empty(row_src.shape[0], hk, max_new, d, dtype=k.dtype, device=k.device))
        self.v_cache.append(torch.empty_like(self.k_cache[-1]))

    def _set_rows(self, row_src: torch.Tensor) -> None:
        src, counts = torch.unique_consecutive(row_src, return_counts=True)
        if src.numel() != torch.unique(row_src).numel():
            raise ValueError("rows must be grouped by prompt")
        ends = torch.cumsum(counts, 0).tolist()
        self.row_src = row_src
        self.spans = [(int(u), e - int(c), e) for u, c, e in zip(src.tolist(), counts.tolist(), ends)]

    def _per_prompt(self, a: torch.Tensor, b: torch.Tensor, n_out: int) -> torch.Tensor:
        """``a [B, hk, g, m] @ b[u] [hk, m, n]`` for the rows of each prompt ``u`` -> ``[B, hk, g, n]``."""
        rows, hk, g, m = a.shape
        out = a.new_empty(rows, hk, g, n_out)
        for u, start, end in self.spans:
            part = a[start:end].permute(1, 0, 2, 3).reshape(hk, (end - start) * g, m)
            out[start:end] = torch.matmul(part, b[u]).view(hk, end - start, g, n_out).permute(1, 0, 2, 3)
        return out

    def _attend(self, i: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        length, kc, vc = self.prompt_len, self.k_cache[i], self.v_cache[i]
        t = self.t - length  # generated positions so far: the per-row part of the cache
        kc[:, :, t] = k
        vc[:, :, t] = v
        s = torch.cat([self._per_prompt(q, self.k_prompt[i], length),
                       torch.matmul(q, kc[:, :, : t + 1].transpose(-1, -2))], dim=-1)
        p = self._probs(i, s, vc.dtype)  # [B, hk, g, L + t + 1]
        return (self._per_prompt(p[..., :length], self.v_prompt[i], self.head_dim)
                + torch.matmul(p[..., length:], vc[:, :, : t + 1]))

    def keep(self, idx: torch.Tensor) -> None:
        super().keep(idx)
        self._set_rows(self.row_src[idx])


class _HFCacheDecoder:
    """The model's own forward with a transformers ``DynamicCache`` (any causal LM)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def prefill(self, ids: torch.Tensor, pad: torch.Tensor, row_src: torch.Tensor, max_new: int) -> torch.Tensor:
        from transformers import DynamicCache

        length = ids.shape[1]
        ar = torch.arange(length, device=ids.device)
        mask = (ar[None, :] >= pad[:, None]).long()
        pos = (ar[None, :] - pad[:, None]).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                         past_key_values=DynamicCache(config=self.model.config), use_cache=True, logits_to_keep=1)
        self.cache = out.past_key_values
        self.cache.batch_select_indices(row_src)
        self.mask = mask[row_src]
        self.pos = (length - pad)[row_src]
        return out.logits[:, -1].float()[row_src]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.extend(tokens[:, None])[:, -1]

    def extend(self, tokens: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Feed ``tokens [B, T]`` on top of the cache (``valid [B, T]``: False on right padding);
        returns logits ``[B, T, V]`` float32."""
        t = tokens.shape[1]
        ok = torch.ones_like(tokens) if valid is None else valid.to(self.mask.dtype)
        self.mask = torch.cat([self.mask, ok], dim=1)
        pos = self.pos[:, None] + torch.arange(t, device=tokens.device)[None]
        out = self.model(input_ids=tokens, attention_mask=self.mask, position_ids=pos,
                         past_key_values=self.cache, use_cache=True)
        self.pos = self.pos + t
        return out.logits.float()

    def keep(self, idx: torch.Tensor) -> None:
        self.cache.batch_select_indices(idx)
        self.mask = self.mask[idx]
        self.pos = self.pos[idx]


# ---- the backend -----------------------------------------------------------------------------


def _pad_rows(seqs: Sequence[Sequence[int]], pad_id: int, *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``[N, longest]`` filled with ``pad_id`` on the left (prompts) or the right, and the
    bool mask ``[N, longest]`` of real tokens."""
    width = max((len(x) for x in seqs), default=0)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    valid = torch.zeros((len(seqs), width), dtype=torch.bool)
    for r, x in enumerate(seqs):
        if len(x):
            cols = slice(width - len(x), width) if left else slice(0, len(x))
            ids[r, cols] = torch.tensor(list(x), dtype=torch.long)
            valid[r, cols] = True
    return ids, valid


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}", field="device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but no CUDA device is available", field="device")
    return dev


def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in table:
        raise InputError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16", field="dtype")
    return table[dtype]


def load_model_and_tokenizer(model: str, *, device: torch.device, dtype: torch.dtype,
                             trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer; InputError (no traceback) when ``model`` is not loadable.

    A string that looks like a path (contains a separator or starts with ``.``/``~``) must be an
    existing directory; anything else is tried as a hub id in the local cache / hub.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model).expanduser()
    looks_like_path = os.sep in model or model.startswith((".", "~")) or path.exists()
    if looks_like_path and not path.is_dir():
        raise InputError("model directory not found", path=model, field="model")
    src = str(path) if looks_like_path else model
    try:
        tok = AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code)
        lm = AutoModelForCausalLM.from_pretrained(src, dtype=dtype, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot load model: {first}", path=model, field="model") from None
    return lm.to(device).eval(), tok


class HFBackend:
    """Batched sampling and scoring with a transformers causal LM (see module docstring)."""

    name = "hf"

    def __init__(self, model: str, options: HFOptions | None = None) -> None:
        self.options = options or HFOptions()
        if self.options.batch_size <= 0:
            raise InputError(f"batch_size must be positive, got {self.options.batch_size}", field="batch_size")
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        self.device = _resolve_device(self.options.device)
        self.dtype = _resolve_dtype(self.options.dtype, self.device)
        self.model = model
        self.lm, self.tokenizer = load_model_and_tokenizer(
            model, device=self.device, dtype=self.dtype, trust_remote_code=self.options.trust_remote_code)
        self.fast = self.options.fast_path and fast_path_supported(self.lm)
        self.eos_ids = self._eos_ids()
        self.pad_id = self._pad_id()
        self.max_positions = getattr(self.lm.config, "max_position_embeddings", None)
        self._stop_cache: dict[tuple[str, ...], torch.Tensor] = {}

    # -- helpers --

    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        for src in (getattr(self.lm.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id,
                    getattr(self.lm.config, "eos_token_id", None)):
            if isinstance(src, int):
                ids.add(src)
            elif isinstance(src, (list, tuple)):
                ids.update(int(i) for i in src)
        return sorted(ids)

    def _pad_id(self) -> int:
        for cand in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, *self.eos_ids):
            if cand is not None:
                return int(cand)
        return 0

    def encode_prompt(self, prompt: str) -> list[int]:
        """Token ids of a prompt: special tokens added (BOS) unless the text already starts with BOS."""
        return encode_prompt(self.tokenizer, prompt)

    @property
    def causal_lm(self) -> Any:
        """The transformers model this backend samples from, for callers that train it in place
        (``rlbound.rl``): every ``generate`` builds its decoder from the model's current weights,
        so the next call samples the updated model."""
        return self.lm

    def _decoder(self, rows_per_prompt: float = 1.0, prompt_len: int = 0) -> Any:
        if not self.fast:
            return _HFCacheDecoder(self.lm)
        if rows_per_prompt >= SHARED_PREFIX_MIN_ROWS and rows_per_prompt * prompt_len >= SHARED_PREFIX_MIN_KEYS:
            return _SharedPrefixDecoder(self.lm)
        return _StaticKVDecoder(self.lm)

    def _stop_candidates(self, stop: tuple[str, ...]) -> torch.Tensor:
        """Bool ``[V]``: tokens whose text may complete a stop string (contain a stop string's last
        character, decode to nothing, or decode to a partial character)."""
        if stop not in self._stop_cache:
            last = {s[-1] for s in stop}
            vocab = self.lm.get_output_embeddings().weight.shape[0]
            pieces = self.tokenizer.batch_decode([[i] for i in range(vocab)], skip_special_tokens=False)
            flags = [p == "" or "\ufffd" in p or any(c in p for c in last) for p in pieces]
            self._stop_cache[stop] = torch.tensor(flags, dtype=torch.bool, device=self.device)
        return self._stop_cache[stop]

    # -- public API --

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 seeds: Sequence[Sequence[int]]) -> list[list[Completion]]:
        """For each prompt, one Completion per seed; see the module docstring for the sampling rule."""
        check_seeds(prompts, seeds)
        cache: dict[str, list[int]] = {}
        encoded = [cache[p] if p in cache else cache.setdefault(p, self.encode_prompt(p)) for p in prompts]
        rows = [(i, int(s)) for i, ss in enumerate(seeds) for s in ss]
        results: list[Completion] = []
        bs = self.options.batch_size
        with torch.inference_mode():
            for start in range(0, len(rows), bs):
                results.extend(self._sample_rows(encoded, rows[start:start + bs], params))
        out: list[list[Completion]] = [[] for _ in prompts]
        for (i, _), c in zip(rows, results):
            out[i].append(c)
        return out

    def _sample_rows(self, encoded: list[list[int]], rows: list[tuple[int, int]],
                     params: SamplingParams) -> list[Completion]:
        dev = self.device
        uniq = sorted({i for i, _ in rows})
        where = {p: u for u, p in enumerate(uniq)}
        lens = [len(encoded[p]) for p in uniq]
        if min(lens) == 0:
            raise InputError("a prompt encodes to zero tokens and the tokenizer adds no BOS token", field="prompt")
        length = max(lens)
        max_new = params.max_new_tokens
        if self.max_positions:
            max_new = min(max_new, self.max_positions - length)
            if max_new <= 0:
                raise InputError(f"prompt of {length} tokens leaves no room in the model's "
                                 f"{self.max_positions}-token context", field="max_new_tokens")
        ids, valid = _pad_rows([encoded[p] for p in uniq], self.pad_id, left=True)
        pad = (~valid).sum(1).to(dev)
        row_src = torch.tensor([where[i] for i, _ in rows], dtype=torch.long, device=dev)
        n_rows = len(rows)

        dec = self._decoder(n_rows / len(uniq), length)
        logits = dec.prefill(ids.to(dev), pad, row_src, max_new)
        keys = row_keys([s for _, s in rows], dev)
        live = torch.arange(n_rows, device=dev)  # decoder row -> output row
        alive = torch.ones(n_rows, dtype=torch.bool, device=dev)  # per decoder row
        out_tok = torch.full((n_rows, max_new), self.pad_id, dtype=torch.long, device=dev)
        out_lp = torch.zeros((n_rows, max_new), dtype=torch.float32, device=dev) if params.logprobs else None
        n_gen = torch.full((n_rows,), max_new, dtype=torch.long, device=dev)
        stopped = torch.zeros(n_rows, dtype=torch.bool, device=dev)
        eos = torch.tensor(self.eos_ids, dtype=torch.long, device=dev)
        stop_cand = self._stop_candidates(params.stop) if params.stop else None
        window = 4 * max((len(s) for s in params.stop), default=0) + 2

        vocab = logits.shape[-1]
        block = max(1, min(16, (1 << 22) // max(1, n_rows * vocab)))  # steps of noise drawn at once
        noise = None
        for step in range(max_new):
            if params.temperature > 0 and step % block == 0:
                noise = gumbel_noise(keys, step, vocab, steps=min(block, max_new - step))
                if noise.dim() == 2:
                    noise = noise[:, None]
            g = noise[:, step % block] if noise is not None else None
            tok = choose_tokens(logits, params.temperature, params.top_p, keys, step, gumbel=g)
            out_tok[live, step] = tok
            if out_lp is not None:  # log p(token) under the raw logits (temperature 1, no top-p), in float32
                lf = logits.float()
                out_lp[live, step] = lf.gather(1, tok[:, None])[:, 0] - torch.logsumexp(lf, -1)
            done = torch.isin(tok, eos) & alive
            if stop_cand is not None:
                for r in torch.nonzero(stop_cand[tok] & alive & ~done).flatten().tolist():
                    o = int(live[r])
                    tail = out_tok[o, max(0, step + 1 - window): step + 1].tolist()
                    text = self.tokenizer.decode(tail, skip_special_tokens=True)
                    if any(s in text for s in params.stop):
                        done[r] = True
            if bool(done.any()):
                finished = live[done]
                n_gen[finished] = step + 1
                stopped[finished] = True
                alive &= ~done
            n_alive = int(alive.sum())
            if n_alive == 0 or step == max_new - 1:
                break
            if n_alive <= 0.75 * alive.shape[0]:
                idx = torch.nonzero(alive).flatten()
                dec.keep(idx)
                live, keys, tok, alive = live[idx], keys[idx], tok[idx], alive[idx]
                if noise is not None:
                    noise = noise[idx]
            logits = dec.step(tok)

        return self._finish(rows, encoded, out_tok, out_lp, n_gen, stopped, params)

    def _finish(self, rows, encoded, out_tok, out_lp, n_gen, stopped, params) -> list[Completion]:
        toks = out_tok.cpu().tolist()
        ns = n_gen.cpu().tolist()
        stop_flags = stopped.cpu().tolist()
        texts = self.tokenizer.batch_decode([t[:n] for t, n in zip(toks, ns)], skip_special_tokens=True)
        lps = out_lp.cpu().tolist() if out_lp is not None else None
        res = []
        for r, (text, n, was_stopped) in enumerate(zip(texts, ns, stop_flags)):
            text = cut_at_stop(text, params.stop)
            res.append(Completion(
                text=text, completion_tokens=n, prompt_tokens=len(encoded[rows[r][0]]),
                finish_reason="stop" if was_stopped else "length",
                logprobs=tuple(lps[r][:n]) if lps is not None else None))
        return res

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[np.ndarray]:
        """Per-token log-probabilities of each continuation given its prompt (temperature 1).

        Prompt and continuation are tokenised separately and concatenated, so the scored tokens are
        exactly the continuation's own tokens. Returns float64 arrays of shape ``(T_i,)``.

        Continuations of one prompt share its encoding: each batch runs its distinct prompts once
        (left-padded, into a ``DynamicCache``), copies each prompt's cache to its rows, and runs the
        continuations on top (a pass@k run scores up to n continuations per prompt, so this skips
        most of the prompt tokens' work). ``score_full`` is the plain one-forward-per-sequence path.
        """
        pairs = self._score_pairs(prompts, continuations)
        out: list[np.ndarray | None] = [None] * len(pairs)
        # rows of one prompt together, short continuations first within it
        order = sorted(range(len(pairs)), key=lambda i: (pairs[i][0], len(pairs[i][1])))
        bs = self.options.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                chunk = order[start:start + bs]
                for i, vals in zip(chunk, self._score_shared_prefix([pairs[i] for i in chunk])):
                    out[i] = vals
        return out  # type: ignore[return-value]

    def _score_pairs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[tuple[tuple[int, ...], list[int]]]:
        if len(prompts) != len(continuations):
            raise ValueError(f"got {len(prompts)} prompts but {len(continuations)} continuations")
        encoded: dict[str, tuple[int, ...]] = {}
        pairs = []
        for p, c in zip(prompts, continuations):
            if p not in encoded:
                encoded[p] = tuple(self.encode_prompt(p))
            pid = encoded[p]
            if not pid:
                raise InputError("an empty prompt gives the first token no context (the tokenizer has no BOS)",
                                 field="prompt")
            pairs.append((pid, list(self.tokenizer(c, add_special_tokens=False)["input_ids"])))
        return pairs

    def _score_shared_prefix(self, pairs: list[tuple[tuple[int, ...], list[int]]]) -> list[np.ndarray]:
        """Log-probabilities for one batch of (prompt ids, continuation ids); see ``score``."""
        dev = self.device
        uniq = list(dict.fromkeys(p for p, _ in pairs))
        where = {p: u for u, p in enumerate(uniq)}
        ids, valid = _pad_rows(uniq, self.pad_id, left=True)
        row_src = torch.tensor([where[p] for p, _ in pairs], dtype=torch.long, device=dev)
        dec = _HFCacheDecoder(self.lm)
        first = torch.log_softmax(dec.prefill(ids.to(dev), (~valid).sum(1).to(dev), row_src, 0), dim=-1)  # [B, V]
        rest_ids, rest_ok = _pad_rows([c[:-1] for _, c in pairs], self.pad_id, left=False)
        rest = torch.log_softmax(dec.extend(rest_ids.to(dev), rest_ok.to(dev)), dim=-1) if rest_ids.shape[1] else None
        res = []
        for r, (_, c) in enumerate(pairs):
            tgt = torch.tensor(c, dtype=torch.long, device=dev)
            vals = first[r, tgt[:1]]  # the first token is predicted by the prompt's last position
            if len(c) > 1:
                vals = torch.cat([vals, rest[r, : len(c) - 1].gather(1, tgt[1:, None])[:, 0]])
            res.append(vals.double().cpu().numpy())
        return res

    def score_full(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[np.ndarray]:
        """``score`` with one forward pass over each whole prompt + continuation (no sharing)."""
        pairs = self._score_pairs(prompts, continuations)
        out: list[np.ndarray | None] = [None] * len(pairs)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        bs = self.options.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                chunk = order[start:start + bs]
                ids, valid = _pad_rows([list(pairs[i][0]) + pairs[i][1] for i in chunk], self.pad_id, left=False)
                logits = self.lm(input_ids=ids.to(self.device), attention_mask=valid.long().to(self.device)).logits
                logp = torch.log_softmax(logits.float(), dim=-1)
                for r, i in enumerate(chunk):
                    lp, lc = len(pairs[i][0]), len(pairs[i][1])
                    tgt = torch.tensor(pairs[i][1], dtype=torch.long, device=self.device)
                    vals = logp[r, lp - 1: lp - 1 + lc].gather(1, tgt[:, None])[:, 0] if lc else logp.new_zeros(0)
                    out[i] = vals.double().cpu().numpy()
        return out  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """For the manifest: library versions and how the model ran (pain point 4)."""
        import transformers

        return {"torch": torch.__version__, "transformers": transformers.__version__,
                "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "decoder": "static-kv" if self.fast else "transformers-dynamic-cache",
                "sampler": "gumbel-max, splitmix64 counter noise (seed, step, token)"}

    def close(self) -> None:
        self.lm = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the stop string that ends first (OpenAI/vLLM semantics: stop not included)."""
    best = None
    for s in stop:
        i = text.find(s)
        if i >= 0 and (best is None or i + len(s) < best[0]):
            best = (i + len(s), i)
    return text if best is None else text[:best[1]]

