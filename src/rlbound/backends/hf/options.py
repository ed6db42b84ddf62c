"""``HFOptions``, the options of the ``hf`` backend: light (no torch), so ``rlbound.sampling.config``
can take its fields' defaults from here without loading torch."""

from __future__ import annotations

from dataclasses import dataclass


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
