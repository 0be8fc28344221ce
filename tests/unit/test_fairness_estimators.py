"""The fairness estimators against closed forms on jointly Gaussian / mixture toy data."""

from __future__ import annotations

import math

import pytest
import torch

from njscc.evaluation.fairness import (
    adversarial_mi,
    fairness_gaps,
    fairness_information,
    fit_adversary,
    kde_expressiveness,
)


def test_kde_expressiveness_recovers_gaussian_channel_information():
    """x ~ N(0, 1) per dim, z = x + σ n: I(x; z) = d/2 · log(1 + 1/σ²) (here per group)."""
    g = torch.Generator().manual_seed(1)

    def draw(n, d=2, sigma=0.7):
        u = torch.randint(0, 2, (n,), generator=g)
        x = torch.randn(n, d, generator=g, dtype=torch.float64) + 3.0 * u[:, None]
        z = x + sigma * torch.randn(n, d, generator=g, dtype=torch.float64)
        log_q = (-0.5 * ((z - x) / sigma).square() - math.log(sigma)
                 - 0.5 * math.log(2 * math.pi)).sum(1)
        return z, log_q, u

    z_fit, _, u_fit = draw(6000)
    z, log_q, u = draw(4000)
    exact = 0.5 * 2 * math.log(1 + 1 / 0.7 ** 2)   # 1.10 nats
    est = kde_expressiveness(z_fit, u_fit, z, log_q, u)
    assert est == pytest.approx(exact, abs=0.06)  # KDE smoothing bias at n = 3000 per group
    with pytest.raises(ValueError, match="fitting samples"):
        kde_expressiveness(z_fit[:3], torch.tensor([0, 0, 1]), z, log_q, u)


def _mixture(n, mu, g):
    u = torch.randint(0, 2, (n,), generator=g)
    z = torch.randn(n, 1, generator=g) + mu * (2 * u[:, None] - 1)
    return z, u


def _mi_two_gaussians(mu):
    """I(z; u) for u ~ Bern(½), z | u ~ N(±μ, 1), by quadrature (nats)."""
    t = torch.linspace(-12, 12, 200001, dtype=torch.float64)
    p1 = torch.exp(-0.5 * (t - mu) ** 2) / math.sqrt(2 * math.pi)
    p0 = torch.exp(-0.5 * (t + mu) ** 2) / math.sqrt(2 * math.pi)
    pm = 0.5 * (p0 + p1)
    integrand = 0.5 * p1 * torch.log(p1 / pm) + 0.5 * p0 * torch.log(p0 / pm)
    return float(torch.trapezoid(integrand, t))


def test_adversarial_mi_matches_quadrature_on_held_out_data():
    g = torch.Generator().manual_seed(2)
    mu = 1.0
    z_fit, u_fit = _mixture(8000, mu, g)
    z_test, u_test = _mixture(8000, mu, g)
    adv = fit_adversary(z_fit, u_fit, hidden=(16,), epochs=10, seed=0)
    est = adversarial_mi(adv, z_test, u_test)
    exact = _mi_two_gaussians(mu)  # ≈ 0.33 nats
    # a lower bound up to sampling noise: within 0.03 nats below, ≤ 0.02 above (σ ≈ 0.006)
    assert exact - 0.03 < est < exact + 0.02
    # no information → ≈ 0 (never far above)
    z0 = torch.randn(8000, 1, generator=g)
    adv0 = fit_adversary(z0[:4000], u_test[:4000], hidden=(16,), epochs=5, seed=0)
    assert abs(adversarial_mi(adv0, z0[4000:], u_test[4000:])) < 0.02


def test_fairness_information_reads_u_given_y():
    """z carries u only when y = 1: I(z; u | y) ≈ ½ I_1, I(z; u | y = 1) ≈ I_1, and the
    unconditional I(z; u) between 0 and I_1."""
    g = torch.Generator().manual_seed(3)
    n, mu = 16000, 1.0
    y = torch.randint(0, 2, (n,), generator=g)
    z, u = _mixture(n, mu, g)
    z = torch.where(y[:, None] == 1, z, torch.randn(n, 1, generator=g))
    half = n // 2
    info = fairness_information(z[:half], u[:half], y[:half], z[half:], u[half:], y[half:],
                                hidden=(16,), epochs=30)
    i1 = _mi_two_gaussians(mu)
    assert info["eo"] == pytest.approx(0.5 * i1, abs=0.03)
    assert info["eopp"] == pytest.approx(i1, abs=0.04)
    assert 0.05 < info["dp"] < i1


def test_fairness_gaps_on_a_constructed_example():
    u = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    y = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    pred = torch.tensor([0, 0, 1, 1, 1, 0, 1, 1])
    gaps = fairness_gaps(pred, u, y)
    assert gaps["dp"] == pytest.approx(0.25)     # 2/4 vs 3/4
    assert gaps["eopp"] == pytest.approx(0.0)    # TPR 1 vs 1
    assert gaps["eo"] == pytest.approx(0.5)      # FPR 0 vs 1/2
    assert gaps["accuracy"] == pytest.approx(7 / 8)
    with pytest.raises(ValueError, match="empty group"):
        fairness_gaps(pred[:4], u[:4], y[:4])
