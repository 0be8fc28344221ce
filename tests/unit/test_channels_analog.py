"""Analog channels (channels.analog): the power constraint, AWGN noise power within a χ²-type
confidence bound, Rayleigh amplitudes by Kolmogorov–Smirnov, capacities against closed forms,
and agreement with Sionna's AWGN and flat-fading blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

import channels
from channels import (
    AWGN,
    RayleighBlockFading,
    awgn_capacity,
    power_normalize,
    rayleigh_ergodic_capacity,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64, torch.complex128])
def test_power_normalize_meets_the_constraint_exactly(dtype: torch.dtype) -> None:
    z = torch.randn(5, 3, 7, generator=_gen(), dtype=dtype) * 3.7
    x = power_normalize(z)
    per = (x.abs() ** 2).reshape(5, -1).mean(1)
    torch.testing.assert_close(per, torch.ones(5, dtype=per.dtype), atol=1e-6, rtol=0)
    x2 = power_normalize(z, power=2.5)
    assert torch.allclose((x2.abs() ** 2).reshape(5, -1).mean(1).double(),
                          torch.full((5,), 2.5, dtype=torch.float64), atol=1e-5)
    # direction kept, gradient flows, an all-zero example stays zero
    cos = (x.reshape(5, -1).conj() * z.reshape(5, -1)).sum(1).real
    assert (cos > 0).all()
    w = torch.randn(2, 4, generator=_gen(1), requires_grad=True)
    power_normalize(w).sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()
    assert torch.equal(power_normalize(torch.zeros(2, 4)), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="z"):
        power_normalize(torch.ones(4))
    with pytest.raises(ValueError, match="power"):
        power_normalize(torch.ones(2, 4), power=0)


@pytest.mark.parametrize(("complex_symbols", "snr_db"), [(True, 10.0), (True, -3.0), (False, 5.0)])
def test_awgn_noise_power_within_its_confidence_bound(complex_symbols: bool, snr_db: float
                                                      ) -> None:
    n = 400_000
    ch = AWGN(snr_db, complex_symbols=complex_symbols)
    dtype = torch.complex64 if complex_symbols else torch.float32
    x = power_normalize(torch.randn(100, n // 100, generator=_gen(2), dtype=dtype))
    y = ch(x, _gen(3))
    e = (y - x).abs().double() ** 2
    sigma2 = 10 ** (-snr_db / 10)
    # |n|² is σ²·Exp(1) (complex) or σ²·χ²₁ (real): standard error σ²/√n resp. σ²·√(2/n)
    se = sigma2 / math.sqrt(n) * (1.0 if complex_symbols else math.sqrt(2.0))
    assert abs(float(e.mean()) - sigma2) < 5 * se
    # empirical SNR (signal power 1 exactly) within the same bound, in dB
    assert abs(10 * math.log10(1 / float(e.mean())) - snr_db) < 5 * se / sigma2 * 10 / math.log(10)
    if complex_symbols:  # circular: half the power in each real dimension, uncorrelated
        nre, nim = (y - x).real.double(), (y - x).imag.double()
        assert abs(float(nre.var() / nim.var()) - 1) < 0.02
        assert abs(float((nre * nim).mean())) < 5 * sigma2 / 2 / math.sqrt(n)


def test_awgn_matches_sionna() -> None:
    sionna = pytest.importorskip("sionna.phy.channel")
    n, snr_db = 200_000, 7.0
    x = power_normalize(torch.randn(1, n, generator=_gen(4), dtype=torch.complex64))
    ours = (AWGN(snr_db)(x, _gen(5)) - x).abs().double() ** 2
    torch.manual_seed(6)
    theirs = (sionna.AWGN()(x, 10 ** (-snr_db / 10)) - x).abs().double() ** 2
    se = 10 ** (-snr_db / 10) * math.sqrt(2.0 / n)  # of the difference of two means
    assert abs(float(ours.mean()) - float(theirs.mean())) < 5 * se
    # same law of |n|²: a two-sample KS test on 20 000 of each
    assert stats.ks_2samp(ours[0, :20_000].numpy(), theirs[0, :20_000].numpy()).pvalue > 1e-3


def test_rayleigh_amplitude_ks_and_block_structure() -> None:
    ch = RayleighBlockFading(300.0, csi="none")  # noise-free: y = h x exactly
    x = power_normalize(torch.randn(20_000, 6, generator=_gen(7), dtype=torch.complex128))
    y, h = ch.sample(x, _gen(8))
    assert h.shape == (20_000,) and h.is_complex()
    torch.testing.assert_close(y, h.unsqueeze(-1) * x, atol=1e-12, rtol=1e-9)  # one h per block
    amp = h.abs().numpy()
    assert stats.kstest(amp, stats.rayleigh(scale=math.sqrt(0.5)).cdf).pvalue > 1e-3
    assert stats.kstest(np.angle(h.numpy()), stats.uniform(-math.pi, 2 * math.pi).cdf
                        ).pvalue > 1e-3
    # the receiver with CSI undoes the fading; the real variant has no phase
    rx = RayleighBlockFading(300.0, csi="receiver")(x, _gen(8))
    torch.testing.assert_close(rx, x, atol=1e-9, rtol=1e-9)
    real = RayleighBlockFading(300.0, csi="none", complex_symbols=False)
    xr = power_normalize(torch.randn(20_000, 6, generator=_gen(9), dtype=torch.float64))
    yr, hr = real.sample(xr, _gen(10))
    assert yr.dtype == torch.float64 and (hr >= 0).all()
    assert stats.kstest(hr.numpy(), stats.rayleigh(scale=math.sqrt(0.5)).cdf).pvalue > 1e-3
    assert abs(float((hr ** 2).mean()) - 1) < 5 / math.sqrt(20_000)


def test_rayleigh_matches_sionna_flat_fading() -> None:
    sionna = pytest.importorskip("sionna.phy.channel")
    torch.manual_seed(11)
    h_sionna = sionna.GenerateFlatFadingChannel(1, 1)(20_000).reshape(-1)
    x = torch.ones(20_000, 1, dtype=torch.complex64)
    _, h_ours = RayleighBlockFading(10.0).sample(x, _gen(12))
    assert stats.ks_2samp(h_ours.abs().numpy(), h_sionna.abs().numpy()).pvalue > 1e-3
    assert abs(float((h_sionna.abs() ** 2).mean()) - 1) < 0.05


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 25.0])
def test_capacities_match_closed_forms(snr_db: float) -> None:
    snr = 10 ** (snr_db / 10)
    assert awgn_capacity(snr_db) == pytest.approx(math.log2(1 + snr), rel=1e-12)
    assert awgn_capacity(snr_db, complex_symbols=False) == pytest.approx(0.5 * math.log2(1 + snr))
    closed = math.log2(math.e) * math.exp(1 / snr) * special.exp1(1 / snr)
    assert rayleigh_ergodic_capacity(snr_db) == pytest.approx(closed, rel=1e-8)
    assert rayleigh_ergodic_capacity(snr_db, False) == pytest.approx(0.5 * closed, rel=1e-8)
    assert rayleigh_ergodic_capacity(snr_db) < awgn_capacity(snr_db)  # Jensen
    assert channels.get_analog("rayleigh", snr_db).capacity == rayleigh_ergodic_capacity(snr_db)
    # Monte-Carlo check of the integral itself
    t = np.random.default_rng(0).exponential(size=400_000)
    mc = np.log2(1 + t * snr)
    assert abs(mc.mean() - closed) < 5 * mc.std() / math.sqrt(t.size)


def test_registry_determinism_and_errors() -> None:
    assert channels.available_analog() == ("awgn_complex", "awgn_real", "rayleigh",
                                           "rayleigh_real")
    ch = channels.get_analog("rayleigh_real", 3.0, csi="none")
    assert ch.name == "rayleigh_real" and ch.symbols == "real" and ch.csi == "none"
    x = torch.randn(4, 5, generator=_gen(13))
    assert torch.equal(ch(x, _gen(1)), ch(x, _gen(1)))
    assert not torch.equal(ch(x, _gen(1)), ch(x, _gen(2)))
    with pytest.raises(TypeError, match="complex symbols"):
        channels.get_analog("awgn_complex", 0.0)(x)
    with pytest.raises(TypeError, match="real floating-point"):
        channels.get_analog("awgn_real", 0.0)(x.to(torch.complex64))
    with pytest.raises(ValueError, match="snr_db"):
        channels.get_analog("awgn_real", float("nan"))
    with pytest.raises(ValueError, match="csi"):
        channels.get_analog("rayleigh", 0.0, csi="transmitter")
    with pytest.raises(ValueError, match="finite"):
        channels.get_analog("awgn_real", 0.0)(torch.tensor([[1.0, float("inf")]]))
    with pytest.raises(TypeError, match="csi"):
        channels.get_analog("awgn_real", 0.0, csi="none")
