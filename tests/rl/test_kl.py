"""KL estimators (k1, k2, k3) and their placement in the reward or the loss."""

from __future__ import annotations

import math

import pytest
import torch

from rlbound.rl.algos.kl import KL_ESTIMATORS, kl_estimate, kl_in_reward, kl_loss

D = torch.float64


@pytest.mark.parametrize("name", ["k1", "k2", "k3"])
def test_every_estimator_is_zero_when_policies_are_equal(name):
    g = torch.Generator().manual_seed(0)
    logp = -torch.rand(5, 8, generator=g, dtype=D) * 6
    kl = kl_estimate(logp, logp.clone(), name)
    assert torch.equal(kl, torch.zeros_like(kl))
    m = torch.rand(5, 8, generator=g) > 0.3
    assert torch.equal(kl_estimate(logp, logp.clone(), name, mask=m), torch.zeros_like(kl))
    assert float(kl_loss(kl, m, coef=0.5)) == 0.0


def test_hand_values():
    logp = torch.tensor([[-1.0]], dtype=D)
    ref = torch.tensor([[-2.0]], dtype=D)
    # log_r = ref - logp = -1
    assert float(kl_estimate(logp, ref, "k1")) == pytest.approx(1.0)
    assert float(kl_estimate(logp, ref, "k2")) == pytest.approx(0.5)
    assert float(kl_estimate(logp, ref, "k3")) == pytest.approx(math.exp(-1) + 1 - 1)
    assert set(KL_ESTIMATORS) == {"k1", "k2", "k3"}


def test_k2_k3_nonnegative_k1_can_be_negative():
    g = torch.Generator().manual_seed(1)
    logp = torch.randn(50, 20, generator=g, dtype=D)
    ref = torch.randn(50, 20, generator=g, dtype=D)
    assert (kl_estimate(logp, ref, "k2") >= 0).all()
    assert (kl_estimate(logp, ref, "k3") >= 0).all()
    assert (kl_estimate(logp, ref, "k1") < 0).any()


def test_k1_and_k3_are_unbiased_for_kl():
    """Monte-Carlo: tokens y ~ p; mean of k1 and k3 approaches KL(p || q) (Schulman 2020)."""
    g = torch.Generator().manual_seed(2)
    p = torch.softmax(torch.randn(6, generator=g, dtype=D), 0)
    q = torch.softmax(torch.randn(6, generator=g, dtype=D), 0)
    exact = float((p * (p / q).log()).sum())
    y = torch.multinomial(p, 200_000, replacement=True, generator=g).view(1, -1)
    logp, logq = p.log()[y], q.log()[y]
    for name in ("k1", "k3"):
        est = float(kl_estimate(logp, logq, name).mean())
        assert est == pytest.approx(exact, rel=0.05, abs=2e-3), name


def test_mask_zeroes_and_shields_garbage():
    logp = torch.tensor([[-1.0, float("nan"), 0.0]], dtype=D, requires_grad=True)
    ref = torch.tensor([[-2.0, -1.0, float("-inf")]], dtype=D)
    m = torch.tensor([[1, 0, 0]])
    for name in KL_ESTIMATORS:
        kl = kl_estimate(logp, ref, name, mask=m)
        kd = kl.detach()
        assert torch.isfinite(kd).all() and float(kd[0, 1]) == 0.0 and float(kd[0, 2]) == 0.0
        loss = kl_loss(kl, m, coef=1.0)
        (g,) = torch.autograd.grad(loss, logp)
        assert torch.isfinite(g).all() and float(g[0, 1]) == 0.0 and float(g[0, 2]) == 0.0


def test_k3_gradient_matches_analytic():
    # d/dlogp [exp(ref - logp) - (ref - logp) - 1] = -exp(ref - logp) + 1
    logp = torch.tensor([[-1.0]], dtype=D, requires_grad=True)
    ref = torch.tensor([[-2.0]], dtype=D)
    kl_estimate(logp, ref, "k3").sum().backward()
    assert float(logp.grad) == pytest.approx(1 - math.exp(-1))


def test_kl_in_reward():
    kl = torch.tensor([[0.5, 1.0, 9.0], [2.0, 9.0, 9.0]], dtype=D, requires_grad=True)
    m = torch.tensor([[1, 1, 0], [1, 0, 0]])
    r = kl_in_reward(kl, m, coef=0.1)
    assert not r.requires_grad
    assert torch.allclose(r, torch.tensor([[-0.05, -0.1, 0.0], [-0.2, 0.0, 0.0]], dtype=D))
    base = torch.ones(2, 3, dtype=D)
    r2 = kl_in_reward(kl, m, coef=0.1, token_level_rewards=base)
    assert torch.allclose(r2, torch.tensor([[0.95, 0.9, 0.0], [0.8, 0.0, 0.0]], dtype=D))
    assert torch.equal(base, torch.ones(2, 3, dtype=D))  # not modified in place
    with pytest.raises(ValueError):
        kl_in_reward(kl, m, coef=-1.0)


def test_kl_loss_is_coef_times_aggregate():
    kl = torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=D, requires_grad=True)
    m = torch.tensor([[1, 0], [1, 1]])
    loss = kl_loss(kl, m, coef=0.04)
    assert float(loss.detach()) == pytest.approx(0.04 * 4 / 3)
    loss.backward()
    assert torch.allclose(kl.grad, torch.tensor([[0.04 / 3, 0.0], [0.04 / 3, 0.04 / 3]], dtype=D))
    assert float(kl_loss(kl, m, coef=1.0, agg_mode="seq-mean-token-mean").detach()) == pytest.approx(1.5)


def test_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="known: k1, k2, k3") as e:
        kl_estimate(x, x, "low_var_kl")
    assert e.value.field == "kl_estimator"
    with pytest.raises(ValueError, match="shape"):
        kl_estimate(x, torch.zeros(2, 4), "k1")
