"""Loading a transformers causal LM for the ``hf`` backend: device and dtype resolution, and
``load_model_and_tokenizer`` (an ``InputError`` naming the model when it cannot be loaded)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from rlbound.errors import InputError


def resolve_device(device: str) -> torch.device:
    """``HFOptions.device`` as a torch device ("auto": CUDA when available, else CPU)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}", field="device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but no CUDA device is available", field="device")
    return dev


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``HFOptions.dtype`` as a torch dtype ("auto": float32 on CPU, bfloat16 or float16 on CUDA)."""
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

