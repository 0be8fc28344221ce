"""Agreement with ``sionna.phy``: error statistics, erasure encoding, LLR sign and values,
BPSK mapping and AWGN noise variance.

Two-sample checks: the difference of two independent rate estimates lies within
``z·sqrt(p(1−p)(1/n₁ + 1/n₂))`` (99.9 %, z = 3.2905).
"""

from __future__ import annotations

import math

import pytest
import torch

from channels import (
    ERASED,
    LLR_MAX,
    AWGNChannel,
    BinaryErasureChannel,
    BinarySymmetricChannel,
    ZChannel,
)

sionna_phy = pytest.importorskip("sionna.phy")
from sionna.phy import channel as sch  # noqa: E402
from sionna.phy import mapping as smap  # noqa: E402

pytestmark = pytest.mark.sionna

Z999 = 3.2905267314919255
N = 1 << 20


@pytest.fixture(autouse=True)
def _sionna_seed() -> None:
    sionna_phy.config.seed = 1234


def bits_f32(n: int = N, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seed)).float()


def two_sample_tol(p: float, n1: int, n2: int) -> float:
    return Z999 * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.3])
def test_bsc_error_statistics_match(eps: float, generator: torch.Generator) -> None:
    x = bits_f32()
    ys = sch.BinarySymmetricChannel()(x, eps)
    yo = BinarySymmetricChannel(eps)(x, generator)
    assert set(ys.unique().tolist()) == set(yo.unique().tolist()) == {0.0, 1.0}
    rs = (ys != x).double().mean().item()
    ro = (yo != x).double().mean().item()
    assert abs(rs - eps) <= Z999 * math.sqrt(eps * (1 - eps) / N)
    assert abs(rs - ro) <= two_sample_tol(eps, N, N)


@pytest.mark.parametrize("eps", [0.02, 0.25])
def test_bec_erasure_encoding_and_rate_match(eps: float, generator: torch.Generator) -> None:
    x = bits_f32()
    ys = sch.BinaryErasureChannel()(x, eps)
    yo = BinaryErasureChannel(eps)(x, generator)
    # same ternary alphabet with -1 = erased, and same dtype for float input
    assert set(ys.unique().tolist()) == set(yo.unique().tolist()) == {-1.0, 0.0, 1.0}
    assert ys.dtype == yo.dtype == torch.float32
    assert ERASED == -1
    for y in (ys, yo):
        kept = y != -1
        assert torch.equal(y[kept], x[kept])
    rs = (ys == -1).double().mean().item()
    ro = (yo == -1).double().mean().item()
    assert abs(rs - ro) <= two_sample_tol(eps, N, N)


def test_bec_uint8_input_is_int8_here_and_rejected_by_sionna() -> None:
    x = bits_f32(100).to(torch.uint8)
    assert BinaryErasureChannel(0.5)(x).dtype == torch.int8
    with pytest.raises(TypeError):
        sch.BinaryErasureChannel()(x, 0.5)
    y = sch.BinaryErasureChannel()(x.to(torch.int8), 0.5)  # Sionna needs a signed dtype too
    assert set(y.unique().tolist()) <= {-1, 0, 1}


@pytest.mark.parametrize("eps", [0.05, 0.2])
def test_z_channel_statistics_match(eps: float, generator: torch.Generator) -> None:
    x = bits_f32()
    ones = x == 1
    n1 = int(ones.sum())
    ys = sch.BinaryZChannel()(x, eps)
    yo = ZChannel(eps)(x, generator)
    assert torch.all(ys[~ones] == 0) and torch.all(yo[~ones] == 0)
    rs = (ys[ones] == 0).double().mean().item()
    ro = (yo[ones] == 0).double().mean().item()
    assert abs(rs - ro) <= two_sample_tol(eps, n1, n1)


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.4])
def test_bsc_llrs_equal_sionna(eps: float) -> None:
    """Sionna's return_llrs output, read back as received bits, gets the same LLRs from us."""
    x = bits_f32(100_000)
    llr_s = sch.BinarySymmetricChannel(return_llrs=True)(x, eps)
    y = (llr_s > 0).float()  # Sionna: LLR = log p(1)/p(0), positive ⇔ received 1
    assert torch.allclose(BinarySymmetricChannel(eps).llr(y), llr_s, atol=1e-5)
    # and the sign convention: mostly positive where a 1 was sent
    assert (llr_s[x == 1] > 0).double().mean().item() == pytest.approx(1 - eps, abs=0.01)


def test_bec_llrs_equal_sionna() -> None:
    x = bits_f32(100_000)
    llr_s = sch.BinaryErasureChannel(return_llrs=True)(x, 0.3)
    y = torch.where(llr_s == 0, torch.tensor(-1.0), (llr_s > 0).float())
    assert torch.equal(BinaryErasureChannel(0.3).llr(y), llr_s)
    assert set(llr_s.unique().tolist()) == {-LLR_MAX, 0.0, LLR_MAX}


def test_z_llr_sign_matches_sionna() -> None:
    """Z: log ε for a received 0 in both; a received 1 is certain: Sionna saturates at
    log((1-ε)/float32 eps) ≈ 15.8, we at +LLR_MAX = 100 (same sign)."""
    x = bits_f32(100_000)
    eps = 0.2
    llr_s = sch.BinaryZChannel(return_llrs=True)(x, eps)
    y = (llr_s > 0).float()
    ours = ZChannel(eps).llr(y)
    assert torch.equal(torch.sign(ours), torch.sign(llr_s))
    assert torch.allclose(ours[y == 0], llr_s[y == 0], atol=1e-5)
    assert ours[y == 0][0].item() == pytest.approx(math.log(eps), abs=1e-6)


def test_bpsk_mapping_and_demapper_llrs_equal_sionna(generator: torch.Generator) -> None:
    x = bits_f32(10_000)
    sym = smap.Mapper("pam", 1)(x[None, :])[0]
    assert torch.allclose(sym.real, AWGNChannel.modulate(x)) and torch.all(sym.imag == 0)
    for esno_db in (-2.0, 0.0, 4.0):
        ch = AWGNChannel(esno_db, output="soft")
        y = ch(x, generator)
        no = torch.tensor(1.0 / ch.esno)  # Es = 1: N0 = 1 / (Es/N0)
        llr_s = smap.Demapper("app", "pam", 1)(y.to(torch.complex64)[None, :], no)[0]
        assert torch.allclose(ch.llr(y), llr_s, rtol=1e-4, atol=1e-4)


def test_awgn_noise_variance_matches_sionna(generator: torch.Generator) -> None:
    """Sionna's AWGN adds N0/2 per real dimension; our σ² = 1/(2·Es/N0) is the same."""
    esno_db = 3.0
    ch = AWGNChannel(esno_db, output="soft")
    zeros = torch.zeros(N)
    ours = ch(zeros, generator) - 1.0
    theirs = sch.AWGN()(torch.zeros(N, dtype=torch.complex64), torch.tensor(1.0 / ch.esno)).real
    var = ch.noise_var
    tol = Z999 * var * math.sqrt(2 / N)
    assert abs(ours.var().item() - var) <= tol
    assert abs(theirs.double().var().item() - var) <= tol
    # hard decisions after Sionna's demapper have our error rate Q(sqrt(2 Es/N0))
    q = ch.error_probability
    x = bits_f32()
    y = AWGNChannel.modulate(x).to(torch.complex64) + torch.complex(
        torch.randn(N, generator=generator), torch.randn(N, generator=generator)
    ) * math.sqrt(var)
    llr_s = smap.Demapper("app", "pam", 1)(y[None, :], torch.tensor(1.0 / ch.esno))[0]
    rate = ((llr_s > 0).float() != x).double().mean().item()
    assert abs(rate - q) <= Z999 * math.sqrt(q * (1 - q) / N)
