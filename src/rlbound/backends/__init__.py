"""Sampling backends: ``hf`` (transformers), ``vllm``, ``openai`` (any OpenAI-compatible server)
and ``ray`` (data-parallel replicas of another backend).

Importing this package imports no torch, vllm or ray; ``get_backend`` loads the one asked for.
See ``rlbound.backends.protocol`` for the protocol and docs/backends.md for usage.
"""

from rlbound.backends.protocol import (
    Backend,
    Batch,
    Completion,
    SamplingParams,
    available,
    get_backend,
    options_class,
    stream,
)

__all__ = ["Backend", "Batch", "Completion", "SamplingParams", "available", "get_backend", "options_class",
           "stream"]
