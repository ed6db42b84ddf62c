"""The pieces of a Llama-family decoder layer the static-KV decoders run: rotary embedding (Su et
al. 2021), RMSNorm (Zhang & Sennrich 2019) and ``Layer``, one layer's weights with q/k/v and gate/up
fused for small models. Each computes the same function as the model's own module up to float
rounding (tests/backends/test_hf.py compares sampled texts with the model's forward)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding (Su et al. 2021), rotate-half convention, over the last dim of ``x``;
    ``cos``/``sin`` broadcast against ``x`` (e.g. x ``[B, T, heads, d]``, cos ``[B, T, 1, d]``)."""
    half = x.shape[-1] // 2
    rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rot * sin


def rope_complex(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Rotary embedding on the interleaved layout (pairs (x_i, y_i) adjacent in the last dim) as a
    complex product; ``freqs = cos + i sin`` broadcasts against ``x``'s complex view."""
    xc = torch.view_as_complex(x.unflatten(-1, (-1, 2)))
    return torch.view_as_real(xc * freqs).flatten(-2)


@dataclass(frozen=True)
class Norm:
    """An RMSNorm's weight and epsilon (a fused Qwen3 layer's q/k norms, permuted like q and k)."""

    weight: torch.Tensor
    eps: float


def norm_eps(norm: Any) -> float:
    """The epsilon of an RMSNorm module (``variance_epsilon`` or ``eps`` in transformers)."""
    return getattr(norm, "variance_epsilon", None) or getattr(norm, "eps", None) or 1e-6


def rms_norm(x: torch.Tensor, norm: Any) -> torch.Tensor:
    """A Llama-style RMSNorm module's function (float32 statistics, then ``weight * x``)."""
    eps = norm_eps(norm)
    if x.dtype == torch.float32 and norm.weight.dtype == torch.float32:
        return torch.nn.functional.rms_norm(x, (x.shape[-1],), norm.weight, eps)
    y = torch.nn.functional.rms_norm(x.float(), (x.shape[-1],), eps=eps)
    return norm.weight * y.to(x.dtype)


class Layer:
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
                self.q_norm = Norm(self.q_norm.weight[perm.to(dev)].detach(), norm_eps(self.q_norm))
                self.k_norm = Norm(self.k_norm.weight[perm.to(dev)].detach(), norm_eps(self.k_norm))
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
        a = self._gated(rms_norm(x, self.ln2))
        return torch.addmm(x, a, self.w_down_t) if self.addmm else x + self.down_proj(a)

