"""Advantage estimators: hand-worked numbers, and every vectorised estimator against a plain loop."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
import torch

from rlbound.errors import InputError
from rlbound.rl.algos.advantages import (
    ADVANTAGE_ESTIMATORS,
    AdvantageConfig,
    AdvantageInputs,
    compute_advantages,
    filter_groups,
    get_advantage,
    overlong_penalty,
    register_advantage,
)

D = torch.float64


def _inputs(rewards, groups, mask=None, **kw) -> AdvantageInputs:
    r = torch.tensor(rewards, dtype=D)
    m = torch.ones(len(rewards), 3) if mask is None else torch.tensor(mask, dtype=D)
    return AdvantageInputs(rewards=r, group_ids=torch.tensor(groups), response_mask=m, **kw)


def _close(x: torch.Tensor, expected, atol: float = 1e-12) -> bool:
    """x equals the nested list ``expected`` within ``atol`` (pytest.approx does not nest)."""
    return torch.allclose(x.to(D), torch.tensor(expected, dtype=D), atol=atol, rtol=0)


def _seq(adv: torch.Tensor, mask: torch.Tensor) -> list[float]:
    """The per-sequence value of a broadcast advantage (checks it is constant over the mask)."""
    out = []
    for i in range(adv.shape[0]):
        vals = adv[i][mask[i] != 0]
        assert torch.allclose(vals, vals[0].expand_as(vals)), "advantage not constant over the response"
        out.append(float(vals[0]))
    return out


# --------------------------------------------------------------------------- hand-worked examples


def test_grpo_hand_example():
    inp = _inputs([1, 0, 0, 0], [0, 0, 0, 0])
    out = get_advantage("grpo")(inp, AdvantageConfig())
    # mean 0.25, sample std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5
    assert _seq(out.advantages, inp.response_mask) == pytest.approx([1.5, -0.5, -0.5, -0.5], abs=1e-5)
    assert out.advantages.shape == (4, 3)


def test_dr_grpo_without_std():
    inp = _inputs([1, 0, 0, 0, 1, 1, 0, 1], [0, 0, 0, 0, 1, 1, 1, 1])
    out = get_advantage("grpo")(inp, AdvantageConfig(norm_by_std=False))
    # group 0 mean 0.25; group 1 mean 0.75; no division by the std
    expected = [0.75, -0.25, -0.25, -0.25, 0.25, 0.25, -0.75, 0.25]
    assert _seq(out.advantages, inp.response_mask) == pytest.approx(expected, abs=1e-12)


def test_grpo_constant_group_is_zero_not_nan():
    out = get_advantage("grpo")(_inputs([1, 1, 1], [5, 5, 5]), AdvantageConfig())
    assert torch.equal(out.advantages, torch.zeros(3, 3, dtype=D))


def test_rloo_hand_example():
    inp = _inputs([1, 0, 0, 0], [3, 3, 3, 3])
    out = get_advantage("rloo")(inp, AdvantageConfig())
    assert _seq(out.advantages, inp.response_mask) == pytest.approx([1, -1 / 3, -1 / 3, -1 / 3], abs=1e-12)


def test_passk_hand_example():
    # N = 4, one correct, k = 2: R = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5, sigma = 0.5
    # A_pos = 0.5 / 0.5 = 1;  A_neg = (1 - 0.5 - C(2,1)/C(3,1)) / 0.5 = (0.5 - 2/3) / 0.5 = -1/3
    inp = _inputs([1, 0, 0, 0], [0, 0, 0, 0])
    out = get_advantage("passk")(inp, AdvantageConfig(k=2))
    assert _seq(out.advantages, inp.response_mask) == pytest.approx([1, -1 / 3, -1 / 3, -1 / 3], abs=1e-5)


def test_passk_second_hand_example():
    # N = 5, two correct (N_neg = 3), k = 3: R = 1 - C(3,3)/C(5,3) = 1 - 1/10 = 0.9,
    # sigma = sqrt(0.09) = 0.3; A_pos = 0.1/0.3 = 1/3; A_neg = (0.1 - C(2,2)/C(4,2)) / 0.3 = (0.1 - 1/6)/0.3 = -2/9
    inp = _inputs([0, 1, 0, 1, 0], [1, 1, 1, 1, 1])
    out = get_advantage("passk")(inp, AdvantageConfig(k=3))
    assert _seq(out.advantages, inp.response_mask) == pytest.approx([-2 / 9, 1 / 3, -2 / 9, 1 / 3, -2 / 9], abs=1e-5)
    # without sigma: numerators only
    out2 = get_advantage("passk")(inp, AdvantageConfig(k=3, norm_by_std=False))
    assert _seq(out2.advantages, inp.response_mask) == pytest.approx([-1 / 15, 0.1, -1 / 15, 0.1, -1 / 15], abs=1e-12)


def test_passk_sigma_zero_gives_zero():
    # all wrong (R = 0), and fewer than k wrong (R = 1): no pass@k signal, exactly 0, never NaN
    inp = _inputs([0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1])
    out = get_advantage("passk")(inp, AdvantageConfig(k=2))
    assert torch.equal(out.advantages, torch.zeros(7, 3, dtype=D))


def test_passk_k1_equals_grpo_with_population_std():
    g = torch.Generator().manual_seed(0)
    r = (torch.rand(12, generator=g) < 0.4).to(D)
    r[0], r[1] = 1.0, 0.0  # group 0 not constant
    groups = torch.tensor([0] * 6 + [1] * 6)
    inp = AdvantageInputs(rewards=r, group_ids=groups, response_mask=torch.ones(12, 2))
    pk = get_advantage("passk")(inp, AdvantageConfig(k=1)).advantages[:, 0]
    for gid in (0, 1):
        rr = r[groups == gid]
        std0 = rr.std(unbiased=False)
        exp = torch.zeros_like(rr) if std0 == 0 else (rr - rr.mean()) / (std0 + 1e-6)
        assert torch.allclose(pk[groups == gid], exp, atol=1e-9)


def test_passk_input_errors():
    with pytest.raises(ValueError, match="'k'") as e:
        get_advantage("passk")(_inputs([1, 0], [0, 0]), AdvantageConfig())
    assert e.value.field == "k"
    with pytest.raises(ValueError, match="k <= responses per prompt"):
        get_advantage("passk")(_inputs([1, 0, 1, 0, 0], [0, 0, 1, 1, 1]), AdvantageConfig(k=3))
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        get_advantage("passk")(_inputs([0.5, 0], [0, 0]), AdvantageConfig(k=1))
    with pytest.raises(ValueError, match="token_level_rewards"):
        get_advantage("passk")(_inputs([1, 0], [0, 0], token_level_rewards=torch.zeros(2, 3, dtype=D)), AdvantageConfig(k=1))


def test_reinforce_pp_hand_example():
    # lengths 2 and 1, rewards [1, 0], gamma = 1: G = [[1, 1], [0, -]] -> valid [1, 1, 0]
    # mean 2/3, sample std sqrt((1/9 + 1/9 + 4/9) / 2) = sqrt(1/3)
    inp = _inputs([1, 0], [0, 1], mask=[[1, 1], [1, 0]])
    out = get_advantage("reinforce_pp")(inp, AdvantageConfig())
    s = math.sqrt(1 / 3)
    assert _close(out.advantages, [[1 / 3 / s, 1 / 3 / s], [-2 / 3 / s, 0]], atol=1e-5)
    assert _close(out.returns, [[1, 1], [0, 0]])


def test_reinforce_pp_discount_and_token_rewards():
    # one response of 3 tokens, score 1 at the last token, per-token KL penalty -0.1 each, gamma 0.5
    # r = [-0.1, -0.1, 0.9]; G_2 = 0.9, G_1 = -0.1 + 0.45 = 0.35, G_0 = -0.1 + 0.175 = 0.075
    tlr = torch.full((1, 3), -0.1, dtype=D)
    inp = _inputs([1], [0], mask=[[1, 1, 1]], token_level_rewards=tlr)
    out = get_advantage("reinforce_pp")(inp, AdvantageConfig(gamma=0.5))
    assert _close(out.returns, [[0.075, 0.35, 0.9]], atol=1e-12)
    g = torch.tensor([0.075, 0.35, 0.9], dtype=D)
    assert out.advantages[0].tolist() == pytest.approx(((g - g.mean()) / (g.std() + 1e-6)).tolist(), abs=1e-12)


def test_reinforce_pp_baseline_hand_example():
    # group means: g0 (1, 0) -> 0.5; g1 (1, 1) -> 1. centred: [0.5, -0.5, 0, 0], lengths [1, 1, 2, 2]
    # tokens: [0.5, -0.5, 0, 0, 0, 0] mean 0, sample std sqrt(0.5 / 5) = sqrt(0.1)
    inp = _inputs([1, 0, 1, 1], [0, 0, 1, 1], mask=[[1, 0], [1, 0], [1, 1], [1, 1]])
    out = get_advantage("reinforce_pp_baseline")(inp, AdvantageConfig())
    s = math.sqrt(0.1)
    assert _close(out.advantages, [[0.5 / s, 0], [-0.5 / s, 0], [0, 0], [0, 0]], atol=1e-5)


def test_remax_hand_example():
    inp = _inputs([1, 0, 1], [0, 1, 2], mask=[[1, 1, 0], [1, 1, 1], [1, 0, 0]],
                  greedy_rewards=torch.tensor([0.5, 0.5, 1.0], dtype=D))
    out = get_advantage("remax")(inp, AdvantageConfig())
    assert _close(out.advantages, [[0.5, 0.5, 0], [-0.5, -0.5, -0.5], [0, 0, 0]])


def test_gae_hand_example():
    # one response of 2 tokens, reward 1 at the end, V = [0.5, 0.8], gamma 0.9, lam 0.5
    # delta_1 = 1 - 0.8 = 0.2, A_1 = 0.2; delta_0 = 0.9 * 0.8 - 0.5 = 0.22, A_0 = 0.22 + 0.45 * 0.2 = 0.31
    v = torch.tensor([[0.5, 0.8, 99.0]], dtype=D)  # 99 sits on padding and must be ignored
    inp = _inputs([1], [0], mask=[[1, 1, 0]], values=v)
    out = get_advantage("gae")(inp, AdvantageConfig(gamma=0.9, lam=0.5))
    assert _close(out.returns, [[0.81, 1.0, 0.0]], atol=1e-12)  # A + V
    # whitened over the two tokens: (0.31, 0.2) -> +-1/sqrt(2)
    assert _close(out.advantages, [[1 / math.sqrt(2), -1 / math.sqrt(2), 0]], atol=1e-4)
    # gamma = lam = 1: returns are the Monte-Carlo returns
    out1 = get_advantage("gae")(inp, AdvantageConfig())
    assert _close(out1.returns, [[1.0, 1.0, 0.0]], atol=1e-12)


# --------------------------------------------------------------------------- plain-loop references


def _valid_positions(mask_row) -> list[int]:
    return [t for t, v in enumerate(mask_row) if v]


def _ref_token_rewards(rew, mask, tlr):
    """list of per-row lists of token rewards over valid positions."""
    out = []
    for i in range(len(rew)):
        pos = _valid_positions(mask[i])
        r = [tlr[i][t] if tlr is not None else 0.0 for t in pos]
        if pos:
            r[-1] += rew[i]
        out.append(r)
    return out


def _ref_returns(rew, mask, tlr, gamma):
    res = [[0.0] * len(mask[0]) for _ in mask]
    for i, rs in enumerate(_ref_token_rewards(rew, mask, tlr)):
        pos = _valid_positions(mask[i])
        running = 0.0
        for j in range(len(pos) - 1, -1, -1):
            running = rs[j] + gamma * running
            res[i][pos[j]] = running
    return res


def _ref_scores(rew, mask, tlr):
    return [sum(rs) if rs else rew[i] for i, rs in enumerate(_ref_token_rewards(rew, mask, tlr))]


def _ref_whiten(x, mask, eps):
    vals = [x[i][t] for i in range(len(x)) for t in _valid_positions(mask[i])]
    n = len(vals)
    mean = sum(vals) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n >= 2 else 0.0
    return [[(x[i][t] - mean) / (std + eps) if mask[i][t] else 0.0 for t in range(len(x[0]))] for i in range(len(x))]


def _broadcast(seq, mask):
    return [[seq[i] if mask[i][t] else 0.0 for t in range(len(mask[0]))] for i in range(len(mask))]


def _by_group(groups):
    d = defaultdict(list)
    for i, g in enumerate(groups):
        d[g].append(i)
    return d


def _ref_grpo(rew, groups, mask, tlr, cfg):
    s = _ref_scores(rew, mask, tlr)
    adv = [0.0] * len(s)
    for idx in _by_group(groups).values():
        vals = [s[i] for i in idx]
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
        for i in idx:
            adv[i] = (s[i] - mean) / (std + cfg.eps) if cfg.norm_by_std else s[i] - mean
    return _broadcast(adv, mask)


def _ref_rloo(rew, groups, mask, tlr, cfg):
    s = _ref_scores(rew, mask, tlr)
    adv = [0.0] * len(s)
    for idx in _by_group(groups).values():
        for i in idx:
            others = [s[j] for j in idx if j != i]
            adv[i] = s[i] - sum(others) / len(others)
    return _broadcast(adv, mask)


def _ref_rpp(rew, groups, mask, tlr, cfg):
    return _ref_whiten(_ref_returns(rew, mask, tlr, cfg.gamma), mask, cfg.eps)


def _ref_rpp_baseline(rew, groups, mask, tlr, cfg):
    s = _ref_scores(rew, mask, tlr)
    c = [0.0] * len(s)
    for idx in _by_group(groups).values():
        mean = sum(s[i] for i in idx) / len(idx)
        for i in idx:
            c[i] = s[i] - mean
    return _ref_whiten(_broadcast(c, mask), mask, cfg.eps)


def _ref_remax(rew, groups, mask, tlr, cfg, greedy):
    g = _ref_returns(rew, mask, tlr, cfg.gamma)
    return [[g[i][t] - greedy[i] if mask[i][t] else 0.0 for t in range(len(mask[0]))] for i in range(len(mask))]


def _ref_gae(rew, groups, mask, tlr, cfg, values):
    raw = [[0.0] * len(mask[0]) for _ in mask]
    for i, rs in enumerate(_ref_token_rewards(rew, mask, tlr)):
        pos = _valid_positions(mask[i])
        next_v, next_a = 0.0, 0.0
        for j in range(len(pos) - 1, -1, -1):
            v = values[i][pos[j]]
            delta = rs[j] + cfg.gamma * next_v - v
            next_a = delta + cfg.gamma * cfg.lam * next_a
            next_v = v
            raw[i][pos[j]] = next_a
    returns = [[raw[i][t] + values[i][t] if mask[i][t] else 0.0 for t in range(len(mask[0]))] for i in range(len(mask))]
    return _ref_whiten(raw, mask, cfg.eps), returns


def _ref_passk(rew, groups, mask, cfg):
    k = cfg.k
    adv = [0.0] * len(rew)
    for idx in _by_group(groups).values():
        n = len(idx)
        neg = sum(1 for i in idx if rew[i] == 0)
        big_r = 1 - math.comb(neg, k) / math.comb(n, k)
        sigma = math.sqrt(big_r * (1 - big_r))
        p_cond = math.comb(neg - 1, k - 1) / math.comb(n - 1, k - 1) if neg >= 1 else 0.0
        div = (sigma + cfg.eps) if cfg.norm_by_std else 1.0
        for i in idx:
            num = (1 - big_r) if rew[i] == 1 else (1 - big_r - p_cond)
            adv[i] = 0.0 if sigma == 0 else num / div
    return _broadcast(adv, mask)


def _random_batch(seed: int, holes: bool, binary: bool = False):
    """Groups of sizes 2..6 (shuffled, non-contiguous ids), masks of different lengths."""
    g = torch.Generator().manual_seed(seed)
    sizes = [2, 3, 5, 6, 4]
    groups = []
    for gid, n in zip([40, 7, 13, 2, 99], sizes):
        groups += [gid] * n
    b, t = len(groups), 9
    perm = torch.randperm(b, generator=g)
    groups = [groups[p] for p in perm.tolist()]
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    lengths[0] = t  # one full-width row
    mask = (torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)).to(D)
    if holes:  # masked-out positions inside responses (tool output), never the first token
        mask = mask * (torch.rand(b, t, generator=g) > 0.25).to(D)
        mask[:, 0] = 1.0
    if binary:
        rew = (torch.rand(b, generator=g) < 0.5).to(D)
    else:
        rew = torch.randn(b, generator=g, dtype=D)
    tlr = 0.1 * torch.randn(b, t, generator=g, dtype=D)
    tlr[mask == 0] = float("nan")  # garbage outside the mask must never be read
    values = torch.randn(b, t, generator=g, dtype=D)
    values[mask == 0] = float("inf")
    greedy = torch.randn(b, generator=g, dtype=D)
    return rew, torch.tensor(groups), mask, tlr, values, greedy


CASES = [(seed, holes, use_tlr) for seed in (0, 1, 2) for holes in (False, True) for use_tlr in (False, True)]


@pytest.mark.parametrize("seed,holes,use_tlr", CASES)
@pytest.mark.parametrize("cfg", [AdvantageConfig(), AdvantageConfig(norm_by_std=False, gamma=0.9, lam=0.7, eps=1e-4)])
def test_vectorised_matches_loop(seed, holes, use_tlr, cfg):
    rew, groups, mask, tlr, values, greedy = _random_batch(seed, holes)
    inp = AdvantageInputs(
        rewards=rew, group_ids=groups, response_mask=mask,
        token_level_rewards=tlr if use_tlr else None, values=values, greedy_rewards=greedy,
    )
    R, G, M = rew.tolist(), groups.tolist(), mask.tolist()
    T = [[0.0 if math.isnan(x) else x for x in row] for row in tlr.tolist()] if use_tlr else None
    V = values.tolist()
    expected = {
        "grpo": _ref_grpo(R, G, M, T, cfg),
        "rloo": _ref_rloo(R, G, M, T, cfg),
        "reinforce_pp": _ref_rpp(R, G, M, T, cfg),
        "reinforce_pp_baseline": _ref_rpp_baseline(R, G, M, T, cfg),
        "remax": _ref_remax(R, G, M, T, cfg, greedy.tolist()),
        "gae": _ref_gae(R, G, M, T, cfg, V)[0],
    }
    ref_returns = _ref_returns(R, M, T, cfg.gamma)
    for name, exp in expected.items():
        out = get_advantage(name)(inp, cfg)
        assert torch.allclose(out.advantages, torch.tensor(exp, dtype=D), atol=1e-9), name
        assert torch.isfinite(out.advantages).all() and torch.isfinite(out.returns).all(), name
        if name == "gae":
            assert torch.allclose(out.returns, torch.tensor(_ref_gae(R, G, M, T, cfg, V)[1], dtype=D), atol=1e-9)
        else:
            assert torch.allclose(out.returns, torch.tensor(ref_returns, dtype=D), atol=1e-9), name
        assert bool((out.advantages[mask == 0] == 0).all()) and bool((out.returns[mask == 0] == 0).all()), name


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("norm", [True, False])
def test_passk_matches_loop(seed, k, norm):
    rew, groups, mask, *_ = _random_batch(seed, holes=bool(seed % 2), binary=True)
    cfg = AdvantageConfig(k=k, norm_by_std=norm)
    out = get_advantage("passk")(AdvantageInputs(rewards=rew, group_ids=groups, response_mask=mask), cfg)
    exp = _ref_passk(rew.tolist(), groups.tolist(), mask.tolist(), cfg)
    assert torch.allclose(out.advantages, torch.tensor(exp, dtype=D), atol=1e-9)


def test_float32_inputs_and_bool_mask():
    rew, groups, mask, _, values, _ = _random_batch(5, holes=False)
    m = mask.bool()
    inp32 = AdvantageInputs(rewards=rew.float(), group_ids=groups, response_mask=m, values=values.float().nan_to_num(posinf=0.0))
    inp64 = AdvantageInputs(rewards=rew, group_ids=groups, response_mask=mask, values=values.nan_to_num(posinf=0.0))
    for name in ("grpo", "rloo", "reinforce_pp", "gae"):
        a32 = get_advantage(name)(inp32, AdvantageConfig()).advantages
        a64 = get_advantage(name)(inp64, AdvantageConfig()).advantages
        assert a32.dtype == torch.float32
        assert torch.allclose(a32.double(), a64, atol=1e-4), name


def test_outputs_have_no_grad_and_inputs_untouched():
    v = torch.randn(4, 3, dtype=D, requires_grad=True)
    r = torch.tensor([1.0, 0, 0, 1], dtype=D)
    r0 = r.clone()
    inp = AdvantageInputs(rewards=r, group_ids=torch.tensor([0, 0, 1, 1]), response_mask=torch.ones(4, 3), values=v)
    for name in ("grpo", "gae"):
        out = get_advantage(name)(inp, AdvantageConfig())
        assert not out.advantages.requires_grad and not out.returns.requires_grad
    assert torch.equal(r, r0)


# --------------------------------------------------------------------------- errors and registry


def test_missing_field_names_the_field():
    inp = _inputs([1, 0], [0, 0])
    for name, fld in (("gae", "values"), ("remax", "greedy_rewards")):
        with pytest.raises(ValueError, match=fld) as e:
            get_advantage(name)(inp, AdvantageConfig())
        assert isinstance(e.value, InputError) and e.value.field == fld


def test_group_estimators_reject_singleton_groups():
    inp = _inputs([1, 0, 1], [0, 0, 5])
    for name in ("grpo", "rloo", "reinforce_pp_baseline"):
        with pytest.raises(ValueError, match="group_ids 5 has 1"):
            get_advantage(name)(inp, AdvantageConfig())
    # estimators without groups accept one response per prompt
    get_advantage("reinforce_pp")(inp, AdvantageConfig())


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(rewards=torch.tensor([1.0, 0.0]), group_ids=torch.tensor([0, 0, 0]), response_mask=torch.ones(2, 3)), "group_ids"),
        (dict(rewards=torch.tensor([1.0, 0.0]), group_ids=torch.tensor([0.0, 0.0]), response_mask=torch.ones(2, 3)), "group_ids"),
        (dict(rewards=torch.tensor([1, 0]), group_ids=torch.tensor([0, 0]), response_mask=torch.ones(2, 3)), "rewards"),
        (dict(rewards=torch.tensor([float("nan"), 0.0]), group_ids=torch.tensor([0, 0]), response_mask=torch.ones(2, 3)), "rewards"),
        (dict(rewards=torch.tensor([1.0, 0.0]), group_ids=torch.tensor([0, 0]), response_mask=torch.ones(2)), "response_mask"),
        (dict(rewards=torch.tensor([1.0, 0.0]), group_ids=torch.tensor([0, 0]), response_mask=torch.full((2, 3), 2.0)), "response_mask"),
        (dict(rewards=torch.tensor([1.0, 0.0]), group_ids=torch.tensor([0, 0]), response_mask=torch.ones(2, 3),
              values=torch.ones(2, 4)), "values"),
        (dict(rewards=torch.tensor([1.0, 0.0]), group_ids=torch.tensor([0, 0]), response_mask=torch.ones(2, 3),
              greedy_rewards=torch.ones(3)), "greedy_rewards"),
        (dict(rewards=[1.0, 0.0], group_ids=torch.tensor([0, 0]), response_mask=torch.ones(2, 3)), "rewards"),
    ],
)
def test_bad_inputs_raise(kwargs, field):
    with pytest.raises(ValueError) as e:
        AdvantageInputs(**kwargs)
    assert e.value.field == field


@pytest.mark.parametrize("kw", [dict(eps=0.0), dict(k=0), dict(gamma=1.5), dict(lam=-0.1), dict(norm_by_std=1)])
def test_bad_config_raises(kw):
    with pytest.raises(ValueError):
        AdvantageConfig(**kw)


def test_registry():
    assert set(ADVANTAGE_ESTIMATORS) >= {"grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax", "gae", "passk"}
    with pytest.raises(ValueError, match="known: .*grpo.*rloo") as e:
        get_advantage("grpo_passk")
    assert e.value.field == "adv_estimator"
    with pytest.raises(ValueError, match="already registered"):
        register_advantage("grpo")(lambda i, c: None)
    assert get_advantage("gae").needs_values and not get_advantage("grpo").needs_values
    assert get_advantage("remax").needs_greedy_rewards
    for est in ADVANTAGE_ESTIMATORS.values():
        assert est.paper and est.fn.__doc__
    out = compute_advantages("rloo", _inputs([1, 0], [0, 0]))
    assert _seq(out.advantages, torch.ones(2, 3)) == pytest.approx([1, -1])


def test_empty_response_row_gets_zero():
    inp = _inputs([1, 0, 1], [0, 0, 0], mask=[[1, 1], [0, 0], [1, 0]])
    for name in ("grpo", "rloo", "reinforce_pp"):
        out = get_advantage(name)(inp, AdvantageConfig())
        assert torch.equal(out.advantages[1], torch.zeros(2, dtype=D))
        assert torch.isfinite(out.advantages).all()


# --------------------------------------------------------------------------- DAPO shaping


def test_filter_groups():
    r = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    g = torch.tensor([3, 3, 8, 8, 8, 3, 5, 5, 5])  # group 3 mixed, group 8 mixed, group 5 all 1
    keep = filter_groups(r, g)
    assert keep.tolist() == [True, True, True, True, True, True, False, False, False]
    assert filter_groups(torch.tensor([0.0, 0.0]), torch.tensor([1, 1])).tolist() == [False, False]
    assert filter_groups(torch.tensor([0.5, 0.5001]), torch.tensor([1, 1]), atol=1e-3).tolist() == [False, False]
    assert filter_groups(torch.tensor([]), torch.tensor([], dtype=torch.long)).numel() == 0
    with pytest.raises(ValueError):
        filter_groups(r, g[:3])


def test_overlong_penalty_hand_example():
    # max_len 20, cache 4: free up to 16, linear to -1 at 20, -1 beyond
    lengths = torch.tensor([10, 16, 17, 18, 20, 25])
    pen = overlong_penalty(lengths, max_len=20, cache_len=4)
    assert pen.tolist() == pytest.approx([0, 0, -0.25, -0.5, -1, -1])
    assert overlong_penalty(lengths, 20, 4, penalty_factor=0.5).tolist() == pytest.approx([0, 0, -0.125, -0.25, -0.5, -0.5])
    with pytest.raises(ValueError):
        overlong_penalty(lengths, max_len=4, cache_len=5)
    with pytest.raises(ValueError):
        overlong_penalty(torch.tensor([-1]), max_len=20, cache_len=4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    rew, groups, mask, tlr, values, greedy = _random_batch(7, holes=True)
    kw = dict(rewards=rew, group_ids=groups, response_mask=mask, token_level_rewards=tlr, values=values, greedy_rewards=greedy)
    cpu = AdvantageInputs(**kw)
    gpu = AdvantageInputs(**{k: v.cuda() for k, v in kw.items()})
    for name in ("grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax", "gae"):
        a, b = get_advantage(name)(cpu, AdvantageConfig(gamma=0.9)), get_advantage(name)(gpu, AdvantageConfig(gamma=0.9))
        assert b.advantages.device.type == "cuda"
        assert torch.allclose(a.advantages, b.advantages.cpu(), atol=1e-9), name
        assert torch.allclose(a.returns, b.returns.cpu(), atol=1e-9), name
    binary = (rew > 0).to(D)
    a = get_advantage("passk")(AdvantageInputs(rewards=binary, group_ids=groups, response_mask=mask), AdvantageConfig(k=2))
    b = get_advantage("passk")(AdvantageInputs(rewards=binary.cuda(), group_ids=groups.cuda(), response_mask=mask.cuda()),
                               AdvantageConfig(k=2))
    assert torch.allclose(a.advantages, b.advantages.cpu(), atol=1e-9)
    keep = filter_groups(rew.cuda(), groups.cuda())
    assert torch.equal(keep.cpu(), filter_groups(rew, groups))
