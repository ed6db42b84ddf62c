"""Algorithm presets: the published settings, validation, and one synthetic step per preset."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rlbound.errors import InputError
from rlbound.rl import (
    AdvantageInputs,
    AlgoPreset,
    OverlongShaping,
    filter_groups,
    get_advantage,
    get_algo_preset,
    kl_estimate,
    kl_in_reward,
    kl_loss,
    mean_entropy,
    overlong_penalty,
    policy_loss,
    preset_names,
    value_loss,
)
from rlbound.rl.algos.advantages import AdvantageConfig

ALL = ("dapo", "dr_grpo", "grpo", "passk", "ppo", "reinforce_pp", "remax", "rloo")


def test_names_and_unknown_name():
    assert preset_names() == ALL
    with pytest.raises(InputError, match="known: dapo, dr_grpo, grpo, passk, ppo, reinforce_pp, remax, rloo") as e:
        get_algo_preset("grpo++")
    assert isinstance(e.value, ValueError) and e.value.field == "algorithm"


def test_published_settings():
    grpo = get_algo_preset("grpo")
    assert (grpo.advantage, grpo.advantage_config.norm_by_std, grpo.loss_agg_mode) == ("grpo", True, "seq-mean-token-mean")
    assert (grpo.kl_coef, grpo.kl_estimator, grpo.kl_in_loss, grpo.kl_in_reward) == (0.04, "k3", True, False)
    assert grpo.rollouts_per_prompt == 64

    dr = get_algo_preset("dr_grpo")
    assert dr.advantage == "grpo" and dr.advantage_config.norm_by_std is False
    assert dr.loss_agg_mode == "seq-mean-token-sum-norm" and dr.kl_coef == 0.0

    dapo = get_algo_preset("dapo")
    assert (dapo.eps_low, dapo.eps_high, dapo.loss_agg_mode) == (0.2, 0.28, "token-mean")
    assert dapo.dynamic_sampling and dapo.overlong == OverlongShaping(20480, 4096, 1.0) and dapo.kl_coef == 0.0

    ppo = get_algo_preset("ppo")
    assert ppo.needs_critic and ppo.advantage == "gae" and ppo.value_clip == 0.5 and ppo.dual_clip_c == 3.0
    assert ppo.kl_in_reward and ppo.kl_estimator == "k1"

    assert get_algo_preset("remax").needs_greedy_rollout and not get_algo_preset("remax").needs_critic
    assert get_algo_preset("rloo").advantage == "rloo" and get_algo_preset("reinforce_pp").advantage == "reinforce_pp"
    assert get_algo_preset("passk").advantage_config.k is not None
    for name in ALL:
        p = get_algo_preset(name)
        assert p.papers and p.sources
        assert p.needs_reference == (p.kl_coef > 0)
        if name not in ("ppo",):
            assert not p.needs_critic
        if name != "remax":
            assert not p.needs_greedy_rollout


def test_presets_are_frozen_and_replaceable():
    p = get_algo_preset("grpo")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.kl_coef = 0.0  # type: ignore[misc]
    yue = dataclasses.replace(p, kl_coef=0.0, kl_in_loss=False, rollouts_per_prompt=8)
    assert yue.kl_coef == 0.0 and not yue.needs_reference and get_algo_preset("grpo").kl_coef == 0.04


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(advantage="grpo_passk"), "advantage"),
        (dict(loss_agg_mode="sum"), "loss_agg_mode"),
        (dict(kl_estimator="low_var_kl"), "kl_estimator"),
        (dict(kl_coef=0.1, kl_in_reward=True, kl_in_loss=True), "kl_in_loss"),
        (dict(kl_coef=0.1), "kl_in_reward"),
        (dict(rollouts_per_prompt=1), "rollouts_per_prompt"),
        (dict(eps_high=-1.0), "eps_high"),
        (dict(dual_clip_c=0.5), "dual_clip_c"),
        (dict(advantage="passk", advantage_config=AdvantageConfig(k=9), rollouts_per_prompt=8), "k"),
        (dict(advantage="passk", advantage_config=AdvantageConfig(k=2), kl_coef=0.1, kl_in_reward=True), "kl_in_reward"),
    ],
)
def test_invalid_presets_raise(kw, field):
    base = dict(name="x", advantage="grpo", rollouts_per_prompt=4)
    base.update(kw)
    with pytest.raises(ValueError) as e:
        AlgoPreset(**base)
    assert e.value.field == field


def test_dr_grpo_loss_config_needs_max_len():
    with pytest.raises(ValueError, match="max_len"):
        get_algo_preset("dr_grpo").policy_loss_config()
    cfg = get_algo_preset("dr_grpo").policy_loss_config(max_len=1024)
    assert cfg.agg_mode == "seq-mean-token-sum-norm" and cfg.max_len == 1024
    assert get_algo_preset("dapo").policy_loss_config().eps_high == 0.28


def _synthetic_step(preset: AlgoPreset, seed: int = 0) -> float:
    """One trainer step's worth of algorithm pieces on random tensors, driven only by the preset."""
    g = torch.Generator().manual_seed(seed)
    n_prompts, n, t, v = 3, min(preset.rollouts_per_prompt, 6), 12, 17
    n = max(n, preset.advantage_config.k or 1)
    b = n_prompts * n
    group_ids = torch.arange(n_prompts).repeat_interleave(n)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    mask = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    rewards = (torch.rand(b, generator=g) < 0.5).float()
    rewards[::n] = 1.0
    rewards[1::n] = 0.0  # every group mixed
    if preset.overlong is not None:
        rewards = rewards + overlong_penalty(lengths * 2000, preset.overlong.max_len, preset.overlong.cache_len,
                                             preset.overlong.penalty_factor)
    if preset.dynamic_sampling:
        assert filter_groups(rewards, group_ids).all()
    logits = torch.randn(b, t, v, generator=g, requires_grad=True)
    tokens = torch.randint(0, v, (b, t), generator=g)
    logp = torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    old = logp.detach() + 0.05 * torch.randn(b, t, generator=g)
    ref = logp.detach() + 0.1 * torch.randn(b, t, generator=g)
    tlr = None
    if preset.kl_in_reward:
        tlr = kl_in_reward(kl_estimate(old, ref, preset.kl_estimator, mask), mask, preset.kl_coef)
    values = torch.randn(b, t, generator=g) if preset.needs_critic else None
    greedy = torch.rand(b, generator=g) if preset.needs_greedy_rollout else None
    inputs = AdvantageInputs(rewards=rewards, group_ids=group_ids, response_mask=mask,
                             token_level_rewards=tlr, values=values, greedy_rewards=greedy)
    adv = get_advantage(preset.advantage)(inputs, preset.advantage_config)
    out = policy_loss(logp, old, adv.advantages, mask, preset.policy_loss_config(max_len=t))
    loss = out.loss
    if preset.kl_in_loss:
        loss = loss + kl_loss(kl_estimate(logp, ref, preset.kl_estimator, mask), mask, preset.kl_coef,
                              preset.loss_agg_mode, max_len=t)
    loss = loss - preset.entropy_coef * mean_entropy(logits, mask)
    if preset.needs_critic:
        vpred = (values + 0.1 * torch.randn(b, t, generator=g)).requires_grad_(True)
        loss = loss + value_loss(vpred, values, adv.returns, mask, preset.value_clip).loss
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    return float(loss.detach())


@pytest.mark.parametrize("name", ALL)
def test_every_preset_runs_one_synthetic_step(name):
    assert math.isfinite(_synthetic_step(get_algo_preset(name)))
