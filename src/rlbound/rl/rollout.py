"""Rollouts and log-probabilities for the RLVR trainer and distillation.

An RLVR step (Yue et al. 2025, arXiv 2504.13837, Sec. 2: "RLVR") samples ``n`` responses per prompt
from the current policy, grades each with a verifier, and scores the sampled tokens under the policy
(and a reference / critic). This module holds the model-side pieces:

* ``sample_groups``: ``n`` responses per prompt through the ``hf`` backend's batched KV-cache
  sampler (``rlbound.backends.hf``) with per-sample seeds derived from (run seed, step, ...).
* ``response_ids``: the token ids of a sampled response. The backend returns text, so the text is
  re-tokenised (plus EOS when the sample ended on EOS). For the sandbox's word-level tokenizer this
  is exact (decoding concatenates token strings, encoding splits them back); for BPE tokenizers the
  re-tokenised ids can differ from the sampled ones (a non-canonical segmentation), and the trainer
  then optimises the canonical segmentation of the same text. ``response_ids`` reports a mismatch
  when the token count differs from the backend's ``completion_tokens``.
* ``TokenBatch`` / ``pack``: prompts left-padded to one width ``P``, responses right-padded to
  ``T``, so response position ``t`` is column ``P + t`` for every row and the logits at column
  ``P + t - 1`` predict it (the usual one-position shift of causal LMs).
* ``response_logprobs``: per-token log-probabilities (and entropies) of the response tokens,
  ``[B, T]``, at the sampling temperature (logits / T, as verl's actor does).
* ``ValueModel``: PPO's critic, a copy of the policy's backbone with a scalar head.
* ``pass_rate``: pass@1 (and pass@n) of a model on problems, for held-out evaluation.
* ``PolicySampler``: what these functions need from a backend, and the model the trainer updates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from rlbound.types import Problem

__all__ = [
    "PolicySampler",
    "TokenBatch",
    "ValueModel",
    "derive_seed",
    "pack",
    "pass_rate",
    "prompt_of",
    "response_ids",
    "response_logprobs",
    "sample_groups",
]


class PolicySampler(Protocol):
    """The interface between a sampling backend and RL training (``rlbound.backends.hf.HFBackend``
    implements it).

    Rollouts and evaluation (``sample_groups``, ``pass_rate``, the trainer's ``collect_rollouts``)
    use ``generate``, ``encode_prompt``, ``tokenizer``, ``pad_id`` and ``device``; the trainer and
    distillation take ``causal_lm``, the torch module the backend samples from, and update it in
    place, so every later ``generate`` samples the current weights.
    """

    tokenizer: Any
    device: torch.device
    pad_id: int

    @property
    def causal_lm(self) -> Any:
        """The transformers causal LM behind ``generate`` (trained in place)."""

    def generate(self, prompts: Sequence[str], params: Any, seeds: Sequence[Sequence[int]]) -> list[list[Any]]:
        """For each prompt, one ``rlbound.backends.protocol.Completion`` per seed."""

    def encode_prompt(self, prompt: str) -> list[int]:
        """Token ids of a prompt as ``generate`` encodes it."""


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed that is a pure function of ``parts`` (blake2b of their text)."""
    h = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << 63) - 1)


def prompt_of(problem: Problem) -> str:
    """The text the model continues: ``rlbound.toy.tasks.prompt_text`` for sandbox problems,
    ``problem.prompt`` as is otherwise."""
    if problem.verifier == "synthetic":
        from rlbound.toy.tasks import prompt_text
        return prompt_text(problem)
    return problem.prompt


def sample_groups(backend: PolicySampler, problems: Sequence[Problem], n: int, params: Any,
                  seed_parts: Sequence[int | str]) -> list[list[Any]]:
    """``n`` completions per problem from ``backend.generate``; sample ``j`` of problem ``i`` is
    drawn with seed ``derive_seed(*seed_parts, i, j)`` (counter-based: independent of the batch).

    Returns ``[len(problems)][n]`` ``rlbound.backends.protocol.Completion``.
    """
    prompts = [prompt_of(p) for p in problems]
    seeds = [[derive_seed(*seed_parts, i, j) for j in range(n)] for i in range(len(problems))]
    return backend.generate(prompts, params, seeds)


def response_ids(tokenizer: Any, completion: Any, eos_id: int | None) -> tuple[list[int], bool]:
    """(token ids of a sampled response, mismatch flag); see the module docstring.

    The ids are ``tokenizer(text, add_special_tokens=False)`` followed by ``eos_id`` when the
    sample stopped (``finish_reason == "stop"``) and ``eos_id`` is known. ``mismatch`` is True when
    their count differs from ``completion.completion_tokens`` (re-tokenisation was not exact).
    """
    ids = list(tokenizer(completion.text, add_special_tokens=False)["input_ids"])
    if completion.finish_reason == "stop" and eos_id is not None:
        ids.append(int(eos_id))
    if not ids:  # a response must have at least one token to be trained on
        ids = [int(eos_id) if eos_id is not None else 0]
    return ids, len(ids) != int(completion.completion_tokens)


@dataclass(frozen=True)
class TokenBatch:
    """Prompt + response token ids of B rows, aligned on the response.

    Shapes: ``input_ids`` [B, P + T]: prompt left-padded to width P, response right-padded to T.
    ``attention_mask`` / ``position_ids`` [B, P + T]: None when no prompt is padded (the causal mask
    alone is then exact: right padding never influences earlier positions). ``response_mask``
    [B, T] bool: True on response tokens (EOS included). ``prompt_index`` [B] long: rows with the
    same value have the same prompt (the n responses of a group), so the prompt can be encoded once
    and its keys/values shared (``response_logprobs``).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor | None
    position_ids: torch.Tensor | None
    response_mask: torch.Tensor
    prompt_width: int
    prompt_index: torch.Tensor | None = None

    @property
    def width(self) -> int:
        """T, the response width."""
        return int(self.response_mask.shape[1])

    def rows(self, idx: torch.Tensor) -> TokenBatch:
        """The rows ``idx`` (long [b]), trimmed to their longest response (T' <= T)."""
        m = self.response_mask[idx]
        t = int(m.sum(1).max()) if m.numel() else 0
        cut = self.prompt_width + t
        am = None if self.attention_mask is None else self.attention_mask[idx, :cut]
        pos = None if self.position_ids is None else self.position_ids[idx, :cut]
        pi = None if self.prompt_index is None else self.prompt_index[idx]
        return TokenBatch(self.input_ids[idx, :cut], am, pos, m[:, :t], self.prompt_width, pi)


def pack(prompt_ids: Sequence[Sequence[int]], resp_ids: Sequence[Sequence[int]], pad_id: int,
         device: torch.device | str = "cpu") -> TokenBatch:
    """Build a ``TokenBatch`` from per-row prompt and response ids (see ``TokenBatch``)."""
    if len(prompt_ids) != len(resp_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(resp_ids)} responses")
    b = len(prompt_ids)
    p = max(len(x) for x in prompt_ids)
    t = max(len(x) for x in resp_ids)
    ids = torch.full((b, p + t), int(pad_id), dtype=torch.long)
    attn = torch.zeros((b, p + t), dtype=torch.long)
    rmask = torch.zeros((b, t), dtype=torch.bool)
    index: dict[tuple[int, ...], int] = {}
    for i, (pi, ri) in enumerate(zip(prompt_ids, resp_ids)):
        ids[i, p - len(pi):p] = torch.tensor(list(pi), dtype=torch.long)
        ids[i, p:p + len(ri)] = torch.tensor(list(ri), dtype=torch.long)
        attn[i, p - len(pi):p + len(ri)] = 1
        rmask[i, :len(ri)] = True
        index.setdefault(tuple(pi), len(index))
    pidx = torch.tensor([index[tuple(x)] for x in prompt_ids], dtype=torch.long, device=device)
    left_padded = any(len(x) < p for x in prompt_ids)
    if left_padded:
        pos = (attn.cumsum(1) - 1).clamp(min=0)
        return TokenBatch(ids.to(device), attn.to(device), pos.to(device), rmask.to(device), p, pidx)
    return TokenBatch(ids.to(device), None, None, rmask.to(device), p, pidx)


def _forward_logits(model: Any, batch: TokenBatch) -> torch.Tensor:
    """Logits ``[B, T, V]`` at columns ``P - 1 .. P + T - 2`` (each predicts the next column)."""
    t = batch.width
    if _can_share_prompts(model, batch):
        return _shared_prompt_logits(model, batch)
    kwargs: dict[str, Any] = {"input_ids": batch.input_ids, "use_cache": False}
    if batch.attention_mask is not None:
        kwargs["attention_mask"] = batch.attention_mask
        kwargs["position_ids"] = batch.position_ids
    try:
        logits = model(**kwargs, logits_to_keep=t + 1).logits
    except TypeError:  # a model without logits_to_keep
        logits = model(**kwargs).logits[:, -(t + 1):]
    return logits[:, :t]


def _can_share_prompts(model: Any, batch: TokenBatch) -> bool:
    """Shared prompt encoding needs repeated prompts and a Llama-family model (DynamicCache, RoPE)."""
    if batch.prompt_index is None or batch.width < 1:
        return False
    if int(batch.prompt_index.unique().numel()) * 2 > batch.input_ids.shape[0]:
        return False  # too little repetition to pay for two passes
    return getattr(model.config, "model_type", None) in {"llama", "qwen2", "qwen3", "mistral"}


def _shared_prompt_logits(model: Any, batch: TokenBatch) -> torch.Tensor:
    """``_forward_logits`` with each distinct prompt encoded once.

    Pass 1 encodes the U distinct prompts ``[U, P]`` (keys/values cached, only the last position's
    logits kept); the cache is gathered to the B rows (``index_select``, differentiable) and pass 2
    runs the responses ``[B, T - 1]`` (the last token predicts nothing) at positions ``P .. P+T-2``
    over it. Gradients flow through the gathered cache into pass 1, so values and gradients equal
    the unshared forward's (to float rounding); the prompt work drops from B to U sequences.
    Left-padded prompts keep their attention mask and position ids in both passes.
    """
    from transformers import DynamicCache

    p, t = batch.prompt_width, batch.width
    b = batch.input_ids.shape[0]
    uniq, inv = torch.unique(batch.prompt_index, return_inverse=True)
    rows = torch.arange(b, device=inv.device)
    first = torch.full((uniq.numel(),), b, dtype=torch.long, device=inv.device).scatter_reduce(0, inv, rows, "amin")
    am, pos = batch.attention_mask, batch.position_ids
    extra = {} if am is None else {"attention_mask": am[first, :p], "position_ids": pos[first, :p]}
    cache = DynamicCache(config=model.config)
    out = model(input_ids=batch.input_ids[first, :p], past_key_values=cache, use_cache=True, logits_to_keep=1,
                **extra)
    head = out.logits[inv]  # [B, 1, V]: predicts the first response token
    if t == 1:
        return head
    cache = out.past_key_values
    cache.batch_select_indices(inv)
    cols = torch.arange(p, p + t - 1, device=inv.device)
    if am is None:
        extra = {"position_ids": cols[None].expand(b, -1)}
    else:
        extra = {"attention_mask": am[:, :p + t - 1], "position_ids": pos[:, p:p + t - 1]}
    tail = model(input_ids=batch.input_ids[:, p:p + t - 1], past_key_values=cache, use_cache=True,
                 cache_position=cols, **extra).logits
    return torch.cat([head, tail], dim=1)


def response_logprobs(model: Any, batch: TokenBatch, temperature: float = 1.0, with_entropy: bool = False,
                      entropy_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities ``[B, T]`` of the response tokens under ``model`` at ``temperature``
    (``log_softmax(logits / temperature)``), and their entropies ``[B, T]`` when asked
    (differentiable only with ``entropy_grad``: the entropy bonus; else a detached metric).

    The logit at column ``c`` predicts the token at column ``c + 1``: response token ``t`` (column
    ``P + t``) is scored by the logits at column ``P + t - 1``. Values outside ``response_mask``
    are garbage (padding) and must be masked by the caller. Differentiable unless called under
    ``torch.no_grad``.
    """
    logits = _forward_logits(model, batch).float()
    if temperature != 1.0:
        logits = logits / temperature
    targets = batch.input_ids[:, batch.prompt_width:batch.prompt_width + batch.width]
    logp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    ent = None
    if with_entropy:
        from rlbound.rl.algos.losses import entropy_from_logits
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            ent = entropy_from_logits(logits if entropy_grad else logits.detach())
    return logp, ent


class ValueModel(torch.nn.Module):
    """PPO critic: the policy's backbone (a copy, trained separately) and a linear value head.

    ``values(batch)`` is ``[B, T]``: the value of response token ``t`` is read at column
    ``P + t - 1``, the state before the token is generated, aligned with the log-probs (as verl's
    critic). The head starts at zero, so the first values are 0 (Schulman et al. 2017, PPO; a
    separate critic as in verl's ``critic`` worker).
    """

    def __init__(self, policy: Any) -> None:
        super().__init__()
        import copy

        self.backbone = copy.deepcopy(policy.base_model)
        hidden = policy.config.get_text_config().hidden_size
        self.head = torch.nn.Linear(hidden, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        self.head.to(next(self.backbone.parameters()).device)

    def values(self, batch: TokenBatch) -> torch.Tensor:
        kwargs: dict[str, Any] = {"input_ids": batch.input_ids, "use_cache": False}
        if batch.attention_mask is not None:
            kwargs["attention_mask"] = batch.attention_mask
            kwargs["position_ids"] = batch.position_ids
        h = self.backbone(**kwargs).last_hidden_state
        p, t = batch.prompt_width, batch.width
        return self.head(h[:, p - 1:p - 1 + t].float()).squeeze(-1)


def pass_rate(backend: PolicySampler, problems: Sequence[Problem], n: int, *, temperature: float, max_new_tokens: int,
              seed: int, reward: Callable[[Problem, str], float], top_p: float = 1.0) -> dict[str, float]:
    """pass@1 and pass@n of the backend's model on ``problems`` with ``n`` samples each.

    pass@k is Chen et al. 2021's unbiased estimator averaged over problems (``rlbound.metrics.passk``);
    a response counts as correct when ``reward(problem, text) >= 1``. Sample ``j`` of a problem is
    drawn with ``rlbound.sampling.loop.sample_seed(seed, problem.id, j)``, the seed ``rlbound sample``
    gives the same cell, so two models are compared on the same seeds.

    Returns ``{"pass1", "passn", "n", "problems", "response_length"}``.
    """
    from rlbound.backends.protocol import SamplingParams
    from rlbound.metrics.passk import pass_at_k_curve
    from rlbound.sampling.config import sample_seed
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    seeds = [[sample_seed(seed, p.id, j) for j in range(n)] for p in problems]
    groups = backend.generate([prompt_of(p) for p in problems], params, seeds)
    c = np.array([sum(reward(p, x.text) >= 1.0 for x in g) for p, g in zip(problems, groups)], dtype=np.int64)
    curve = pass_at_k_curve(np.full(len(problems), n, dtype=np.int64), c)
    length = float(np.mean([x.completion_tokens for g in groups for x in g]))
    return {"pass1": float(curve[0]), "passn": float(curve[-1]), "n": n, "problems": len(problems),
            "response_length": length}
