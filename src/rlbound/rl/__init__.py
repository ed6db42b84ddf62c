"""Algorithm pieces of an RLVR trainer (pure torch, no IO, no model code).

The algorithms are the ones Yue et al. 2025 (arXiv 2504.13837, Sec. 4.1) compare on one base model:
PPO, GRPO (and Dr. GRPO), REINFORCE++, RLOO, ReMax, DAPO, plus Pass@k training.

- ``advantages``: ``AdvantageInputs`` -> registered estimators -> ``AdvantageOutput``; DAPO's
  ``filter_groups`` and ``overlong_penalty``.
- ``losses``: ``aggregate`` (loss_agg_mode), clipped ``policy_loss`` (clip-higher, dual clip),
  ``value_loss``, entropy.
- ``kl``: k1/k2/k3 estimators, KL in the reward or in the loss.
- ``presets``: ``AlgoPreset`` per algorithm, ``get_algo_preset(name)``.

See docs/algorithms.md.
"""

from rlbound.rl.algos.advantages import (
    ADVANTAGE_ESTIMATORS,
    AdvantageConfig,
    AdvantageEstimator,
    AdvantageInputs,
    AdvantageOutput,
    compute_advantages,
    filter_groups,
    get_advantage,
    overlong_penalty,
    register_advantage,
)
from rlbound.rl.algos.kl import KL_ESTIMATORS, kl_estimate, kl_in_reward, kl_loss
from rlbound.rl.algos.losses import (
    AGGREGATION_MODES,
    PolicyLossConfig,
    PolicyLossOutput,
    RLInputError,
    ValueLossOutput,
    aggregate,
    entropy_from_logits,
    masked_mean,
    masked_whiten,
    mean_entropy,
    policy_loss,
    value_loss,
)
from rlbound.rl.algos.presets import PRESETS, AlgoPreset, OverlongShaping, get_algo_preset, preset_names

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "AGGREGATION_MODES",
    "KL_ESTIMATORS",
    "PRESETS",
    "AdvantageConfig",
    "AdvantageEstimator",
    "AdvantageInputs",
    "AdvantageOutput",
    "AlgoPreset",
    "OverlongShaping",
    "PolicyLossConfig",
    "PolicyLossOutput",
    "RLInputError",
    "ValueLossOutput",
    "aggregate",
    "compute_advantages",
    "entropy_from_logits",
    "filter_groups",
    "get_advantage",
    "get_algo_preset",
    "kl_estimate",
    "kl_in_reward",
    "kl_loss",
    "masked_mean",
    "masked_whiten",
    "mean_entropy",
    "overlong_penalty",
    "policy_loss",
    "preset_names",
    "register_advantage",
    "value_loss",
]
