"""The sampling-backend protocol: what every backend (hf, vllm, openai, ray) offers.

A boundary study (Yue et al. 2025, arXiv 2504.13837, Sec. 2) draws ``n`` independent samples per
problem and scores responses under a model (perplexity, Sec. 4.1). A backend therefore needs only
two calls:

* ``generate(prompts, params, seeds)``: for prompt ``i``, one ``Completion`` per seed in
  ``seeds[i]``; sample ``j`` of prompt ``i`` is drawn with ``seeds[i][j]`` alone, so it does not
  depend on which other samples share its batch (user pain point 5: independent samples).
* ``score(prompts, continuations)``: per-token log-probabilities of each continuation given its
  prompt, shape ``(tokens_of_continuation,)`` per pair.

Optional capabilities (``generate_stream``, ``describe``) are methods of ``Backend`` with defaults,
which every backend inherits by subclassing it; nothing probes a backend for a method.

This module imports no heavy library; backends load lazily through ``get_backend``.
"""

from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rlbound.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass(frozen=True)
class SamplingParams:
    """How to sample (the paper's protocol: temperature 0.6, top-p 0.95, 16,384 new tokens).

    Attributes:
        n: samples per problem (the n of pass@k, Chen et al. 2021).
        temperature: softmax temperature; 0 means greedy decoding.
        top_p: nucleus sampling threshold in (0, 1]; 1 disables it (Holtzman et al. 2020).
        max_new_tokens: most tokens generated per sample; a sample cut there has finish_reason "length".
        stop: strings that end a sample (not included in its text).
        seed: the run seed every per-sample seed is derived from (see rlbound.sampling.loop.sample_seed).
        logprobs: also return the log-probability of each generated token under the model
            (before temperature and top-p, like vLLM's default).
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int = 0
    logprobs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", tuple(self.stop))
        validate_sampling(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form for the run manifest."""
        d = dataclasses.asdict(self)
        d["stop"] = list(self.stop)
        return d


def validate_sampling(p: SamplingParams) -> None:
    """Raise InputError naming the first bad field of ``p``."""
    if not isinstance(p.n, int) or isinstance(p.n, bool) or p.n <= 0:
        raise InputError(f"n must be a positive integer, got {p.n!r}", field="n")
    if not _is_number(p.temperature) or p.temperature < 0 or math.isnan(p.temperature):
        raise InputError(f"temperature must be >= 0, got {p.temperature!r}", field="temperature")
    if not _is_number(p.top_p) or not (0 < p.top_p <= 1):
        raise InputError(f"top_p must be in (0, 1], got {p.top_p!r}", field="top_p")
    if not isinstance(p.max_new_tokens, int) or isinstance(p.max_new_tokens, bool) or p.max_new_tokens <= 0:
        raise InputError(f"max_new_tokens must be a positive integer, got {p.max_new_tokens!r}",
                         field="max_new_tokens")
    if any(not isinstance(s, str) or s == "" for s in p.stop):
        raise InputError(f"stop must be a list of non-empty strings, got {list(p.stop)!r}", field="stop")
    if not isinstance(p.seed, int) or isinstance(p.seed, bool):
        raise InputError(f"seed must be an integer, got {p.seed!r}", field="seed")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True)
class Completion:
    """One sampled response.

    Attributes:
        text: the completion without the prompt, cut before any stop string.
        completion_tokens: tokens generated (an EOS or stop-completing token counts).
        prompt_tokens: tokens in the prompt as the model saw it.
        finish_reason: "stop" (EOS or a stop string) or "length" (hit max_new_tokens: truncated).
        logprobs: per generated token, its log-probability under the model; None unless asked for.
    """

    text: str
    completion_tokens: int
    prompt_tokens: int
    finish_reason: str
    logprobs: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Batch:
    """A unit of work for ``stream``: prompts and their per-sample seeds, with an opaque key."""

    key: Any
    prompts: tuple[str, ...]
    seeds: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        return sum(len(s) for s in self.seeds)


@runtime_checkable
class Backend(Protocol):
    """A sampler for one model. ``tokenizer`` is the model's tokenizer where the backend has one
    (hf, vllm), else None (openai); chat templates need it.

    Every backend subclasses this class (``class HFBackend(Backend)``): it must implement
    ``generate``, ``score`` and ``close``, and inherits the optional capabilities, which it may
    override: ``generate_stream`` (default: one batch after another through ``generate``; ray keeps
    several in flight) and ``describe`` (default: nothing to add to the manifest).
    """

    name: str
    model: str
    tokenizer: Any

    @abstractmethod
    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 seeds: Sequence[Sequence[int]]) -> list[list[Completion]]:
        """For each prompt ``i``, one Completion per seed in ``seeds[i]`` (same order)."""

    @abstractmethod
    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[np.ndarray]:
        """Per-token log-probabilities (natural log, float64, shape ``(T_i,)``) of each
        continuation given its prompt, at temperature 1."""

    @abstractmethod
    def close(self) -> None:
        """Release the model, threads, actors."""

    def generate_stream(self, batches: Iterable[Batch],
                        params: SamplingParams) -> Iterator[tuple[Batch, list[list[Completion]]]]:
        """Yield ``(batch, completions)`` as batches finish, ``completions`` as ``generate`` returns
        them for the batch. This default runs the batches one after another, in order; a backend
        that keeps several in flight (ray: one per replica) overrides it and may yield out of order."""
        for b in batches:
            yield b, self.generate(list(b.prompts), params, [list(s) for s in b.seeds])

    def describe(self) -> dict[str, Any]:
        """What the run manifest records about how the model ran (library versions, device, ...);
        this default records nothing."""
        return {}


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of a prompt as every local backend feeds it: the tokenizer's special tokens (BOS)
    are added unless the text already starts with the BOS token (a rendered chat template)."""
    bos = getattr(tokenizer, "bos_token", None)
    add = not (bos and prompt.startswith(bos))
    return list(tokenizer(prompt, add_special_tokens=add)["input_ids"])


def check_seeds(prompts: Sequence[str], seeds: Sequence[Sequence[int]]) -> None:
    """Shared argument check for ``generate``."""
    if len(prompts) != len(seeds):
        raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seed lists")


def stream(backend: Backend, batches: Iterable[Batch],
           params: SamplingParams) -> Iterator[tuple[Batch, list[list[Completion]]]]:
    """Yield ``(batch, completions)`` as batches finish: ``backend.generate_stream`` (in order,
    except for backends that keep several batches in flight, such as ray)."""
    yield from backend.generate_stream(batches, params)


# ---- registry ---------------------------------------------------------------------------------

# name -> ("module:factory", "module:OptionsClass")
_REGISTRY: dict[str, tuple[str, str]] = {
    "hf": ("rlbound.backends.hf.backend:HFBackend", "rlbound.backends.hf.options:HFOptions"),
    "vllm": ("rlbound.backends.vllm:VLLMBackend", "rlbound.backends.vllm:VLLMOptions"),
    "openai": ("rlbound.backends.openai:OpenAIBackend", "rlbound.backends.openai:OpenAIOptions"),
    "ray": ("rlbound.backends.ray:RayBackend", "rlbound.backends.ray:RayOptions"),
}


def available() -> list[str]:
    """Names of the registered backends."""
    return sorted(_REGISTRY)


def _load(target: str) -> Any:
    import importlib

    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def options_class(name: str) -> type:
    """The typed options dataclass of backend ``name`` (HFOptions, VLLMOptions, ...)."""
    if name not in _REGISTRY:
        raise InputError(f"unknown backend {name!r}; known: {', '.join(available())}", field="backend")
    return _load(_REGISTRY[name][1])


def get_backend(name: str, model: str, options: Any = None, **fields: Any) -> Backend:
    """Build backend ``name`` for ``model``.

    ``options`` is the backend's options dataclass (``HFOptions``, ...); alternatively pass its
    fields as keywords, checked against the dataclass (an unknown one raises InputError).
    Heavy imports (torch, vllm, ray) happen here, not when rlbound.backends is imported.
    """
    opts_cls = options_class(name)
    if options is None:
        known = {f.name for f in dataclasses.fields(opts_cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise InputError(f"backend {name!r} has no option {unknown[0]!r}; options: {', '.join(sorted(known))}",
                             field=unknown[0])
        options = opts_cls(**fields)
    elif fields:
        options = dataclasses.replace(options, **fields)
    if not isinstance(options, opts_cls):
        raise TypeError(f"options for backend {name!r} must be {opts_cls.__name__}, got {type(options).__name__}")
    return _load(_REGISTRY[name][0])(model, options)

