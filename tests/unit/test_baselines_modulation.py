"""Modulation + 5G LDPC over complex AWGN: agreement with a pipeline built from Sionna's own
blocks, mapping/demapping conventions, BLER curves and the success probabilities derived
from them.

Two-sample checks use per-codeword error fractions (bit errors are correlated within a
codeword): the difference of the two means lies within z·√(s₁²/n₁ + s₂²/n₂), z = 3.29.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

sionna_phy = pytest.importorskip("sionna.phy")

from baselines.codes import LDPC5G  # noqa: E402
from baselines.modulation import (  # noqa: E402
    ModulatedCode,
    Modulation,
    bler_curve,
    fading_success,
    success_probability,
)

pytestmark = pytest.mark.sionna
Z = 3.2905


def _sionna_block_errors(k: int, n: int, bits_per_symbol: int, snr_db: float, words: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per-codeword bit-error fractions and block errors of Sionna's own pipeline."""
    from sionna.phy import config
    from sionna.phy.channel import AWGN
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
    from sionna.phy.mapping import BinarySource, Demapper, Mapper

    config.seed = 7
    kind = "pam" if bits_per_symbol == 1 else "qam"
    enc = LDPC5GEncoder(k, n)
    dec = LDPC5GDecoder(enc, num_iter=20, hard_out=True, cn_update="boxplus-phi")
    mapper, demapper = Mapper(kind, bits_per_symbol), Demapper("app", kind, bits_per_symbol)
    no = 10.0 ** (-snr_db / 10.0)
    bits = BinarySource()([words, k])
    y = AWGN()(mapper(enc(bits)), torch.tensor(no))
    out = dec(demapper(y, torch.tensor(no)))
    wrong = (out != bits).to(torch.float64)
    return wrong.mean(1).numpy(), wrong.any(1).numpy().astype(float)


@pytest.mark.parametrize("mod,bps,snr", [("qpsk", 2, 1.5), ("16qam", 4, 7.0)])
def test_qam_ldpc_matches_sionna(mod: str, bps: int, snr: float) -> None:
    k, n, words = 128, 256, 600
    link = ModulatedCode(LDPC5G(k, n), Modulation(mod))
    g = torch.Generator().manual_seed(3)
    bits = torch.randint(0, 2, (words, k), generator=g).float()
    wrong = (link.send(bits, snr, generator=g).float() != bits).double()
    ours_ber, ours_bl = wrong.mean(1).numpy(), wrong.any(1).numpy().astype(float)
    ref_ber, ref_bl = _sionna_block_errors(k, n, bps, snr, words)
    assert 0.02 < ref_bl.mean() < 0.98, "pick an SNR in the waterfall"
    for a, b in ((ours_ber, ref_ber), (ours_bl, ref_bl)):
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert abs(a.mean() - b.mean()) <= Z * se + 1e-3, (a.mean(), b.mean())


def test_mapping_conventions() -> None:
    for name, b in (("bpsk", 1), ("qpsk", 2), ("16qam", 4)):
        m = Modulation(name)
        bits = torch.randint(0, 2, (2000, 4 * b), generator=torch.Generator().manual_seed(b))
        x = m.map(bits.float())
        assert x.shape == (2000, 4) and x.dtype == torch.complex64
        assert abs(float(x.abs().square().mean()) - 1.0) < 0.05  # unit average energy
        llr = m.demap(x, 1e-3)  # almost noiseless: the LLR sign gives the bits (+: a 1)
        assert torch.equal((llr > 0).float(), bits.float())
    with pytest.raises(ValueError, match="multiple"):
        Modulation("16qam").map(torch.zeros(3, 6))
    with pytest.raises(ValueError, match="modulation"):
        Modulation("8psk")


def test_modulated_code_accounting() -> None:
    link = ModulatedCode(LDPC5G(512, 1024), Modulation("16qam"))
    assert link.uses_per_codeword == 256 and link.info_bits_per_use == 2.0
    assert link.channel_uses(513) == 512 and link.max_info_bits(600) == 1024
    with pytest.raises(ValueError, match="multiple"):
        ModulatedCode(LDPC5G(100, 202), Modulation("16qam"))


def test_bler_curve_falls_and_success_probability() -> None:
    link = ModulatedCode(LDPC5G(64, 128), Modulation("qpsk"))
    c = bler_curve(link, [-4.0, -1.0, 1.0, 3.0, 5.0, 7.0, 9.0], n_words=200,
                   generator=torch.Generator().manual_seed(0))
    assert c["bler"][0] == 1.0 and c["bler"][-1] == 0.0
    assert all(b <= a + 0.1 for a, b in zip(c["bler"], c["bler"][1:], strict=False))
    assert not c["simulated"][-1]  # stopped after two clean points
    p1 = success_probability(c, 1.0, 1)[0]
    assert math.isclose(p1, 1 - c["bler"][2], abs_tol=1e-9)
    assert math.isclose(success_probability(c, 1.0, 10)[0], p1 ** 10, rel_tol=1e-9)
    assert success_probability(c, -10.0, 1)[0] == 0.0
    # fading: a gain of 0 dB everywhere is AWGN; deep fades only lower the success
    assert math.isclose(fading_success(c, 1.0, 3, np.zeros(50)), p1 ** 3, rel_tol=1e-9)
    assert fading_success(c, 1.0, 3, np.full(50, -20.0)) <= p1 ** 3
    with pytest.raises(ValueError, match="ascending"):
        bler_curve(link, [1.0, 0.0])
