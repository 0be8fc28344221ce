"""FiniteBlocklengthCode: the finite-length limit as a separation "code"."""

from __future__ import annotations

import math

import pytest

import channels
from baselines import FiniteBlocklengthCode, IdealCode, get_code
from channels import finite_blocklength as fbl


@pytest.mark.parametrize(("name", "eps"), [("bsc", 0.1), ("bsc", 0.02), ("bec", 0.2)])
@pytest.mark.parametrize("bound", ["achievability", "converse", "normal"])
def test_channel_bits_is_the_bound_and_inverts(name: str, eps: float, bound: str) -> None:
    ch = channels.get(name, eps)
    code = FiniteBlocklengthCode(ch, pe=1e-3, bound=bound)
    ideal = IdealCode(ch)
    for bits in (1, 24, 53, 400, 1337):
        n = code.channel_bits(bits)
        assert n == fbl.min_blocklength(name, eps, bits, 1e-3, bound)
        assert n >= ideal.channel_bits(bits) - (1 if bound != "achievability" else 0)
        assert code.max_info_bits(n) >= bits       # n channel uses do carry the bits
        assert code.channel_bits(code.max_info_bits(n)) <= n
    assert code.channel_bits(0) == 0 and code.max_info_bits(0) == 0
    assert code.ideal and code.config()["bound"] == bound


def test_stricter_targets_cost_more_and_the_bounds_are_ordered() -> None:
    ch = channels.get("bsc", 0.1)
    n = {pe: FiniteBlocklengthCode(ch, pe=pe).channel_bits(53) for pe in (1e-1, 1e-3, 1e-6)}
    assert n[1e-1] < n[1e-3] < n[1e-6]
    conv = FiniteBlocklengthCode(ch, pe=1e-3, bound="converse").channel_bits(53)
    assert conv <= n[1e-3]
    assert conv > math.ceil(53 / ch.capacity)  # 53 bits need > 100 uses at BLER 1e-3


def test_registry_noiseless_and_refusals() -> None:
    code = get_code("ppv", 0.5, 53, channels.get("bsc", 0.1), pe=1e-2)
    assert isinstance(code, FiniteBlocklengthCode) and code.k == 53 and code.pe == 1e-2
    assert FiniteBlocklengthCode(channels.get("bec", 0.0)).channel_bits(77) == 77
    with pytest.raises(ValueError, match="BSC and the BEC"):
        FiniteBlocklengthCode(channels.get("z", 0.1))
    with pytest.raises(ValueError, match="pe"):
        FiniteBlocklengthCode(channels.get("bsc", 0.1), pe=1.0)
    with pytest.raises(ValueError, match="bound"):
        FiniteBlocklengthCode(channels.get("bsc", 0.1), bound="union")
    with pytest.raises(ValueError, match="needs the channel"):
        get_code("ppv", 0.5, 53)
