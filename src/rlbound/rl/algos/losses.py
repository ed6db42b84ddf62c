"""Masked reductions and the actor / critic / entropy losses of an RLVR trainer (pure torch).

Shapes: ``B`` sequences (responses), ``T`` response positions (right-padded), ``V`` vocabulary.
A ``mask`` [B, T] is 1 (or True) on response tokens that count, 0 elsewhere (prompt, padding,
tool-output tokens). Values at masked-out positions are never read: they may be garbage, even
inf or NaN, without leaking into a loss.

The policy loss is PPO's clipped surrogate (Schulman et al. 2017, "Proximal Policy Optimization
Algorithms", arXiv 1707.06347) with the decoupled clip range of DAPO (Yu et al. 2025, "DAPO: An
Open-Source LLM Reinforcement Learning System at Scale", arXiv 2503.14476, "clip-higher") and the
dual clip of Ye et al. 2020 ("Mastering Complex Control in MOBA Games with Deep Reinforcement
Learning", arXiv 1912.09729). The aggregation modes are the ones verl calls ``loss_agg_mode``; see
``aggregate`` and docs/algorithms.md.

Every function here is pure: no IO, no model code, no global state except the aggregation registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from rlbound.errors import InputError

__all__ = [
    "RLInputError",
    "AGGREGATION_MODES",
    "aggregate",
    "masked_mean",
    "masked_whiten",
    "PolicyLossConfig",
    "PolicyLossOutput",
    "policy_loss",
    "ValueLossOutput",
    "value_loss",
    "entropy_from_logits",
    "mean_entropy",
]

# log-ratio clamp before exp() (verl uses the same bound): keeps exp() finite in fp32/bf16.
_LOG_RATIO_CLAMP = 20.0


class RLInputError(InputError, ValueError):
    """Bad input to an RL algorithm piece: a missing field, a shape mismatch, an unknown name.

    It is both an ``rlbound.errors.InputError`` (the CLI prints it as one line, exit 2) and a
    ``ValueError`` (what a caller of a numeric function expects). ``field`` names the offending
    input or option.
    """


# --------------------------------------------------------------------------- checks and helpers


def _check_2d_pair(x: torch.Tensor, mask: torch.Tensor, *, x_name: str, fn: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise RLInputError(f"{fn}: {x_name} must be a torch.Tensor, got {type(x).__name__}", field=x_name)
    if not isinstance(mask, torch.Tensor):
        raise RLInputError(f"{fn}: mask must be a torch.Tensor, got {type(mask).__name__}", field="mask")
    if x.dim() != 2:
        raise RLInputError(f"{fn}: {x_name} must have shape [B, T], got {tuple(x.shape)}", field=x_name)
    if mask.shape != x.shape:
        raise RLInputError(
            f"{fn}: mask shape {tuple(mask.shape)} differs from {x_name} shape {tuple(x.shape)}",
            field="mask",
        )


def _as_bool_mask(mask: torch.Tensor, *, name: str = "mask") -> torch.Tensor:
    """Bool view of a 0/1 mask (bool, int or float); anything else is an error."""
    if mask.dtype == torch.bool:
        return mask
    ok = (mask == 0) | (mask == 1)
    if not bool(ok.all()):
        raise RLInputError(f"{name} must hold only 0 and 1", field=name)
    return mask != 0


def _masked_fill_zero(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x where mask, exactly 0 elsewhere (unlike x * mask, inf/NaN outside the mask vanish)."""
    return torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the positions where ``mask`` is set (any shape; 0 when none are).

    Args:
        x: any shape.
        mask: same shape as ``x``, 0/1 or bool.

    Returns:
        0-dim tensor.
    """
    m = _as_bool_mask(mask)
    n = m.sum()
    return _masked_fill_zero(x, m).sum() / n.clamp(min=1).to(x.dtype)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float) -> torch.Tensor:
    """Standardise ``x`` over all masked positions of the batch: ``(x - mean) / (std + eps)``.

    The batch normalisation of advantages used by REINFORCE++ (Hu 2025, arXiv 2501.03262) and by
    PPO implementations after GAE. ``std`` is the sample standard deviation (ddof=1) over the
    ``n`` masked positions, as in verl's ``masked_whiten``; with n < 2 it is taken as 0 (the
    centred values are then 0 anyway). Positions outside the mask are 0 in the output.

    Args:
        x: [B, T].
        mask: [B, T], 0/1 or bool.
        eps: added to the standard deviation.

    Returns:
        [B, T].
    """
    m = _as_bool_mask(mask)
    n = m.sum().to(x.dtype)
    xz = _masked_fill_zero(x, m)
    mean = xz.sum() / n.clamp(min=1)
    centred = _masked_fill_zero(x - mean, m)
    var = (centred * centred).sum() / (n - 1).clamp(min=1)
    std = torch.where(n >= 2, var.sqrt(), torch.zeros_like(var))
    return centred / (std + eps)


# --------------------------------------------------------------------------- aggregation

Aggregator = Callable[[torch.Tensor, torch.Tensor, "int | None"], torch.Tensor]
_AGGREGATORS: dict[str, Aggregator] = {}


def _register_aggregator(name: str) -> Callable[[Aggregator], Aggregator]:
    def deco(fn: Aggregator) -> Aggregator:
        if name in _AGGREGATORS:
            raise RuntimeError(f"aggregation mode {name!r} registered twice")
        _AGGREGATORS[name] = fn
        return fn

    return deco


def _seq_has_tokens(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    per_seq = m.sum(dim=-1)
    nonempty = per_seq > 0
    return per_seq, nonempty


@_register_aggregator("token-mean")
def _token_mean(loss_mat: torch.Tensor, m: torch.Tensor, max_len: int | None) -> torch.Tensor:
    return _masked_fill_zero(loss_mat, m).sum() / m.sum().clamp(min=1).to(loss_mat.dtype)


@_register_aggregator("seq-mean-token-sum")
def _seq_mean_token_sum(loss_mat: torch.Tensor, m: torch.Tensor, max_len: int | None) -> torch.Tensor:
    seq = _masked_fill_zero(loss_mat, m).sum(dim=-1)
    _, nonempty = _seq_has_tokens(m)
    return seq.sum() / nonempty.sum().clamp(min=1).to(loss_mat.dtype)


@_register_aggregator("seq-mean-token-mean")
def _seq_mean_token_mean(loss_mat: torch.Tensor, m: torch.Tensor, max_len: int | None) -> torch.Tensor:
    per_seq, nonempty = _seq_has_tokens(m)
    seq = _masked_fill_zero(loss_mat, m).sum(dim=-1) / per_seq.clamp(min=1).to(loss_mat.dtype)
    return seq.sum() / nonempty.sum().clamp(min=1).to(loss_mat.dtype)


@_register_aggregator("seq-mean-token-sum-norm")
def _seq_mean_token_sum_norm(loss_mat: torch.Tensor, m: torch.Tensor, max_len: int | None) -> torch.Tensor:
    if max_len is None:
        raise RLInputError(
            "loss_agg_mode 'seq-mean-token-sum-norm' (Dr. GRPO) needs max_len, a constant such as the "
            "generation limit max_new_tokens; the padded width of the batch is not constant",
            field="max_len",
        )
    _, nonempty = _seq_has_tokens(m)
    seq = _masked_fill_zero(loss_mat, m).sum(dim=-1) / float(max_len)
    return seq.sum() / nonempty.sum().clamp(min=1).to(loss_mat.dtype)


AGGREGATION_MODES: Mapping[str, Aggregator] = MappingProxyType(_AGGREGATORS)


def aggregate(loss_mat: torch.Tensor, mask: torch.Tensor, mode: str, max_len: int | None = None) -> torch.Tensor:
    """Reduce a per-token loss [B, T] to a scalar (verl's ``loss_agg_mode``; TRL's ``loss_type``).

    A "sequence" below is a row with at least one masked-in token; all-padding rows (a sample
    dropped by filtering) count in no denominator. ``L_i`` is the number of tokens of row i,
    ``S`` the number of sequences.

    - ``token-mean``: ``sum_i sum_t l_it / sum_i L_i``. Every token weighs the same (DAPO,
      Yu et al. 2025, Sec. 3.3 "token-level policy gradient loss"; TRL ``bnpo``/``dapo``).
    - ``seq-mean-token-sum``: ``(1/S) sum_i sum_t l_it``.
    - ``seq-mean-token-mean``: ``(1/S) sum_i (1/L_i) sum_t l_it``: the original GRPO objective
      (Shao et al. 2024, DeepSeekMath, arXiv 2402.03300, eq. 3; TRL ``grpo``). Length-biased.
    - ``seq-mean-token-sum-norm``: ``(1/S) sum_i (1/max_len) sum_t l_it`` with a constant
      ``max_len`` (Dr. GRPO, Liu et al. 2025, "Understanding R1-Zero-Like Training: A Critical
      Perspective", arXiv 2503.20783, Sec. 3.1; TRL ``dr_grpo`` with ``max_completion_length``).
      verl's mode of the same name divides the *sum* over sequences by the padded width; this
      one averages over sequences, like TRL, and needs ``max_len`` explicitly.

    Example (hand-worked in tests): two responses with per-token losses [2] and [1, 1, 1]:
    token-mean 5/4 = 1.25, seq-mean-token-sum (2+3)/2 = 2.5, seq-mean-token-mean (2+1)/2 = 1.5.

    Args:
        loss_mat: [B, T] per-token loss.
        mask: [B, T] 0/1 or bool.
        mode: one of ``AGGREGATION_MODES``.
        max_len: the constant normaliser of ``seq-mean-token-sum-norm`` (ignored otherwise).

    Returns:
        0-dim tensor (0 when the mask is empty), differentiable in ``loss_mat``.
    """
    _check_2d_pair(loss_mat, mask, x_name="loss_mat", fn="aggregate")
    fn = _AGGREGATORS.get(mode)
    if fn is None:
        raise RLInputError(
            f"unknown loss aggregation mode {mode!r}; known: {', '.join(sorted(_AGGREGATORS))}",
            field="loss_agg_mode",
        )
    if max_len is not None and (not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 1):
        raise RLInputError(f"max_len must be a positive int, got {max_len!r}", field="max_len")
    return fn(loss_mat, _as_bool_mask(mask), max_len)


# --------------------------------------------------------------------------- policy loss


@dataclass(frozen=True)
class PolicyLossConfig:
    """Options of the clipped policy-gradient loss.

    Attributes:
        eps_low: lower clip range: the ratio is clipped below at ``1 - eps_low`` (PPO: 0.2).
        eps_high: upper clip range: clipped above at ``1 + eps_high`` (PPO 0.2; DAPO
            "clip-higher" 0.28, Yu et al. 2025, Sec. 3.1).
        dual_clip_c: dual-clip bound ``c > 1`` for negative advantages (Ye et al. 2020; verl's
            ``clip_ratio_c``, default 3.0 there), or None for no dual clip.
        agg_mode: loss aggregation, see ``aggregate``.
        max_len: constant normaliser for ``seq-mean-token-sum-norm`` (Dr. GRPO).
    """

    eps_low: float = 0.2
    eps_high: float = 0.2
    dual_clip_c: float | None = None
    agg_mode: str = "token-mean"
    max_len: int | None = None

    def __post_init__(self) -> None:
        for name in ("eps_low", "eps_high"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v:
                raise RLInputError(f"{name} must be a number >= 0, got {v!r}", field=name)
        if self.eps_low >= 1.0:
            raise RLInputError(f"eps_low must be < 1 (ratio bound 1 - eps_low > 0), got {self.eps_low}", field="eps_low")
        if self.dual_clip_c is not None and not (isinstance(self.dual_clip_c, (int, float)) and self.dual_clip_c > 1.0):
            raise RLInputError(f"dual_clip_c must be > 1 or None, got {self.dual_clip_c!r}", field="dual_clip_c")
        if self.agg_mode not in _AGGREGATORS:
            raise RLInputError(
                f"unknown loss aggregation mode {self.agg_mode!r}; known: {', '.join(sorted(_AGGREGATORS))}",
                field="agg_mode",
            )
        if self.agg_mode == "seq-mean-token-sum-norm" and self.max_len is None:
            raise RLInputError("agg_mode 'seq-mean-token-sum-norm' needs max_len", field="max_len")
        if self.max_len is not None and (not isinstance(self.max_len, int) or self.max_len < 1):
            raise RLInputError(f"max_len must be a positive int, got {self.max_len!r}", field="max_len")


@dataclass(frozen=True)
class PolicyLossOutput:
    """Result of ``policy_loss``. Every metric is a detached 0-dim tensor (no host sync).

    Attributes:
        loss: scalar to minimise (differentiable in ``log_probs``).
        clip_frac: share of masked tokens where the clipped term is the active one.
        clip_frac_high: share where ``A > 0`` and the ratio exceeds ``1 + eps_high``.
        clip_frac_low: share where ``A < 0`` and the ratio is below ``1 - eps_low``.
        dual_clip_frac: share where ``A < 0`` and the dual clip ``c`` binds (ratio > c).
        approx_kl: mean of ``old_log_probs - log_probs`` (k1 of KL(old || new); verl's ppo_kl).
        approx_kl_k3: mean of the k3 estimate of KL(old || new) (>= 0, low variance).
        ratio_mean: mean importance ratio (1 when on-policy).
        ratio_max: largest importance ratio over masked tokens.
    """

    loss: torch.Tensor
    clip_frac: torch.Tensor
    clip_frac_high: torch.Tensor
    clip_frac_low: torch.Tensor
    dual_clip_frac: torch.Tensor
    approx_kl: torch.Tensor
    approx_kl_k3: torch.Tensor
    ratio_mean: torch.Tensor
    ratio_max: torch.Tensor

    def metrics(self) -> dict[str, float]:
        """Every metric as a Python float (one host sync each); ``loss`` included."""
        names = ("loss", "clip_frac", "clip_frac_high", "clip_frac_low", "dual_clip_frac",
                 "approx_kl", "approx_kl_k3", "ratio_mean", "ratio_max")
        return {n: float(getattr(self, n).detach()) for n in names}


def policy_loss(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    config: PolicyLossConfig = PolicyLossConfig(),
) -> PolicyLossOutput:
    """Clipped surrogate policy loss with decoupled clip range and optional dual clip.

    Per token, with ratio ``r = exp(log_probs - old_log_probs)`` (log-ratio clamped to +-20)::

        l = max(-A r, -A clip(r, 1 - eps_low, 1 + eps_high))        (PPO, Schulman et al. 2017, eq. 7)
        l = min(l, -A c)   where A < 0 and dual_clip_c = c is set   (dual clip, Ye et al. 2020)

    then ``aggregate(l, mask, config.agg_mode)``. With ``eps_high > eps_low`` this is DAPO's
    clip-higher (Yu et al. 2025, eq. 10). Example: r = 1.25, A = +1: the loss is -1.2 with zero
    gradient at eps_high = 0.2 (clipped), -1.25 with gradient -1.25 at eps_high = 0.28.

    Args:
        log_probs: [B, T] log-probs of the sampled tokens under the current policy (with grad).
        old_log_probs: [B, T] the same under the policy that sampled them (no grad needed).
        advantages: [B, T] (e.g. ``AdvantageOutput.advantages``).
        mask: [B, T] response mask, 0/1 or bool.
        config: clip ranges, dual clip, aggregation.

    Returns:
        ``PolicyLossOutput`` (loss plus detached metrics).
    """
    _check_2d_pair(log_probs, mask, x_name="log_probs", fn="policy_loss")
    _check_2d_pair(old_log_probs, mask, x_name="old_log_probs", fn="policy_loss")
    _check_2d_pair(advantages, mask, x_name="advantages", fn="policy_loss")
    m = _as_bool_mask(mask)
    zero = torch.zeros((), dtype=log_probs.dtype, device=log_probs.device)
    log_ratio = torch.where(m, log_probs - old_log_probs.detach(), zero)
    log_ratio = log_ratio.clamp(-_LOG_RATIO_CLAMP, _LOG_RATIO_CLAMP)
    ratio = torch.exp(log_ratio)
    adv = torch.where(m, advantages.detach().to(log_probs.dtype), zero)

    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - config.eps_low, 1.0 + config.eps_high)
    loss_mat = torch.maximum(unclipped, clipped)
    negative = adv < 0
    if config.dual_clip_c is not None:
        dual = -adv * config.dual_clip_c
        dual_binds = negative & (loss_mat > dual)
        loss_mat = torch.where(negative, torch.minimum(loss_mat, dual), loss_mat)
    else:
        dual_binds = torch.zeros_like(m)
    loss = aggregate(loss_mat, m, config.agg_mode, config.max_len)

    with torch.no_grad():
        clip_active = clipped > unclipped
        positive = adv > 0
        lr = log_ratio.detach()
        k3 = torch.exp(lr) - lr - 1.0  # k3 of KL(old || new): x = new/old, (x - 1) - log x
        ratio_d = ratio.detach()
        # -inf outside the mask; an empty mask gives -inf, reported as 0 (no host sync needed)
        ratio_max = torch.where(m, ratio_d, torch.full_like(ratio_d, float("-inf"))).amax()
        ratio_max = torch.where(torch.isfinite(ratio_max), ratio_max, torch.zeros_like(ratio_max))
        out = PolicyLossOutput(
            loss=loss,
            clip_frac=masked_mean(clip_active.to(ratio_d.dtype), m),
            clip_frac_high=masked_mean((positive & (ratio_d > 1.0 + config.eps_high)).to(ratio_d.dtype), m),
            clip_frac_low=masked_mean((negative & (ratio_d < 1.0 - config.eps_low)).to(ratio_d.dtype), m),
            dual_clip_frac=masked_mean(dual_binds.to(ratio_d.dtype), m),
            approx_kl=masked_mean(-lr, m),
            approx_kl_k3=masked_mean(k3, m),
            ratio_mean=masked_mean(ratio_d, m),
            ratio_max=ratio_max,
        )
    return out


# --------------------------------------------------------------------------- value loss


@dataclass(frozen=True)
class ValueLossOutput:
    """Result of ``value_loss``: the loss and the share of tokens where the clipped term was used."""

    loss: torch.Tensor
    clip_frac: torch.Tensor


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float | None = 0.5,
    agg_mode: str = "token-mean",
    max_len: int | None = None,
) -> ValueLossOutput:
    """Clipped value (critic) loss of PPO.

    Per token: ``0.5 * max((v - R)^2, (clip(v, v_old - c, v_old + c) - R)^2)`` with ``c =
    clip_range`` (the value clipping of OpenAI baselines' PPO2, kept by TRL and verl whose
    ``critic.cliprange_value`` defaults to 0.5), or ``0.5 (v - R)^2`` when ``clip_range`` is None;
    then ``aggregate``. Schulman et al. 2017, eq. 9 (value term of the PPO objective).

    Args:
        values: [B, T] current critic predictions (with grad).
        old_values: [B, T] predictions when the rollout was scored (``AdvantageInputs.values``).
        returns: [B, T] value targets (``AdvantageOutput.returns``).
        mask: [B, T] response mask.
        clip_range: clip half-width ``c`` > 0, or None.
        agg_mode, max_len: see ``aggregate``.

    Returns:
        ``ValueLossOutput``.
    """
    _check_2d_pair(values, mask, x_name="values", fn="value_loss")
    _check_2d_pair(old_values, mask, x_name="old_values", fn="value_loss")
    _check_2d_pair(returns, mask, x_name="returns", fn="value_loss")
    if clip_range is not None and not clip_range > 0:
        raise RLInputError(f"clip_range must be > 0 or None, got {clip_range!r}", field="clip_range")
    m = _as_bool_mask(mask)
    target = returns.detach()
    err = (values - target) ** 2
    if clip_range is None:
        loss_mat = err
        frac = torch.zeros((), dtype=values.dtype, device=values.device)
    else:
        old = old_values.detach()
        v_clipped = torch.maximum(torch.minimum(values, old + clip_range), old - clip_range)
        err_clipped = (v_clipped - target) ** 2
        loss_mat = torch.maximum(err, err_clipped)
        with torch.no_grad():
            frac = masked_mean((err_clipped > err).to(values.dtype), m)
    return ValueLossOutput(loss=0.5 * aggregate(loss_mat, m, agg_mode, max_len), clip_frac=frac)


# --------------------------------------------------------------------------- entropy


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution softmax(logits) at every position.

    ``H = logsumexp(z) - sum_v softmax(z)_v z_v`` (stable for large logits). Used for the entropy
    bonus and for the entropy measurements of Yue et al. 2025 (Sec. 4, "entropy drops after RL").

    Args:
        logits: [B, T, V] (any leading shape, vocabulary last).

    Returns:
        [B, T] entropies in nats.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() < 1:
        raise RLInputError("logits must be a tensor with the vocabulary as last dimension", field="logits")
    z = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    p = torch.softmax(z, dim=-1)
    return torch.logsumexp(z, dim=-1) - (p * z).sum(dim=-1)


def mean_entropy(logits: torch.Tensor, mask: torch.Tensor, agg_mode: str = "token-mean",
                 max_len: int | None = None) -> torch.Tensor:
    """Masked mean entropy of the policy over response tokens (the entropy-bonus term).

    Args:
        logits: [B, T, V].
        mask: [B, T].
        agg_mode, max_len: see ``aggregate`` (token-mean by default).

    Returns:
        0-dim tensor, differentiable in ``logits``. The trainer adds ``-entropy_coef * this``.
    """
    h = entropy_from_logits(logits)
    return aggregate(h, mask, agg_mode, max_len)
