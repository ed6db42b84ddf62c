"""The ``hf`` backend: sampling with transformers models on CPU or GPU, a batched KV-cache decode loop.

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
  and its keys/values copied to the sample rows (or, with many rows per prompt, kept once).
* **Finished rows leave the batch** once a quarter of the rows are done (the caches are compacted).
* **Left padding** with a key mask and per-row position ids when prompts differ in length; the
  equal-length case (the sandbox's fixed-width prompts) needs neither.

Tokens are drawn by Gumbel-max over the top-p nucleus with counter-based noise, so a sample depends
only on its own seed and prompt (user pain point 5: independent samples; ``sampler``'s docstring).

Modules: ``options`` (``HFOptions``; no torch), ``sampler`` (the sampling rule and its noise),
``layers`` (rotary embedding, RMSNorm, fused layer weights), ``decoders`` (the KV-cache decoders and
which one a batch takes), ``loading`` (model, device, dtype), ``backend`` (``HFBackend``: the decode
loop, scoring). The names below load on first use, so importing this package (for ``HFOptions``)
imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from rlbound.backends.hf.options import HFOptions

# name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "HFBackend": "backend",
    "cut_at_stop": "backend",
    "load_model_and_tokenizer": "loading",
    "fast_path_supported": "decoders",
    "SHARED_PREFIX_MIN_ROWS": "decoders",
    "SHARED_PREFIX_MIN_KEYS": "decoders",
    "choose_tokens": "sampler",
    "gumbel_noise": "sampler",
    "row_keys": "sampler",
    "splitmix64": "sampler",
    "uniform_noise": "sampler",
}

__all__ = ["HFOptions", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    """Load an exported name from its submodule on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlbound.backends.hf' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rlbound.backends.hf.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
