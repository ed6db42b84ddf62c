"""Loss aggregation, the clipped policy loss, the value loss and entropy: hand-worked numbers."""

from __future__ import annotations

import math

import pytest
import torch

from rlbound.rl.algos.losses import (
    AGGREGATION_MODES,
    PolicyLossConfig,
    aggregate,
    entropy_from_logits,
    masked_mean,
    masked_whiten,
    mean_entropy,
    policy_loss,
    value_loss,
)

D = torch.float64

# two responses with per-token losses [2] and [1, 1, 1] (padding holds garbage)
LOSS = torch.tensor([[2.0, 7.0, -3.0], [1.0, 1.0, 1.0]], dtype=D)
MASK = torch.tensor([[1, 0, 0], [1, 1, 1]])


def test_aggregate_hand_example():
    assert float(aggregate(LOSS, MASK, "token-mean")) == pytest.approx(1.25)  # 5 / 4
    assert float(aggregate(LOSS, MASK, "seq-mean-token-sum")) == pytest.approx(2.5)  # (2 + 3) / 2
    assert float(aggregate(LOSS, MASK, "seq-mean-token-mean")) == pytest.approx(1.5)  # (2 + 1) / 2
    assert float(aggregate(LOSS, MASK, "seq-mean-token-sum-norm", max_len=4)) == pytest.approx(0.625)  # (2/4 + 3/4) / 2
    assert set(AGGREGATION_MODES) == {"token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"}


def test_aggregate_ignores_garbage_and_empty_rows():
    loss = LOSS.clone()
    loss[0, 1] = float("nan")
    loss[0, 2] = float("inf")
    loss = torch.cat([loss, torch.full((1, 3), float("nan"), dtype=D)])  # an all-padding row
    mask = torch.cat([MASK, torch.zeros(1, 3, dtype=MASK.dtype)])
    assert float(aggregate(loss, mask, "token-mean")) == pytest.approx(1.25)
    assert float(aggregate(loss, mask, "seq-mean-token-sum")) == pytest.approx(2.5)
    assert float(aggregate(loss, mask, "seq-mean-token-mean")) == pytest.approx(1.5)
    assert float(aggregate(loss, mask.bool(), "seq-mean-token-sum-norm", max_len=4)) == pytest.approx(0.625)
    for mode in AGGREGATION_MODES:
        assert float(aggregate(loss, torch.zeros(3, 3), mode, max_len=4)) == 0.0


def test_aggregate_gradient_weights():
    x = LOSS.clone().requires_grad_(True)
    aggregate(x, MASK, "token-mean").backward()
    assert torch.allclose(x.grad, torch.tensor([[0.25, 0, 0], [0.25, 0.25, 0.25]], dtype=D))
    x.grad = None
    aggregate(x, MASK, "seq-mean-token-mean").backward()
    assert torch.allclose(x.grad, torch.tensor([[0.5, 0, 0], [1 / 6, 1 / 6, 1 / 6]], dtype=D))


def test_aggregate_errors():
    with pytest.raises(ValueError, match="known: .*token-mean") as e:
        aggregate(LOSS, MASK, "sum")
    assert e.value.field == "loss_agg_mode"
    with pytest.raises(ValueError, match="max_len"):
        aggregate(LOSS, MASK, "seq-mean-token-sum-norm")
    with pytest.raises(ValueError, match="mask"):
        aggregate(LOSS, MASK[:, :2], "token-mean")
    with pytest.raises(ValueError, match="0 and 1"):
        aggregate(LOSS, MASK * 2, "token-mean")


def test_masked_mean_and_whiten():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]], dtype=D)
    m = torch.tensor([[1, 1, 1, 0]])
    assert float(masked_mean(x, m)) == pytest.approx(2.0)
    w = masked_whiten(x, m, eps=0.0)  # mean 2, sample std 1
    assert torch.allclose(w, torch.tensor([[-1.0, 0.0, 1.0, 0.0]], dtype=D))


# --------------------------------------------------------------------------- policy loss


def _one_token(ratio: float, adv: float):
    old = torch.zeros(1, 1, dtype=D)
    logp = torch.full((1, 1), math.log(ratio), dtype=D, requires_grad=True)
    return logp, old, torch.full((1, 1), adv, dtype=D), torch.ones(1, 1)


def test_clip_higher_hand_example():
    # ratio 1.25, advantage +1: clipped at eps_high = 0.2 (loss -1.2, no gradient), not at 0.28
    logp, old, adv, m = _one_token(1.25, 1.0)
    out = policy_loss(logp, old, adv, m, PolicyLossConfig(eps_low=0.2, eps_high=0.2))
    out.loss.backward()
    assert float(out.loss.detach()) == pytest.approx(-1.2)
    assert float(logp.grad) == 0.0
    assert float(out.clip_frac) == 1.0 and float(out.clip_frac_high) == 1.0 and float(out.clip_frac_low) == 0.0

    logp, old, adv, m = _one_token(1.25, 1.0)
    out = policy_loss(logp, old, adv, m, PolicyLossConfig(eps_low=0.2, eps_high=0.28))
    out.loss.backward()
    assert float(out.loss.detach()) == pytest.approx(-1.25)
    assert float(logp.grad) == pytest.approx(-1.25)  # d(-A r)/dlogp = -A r
    assert float(out.clip_frac) == 0.0 and float(out.clip_frac_high) == 0.0


def test_clip_low_for_negative_advantage():
    # ratio 0.5, A = -1: max(0.5, 0.8) = 0.8 (clipped below at 1 - eps_low), no gradient
    logp, old, adv, m = _one_token(0.5, -1.0)
    out = policy_loss(logp, old, adv, m, PolicyLossConfig(eps_low=0.2, eps_high=0.28))
    out.loss.backward()
    assert float(out.loss.detach()) == pytest.approx(0.8)
    assert float(logp.grad) == 0.0
    assert float(out.clip_frac_low) == 1.0 and float(out.clip_frac_high) == 0.0


def test_dual_clip_hand_example():
    # ratio 5, A = -1: PPO loss max(5, 1.2) = 5 grows without bound; dual clip c = 3 caps it at 3
    logp, old, adv, m = _one_token(5.0, -1.0)
    out = policy_loss(logp, old, adv, m, PolicyLossConfig(dual_clip_c=3.0))
    out.loss.backward()
    assert float(out.loss.detach()) == pytest.approx(3.0)
    assert float(logp.grad) == 0.0
    assert float(out.dual_clip_frac) == 1.0
    logp, old, adv, m = _one_token(5.0, -1.0)
    out = policy_loss(logp, old, adv, m, PolicyLossConfig())
    out.loss.backward()
    assert float(out.loss.detach()) == pytest.approx(5.0) and float(logp.grad) == pytest.approx(5.0)
    # dual clip never touches positive advantages
    logp, old, adv, m = _one_token(5.0, 1.0)
    assert float(policy_loss(logp, old, adv, m, PolicyLossConfig(dual_clip_c=3.0)).loss.detach()) == pytest.approx(-1.2)


def test_on_policy_loss_is_minus_mean_advantage():
    g = torch.Generator().manual_seed(0)
    logp = torch.randn(3, 4, generator=g, dtype=D).requires_grad_(True)
    adv = torch.randn(3, 4, generator=g, dtype=D)
    m = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    out = policy_loss(logp, logp.detach(), adv, m, PolicyLossConfig())
    out.loss.backward()
    mb = m.bool()
    assert float(out.loss.detach()) == pytest.approx(float(-adv[mb].mean()))
    assert torch.allclose(logp.grad, torch.where(mb, -adv / mb.sum(), torch.zeros_like(adv)))
    assert float(out.approx_kl) == 0.0 and float(out.approx_kl_k3) == 0.0 and float(out.ratio_mean) == 1.0
    assert float(out.clip_frac) == 0.0


def test_empty_mask_gives_zero_loss_and_finite_metrics():
    logp = torch.randn(2, 3, dtype=D, requires_grad=True)
    out = policy_loss(logp, torch.zeros(2, 3, dtype=D), torch.ones(2, 3, dtype=D), torch.zeros(2, 3, dtype=torch.bool))
    assert float(out.loss.detach()) == 0.0
    assert all(math.isfinite(v) for v in out.metrics().values())


def _ref_policy_loss(logp, old, adv, mask, cfg):
    rows = []
    for i in range(len(logp)):
        row = []
        for t in range(len(logp[0])):
            if not mask[i][t]:
                continue
            r = math.exp(logp[i][t] - old[i][t])
            a = adv[i][t]
            loss = max(-a * r, -a * min(max(r, 1 - cfg.eps_low), 1 + cfg.eps_high))
            if cfg.dual_clip_c is not None and a < 0:
                loss = min(loss, -a * cfg.dual_clip_c)
            row.append(loss)
        rows.append(row)
    seqs = [r for r in rows if r]
    if cfg.agg_mode == "token-mean":
        return sum(sum(r) for r in seqs) / sum(len(r) for r in seqs)
    if cfg.agg_mode == "seq-mean-token-sum":
        return sum(sum(r) for r in seqs) / len(seqs)
    if cfg.agg_mode == "seq-mean-token-mean":
        return sum(sum(r) / len(r) for r in seqs) / len(seqs)
    return sum(sum(r) / cfg.max_len for r in seqs) / len(seqs)


@pytest.mark.parametrize("mode", sorted(AGGREGATION_MODES))
@pytest.mark.parametrize("dual", [None, 3.0])
def test_policy_loss_matches_loop(mode, dual):
    g = torch.Generator().manual_seed(1)
    b, t = 6, 7
    old = -torch.rand(b, t, generator=g, dtype=D) * 3
    logp = old + 0.6 * torch.randn(b, t, generator=g, dtype=D)
    adv = torch.randn(b, t, generator=g, dtype=D)
    lengths = torch.tensor([7, 1, 3, 5, 2, 6])
    mask = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    logp_bad = logp.clone()
    logp_bad[~mask] = float("nan")
    cfg = PolicyLossConfig(eps_low=0.2, eps_high=0.28, dual_clip_c=dual, agg_mode=mode, max_len=16)
    out = policy_loss(logp_bad, old, adv, mask, cfg)
    exp = _ref_policy_loss(logp.tolist(), old.tolist(), adv.tolist(), mask.tolist(), cfg)
    assert float(out.loss.detach()) == pytest.approx(exp, rel=1e-12)
    lr = (logp - old)[mask]
    assert float(out.approx_kl) == pytest.approx(float((-lr).mean()))
    assert float(out.approx_kl_k3) == pytest.approx(float((lr.exp() - lr - 1).mean()))
    assert float(out.ratio_max) == pytest.approx(float(lr.exp().max()))
    assert 0.0 <= float(out.clip_frac) <= 1.0
    assert float(out.clip_frac) == pytest.approx(float(out.clip_frac_high) + float(out.clip_frac_low))
    m = out.metrics()
    assert set(m) >= {"loss", "clip_frac", "approx_kl", "dual_clip_frac"} and all(math.isfinite(v) for v in m.values())


@pytest.mark.parametrize(
    "kw", [dict(eps_low=1.0), dict(eps_high=-0.1), dict(dual_clip_c=1.0), dict(agg_mode="mean"),
           dict(agg_mode="seq-mean-token-sum-norm"), dict(max_len=0)]
)
def test_policy_loss_config_validation(kw):
    with pytest.raises(ValueError):
        PolicyLossConfig(**kw)


# --------------------------------------------------------------------------- value loss and entropy


def test_value_loss_hand_example():
    # v = 1, v_old = 0, R = 2, clip 0.5: (1-2)^2 = 1; clipped v = 0.5: (0.5-2)^2 = 2.25; 0.5 * max = 1.125
    v = torch.tensor([[1.0, 5.0]], dtype=D, requires_grad=True)
    old = torch.tensor([[0.0, 0.0]], dtype=D)
    ret = torch.tensor([[2.0, 0.0]], dtype=D)
    m = torch.tensor([[1, 0]])
    out = value_loss(v, old, ret, m, clip_range=0.5)
    out.loss.backward()
    assert float(out.loss.detach()) == pytest.approx(1.125)
    assert float(out.clip_frac) == 1.0
    assert float(v.grad[0, 0]) == 0.0  # the clipped branch is constant in v
    out2 = value_loss(v, old, ret, m, clip_range=None)
    assert float(out2.loss.detach()) == pytest.approx(0.5) and float(out2.clip_frac) == 0.0
    # inside the clip range both branches agree
    out3 = value_loss(torch.tensor([[0.2]], dtype=D), torch.tensor([[0.0]], dtype=D), torch.tensor([[1.0]], dtype=D),
                      torch.ones(1, 1), clip_range=0.5)
    assert float(out3.loss.detach()) == pytest.approx(0.5 * 0.64) and float(out3.clip_frac) == 0.0


def test_entropy_from_logits():
    v = 7
    uniform = torch.zeros(2, 3, v, dtype=D)
    assert torch.allclose(entropy_from_logits(uniform), torch.full((2, 3), math.log(v), dtype=D))
    peaked = torch.tensor([[[1000.0, 0.0, 0.0]]], dtype=D)
    assert float(entropy_from_logits(peaked)) == pytest.approx(0.0, abs=1e-12)
    g = torch.Generator().manual_seed(2)
    logits = 3 * torch.randn(4, 5, 11, generator=g, dtype=D)
    ref = torch.distributions.Categorical(logits=logits).entropy()
    assert torch.allclose(entropy_from_logits(logits), ref, atol=1e-12)
    m = torch.tensor([[1, 1, 0, 0, 0]] * 4)
    assert float(mean_entropy(logits, m)) == pytest.approx(float(ref[:, :2].mean()))
    bf = entropy_from_logits(logits.to(torch.bfloat16))
    assert bf.dtype == torch.float32 and torch.allclose(bf.double(), ref, atol=0.1)
