"""Advantage estimators of the RLVR algorithms compared by Yue et al. 2025 (arXiv 2504.13837, Sec. 4.1),
registered by name, plus DAPO's dynamic-sampling filter and overlong reward shaping.

Every estimator has the same signature::

    estimator(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput

and is looked up with ``get_advantage(name)``. ``AdvantageInputs`` is the one typed input object for
all of them; each estimator declares which optional fields (and options) it needs, and a missing
one raises ``RLInputError`` (a ``ValueError``) naming the field.

Shapes: ``B`` responses, ``T`` response positions; ``response_mask`` [B, T] is 1 on response
tokens. Group ``g`` = all responses with the same ``group_ids`` value (same prompt), of size ``n_g``.

Token rewards. The sequence reward ``rewards[i]`` sits on the *last* masked-in token of response i;
``token_level_rewards`` (e.g. ``-beta * KL`` from ``rlbound.rl.algos.kl.kl_in_reward``) is *added* on
top. The score of a response is the sum of its token rewards, ``rewards[i] + sum_t
token_level_rewards[i, t]`` (what verl's outcome estimators read). Returns-to-go ``G_t`` are
discounted with ``config.gamma`` over the masked-in tokens only: masked-out positions inside a
response (tool output, say) are skipped, neither rewarded nor discounted.

Outputs are computed without gradient and are exactly 0 outside the mask. ``returns`` is the value
target: the lambda-return ``A_gae + V`` for ``gae``, the discounted return-to-go ``G_t`` of the
token rewards for every other estimator.

Pure torch: no IO, no model code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from rlbound.rl.algos.losses import RLInputError, _as_bool_mask, _masked_fill_zero, masked_whiten

__all__ = [
    "AdvantageInputs",
    "AdvantageConfig",
    "AdvantageOutput",
    "AdvantageEstimator",
    "ADVANTAGE_ESTIMATORS",
    "register_advantage",
    "get_advantage",
    "compute_advantages",
    "filter_groups",
    "overlong_penalty",
]


# --------------------------------------------------------------------------- typed inputs / options


def _is_tensor(x: object) -> bool:
    return isinstance(x, torch.Tensor)


@dataclass(frozen=True)
class AdvantageInputs:
    """Everything any advantage estimator may read, for one batch of B responses.

    Attributes:
        rewards: [B] float, the verifier's sequence-level reward (1/0 for RLVR), already shaped
            (e.g. plus ``overlong_penalty``).
        group_ids: [B] integer, same id = same prompt (a GRPO/RLOO group). Any integers; groups
            need not be contiguous.
        response_mask: [B, T] 0/1 or bool, 1 on response tokens.
        token_level_rewards: optional [B, T] float, per-token rewards *added* to the sequence
            reward (the KL-in-reward penalty, process rewards). Read only on masked-in tokens.
        values: optional [B, T] float, the critic's value of each response token (``gae``).
        greedy_rewards: optional [B] float, reward of the greedy response to the same prompt
            (ReMax baseline).
    """

    rewards: torch.Tensor
    group_ids: torch.Tensor
    response_mask: torch.Tensor
    token_level_rewards: torch.Tensor | None = None
    values: torch.Tensor | None = None
    greedy_rewards: torch.Tensor | None = None

    def __post_init__(self) -> None:
        r, g, m = self.rewards, self.group_ids, self.response_mask
        for name, x in (("rewards", r), ("group_ids", g), ("response_mask", m)):
            if not _is_tensor(x):
                raise RLInputError(f"AdvantageInputs.{name} must be a torch.Tensor, got {type(x).__name__}", field=name)
        if m.dim() != 2:
            raise RLInputError(f"response_mask must have shape [B, T], got {tuple(m.shape)}", field="response_mask")
        b = m.shape[0]
        if r.shape != (b,):
            raise RLInputError(f"rewards must have shape [B]=({b},), got {tuple(r.shape)}", field="rewards")
        if g.shape != (b,):
            raise RLInputError(f"group_ids must have shape [B]=({b},), got {tuple(g.shape)}", field="group_ids")
        if g.dtype.is_floating_point or g.dtype.is_complex or g.dtype == torch.bool:
            raise RLInputError(f"group_ids must be an integer tensor, got {g.dtype}", field="group_ids")
        if not r.dtype.is_floating_point:
            raise RLInputError(f"rewards must be a floating-point tensor, got {r.dtype}", field="rewards")
        if not bool(torch.isfinite(r).all()):
            raise RLInputError("rewards must be finite (no NaN/inf)", field="rewards")
        mb = _as_bool_mask(m, name="response_mask")
        for name in ("token_level_rewards", "values"):
            x = getattr(self, name)
            if x is None:
                continue
            if not _is_tensor(x) or x.shape != m.shape or not x.dtype.is_floating_point:
                raise RLInputError(
                    f"{name} must be a float tensor of shape {tuple(m.shape)} (like response_mask), got "
                    f"{tuple(x.shape) if _is_tensor(x) else type(x).__name__}",
                    field=name,
                )
            if not bool(torch.isfinite(x[mb]).all()):
                raise RLInputError(f"{name} must be finite on response tokens", field=name)
        if self.greedy_rewards is not None:
            x = self.greedy_rewards
            if not _is_tensor(x) or x.shape != (b,) or not x.dtype.is_floating_point:
                raise RLInputError(
                    f"greedy_rewards must be a float tensor of shape ({b},), got "
                    f"{tuple(x.shape) if _is_tensor(x) else type(x).__name__}",
                    field="greedy_rewards",
                )
            if not bool(torch.isfinite(x).all()):
                raise RLInputError("greedy_rewards must be finite", field="greedy_rewards")
        devices = {t.device for t in (r, g, m, self.token_level_rewards, self.values, self.greedy_rewards) if t is not None}
        if len(devices) > 1:
            raise RLInputError(f"all AdvantageInputs tensors must be on one device, got {sorted(map(str, devices))}")


@dataclass(frozen=True)
class AdvantageConfig:
    """Options of the advantage estimators (each estimator reads the ones it documents).

    Attributes:
        norm_by_std: ``grpo``/``passk``: divide by the group standard deviation (GRPO, Shao et al.
            2024). False is Dr. GRPO (Liu et al. 2025, Sec. 3.1), verl
            ``algorithm.norm_adv_by_std_in_grpo=False``, TRL ``scale_rewards="none"``.
        eps: added to every standard deviation it divides by (group std, batch whitening, passk
            sigma). 1e-6 as in verl and TRL.
        k: ``passk``: the k of the pass@k objective (1 <= k <= every group's size). Required there.
        gamma: discount of returns-to-go (``reinforce_pp``, ``gae``, ``remax``, and every
            ``returns``). 1.0 = undiscounted (verl default; RLVR has one terminal reward).
        lam: GAE lambda (``gae``; Schulman et al. 2015, arXiv 1506.02438). verl default 1.0.
    """

    norm_by_std: bool = True
    eps: float = 1e-6
    k: int | None = None
    gamma: float = 1.0
    lam: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.norm_by_std, bool):
            raise RLInputError(f"norm_by_std must be a bool, got {self.norm_by_std!r}", field="norm_by_std")
        if not (isinstance(self.eps, (int, float)) and self.eps > 0 and math.isfinite(self.eps)):
            raise RLInputError(f"eps must be a finite number > 0, got {self.eps!r}", field="eps")
        if self.k is not None and (not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1):
            raise RLInputError(f"k must be an int >= 1 or None, got {self.k!r}", field="k")
        for name in ("gamma", "lam"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0):
                raise RLInputError(f"{name} must be a number in [0, 1], got {v!r}", field=name)


@dataclass(frozen=True)
class AdvantageOutput:
    """Advantages [B, T] and value targets ``returns`` [B, T]; both exactly 0 outside the mask."""

    advantages: torch.Tensor
    returns: torch.Tensor


EstimatorFn = Callable[[AdvantageInputs, AdvantageConfig], AdvantageOutput]


@dataclass(frozen=True)
class AdvantageEstimator:
    """A registered estimator with what it needs; call it like the function it wraps.

    Attributes:
        name: registry name.
        fn: the estimator.
        requires: ``AdvantageInputs`` fields that must not be None.
        requires_config: ``AdvantageConfig`` fields that must not be None.
        needs_groups: every group must hold >= 2 responses (group baselines).
        paper: the citation of the algorithm.
    """

    name: str
    fn: EstimatorFn
    requires: tuple[str, ...] = ()
    requires_config: tuple[str, ...] = ()
    needs_groups: bool = False
    paper: str = ""

    @property
    def needs_values(self) -> bool:
        """True when the estimator reads a critic's values (PPO/GAE)."""
        return "values" in self.requires

    @property
    def needs_greedy_rewards(self) -> bool:
        """True when the estimator needs a greedy rollout's reward per prompt (ReMax)."""
        return "greedy_rewards" in self.requires

    def __call__(self, inputs: AdvantageInputs, config: AdvantageConfig = AdvantageConfig()) -> AdvantageOutput:
        if not isinstance(inputs, AdvantageInputs):
            raise RLInputError(f"advantage estimator {self.name!r} takes an AdvantageInputs, got {type(inputs).__name__}")
        if not isinstance(config, AdvantageConfig):
            raise RLInputError(f"advantage estimator {self.name!r} takes an AdvantageConfig, got {type(config).__name__}")
        for f in self.requires:
            if getattr(inputs, f) is None:
                raise RLInputError(f"advantage estimator {self.name!r} needs AdvantageInputs.{f}, which is None", field=f)
        for f in self.requires_config:
            if getattr(config, f) is None:
                raise RLInputError(f"advantage estimator {self.name!r} needs AdvantageConfig.{f}, which is None", field=f)
        if self.needs_groups:
            _, counts = _groups(inputs.group_ids)
            if counts.numel() and int(counts.min()) < 2:
                gid = _first_group_with(inputs.group_ids, counts < 2)
                raise RLInputError(
                    f"advantage estimator {self.name!r} needs >= 2 responses per prompt; group_ids {gid} has "
                    f"{int(counts.min())}",
                    field="group_ids",
                )
        with torch.no_grad():
            return self.fn(inputs, config)


_REGISTRY: dict[str, AdvantageEstimator] = {}
ADVANTAGE_ESTIMATORS: Mapping[str, AdvantageEstimator] = MappingProxyType(_REGISTRY)


def register_advantage(
    name: str,
    *,
    requires: tuple[str, ...] = (),
    requires_config: tuple[str, ...] = (),
    needs_groups: bool = False,
    paper: str = "",
) -> Callable[[EstimatorFn], EstimatorFn]:
    """Decorator: register ``fn(inputs, config) -> AdvantageOutput`` under ``name``.

    ``requires`` names ``AdvantageInputs`` fields the estimator reads that may be None
    (checked before the call), ``requires_config`` likewise for ``AdvantageConfig``. A name can
    be registered once.
    """
    input_fields = {f.name for f in dataclasses.fields(AdvantageInputs)}
    config_fields = {f.name for f in dataclasses.fields(AdvantageConfig)}
    bad = [f for f in requires if f not in input_fields] + [f for f in requires_config if f not in config_fields]
    if bad:
        raise ValueError(f"register_advantage({name!r}): unknown field(s) {bad}")

    def deco(fn: EstimatorFn) -> EstimatorFn:
        if name in _REGISTRY:
            raise ValueError(f"advantage estimator {name!r} is already registered")
        _REGISTRY[name] = AdvantageEstimator(name, fn, tuple(requires), tuple(requires_config), needs_groups, paper)
        return fn

    return deco


def get_advantage(name: str) -> AdvantageEstimator:
    """The registered estimator called ``name`` (callable as ``est(inputs, config)``)."""
    est = _REGISTRY.get(name)
    if est is None:
        raise RLInputError(
            f"unknown advantage estimator {name!r}; known: {', '.join(sorted(_REGISTRY))}", field="adv_estimator"
        )
    return est


def compute_advantages(name: str, inputs: AdvantageInputs, config: AdvantageConfig = AdvantageConfig()) -> AdvantageOutput:
    """``get_advantage(name)(inputs, config)``."""
    return get_advantage(name)(inputs, config)


# --------------------------------------------------------------------------- vectorised helpers


def _groups(group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(inverse [B] long: group index of each response, counts [G] long)."""
    _, inv, counts = torch.unique(group_ids, return_inverse=True, return_counts=True)
    return inv, counts


def _first_group_with(group_ids: torch.Tensor, bad_groups: torch.Tensor) -> int:
    uniq = torch.unique(group_ids)
    return int(uniq[bad_groups.nonzero()[0, 0]])


def _group_sum(x: torch.Tensor, inv: torch.Tensor, n_groups: int) -> torch.Tensor:
    return torch.zeros(n_groups, dtype=x.dtype, device=x.device).index_add_(0, inv, x)


def _dtype(inputs: AdvantageInputs) -> torch.dtype:
    d = inputs.rewards.dtype
    return d if d in (torch.float32, torch.float64) else torch.float32


def _mask(inputs: AdvantageInputs) -> torch.Tensor:
    return _as_bool_mask(inputs.response_mask, name="response_mask")


def _token_rewards(inputs: AdvantageInputs) -> torch.Tensor:
    """[B, T]: ``rewards`` on each row's last masked-in token plus ``token_level_rewards``."""
    m = _mask(inputs)
    dt = _dtype(inputs)
    b, t = m.shape
    out = torch.zeros((b, t), dtype=dt, device=m.device)
    if inputs.token_level_rewards is not None:
        out = _masked_fill_zero(inputs.token_level_rewards.detach().to(dt), m)
    has = m.any(dim=1)
    last = (t - 1) - torch.flip(m, dims=[1]).to(torch.int8).argmax(dim=1)
    rows = torch.arange(b, device=m.device)[has]
    out = out.clone()
    out[rows, last[has]] += inputs.rewards.detach().to(dt)[has]
    return out


def _scores(inputs: AdvantageInputs) -> torch.Tensor:
    """[B]: each response's total reward, ``rewards + sum_t token_level_rewards`` (masked)."""
    dt = _dtype(inputs)
    s = inputs.rewards.detach().to(dt)
    if inputs.token_level_rewards is not None:
        s = s + _masked_fill_zero(inputs.token_level_rewards.detach().to(dt), _mask(inputs)).sum(dim=1)
    return s


def _compact(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the positions of masked-in tokens first (in order): (index [B, T], prefix mask [B, T])."""
    idx = torch.argsort((~m).to(torch.int8), dim=1, stable=True)
    lengths = m.sum(dim=1, keepdim=True)
    cmask = torch.arange(m.shape[1], device=m.device).unsqueeze(0) < lengths
    return idx, cmask


def _to_compact(x: torch.Tensor, idx: torch.Tensor, cmask: torch.Tensor) -> torch.Tensor:
    return _masked_fill_zero(torch.gather(x, 1, idx), cmask)


def _from_compact(xc: torch.Tensor, idx: torch.Tensor, cmask: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(xc).scatter_(1, idx, _masked_fill_zero(xc, cmask))


def _returns_to_go(rc: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted reverse cumulative sum along dim 1 of a compacted (prefix-masked, zero-padded) tensor."""
    if gamma == 1.0:
        return torch.flip(torch.cumsum(torch.flip(rc, dims=[1]), dim=1), dims=[1])
    out = torch.empty_like(rc)
    running = torch.zeros_like(rc[:, 0])
    for t in range(rc.shape[1] - 1, -1, -1):
        running = rc[:, t] + gamma * running
        out[:, t] = running
    return out


def _returns(inputs: AdvantageInputs, config: AdvantageConfig) -> torch.Tensor:
    """[B, T] discounted return-to-go of the token rewards over masked-in tokens."""
    m = _mask(inputs)
    idx, cmask = _compact(m)
    rc = _to_compact(_token_rewards(inputs), idx, cmask)
    return _from_compact(_returns_to_go(rc, config.gamma), idx, cmask)


def _broadcast(seq: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return _masked_fill_zero(seq.unsqueeze(1).expand(m.shape), m)


# --------------------------------------------------------------------------- estimators


@register_advantage(
    "grpo",
    needs_groups=True,
    paper="Shao et al. 2024, DeepSeekMath (arXiv 2402.03300), Sec. 4.1.2; Dr. GRPO: Liu et al. 2025 (arXiv 2503.20783)",
)
def grpo(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput:
    """GRPO outcome advantage (Shao et al. 2024, DeepSeekMath, arXiv 2402.03300, Sec. 4.1.2).

    For response i in group g with score R_i (see module docstring)::

        A_i = (R_i - mean_g R) / (std_g R + eps)      norm_by_std=True (GRPO)
        A_i =  R_i - mean_g R                         norm_by_std=False (Dr. GRPO, Liu et al. 2025)

    ``std_g`` is the sample standard deviation (ddof=1, as torch.std in verl and TRL). Broadcast
    to every response token. Rewards [1, 0, 0, 0] give [1.5, -0.5, -0.5, -0.5] (mean 0.25,
    std 0.5); without std, [0.75, -0.25, -0.25, -0.25].

    Reads: rewards [B], group_ids [B], response_mask [B, T], token_level_rewards [B, T] if set.
    Returns: advantages [B, T]; returns [B, T] = G_t.
    """
    m = _mask(inputs)
    r = _scores(inputs)
    inv, counts = _groups(inputs.group_ids)
    n = counts.to(r.dtype)
    mean = _group_sum(r, inv, n.numel()) / n
    centred = r - mean[inv]
    if config.norm_by_std:
        var = _group_sum(centred * centred, inv, n.numel()) / (n - 1)
        adv = centred / (var.sqrt()[inv] + config.eps)
    else:
        adv = centred
    return AdvantageOutput(_broadcast(adv, m), _returns(inputs, config))


@register_advantage("rloo", needs_groups=True, paper="Ahmadian et al. 2024, Back to Basics (arXiv 2402.14740), Sec. 3.3")
def rloo(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput:
    """REINFORCE Leave-One-Out advantage (Ahmadian et al. 2024, "Back to Basics: Revisiting
    REINFORCE Style Optimization for Learning from Human Feedback in LLMs", arXiv 2402.14740, eq. 6;
    Kool et al. 2019).

    For response i in group g of size n_g::

        A_i = R_i - (1 / (n_g - 1)) sum_{j in g, j != i} R_j  =  n_g / (n_g - 1) (R_i - mean_g R)

    Rewards [1, 0, 0, 0] give [1, -1/3, -1/3, -1/3]. Broadcast to tokens.

    Reads: rewards, group_ids, response_mask, token_level_rewards if set.
    Returns: advantages [B, T]; returns [B, T] = G_t.
    """
    m = _mask(inputs)
    r = _scores(inputs)
    inv, counts = _groups(inputs.group_ids)
    n = counts.to(r.dtype)
    total = _group_sum(r, inv, n.numel())
    adv = r - (total[inv] - r) / (n[inv] - 1)
    return AdvantageOutput(_broadcast(adv, m), _returns(inputs, config))


@register_advantage("reinforce_pp", paper="Hu 2025, REINFORCE++ (arXiv 2501.03262), Sec. 3")
def reinforce_pp(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput:
    """REINFORCE++ advantage (Hu 2025, "REINFORCE++: A Simple and Efficient Approach for Aligning
    Large Language Models", arXiv 2501.03262, Sec. 3).

    Token rewards r_t = score on the last token plus per-token terms (usually ``-beta * KL_t``,
    see ``rlbound.rl.algos.kl.kl_in_reward``); ``G_t = sum_{s >= t} gamma^(s-t) r_s``; the advantage is
    G standardised over all masked-in tokens of the batch (global batch normalisation,
    ``masked_whiten``: mean 0, std 1 with ddof=1). No critic, no groups.

    Reads: rewards, response_mask, token_level_rewards if set; config.gamma, config.eps.
    Returns: advantages [B, T] (whitened); returns [B, T] = G_t (not whitened).
    """
    m = _mask(inputs)
    g = _returns(inputs, config)
    return AdvantageOutput(masked_whiten(g, m, config.eps), g)


@register_advantage(
    "reinforce_pp_baseline",
    needs_groups=True,
    paper="Hu 2025, REINFORCE++ (arXiv 2501.03262), REINFORCE++-baseline",
)
def reinforce_pp_baseline(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput:
    """REINFORCE++-baseline (Hu 2025, arXiv 2501.03262; verl ``reinforce_plus_plus_baseline``).

    ``A_i = R_i - mean_g R`` (group mean baseline, no std division), broadcast to the response
    tokens, then standardised over all masked-in tokens of the batch (``masked_whiten``; a longer
    response weighs more in the batch statistics, as in verl/OpenRLHF).

    Reads: rewards, group_ids, response_mask, token_level_rewards if set; config.eps.
    Returns: advantages [B, T]; returns [B, T] = G_t.
    """
    m = _mask(inputs)
    r = _scores(inputs)
    inv, counts = _groups(inputs.group_ids)
    n = counts.to(r.dtype)
    centred = r - (_group_sum(r, inv, n.numel()) / n)[inv]
    return AdvantageOutput(masked_whiten(_broadcast(centred, m), m, config.eps), _returns(inputs, config))


@register_advantage("remax", requires=("greedy_rewards",), paper="Li et al. 2023, ReMax (arXiv 2310.10505), Alg. 1")
def remax(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput:
    """ReMax advantage (Li et al. 2023, "ReMax: A Simple, Effective, and Efficient Reinforcement
    Learning Method for Aligning Large Language Models", arXiv 2310.10505, Alg. 1).

    The baseline is the reward of the greedy response to the same prompt::

        A_{i,t} = G_{i,t} - greedy_rewards[i]

    With no token-level rewards and gamma = 1, ``G_{i,t} = rewards[i]`` for every token, so the
    advantage is ``rewards[i] - greedy_rewards[i]`` broadcast to the tokens (verl ``remax``).

    Reads: rewards, greedy_rewards [B] (required), response_mask, token_level_rewards if set.
    Returns: advantages [B, T]; returns [B, T] = G_t.
    """
    m = _mask(inputs)
    g = _returns(inputs, config)
    base = inputs.greedy_rewards.detach().to(g.dtype)  # type: ignore[union-attr]
    return AdvantageOutput(_masked_fill_zero(g - base.unsqueeze(1), m), g)


@register_advantage("gae", requires=("values",), paper="Schulman et al. 2017 PPO (arXiv 1707.06347); GAE: Schulman et al. 2015 (arXiv 1506.02438)")
def gae(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput:
    """Generalised Advantage Estimation for PPO (Schulman et al. 2015, "High-Dimensional Continuous
    Control Using Generalized Advantage Estimation", arXiv 1506.02438, eq. 16; PPO: Schulman et
    al. 2017, arXiv 1707.06347).

    Over the masked-in tokens t of a response (next = next masked-in token; none after the last)::

        delta_t = r_t + gamma V_next - V_t           (V_next = 0 after the last token)
        A_t     = delta_t + gamma lam A_next
        returns = A + V                              (the critic's target, lambda-return)

    then the advantages are standardised over the batch (``masked_whiten``), as in verl and TRL.

    Reads: rewards, values [B, T] (required), response_mask, token_level_rewards if set;
    config.gamma, config.lam, config.eps.
    Returns: advantages [B, T] (whitened); returns [B, T] = A + V (before whitening).
    """
    m = _mask(inputs)
    idx, cmask = _compact(m)
    rc = _to_compact(_token_rewards(inputs), idx, cmask)
    vc = _to_compact(inputs.values.detach().to(rc.dtype), idx, cmask)  # type: ignore[union-attr]
    gamma, lam = config.gamma, config.lam
    adv_c = torch.zeros_like(rc)
    next_v = torch.zeros_like(rc[:, 0])
    next_a = torch.zeros_like(rc[:, 0])
    for t in range(rc.shape[1] - 1, -1, -1):
        delta = rc[:, t] + gamma * next_v - vc[:, t]
        next_a = delta + gamma * lam * next_a
        next_v = vc[:, t]
        adv_c[:, t] = next_a
    adv_c = _masked_fill_zero(adv_c, cmask)  # padding of the compacted rows: delta = 0 already
    raw = _from_compact(adv_c, idx, cmask)
    returns = _masked_fill_zero(raw + inputs.values.detach().to(raw.dtype), m)  # type: ignore[union-attr]
    return AdvantageOutput(masked_whiten(raw, m, config.eps), returns)


def _binom_ratio(a: torch.Tensor, k: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """C(a, k) / C(n, k) for integer tensors, 0 where a < k (float64, via lgamma)."""
    a64, k64, n64 = a.to(torch.float64), k.to(torch.float64), n.to(torch.float64)
    ok = (a64 >= k64) & (k64 >= 0)
    a_s = torch.where(ok, a64, n64)  # keep lgamma arguments valid where the ratio is 0 anyway
    log = (torch.lgamma(a_s + 1) - torch.lgamma(a_s - k64 + 1)) - (torch.lgamma(n64 + 1) - torch.lgamma(n64 - k64 + 1))
    return torch.where(ok, torch.exp(log), torch.zeros_like(log))


@register_advantage(
    "passk",
    requires_config=("k",),
    needs_groups=True,
    paper="Chen et al. 2025, Pass@k Training (arXiv 2508.10751), analytical advantage; Walder & Karkhanis 2025, PKPO (arXiv 2505.15201)",
)
def passk(inputs: AdvantageInputs, config: AdvantageConfig) -> AdvantageOutput:
    """Pass@k-training advantage, analytical form (Chen et al. 2025, "Pass@k Training for
    Adaptively Balancing Exploration and Exploitation of Large Reasoning Models", arXiv 2508.10751,
    eqs. 14-15; the unbiased pass@k reward transformation of PKPO, Walder & Karkhanis 2025,
    "Pass@K Policy Optimization", arXiv 2505.15201).

    Per group of N responses with binary rewards, N_neg of them wrong, and k = ``config.k``::

        R     = 1 - C(N_neg, k) / C(N, k)                      (group pass@k, Chen et al. 2021)
        sigma = sqrt(R (1 - R))
        A_pos = (1 - R) / (sigma + eps)                                        correct responses
        A_neg = (1 - R - C(N_neg - 1, k - 1) / C(N - 1, k - 1)) / (sigma + eps)  wrong responses

    When sigma = 0 (every response wrong: R = 0; or fewer than k wrong: R = 1) both numerators are
    0 and the advantages are exactly 0: such a group carries no pass@k signal. With
    ``norm_by_std=False`` the division by ``sigma + eps`` is dropped. k = 1 recovers GRPO with the
    population (ddof=0) standard deviation. Example: rewards [1, 0, 0, 0], k = 2: R = 1 - 3/6 =
    0.5, sigma = 0.5, A_pos = 1, A_neg = (0.5 - 2/3) / 0.5 = -1/3.

    Reads: rewards [B] (must be 0/1; token_level_rewards must be None), group_ids,
    response_mask; config.k (required, <= every group's size), config.eps, config.norm_by_std.
    Returns: advantages [B, T]; returns [B, T] = G_t.
    """
    if inputs.token_level_rewards is not None:
        raise RLInputError(
            "advantage estimator 'passk' needs binary per-response rewards; token_level_rewards must be None "
            "(put a KL penalty in the loss instead)",
            field="token_level_rewards",
        )
    r = inputs.rewards.detach()
    if not bool(((r == 0) | (r == 1)).all()):
        raise RLInputError("advantage estimator 'passk' needs rewards in {0, 1}", field="rewards")
    m = _mask(inputs)
    k = int(config.k)  # type: ignore[arg-type]
    inv, counts = _groups(inputs.group_ids)
    if int(counts.min()) < k:
        gid = _first_group_with(inputs.group_ids, counts < k)
        raise RLInputError(
            f"passk needs k <= responses per prompt; k={k} but group_ids {gid} has {int(counts[counts < k][0])}",
            field="k",
        )
    n = counts.to(torch.float64)
    pos = _group_sum(r.to(torch.float64), inv, n.numel())
    neg = n - pos
    kk = torch.full_like(n, float(k))
    pass_k = 1.0 - _binom_ratio(neg, kk, n)
    sigma = torch.sqrt((pass_k * (1.0 - pass_k)).clamp(min=0.0))
    p_cond = _binom_ratio(neg - 1, kk - 1, n - 1)
    a_pos = 1.0 - pass_k
    a_neg = 1.0 - pass_k - p_cond
    if config.norm_by_std:
        a_pos = a_pos / (sigma + config.eps)
        a_neg = a_neg / (sigma + config.eps)
    flat = sigma == 0
    a_pos = torch.where(flat, torch.zeros_like(a_pos), a_pos)
    a_neg = torch.where(flat, torch.zeros_like(a_neg), a_neg)
    adv = torch.where(r == 1, a_pos[inv], a_neg[inv]).to(_dtype(inputs))
    return AdvantageOutput(_broadcast(adv, m), _returns(inputs, config))


# --------------------------------------------------------------------------- DAPO batch shaping


def filter_groups(rewards: torch.Tensor, group_ids: torch.Tensor, atol: float = 0.0) -> torch.Tensor:
    """DAPO dynamic sampling: keep only groups whose rewards are not all equal.

    Yu et al. 2025 ("DAPO", arXiv 2503.14476, Sec. 3.2, eq. 11): a group where every response is
    right (or every one wrong) has zero group-relative advantage and contributes no gradient; DAPO
    drops it and the trainer samples more prompts until the batch is full (verl
    ``algorithm.filter_groups``). Pass the *accuracy* (verl ``metric=acc``), not a shaped score,
    if shaping (overlong penalty) could make equal accuracies look different.

    Args:
        rewards: [B] float.
        group_ids: [B] integer, same id = same prompt.
        atol: groups with ``max - min <= atol`` count as constant (0 = exact equality).

    Returns:
        [B] bool keep mask (True for every response of a kept group).
    """
    if not _is_tensor(rewards) or rewards.dim() != 1:
        raise RLInputError("rewards must be a 1-d tensor [B]", field="rewards")
    if not _is_tensor(group_ids) or group_ids.shape != rewards.shape:
        raise RLInputError(
            f"group_ids must be a tensor of shape {tuple(rewards.shape)}, got "
            f"{tuple(group_ids.shape) if _is_tensor(group_ids) else type(group_ids).__name__}",
            field="group_ids",
        )
    if group_ids.dtype.is_floating_point or group_ids.dtype == torch.bool:
        raise RLInputError(f"group_ids must be an integer tensor, got {group_ids.dtype}", field="group_ids")
    if not atol >= 0:
        raise RLInputError(f"atol must be >= 0, got {atol!r}", field="atol")
    if rewards.numel() == 0:
        return torch.zeros(0, dtype=torch.bool, device=rewards.device)
    inv, counts = _groups(group_ids)
    g = counts.numel()
    r = rewards.detach()
    hi = torch.full((g,), float("-inf"), dtype=r.dtype, device=r.device).scatter_reduce(0, inv, r, reduce="amax")
    lo = torch.full((g,), float("inf"), dtype=r.dtype, device=r.device).scatter_reduce(0, inv, r, reduce="amin")
    keep_group = (hi - lo) > atol
    return keep_group[inv]


def overlong_penalty(
    lengths: torch.Tensor,
    max_len: int,
    cache_len: int,
    penalty_factor: float = 1.0,
) -> torch.Tensor:
    """DAPO soft overlong punishment, a length-aware reward term (Yu et al. 2025, eq. 13)::

        0                                             |y| <= max_len - cache_len
        ((max_len - cache_len) - |y|) / cache_len     max_len - cache_len < |y| <= max_len
        -1                                            |y| > max_len

    times ``penalty_factor`` (verl ``overlong_buffer.penalty_factor``). Add it to the rewards
    before computing advantages. DAPO uses max_len = 20480, cache_len = 4096.

    Args:
        lengths: [B] response lengths in tokens (integers >= 0).
        max_len: L_max, the generation limit.
        cache_len: L_cache, the soft-penalty buffer (0 < cache_len <= max_len).
        penalty_factor: scale of the penalty (>= 0).

    Returns:
        [B] float32 penalties in [-penalty_factor, 0].
    """
    if not _is_tensor(lengths) or lengths.dim() != 1:
        raise RLInputError("lengths must be a 1-d tensor [B]", field="lengths")
    if not (isinstance(max_len, int) and isinstance(cache_len, int) and 0 < cache_len <= max_len):
        raise RLInputError(
            f"need integers 0 < cache_len <= max_len, got max_len={max_len!r}, cache_len={cache_len!r}",
            field="cache_len",
        )
    if not penalty_factor >= 0:
        raise RLInputError(f"penalty_factor must be >= 0, got {penalty_factor!r}", field="penalty_factor")
    if lengths.numel() and bool((lengths < 0).any()):
        raise RLInputError("lengths must be >= 0", field="lengths")
    dt = lengths.dtype if lengths.dtype in (torch.float32, torch.float64) else torch.float32
    excess = lengths.to(dt) - float(max_len - cache_len)
    return (-excess / float(cache_len)).clamp(min=-1.0, max=0.0) * float(penalty_factor)
