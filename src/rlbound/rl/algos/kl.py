"""Per-token KL to a frozen reference policy, and the two places it can go (reward or loss).

The three estimators are Schulman's ("Approximating KL Divergence", blog post, 2020,
http://joschu.net/blog/kl-approx.html). With samples ``y ~ pi`` (the policy that generated the
response) and ``log_r = ref_log_probs - log_probs = log(pi_ref / pi)`` per token:

- ``k1 = -log_r = log_probs - ref_log_probs``: unbiased for KL(pi || pi_ref), high variance, can be
  negative. verl ``kl``/``k1``; the KL-in-reward of InstructGPT-style PPO (Ouyang et al. 2022).
- ``k2 = 0.5 log_r^2``: biased, low variance, >= 0. verl ``mse``/``k2``.
- ``k3 = exp(log_r) - log_r - 1``: unbiased, low variance, >= 0. verl ``low_var_kl``/``k3``; the
  KL term of GRPO (Shao et al. 2024, DeepSeekMath, arXiv 2402.03300, eq. 4) and TRL's GRPO ``beta``.

All three are exactly 0 where the two policies agree. Placement:

- in the reward (``kl_in_reward``): ``token_level_rewards - coef * kl`` (PPO, REINFORCE++, RLOO,
  ReMax in verl's examples; ``algorithm.use_kl_in_reward``), computed without gradient;
- in the loss (``kl_loss``): ``coef * aggregate(kl, mask)`` added to the policy loss (GRPO;
  verl ``actor.use_kl_loss`` / ``kl_loss_coef`` / ``kl_loss_type``), differentiable.

Pure torch: no IO, no model code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import torch

from rlbound.rl.algos.losses import RLInputError, _as_bool_mask, _check_2d_pair, _masked_fill_zero, aggregate

__all__ = ["KL_ESTIMATORS", "kl_estimate", "kl_in_reward", "kl_loss"]

# log-ratio clamp before exp() in k3 (same bound as verl): exp(20) ~ 4.9e8 stays finite in fp32.
_LOG_RATIO_CLAMP = 20.0

KLFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_KL: dict[str, KLFn] = {}


def _register(name: str) -> Callable[[KLFn], KLFn]:
    def deco(fn: KLFn) -> KLFn:
        if name in _KL:
            raise RuntimeError(f"KL estimator {name!r} registered twice")
        _KL[name] = fn
        return fn

    return deco


@_register("k1")
def _k1(log_probs: torch.Tensor, ref_log_probs: torch.Tensor) -> torch.Tensor:
    return log_probs - ref_log_probs


@_register("k2")
def _k2(log_probs: torch.Tensor, ref_log_probs: torch.Tensor) -> torch.Tensor:
    d = log_probs - ref_log_probs
    return 0.5 * d * d


@_register("k3")
def _k3(log_probs: torch.Tensor, ref_log_probs: torch.Tensor) -> torch.Tensor:
    log_r = (ref_log_probs - log_probs).clamp(-_LOG_RATIO_CLAMP, _LOG_RATIO_CLAMP)
    return torch.exp(log_r) - log_r - 1.0


KL_ESTIMATORS: Mapping[str, KLFn] = MappingProxyType(_KL)


def kl_estimate(
    log_probs: torch.Tensor,
    ref_log_probs: torch.Tensor,
    estimator: str,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from sampled-token log-probs (Schulman 2020).

    Args:
        log_probs: [B, T] log-probs of the sampled tokens under the policy (grad flows through).
        ref_log_probs: [B, T] the same under the frozen reference policy (detached here).
        estimator: ``"k1"``, ``"k2"`` or ``"k3"`` (see the module docstring).
        mask: optional [B, T] response mask; positions outside it are exactly 0 in the output.

    Returns:
        [B, T].
    """
    fn = _KL.get(estimator)
    if fn is None:
        raise RLInputError(
            f"unknown KL estimator {estimator!r}; known: {', '.join(sorted(_KL))}", field="kl_estimator"
        )
    if not isinstance(log_probs, torch.Tensor) or not isinstance(ref_log_probs, torch.Tensor):
        raise RLInputError("log_probs and ref_log_probs must be torch.Tensors", field="log_probs")
    if log_probs.shape != ref_log_probs.shape:
        raise RLInputError(
            f"ref_log_probs shape {tuple(ref_log_probs.shape)} differs from log_probs shape "
            f"{tuple(log_probs.shape)}",
            field="ref_log_probs",
        )
    if mask is None:
        return fn(log_probs, ref_log_probs.detach())
    _check_2d_pair(log_probs, mask, x_name="log_probs", fn="kl_estimate")
    m = _as_bool_mask(mask)
    zero = torch.zeros((), dtype=log_probs.dtype, device=log_probs.device)
    # Select before the estimator so garbage (inf/NaN) at padding never enters exp() or the gradient.
    lp = torch.where(m, log_probs, zero)
    ref = torch.where(m, ref_log_probs.detach().to(log_probs.dtype), zero)
    return _masked_fill_zero(fn(lp, ref), m)


def kl_in_reward(
    kl: torch.Tensor,
    mask: torch.Tensor,
    coef: float,
    token_level_rewards: torch.Tensor | None = None,
) -> torch.Tensor:
    """Put the KL penalty in the reward: ``token_level_rewards - coef * kl`` on response tokens.

    The per-token penalty of InstructGPT-style RLHF (Ouyang et al. 2022, eq. 2; Ziegler et al.
    2019) and of REINFORCE++ (Hu 2025, arXiv 2501.03262, Sec. 3.1). The result is the
    ``token_level_rewards`` field of ``AdvantageInputs``: it is *added* to the sequence reward
    (placed at the last response token by the advantage estimators). Computed without gradient.

    Args:
        kl: [B, T] from ``kl_estimate`` (usually k1, with the rollout policy's log-probs).
        mask: [B, T] response mask.
        coef: KL coefficient beta >= 0.
        token_level_rewards: optional [B, T] rewards to subtract from (e.g. a process reward);
            zeros when None. Not modified in place.

    Returns:
        [B, T], exactly 0 outside the mask.
    """
    _check_2d_pair(kl, mask, x_name="kl", fn="kl_in_reward")
    if not coef >= 0:
        raise RLInputError(f"KL coefficient must be >= 0, got {coef!r}", field="kl_coef")
    m = _as_bool_mask(mask)
    with torch.no_grad():
        base = torch.zeros_like(kl) if token_level_rewards is None else token_level_rewards.detach().to(kl.dtype)
        if base.shape != kl.shape:
            raise RLInputError(
                f"token_level_rewards shape {tuple(base.shape)} differs from kl shape {tuple(kl.shape)}",
                field="token_level_rewards",
            )
        return _masked_fill_zero(base - coef * kl.detach(), m)


def kl_loss(
    kl: torch.Tensor,
    mask: torch.Tensor,
    coef: float,
    agg_mode: str = "token-mean",
    max_len: int | None = None,
) -> torch.Tensor:
    """Put the KL penalty in the loss: ``coef * aggregate(kl, mask, agg_mode)``.

    GRPO's KL term (Shao et al. 2024, eq. 3-4, with the k3 estimator and beta = 0.04); TRL adds
    ``beta * k3`` to the per-token loss before aggregation, which is the same thing for a linear
    aggregation. Differentiable in ``kl``.

    Args:
        kl: [B, T] from ``kl_estimate`` with the *current* policy's log-probs (with grad).
        mask: [B, T].
        coef: beta >= 0.
        agg_mode, max_len: see ``rlbound.rl.algos.losses.aggregate``.

    Returns:
        0-dim tensor.
    """
    if not coef >= 0:
        raise RLInputError(f"KL coefficient must be >= 0, got {coef!r}", field="kl_coef")
    return coef * aggregate(kl, mask, agg_mode, max_len)
