"""Named algorithm presets: the settings that make "GRPO", "PPO", "DAPO", ... what they are.

Yue et al. 2025 (arXiv 2504.13837, Sec. 4.1) train one base model (Qwen2.5-7B, in verl) with PPO,
GRPO, REINFORCE++, RLOO, ReMax and DAPO, *all without KL and with 8 rollouts per prompt*. The
presets below carry each algorithm's own published defaults instead (where a paper gives none, the
verl example or default, said so in ``sources``); to reproduce the Yue et al. comparison use
``dataclasses.replace(get_algo_preset(name), kl_coef=0.0, kl_in_reward=False, kl_in_loss=False,
rollouts_per_prompt=8)``. docs/algorithms.md has the table and the verl / TRL equivalents.

A preset is data: the trainer reads it; nothing here runs a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rlbound.rl.algos.advantages import ADVANTAGE_ESTIMATORS, AdvantageConfig, get_advantage
from rlbound.rl.algos.kl import KL_ESTIMATORS
from rlbound.rl.algos.losses import AGGREGATION_MODES, PolicyLossConfig, RLInputError

__all__ = ["OverlongShaping", "AlgoPreset", "PRESETS", "get_algo_preset", "preset_names"]


@dataclass(frozen=True)
class OverlongShaping:
    """DAPO soft overlong punishment settings (Yu et al. 2025, eq. 13); see
    ``rlbound.rl.algos.advantages.overlong_penalty``.

    Attributes:
        max_len: L_max, the generation limit in tokens.
        cache_len: L_cache, the buffer before L_max where the penalty ramps from 0 to -1.
        penalty_factor: scale of the penalty.
    """

    max_len: int = 20480
    cache_len: int = 4096
    penalty_factor: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.max_len, int) and isinstance(self.cache_len, int) and 0 < self.cache_len <= self.max_len):
            raise RLInputError(
                f"need integers 0 < cache_len <= max_len, got {self.max_len!r}, {self.cache_len!r}", field="cache_len"
            )
        if not self.penalty_factor >= 0:
            raise RLInputError(f"penalty_factor must be >= 0, got {self.penalty_factor!r}", field="penalty_factor")


@dataclass(frozen=True)
class AlgoPreset:
    """One RL algorithm's settings, as the trainer consumes them.

    Attributes:
        name: preset name.
        advantage: advantage estimator name (``rlbound.rl.algos.advantages.get_advantage``).
        advantage_config: its options (norm_by_std, eps, k, gamma, lam).
        loss_agg_mode: policy-loss aggregation (``rlbound.rl.algos.losses.aggregate``). For
            ``seq-mean-token-sum-norm`` the trainer passes its generation limit as ``max_len``.
        eps_low, eps_high: clip range of the importance ratio, [1 - eps_low, 1 + eps_high].
        dual_clip_c: dual-clip bound for negative advantages, or None.
        kl_coef: KL-to-reference coefficient beta (0 = no reference model needed).
        kl_estimator: ``k1``, ``k2`` or ``k3`` (``rlbound.rl.algos.kl``).
        kl_in_reward: put ``-beta * KL`` into the token rewards (``kl_in_reward``).
        kl_in_loss: add ``beta * aggregate(KL)`` to the loss (``kl_loss``).
        entropy_coef: coefficient of the entropy bonus (loss ``-= entropy_coef * entropy``).
        dynamic_sampling: drop groups whose rewards are all equal and refill (``filter_groups``).
        overlong: DAPO overlong reward shaping, or None.
        value_clip: PPO value-loss clip range (critic algorithms), or None.
        rollouts_per_prompt: responses sampled per prompt (group size).
        papers: citations of the algorithm.
        sources: where each non-obvious number comes from.
    """

    name: str
    advantage: str
    advantage_config: AdvantageConfig = field(default_factory=AdvantageConfig)
    loss_agg_mode: str = "token-mean"
    eps_low: float = 0.2
    eps_high: float = 0.2
    dual_clip_c: float | None = None
    kl_coef: float = 0.0
    kl_estimator: str = "k1"
    kl_in_reward: bool = False
    kl_in_loss: bool = False
    entropy_coef: float = 0.0
    dynamic_sampling: bool = False
    overlong: OverlongShaping | None = None
    value_clip: float | None = None
    rollouts_per_prompt: int = 1
    papers: tuple[str, ...] = ()
    sources: str = ""

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGE_ESTIMATORS:
            raise RLInputError(
                f"preset {self.name!r}: unknown advantage estimator {self.advantage!r}; known: "
                f"{', '.join(sorted(ADVANTAGE_ESTIMATORS))}",
                field="advantage",
            )
        if not isinstance(self.advantage_config, AdvantageConfig):
            raise RLInputError(f"preset {self.name!r}: advantage_config must be an AdvantageConfig", field="advantage_config")
        if self.loss_agg_mode not in AGGREGATION_MODES:
            raise RLInputError(
                f"preset {self.name!r}: unknown loss_agg_mode {self.loss_agg_mode!r}; known: "
                f"{', '.join(sorted(AGGREGATION_MODES))}",
                field="loss_agg_mode",
            )
        if self.kl_estimator not in KL_ESTIMATORS:
            raise RLInputError(
                f"preset {self.name!r}: unknown kl_estimator {self.kl_estimator!r}; known: "
                f"{', '.join(sorted(KL_ESTIMATORS))}",
                field="kl_estimator",
            )
        if not self.kl_coef >= 0:
            raise RLInputError(f"preset {self.name!r}: kl_coef must be >= 0", field="kl_coef")
        if self.kl_in_reward and self.kl_in_loss:
            raise RLInputError(f"preset {self.name!r}: choose one of kl_in_reward / kl_in_loss", field="kl_in_loss")
        if self.kl_coef > 0 and not (self.kl_in_reward or self.kl_in_loss):
            raise RLInputError(
                f"preset {self.name!r}: kl_coef > 0 needs kl_in_reward or kl_in_loss", field="kl_in_reward"
            )
        if self.kl_in_reward and self.advantage == "passk":
            raise RLInputError(
                f"preset {self.name!r}: passk needs binary rewards; put the KL in the loss", field="kl_in_reward"
            )
        # Validates eps_low / eps_high / dual_clip_c with the loss's own rules.
        self.policy_loss_config(max_len=1)
        if not isinstance(self.rollouts_per_prompt, int) or self.rollouts_per_prompt < 1:
            raise RLInputError(f"preset {self.name!r}: rollouts_per_prompt must be >= 1", field="rollouts_per_prompt")
        est = get_advantage(self.advantage)
        if est.needs_groups and self.rollouts_per_prompt < 2:
            raise RLInputError(
                f"preset {self.name!r}: estimator {self.advantage!r} needs >= 2 rollouts per prompt",
                field="rollouts_per_prompt",
            )
        k = self.advantage_config.k
        if "k" in est.requires_config and (k is None or k > self.rollouts_per_prompt):
            raise RLInputError(
                f"preset {self.name!r}: estimator {self.advantage!r} needs 1 <= k <= rollouts_per_prompt, got k={k}",
                field="k",
            )
        if self.value_clip is not None and not self.value_clip > 0:
            raise RLInputError(f"preset {self.name!r}: value_clip must be > 0 or None", field="value_clip")
        if not self.entropy_coef >= 0:
            raise RLInputError(f"preset {self.name!r}: entropy_coef must be >= 0", field="entropy_coef")

    @property
    def needs_critic(self) -> bool:
        """True when the advantage estimator reads a critic's values (PPO)."""
        return get_advantage(self.advantage).needs_values

    @property
    def needs_greedy_rollout(self) -> bool:
        """True when the estimator needs a greedy response's reward per prompt (ReMax)."""
        return get_advantage(self.advantage).needs_greedy_rewards

    @property
    def needs_reference(self) -> bool:
        """True when a frozen reference model's log-probs are needed (kl_coef > 0)."""
        return self.kl_coef > 0

    def policy_loss_config(self, max_len: int | None = None) -> PolicyLossConfig:
        """The ``PolicyLossConfig`` of this preset; ``max_len`` is the generation limit (used by
        ``seq-mean-token-sum-norm``, required there)."""
        return PolicyLossConfig(
            eps_low=self.eps_low,
            eps_high=self.eps_high,
            dual_clip_c=self.dual_clip_c,
            agg_mode=self.loss_agg_mode,
            max_len=max_len,
        )


_PPO = "Schulman et al. 2017, Proximal Policy Optimization Algorithms, arXiv 1707.06347"
_GAE = "Schulman et al. 2015, Generalized Advantage Estimation, arXiv 1506.02438"
_GRPO = "Shao et al. 2024, DeepSeekMath, arXiv 2402.03300"
_DR = "Liu et al. 2025, Understanding R1-Zero-Like Training: A Critical Perspective, arXiv 2503.20783"
_RLOO = "Ahmadian et al. 2024, Back to Basics: Revisiting REINFORCE Style Optimization, arXiv 2402.14740"
_RPP = "Hu 2025, REINFORCE++, arXiv 2501.03262"
_REMAX = "Li et al. 2023, ReMax, arXiv 2310.10505"
_DAPO = "Yu et al. 2025, DAPO: An Open-Source LLM Reinforcement Learning System at Scale, arXiv 2503.14476"
_PASSK = "Chen et al. 2025, Pass@k Training for Adaptively Balancing Exploration and Exploitation of LRMs, arXiv 2508.10751"
_PKPO = "Walder & Karkhanis 2025, Pass@K Policy Optimization, arXiv 2505.15201"
_DUAL = "Ye et al. 2020, Mastering Complex Control in MOBA Games with Deep RL (dual clip), arXiv 1912.09729"

_PRESETS: dict[str, AlgoPreset] = {}


def _add(p: AlgoPreset) -> None:
    if p.name in _PRESETS:
        raise RuntimeError(f"preset {p.name!r} defined twice")
    _PRESETS[p.name] = p


_add(AlgoPreset(
    name="ppo",
    advantage="gae",
    advantage_config=AdvantageConfig(gamma=1.0, lam=1.0),
    loss_agg_mode="token-mean",
    eps_low=0.2, eps_high=0.2, dual_clip_c=3.0,
    kl_coef=0.001, kl_estimator="k1", kl_in_reward=True,
    value_clip=0.5,
    rollouts_per_prompt=1,
    papers=(_PPO, _GAE, _DUAL),
    sources="clip 0.2: PPO paper; gamma = lam = 1.0, clip_ratio_c 3.0, cliprange_value 0.5, "
            "kl_ctrl.kl_coef 0.001 with kl_penalty=kl: verl ppo_trainer.yaml defaults.",
))
_add(AlgoPreset(
    name="grpo",
    advantage="grpo",
    advantage_config=AdvantageConfig(norm_by_std=True),
    loss_agg_mode="seq-mean-token-mean",
    eps_low=0.2, eps_high=0.2,
    kl_coef=0.04, kl_estimator="k3", kl_in_loss=True,
    rollouts_per_prompt=64,
    papers=(_GRPO,),
    sources="DeepSeekMath Sec. 4.2: 64 outputs per question, KL coefficient 0.04 (k3 estimator, eq. 4), "
            "1/|o_i| per-sequence token mean (eq. 3); clip 0.2 from PPO.",
))
_add(AlgoPreset(
    name="dr_grpo",
    advantage="grpo",
    advantage_config=AdvantageConfig(norm_by_std=False),
    loss_agg_mode="seq-mean-token-sum-norm",
    eps_low=0.2, eps_high=0.2,
    kl_coef=0.0,
    rollouts_per_prompt=8,
    papers=(_DR, _GRPO),
    sources="Dr. GRPO Sec. 3.1: no std normalisation, constant length normaliser (the generation limit), "
            "no KL with rule-based rewards; 8 rollouts per prompt: the Oat-Zero recipe of the same paper "
            "(rlbound's reading, not re-checked against the code).",
))
_add(AlgoPreset(
    name="rloo",
    advantage="rloo",
    loss_agg_mode="token-mean",
    eps_low=0.2, eps_high=0.2,
    kl_coef=0.001, kl_estimator="k1", kl_in_reward=True,
    rollouts_per_prompt=4,
    papers=(_RLOO,),
    sources="RLOO paper: k in {2, 4} samples (4 used here), KL in the reward; coefficient 0.001 and "
            "k1: verl examples/rloo_trainer.",
))
_add(AlgoPreset(
    name="reinforce_pp",
    advantage="reinforce_pp",
    advantage_config=AdvantageConfig(gamma=1.0),
    loss_agg_mode="token-mean",
    eps_low=0.2, eps_high=0.2,
    kl_coef=0.001, kl_estimator="k1", kl_in_reward=True,
    rollouts_per_prompt=8,
    papers=(_RPP,),
    sources="REINFORCE++ Sec. 3: token-level KL penalty in the reward, global batch advantage "
            "normalisation, PPO clip, no critic; coefficient 0.001: verl default kl_coef (the paper's "
            "beta was not re-checked); 8 rollouts per prompt: verl examples/reinforce_plus_plus_trainer "
            "(which puts a k2 KL in the loss instead).",
))
_add(AlgoPreset(
    name="remax",
    advantage="remax",
    loss_agg_mode="token-mean",
    eps_low=0.2, eps_high=0.2,
    kl_coef=0.001, kl_estimator="k1", kl_in_reward=True,
    rollouts_per_prompt=1,
    papers=(_REMAX,),
    sources="ReMax Alg. 1: one sampled and one greedy response per prompt, greedy reward as baseline; "
            "KL in reward, coefficient 0.001 and k1: verl examples/remax_trainer.",
))
_add(AlgoPreset(
    name="dapo",
    advantage="grpo",
    advantage_config=AdvantageConfig(norm_by_std=True),
    loss_agg_mode="token-mean",
    eps_low=0.2, eps_high=0.28,
    kl_coef=0.0,
    dynamic_sampling=True,
    overlong=OverlongShaping(max_len=20480, cache_len=4096, penalty_factor=1.0),
    rollouts_per_prompt=16,
    papers=(_DAPO,),
    sources="DAPO Sec. 3-4: eps_low 0.2, eps_high 0.28, token-level loss, dynamic sampling, no KL, "
            "16 responses per prompt, max generation 20480 with a 4096-token overlong buffer; "
            "matches verl recipe/dapo/run_dapo_qwen2.5_32b.sh.",
))
_add(AlgoPreset(
    name="passk",
    advantage="passk",
    advantage_config=AdvantageConfig(norm_by_std=True, k=4),
    loss_agg_mode="token-mean",
    eps_low=0.2, eps_high=0.2,
    kl_coef=0.0,
    rollouts_per_prompt=32,
    papers=(_PASSK, _PKPO),
    sources="Advantage: Chen et al. 2025 eqs. 14-15 (RUCAIBox/Passk_Training code/passk_adv.py, with "
            "sigma + 1e-6); k = 4 and 32 rollouts per prompt are rlbound's choice, not checked against "
            "the paper's runs; loss/clip as verl GRPO defaults.",
))

PRESETS: Mapping[str, AlgoPreset] = MappingProxyType(_PRESETS)


def preset_names() -> tuple[str, ...]:
    """Names of the presets, sorted."""
    return tuple(sorted(_PRESETS))


def get_algo_preset(name: str) -> AlgoPreset:
    """The preset called ``name``; an unknown name raises ``RLInputError`` listing the known ones."""
    p = _PRESETS.get(name)
    if p is None:
        raise RLInputError(f"unknown algorithm preset {name!r}; known: {', '.join(preset_names())}", field="algorithm")
    return p
