"""The ``hf`` backend's sampling rule: Gumbel-max over the top-p nucleus with counter-based noise.

Each sample row has its own 64-bit seed (user pain point 5: independent samples). Tokens are drawn
by the Gumbel-max trick (Gumbel 1954; Maddison et al. 2014): ``token = argmax_v (logits_v / T + G_v)``
over the top-p nucleus (Holtzman et al. 2020), which is an exact draw from ``softmax(logits / T)``
restricted to the nucleus. The uniform noise behind ``G_v = -log(-log(U_v))`` is counter-based:
``U_v`` is a splitmix64 hash (Steele et al. 2014) of (row seed, step, token id) computed with
vectorised int64 tensor ops, so it is a pure function of those three numbers. A sample's tokens
therefore depend only on its seed and its prompt, never on which other samples share its batch or
how the batch was split: a resumed run redraws a missing sample exactly. (Bitwise identity also
needs the model's logits to be bitwise identical, which holds for the same hardware, dtype and
prompt length; mixing prompt lengths in one batch (padding) or very different batch sizes can
change logits in the last bits, which changes a token only when two perturbed scores tie to ~1e-7
-- the same caveat as any GPU engine.) Temperature 0 is greedy. Per-row ``torch.Generator``
objects would give the same independence at one RNG call per row and step; the hash costs a
handful of elementwise int64 ops, drawn for up to 16 steps at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

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

