"""5G polar codes (CRC-aided SCL through Sionna): round trips, the registry, and BLER through
our channel + simulator against a pipeline made only of Sionna blocks."""

from __future__ import annotations

import math

import pytest
import torch

import channels
from baselines import Polar5G, get_code, simulate_code_ber

pytest.importorskip("sionna.phy.fec.polar")
pytestmark = pytest.mark.sionna


@pytest.mark.parametrize(("k", "n"), [(12, 40), (40, 100), (100, 256)])
def test_noiseless_round_trip(k: int, n: int) -> None:
    code = Polar5G(k, n)
    u = torch.randint(0, 2, (3, 7, k), generator=torch.Generator().manual_seed(k),
                      dtype=torch.uint8)
    x = code.encode(u)
    assert x.shape == (3, 7, n) and set(x.unique().tolist()) <= {0.0, 1.0}
    llr = channels.get("bsc", 0.0).llr(x)  # ±LLR_MAX, the package sign
    assert torch.equal(code.decode(llr), u)
    # a few flips are corrected; the decoder also takes erasures (LLR 0)
    y = x.clone()
    y[..., :3] = 1 - y[..., :3]
    assert torch.equal(code.decode(channels.get("bsc", 0.02).llr(y)), u)


def test_registry_config_and_refusals() -> None:
    code = get_code("polar", 0.4, 40)
    assert isinstance(code, Polar5G) and (code.k, code.n) == (40, 100)
    assert code.config()["dec_type"] == "SCL" and code.config()["list_size"] == 8
    with pytest.raises(ValueError, match="dec_type"):
        Polar5G(40, 100, dec_type="ML")
    with pytest.raises(ValueError, match="not a 5G polar configuration"):
        Polar5G(40, 30)  # rate above 1


@pytest.mark.parametrize("eps", [0.08, 0.1])
def test_bler_agrees_with_a_sionna_only_pipeline(eps: float) -> None:
    from sionna.phy.channel import BinarySymmetricChannel

    code, blocks = Polar5G(40, 100), 3000
    ours = simulate_code_ber(code, channels.get("bsc", eps), batch_size=1000,
                             max_bits=40 * blocks, min_block_errors=0,
                             generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)  # Sionna's blocks draw from the global generator
    bsc = BinarySymmetricChannel(return_llrs=True)
    errors = 0
    for _ in range(blocks // 1000):
        u = torch.randint(0, 2, (1000, 40)).float()
        u_hat = code._decoder(bsc(code._encoder(u), eps))
        errors += int((u_hat != u).any(dim=1).sum())
    theirs = errors / blocks
    p = (ours["bler"] + theirs) / 2
    assert 0.01 < p < 0.5  # a point where both count many errors
    assert abs(ours["bler"] - theirs) <= 4 * math.sqrt(2 * p * (1 - p) / blocks)
