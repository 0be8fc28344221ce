"""BPSK over AWGN: mapping, noise statistics, hard-decision error rate, LLRs and capacities.

Bounds are two-sided 99.9 % (z = 3.2905): binomial for rates, normal for means
(σ/√n) and sample variances (σ²·√(2/n)), and a CLT bound on the Monte-Carlo capacity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from channels import AWGNChannel, BinarySymmetricChannel, biawgn_capacity, binary_entropy
from channels.awgn import bpsk_error_probability

Z999 = 3.2905267314919255
N = 1 << 20


def binom_tol(p: float, n: int) -> float:
    return Z999 * math.sqrt(p * (1.0 - p) / n)


def random_bits(n: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n,), generator=g).to(dtype)


def test_bpsk_mapping_matches_convention() -> None:
    bits = torch.tensor([0.0, 1.0, 1.0, 0.0])
    assert torch.equal(AWGNChannel.modulate(bits), torch.tensor([1.0, -1.0, -1.0, 1.0]))
    y = AWGNChannel(300.0, output="soft")(bits)  # σ ≈ 7e-16: noiseless
    assert torch.allclose(y, torch.tensor([1.0, -1.0, -1.0, 1.0]))


@pytest.mark.parametrize("esno_db", [-6.0, 0.0, 5.0])
def test_soft_noise_statistics(esno_db: float, generator: torch.Generator) -> None:
    ch = AWGNChannel(esno_db, output="soft")
    bits = random_bits(N, torch.float64)
    noise = ch(bits, generator) - (1 - 2 * bits)
    var = ch.noise_var
    assert var == pytest.approx(1 / (2 * 10 ** (esno_db / 10)))
    assert abs(noise.mean().item()) <= Z999 * math.sqrt(var / N)
    assert abs(noise.var().item() - var) <= Z999 * var * math.sqrt(2 / N)


@pytest.mark.parametrize("esno_db", [-5.0, 0.0, 4.0, 8.0])
def test_hard_error_rate_is_q_function(esno_db: float, generator: torch.Generator) -> None:
    q = bpsk_error_probability(esno_db)
    assert q == pytest.approx(0.5 * math.erfc(math.sqrt(10 ** (esno_db / 10))))
    bits = random_bits(N)
    hard = AWGNChannel(esno_db)(bits, generator)
    assert hard.dtype == bits.dtype and set(hard.unique().tolist()) <= {0.0, 1.0}
    assert abs((hard != bits).double().mean().item() - q) <= binom_tol(q, N)
    # the same law as sign decisions of the soft output (1 ⇔ y < 0)
    soft = AWGNChannel(esno_db, output="soft")(bits, generator)
    assert abs(((soft < 0).float() != bits).double().mean().item() - q) <= binom_tol(q, N)


def test_known_q_values() -> None:
    assert bpsk_error_probability(0.0) == pytest.approx(0.0786496035251426, rel=1e-12)
    assert bpsk_error_probability(9.59) == pytest.approx(1.0e-5, rel=0.01)  # textbook point


def test_soft_llr_values_and_sign(generator: torch.Generator) -> None:
    ch = AWGNChannel(2.0, output="soft")
    y = torch.tensor([-1.5, -0.1, 0.0, 0.3, 2.0], dtype=torch.float64)
    assert torch.allclose(ch.llr(y), -4 * ch.esno * y)
    # the LLR is the exact posterior log-ratio log p(y|b=1)/p(y|b=0), b=1 ↦ x=-1
    s2 = ch.noise_var
    exact = (-(y + 1) ** 2 + (y - 1) ** 2) / (2 * s2)
    assert torch.allclose(ch.llr(y), exact)
    # positive LLR means bit 1: mean LLR of sent ones is +μ = 4·Es/N0, of zeros −μ
    bits = random_bits(N)
    llr = ch.llr(ch(bits, generator))
    mu = 4 * ch.esno
    sd = math.sqrt(2 * mu)
    assert abs(llr[bits == 1].mean().item() - mu) <= Z999 * sd / math.sqrt(N / 2) * 1.01
    assert abs(llr[bits == 0].mean().item() + mu) <= Z999 * sd / math.sqrt(N / 2) * 1.01


def test_hard_llr_and_marginal_are_bsc() -> None:
    ch = AWGNChannel(1.0)
    bsc = BinarySymmetricChannel(bpsk_error_probability(1.0))
    y = torch.tensor([0.0, 1.0])
    assert torch.allclose(ch.llr(y), bsc.llr(y))
    p = torch.rand(4, 3, dtype=torch.float64)
    assert torch.allclose(ch.marginal(p), bsc.marginal(p))
    logits = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: ch.marginal(torch.sigmoid(x)), (logits,))


def test_soft_marginal_raises_clearly() -> None:
    with pytest.raises(NotImplementedError, match="output='hard'"):
        AWGNChannel(0.0, output="soft").marginal(torch.rand(3))
    assert AWGNChannel(0.0, output="soft").alphabet == ()
    assert AWGNChannel(0.0).alphabet == (0.0, 1.0)


def _biawgn_gauss_hermite(esno_db: float, n: int = 200) -> float:
    """Independent evaluation: Gauss–Hermite quadrature of E[log2(1 + e^{-L})], L~N(μ, 2μ)."""
    mu = 4 * 10 ** (esno_db / 10)
    x, w = np.polynomial.hermite.hermgauss(n)  # ∫ e^{-x²} f(x) dx
    llr = mu + math.sqrt(2 * mu) * math.sqrt(2) * x
    return 1 - float(np.sum(w * np.logaddexp(0, -llr)) / math.sqrt(math.pi) / math.log(2))


def test_biawgn_capacity_values() -> None:
    # Es/N0 = 0 dB (σ² = 1/2): 0.72145 bits; Es/N0 = -3.01 dB (σ² = 1): 0.48594 bits
    assert biawgn_capacity(0.0) == pytest.approx(0.7214515908, abs=1e-9)
    assert biawgn_capacity(10 * math.log10(0.5)) == pytest.approx(0.4859440, abs=1e-6)
    # rate-1/2 Shannon limit of BPSK: Eb/N0 = 0.187 dB ⇔ Es/N0 = -2.823 dB
    assert biawgn_capacity(0.187 + 10 * math.log10(0.5)) == pytest.approx(0.5, abs=2e-4)
    for db in (-20.0, -5.0, 0.0, 3.0, 7.0):
        assert biawgn_capacity(db) == pytest.approx(_biawgn_gauss_hermite(db), abs=1e-7)
    assert biawgn_capacity(40.0) == pytest.approx(1.0, abs=1e-12)
    caps = [AWGNChannel(db, output="soft").capacity for db in range(-10, 11)]
    assert all(a < b for a, b in zip(caps, caps[1:], strict=False))  # increasing in Es/N0


@pytest.mark.parametrize("esno_db", [0.0, -3.0])
def test_biawgn_capacity_vs_monte_carlo(esno_db: float, generator: torch.Generator) -> None:
    """C = 1 − E[log2(1 + exp(−(2b−1)·llr))] estimated from the channel's own samples."""
    ch = AWGNChannel(esno_db, output="soft")
    bits = random_bits(N, torch.float64, seed=5)
    llr = ch.llr(ch(bits, generator))
    loss = torch.logaddexp(torch.zeros_like(llr), -(2 * bits - 1) * llr) / math.log(2)
    mc = 1 - loss.mean().item()
    tol = Z999 * loss.std().item() / math.sqrt(N)
    assert abs(mc - ch.capacity) <= tol


def test_hard_capacity() -> None:
    for db in (-3.0, 0.0, 6.0):
        q = bpsk_error_probability(db)
        hard = AWGNChannel(db).capacity
        assert hard == pytest.approx(1 - binary_entropy(q), abs=1e-12)
        assert hard < AWGNChannel(db, output="soft").capacity  # soft decisions help


def test_dtypes_and_reproducibility() -> None:
    soft = AWGNChannel(1.0, output="soft")
    for dtype, out in [(torch.float64, torch.float64), (torch.float32, torch.float32),
                       (torch.uint8, torch.float32), (torch.bool, torch.float32)]:
        y = soft(random_bits(100, dtype), torch.Generator().manual_seed(1))
        assert y.dtype == out
    bits = random_bits(1000)
    a = soft(bits, torch.Generator().manual_seed(3))
    assert torch.equal(a, soft(bits, torch.Generator().manual_seed(3)))
    assert not torch.equal(a, soft(bits, torch.Generator().manual_seed(4)))
    hard = AWGNChannel(1.0)
    assert hard(random_bits(100, torch.uint8)).dtype == torch.uint8


@pytest.mark.parametrize("bad, exc", [(float("nan"), ValueError), (float("inf"), ValueError),
                                      ("3dB", TypeError), (500.0, ValueError), (None, TypeError)])
def test_bad_esno(bad: object, exc: type) -> None:
    with pytest.raises(exc, match="esno_db"):
        AWGNChannel(bad)


def test_bad_output_and_bits() -> None:
    with pytest.raises(ValueError, match="output"):
        AWGNChannel(0.0, output="medium")
    with pytest.raises(ValueError, match="bits"):
        AWGNChannel(0.0, output="soft")(torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match="bits"):
        AWGNChannel(0.0)(torch.tensor([-1.0, 1.0]))
    with pytest.raises(TypeError, match="received"):
        AWGNChannel(0.0, output="soft").llr(torch.tensor([1j]))
