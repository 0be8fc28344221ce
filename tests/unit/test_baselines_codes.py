"""Channel codes: exact at ε = 0, LLR conventions of Sionna and pyldpc, the ideal-code bound."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import channels
from baselines.bits import bits_to_bytes, bytes_to_bits, num_blocks, segment, unsegment
from baselines.codes import (
    BSC_LDPC5G_RATES,
    FIVE_G_RATES,
    IdealCode,
    PyLDPC,
    RepetitionCode,
    bits_needed,
    get_code,
    pick_rate,
)
from channels.base import binary_entropy


def _codes_without_sionna():
    return [RepetitionCode(1), RepetitionCode(3, k=7), IdealCode(0.5, k=50),
            IdealCode(channels.get("bsc", 0.1), k=64), PyLDPC(96, 3, 6, seed=1),
            PyLDPC(120, 4, 6, seed=2)]


def _check_exact(code, generator):
    u = torch.randint(0, 2, (3, 5, code.k), generator=generator, dtype=torch.uint8)
    c = code.encode(u)
    assert c.shape == (3, 5, code.n) and c.dtype == torch.float32
    assert set(c.unique().tolist()) <= {0.0, 1.0}
    # noiseless LLRs: infinite, saturated (channels' ±100) and small magnitudes
    for mag in (math.inf, 100.0, 2.0):
        u_hat = code.decode((2 * c - 1) * mag)
        assert u_hat.shape == u.shape and u_hat.dtype == torch.uint8
        assert torch.equal(u_hat, u)
    # through a real noiseless channel
    ch = channels.get("bsc", 0.0)
    assert torch.equal(code.decode(ch.llr(ch(c, generator))), u)
    # float input gives the same codewords
    assert torch.equal(code.encode(u.float()), c)


@pytest.mark.parametrize("idx", range(6))
def test_codes_are_exact_at_zero_noise(idx, generator):
    _check_exact(_codes_without_sionna()[idx], generator)


@pytest.mark.sionna
@pytest.mark.parametrize("k,n,cn", [(100, 200, "boxplus-phi"), (40, 120, "minsum"),
                                    (400, 800, "boxplus-phi")])
def test_ldpc5g_exact_at_zero_noise(k, n, cn, generator):
    pytest.importorskip("sionna.phy")
    from baselines.codes import LDPC5G

    _check_exact(LDPC5G(k, n, cn_update=cn), generator)


@pytest.mark.sionna
def test_sionna_llr_sign_convention(generator):
    """Sionna's input is log p(1)/p(0): right sign decodes, flipped sign breaks decoding."""
    pytest.importorskip("sionna.phy")
    from baselines.codes import LDPC5G

    code = LDPC5G(100, 200)
    u = torch.randint(0, 2, (50, 100), generator=generator, dtype=torch.uint8)
    llr = 2.0 * (2.0 * code.encode(u) - 1.0)  # positive for bit 1
    assert torch.equal(code.decode(llr), u)
    wrong = (code.decode(-llr) != u).float().mean().item()
    assert wrong > 0.3  # (it decodes to the complement-ish garbage)


def test_pyldpc_native_mapping_and_our_conversion():
    """pyldpc's BPSK maps bit 0 → +1 and its decoder's LLR is log p(0)/p(1); our decode
    feeds y = −LLR/2 at snr 0 dB, so its native observation (y = +1 for 0) decodes when
    given as our LLR = −2y, and decoding with the wrong sign fails."""
    import pyldpc

    code = PyLDPC(96, 3, 6, seed=3)
    rng = np.random.default_rng(0)
    v = rng.integers(0, 2, (code.k, 20))
    y = pyldpc.encode(code.G, v, snr=100, seed=0)  # ≈ (−1)^c, no noise to speak of
    c = code.encode(torch.from_numpy(v.T.copy()))
    np.testing.assert_array_equal(np.sign(y).T, (1 - 2 * c).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = pyldpc.decode(code.H, y, snr=100, maxiter=10)
    np.testing.assert_array_equal(native[: code.k], v)
    ours = code.decode(torch.from_numpy(-2.0 * y.T))
    np.testing.assert_array_equal(ours.numpy(), v.T)
    assert (code.decode(torch.from_numpy(2.0 * y.T)).numpy() != v.T).mean() > 0.3


def test_pyldpc_systematic_and_parity_checks(generator):
    code = PyLDPC(120, 3, 6, seed=0)
    assert code.k >= 60  # n − rank(H) ≥ n (1 − d_v/d_c)
    u = torch.randint(0, 2, (10, code.k), generator=generator)
    c = code.encode(u).numpy().astype(np.int64)
    np.testing.assert_array_equal(c[:, : code.k], u.numpy())
    assert not ((code.H @ c.T) % 2).any()


@pytest.mark.parametrize("n", [60, 198])
def test_pyldpc_has_no_repeated_columns(n):
    """A repeated column of H is a weight-2 codeword; seed 0 gives one at n = 60 and 198, so
    the construction must have moved on to another seed (and say which)."""
    code = PyLDPC(n, 3, 6, seed=0)
    assert np.unique(code.H, axis=1).shape[1] == n
    assert code.construction_seed > 0
    assert code.config()["construction_seed"] == code.construction_seed
    assert (code.H.sum(0) == 3).all()


def test_erasures_are_llr_zero(generator):
    bec = channels.get("bec", 0.3)
    code = RepetitionCode(5, k=20)
    u = torch.randint(0, 2, (200, 20), generator=generator, dtype=torch.uint8)
    y = bec(code.encode(u), generator)
    llr = bec.llr(y)
    assert torch.all(llr[y == channels.ERASED] == 0)
    u_hat = code.decode(llr)
    # a bit is lost only if all 5 copies are erased (then the tie decides 0)
    all_erased = (y == channels.ERASED).reshape(200, 20, 5).all(-1)
    assert torch.equal(u_hat[~all_erased], u[~all_erased])
    assert torch.all(u_hat[all_erased] == 0)


def test_repetition_ber_matches_closed_form(generator):
    eps, r, nbits = 0.1, 3, 200_000
    code = RepetitionCode(r, k=1000)
    bsc = channels.get("bsc", eps)
    u = torch.randint(0, 2, (nbits // 1000, 1000), generator=generator, dtype=torch.uint8)
    u_hat = code.decode(bsc.llr(bsc(code.encode(u), generator)))
    p = 3 * eps**2 * (1 - eps) + eps**3  # majority of 3 wrong
    errs = int((u_hat != u).sum())
    sd = math.sqrt(nbits * p * (1 - p))
    assert abs(errs - nbits * p) < 5 * sd


@pytest.mark.parametrize("eps", [0.01, 0.05, 0.1, 0.11, 0.2, 0.3, 0.45])
@pytest.mark.parametrize("k", [1, 100, 400, 784, 12345])
def test_ideal_bits_needed_bsc(eps, k):
    expected = math.ceil(k / (1 - binary_entropy(eps)))
    assert bits_needed(k, channels.get("bsc", eps).capacity) == expected
    assert IdealCode(channels.get("bsc", eps), k=k).n == expected


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.2, 0.25, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("k", [1, 100, 400, 784, 12345])
def test_ideal_bits_needed_bec(eps, k):
    # ⌈k / (1 − ε)⌉ in exact rational arithmetic (float k / 0.8 may round up past 500)
    expected = math.ceil(Fraction(k) / (1 - Fraction(str(eps))))
    assert bits_needed(k, channels.get("bec", eps).capacity) == expected


def test_ideal_code_zero_capacity_and_validation():
    assert bits_needed(0, 0.0) == 0
    with pytest.raises(ValueError, match="zero-capacity"):
        bits_needed(10, 0.0)
    with pytest.raises(ValueError, match="zero-capacity"):
        IdealCode(channels.get("bsc", 0.5))
    with pytest.raises(ValueError, match="C ≤ 1"):
        bits_needed(10, 1.5)


@settings(max_examples=200, deadline=None)
@given(cap=st.floats(0.01, 1.0), budget=st.integers(0, 100_000))
def test_ideal_max_info_bits_is_the_inverse_of_bits_needed(cap, budget):
    code = IdealCode(cap, k=10)
    L = code.max_info_bits(budget)
    assert code.channel_bits(L) <= budget
    assert code.channel_bits(L + 1) > budget


@settings(max_examples=100, deadline=None)
@given(length=st.integers(0, 5000), k=st.integers(1, 500), n_extra=st.integers(0, 500))
def test_segmentation_round_trip_and_channel_bits(length, k, n_extra):
    bits = torch.randint(0, 2, (length,), dtype=torch.uint8)
    blocks = segment(bits, k)
    assert blocks.shape == (num_blocks(length, k), k)
    assert torch.equal(unsegment(blocks, length), bits)
    assert torch.all(blocks.reshape(-1)[length:] == 0)
    code = RepetitionCode(1 + n_extra // k if k else 1, k=k)
    assert code.channel_bits(length) == math.ceil(length / k) * code.n
    assert code.max_info_bits(code.channel_bits(length)) >= length


def test_bytes_bits_round_trip():
    data = bytes(range(256))
    bits = bytes_to_bits(data)
    assert bits.dtype == torch.uint8 and bits.shape == (2048,)
    assert bits[:16].tolist() == [0] * 15 + [1]  # big-endian: 0x00, 0x01
    assert bits_to_bytes(bits) == data


def test_pick_rate():
    # the measured BSC table, conservative between entries
    assert pick_rate(channels.get("bsc", 0.05)) == 0.5
    assert pick_rate(channels.get("bsc", 0.1)) == BSC_LDPC5G_RATES[0.11]
    assert pick_rate(channels.get("bsc", 0.001)) == BSC_LDPC5G_RATES[0.01]
    # the margin rule elsewhere, never above margin·C and always a listed rate
    for name, p in [("bec", 0.3), ("bsc", 0.18), ("z", 0.2), ("awgn", 1.0)]:
        ch = channels.get(name, p)
        r = pick_rate(ch)
        assert r in FIVE_G_RATES and r <= 0.7 * ch.capacity + 1e-12
    assert pick_rate(channels.get("bsc", 0.1), use_table=False) == 1 / 3
    # every tabulated rate is at or above what the margin rule picks there
    for eps, rate in BSC_LDPC5G_RATES.items():
        assert rate >= pick_rate(channels.get("bsc", eps), use_table=False) - 1e-12
    with pytest.raises(ValueError, match="no rate"):
        pick_rate(channels.get("bsc", 0.3))


def test_get_code():
    assert isinstance(get_code("repetition", 1 / 3, 10), RepetitionCode)
    assert get_code("repetition", 1 / 3, 10).n == 30
    c = get_code("pyldpc", 1 / 3, 100)
    assert (c.d_v, c.d_c) == (4, 6) and c.n % 6 == 0
    assert get_code("ideal", 0.5, 100, channel=channels.get("bec", 0.5)).n == 200
    with pytest.raises(ValueError, match="code"):
        get_code("turbo", 0.5, 100)
    with pytest.raises(ValueError, match="rate"):
        get_code("ldpc", 0.0, 100)
    with pytest.raises(ValueError, match="channel"):
        get_code("ideal", 0.5, 100)
    with pytest.raises(ValueError, match="llr"):
        RepetitionCode(2, k=3).decode(torch.zeros(4, 5))
