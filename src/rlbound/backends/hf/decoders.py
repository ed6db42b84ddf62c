"""The ``hf`` backend's KV-cache decoders (why its own loop: the ``rlbound.backends.hf`` docstring).

* ``StaticKVDecoder``: preallocated key/value buffers and its own attention over the model's
  weights (Llama / Qwen2 / Qwen3 / Mistral without a sliding window: ``fast_path_supported``).
* ``SharedPrefixDecoder``: the same, with each prompt's keys/values kept once for its many rows.
* ``HFCacheDecoder``: the model's own ``forward`` with a ``DynamicCache`` (any causal LM; scoring).

All three share one interface: ``prefill(ids, pad, row_src, max_new)`` encodes the distinct prompts
once and hands each sample row its prompt's cache, ``step(tokens)`` feeds one token per row, and
``keep(idx)`` drops finished rows. ``select_decoder`` picks one per batch.
"""

from __future__ import annotations

from typing import Any

import torch

from rlbound.backends.hf.layers import Layer, rms_norm, rope, rope_complex

_FAST_TYPES = {"llama", "qwen2", "qwen3", "mistral"}
# A batch decodes with SharedPrefixDecoder when it has at least SHARED_PREFIX_MIN_ROWS rows per
# distinct prompt and rows per prompt x prompt length >= SHARED_PREFIX_MIN_KEYS (the prompt-key reads
# per step it saves). Measured with bench/sample_cpu.py (docs/LOG.md 2026-12-03), 2 threads:
# 16 rows x 16-token prompts 0.90x, 64 x 16 1.05x, 16 x 69 1.19x, 64 x 69 1.47x, 256 x 69 1.56x.
SHARED_PREFIX_MIN_ROWS = 8
SHARED_PREFIX_MIN_KEYS = 1024


def fast_path_supported(model: Any) -> bool:
    """True when ``StaticKVDecoder`` reproduces ``model``'s forward (full causal attention)."""
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


def select_decoder(model: Any, fast: bool, rows_per_prompt: float = 1.0, prompt_len: int = 0) -> Any:
    """The decoder for one batch: ``HFCacheDecoder`` unless ``fast`` (``fast_path`` and
    ``fast_path_supported``); with it ``SharedPrefixDecoder`` when the batch has enough rows per
    prompt (``SHARED_PREFIX_MIN_*``), else ``StaticKVDecoder``."""
    if not fast:
        return HFCacheDecoder(model)
    if rows_per_prompt >= SHARED_PREFIX_MIN_ROWS and rows_per_prompt * prompt_len >= SHARED_PREFIX_MIN_KEYS:
        return SharedPrefixDecoder(model)
    return StaticKVDecoder(model)


class StaticKVDecoder:
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
    lot with many: ``SharedPrefixDecoder`` takes the batches that have enough (``SHARED_PREFIX_MIN_*``).
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
        # q/k in the interleaved rotary layout (see Layer); complex float32 only
        self.interleaved = fuse and model.dtype == torch.float32 and self.head_dim % 2 == 0
        self.groups = self.n_heads // self.n_kv
        scale = getattr(inner.layers[0].self_attn, "scaling", self.head_dim ** -0.5)
        self.layers = [Layer(layer, fuse, self.head_dim, self.interleaved, scale) for layer in inner.layers]
        self.scales = [1.0 if layer.q_scaled else scale for layer in self.layers]  # left to apply to q.k

    def _qkv(self, layer: Layer, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """Rotated q and k ``[..., heads + kv_heads, d]`` and v ``[..., kv_heads, d]`` of ``x [..., hidden]``."""
        h, hk, d = self.n_heads, self.n_kv, self.head_dim
        y = layer.qkv(rms_norm(x, layer.ln1)).unflatten(-1, (h + 2 * hk, d))
        qk, v = y[..., : h + hk, :], y[..., h + hk:, :]
        if layer.q_norm is not None:  # Qwen3: RMSNorm over the head dimension
            qk = torch.cat([rms_norm(qk[..., :h, :], layer.q_norm), rms_norm(qk[..., h:, :], layer.k_norm)], -2)
        if self.interleaved:
            return rope_complex(qk, cos), v
        return rope(qk, cos, sin), v

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
            x = x + layer.mlp(rms_norm(x, layer.ln2))
        rows = row_src.shape[0]
        self.t = length
        self.pos = (length - pad)[row_src]
        self.key_ok = None
        if padded:
            ok = (ar[None, :] >= pad[:, None])[row_src]
            self.key_ok = torch.cat([ok, torch.ones(rows, max_new, dtype=torch.bool, device=dev)], 1)
        return self.lm_head(rms_norm(x[:, -1], self.norm)).float()[row_src]

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
        return self.lm_head(rms_norm(x, self.norm)).float()

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


class SharedPrefixDecoder(StaticKVDecoder):
    """``StaticKVDecoder`` for many rows per prompt (n samples of each problem, as a pass@k run draws).

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


class HFCacheDecoder:
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

