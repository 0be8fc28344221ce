"""BER/BLER simulation: stopping rules, confidence intervals, the CLI adapter, 5G LDPC."""

from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

import channels
from baselines.codes import IdealCode, RepetitionCode
from baselines.simulate import clopper_pearson, simulate_code, simulate_code_ber


def test_clopper_pearson_known_values():
    lo, hi = clopper_pearson(0, 300)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 300), rel=1e-9)
    lo, hi = clopper_pearson(300, 300)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 300), rel=1e-9)
    lo, hi = clopper_pearson(50, 100)
    assert lo == pytest.approx(0.3983, abs=1e-4) and hi == pytest.approx(0.6017, abs=1e-4)


def test_repetition_over_bsc_brackets_the_closed_form(generator):
    eps = 0.2
    code = RepetitionCode(3, k=50)
    res = simulate_code_ber(code, channels.get("bsc", eps), batch_size=400, max_bits=200_000,
                            min_block_errors=0, generator=generator)
    p = 3 * eps**2 * (1 - eps) + eps**3
    bler = 1 - (1 - p) ** 50
    assert res["bits"] == 200_000 and res["blocks"] == 4000 and res["stopped"] == "max_bits"
    assert res["ber_ci"][0] <= p <= res["ber_ci"][1]
    assert res["bler_ci"][0] <= bler <= res["bler_ci"][1]
    assert res["ber"] == res["bit_errors"] / res["bits"]


def test_stops_on_min_errors_and_max_bits(generator):
    code = RepetitionCode(1, k=10)
    bsc = channels.get("bsc", 0.3)  # nearly every block is wrong
    res = simulate_code_ber(code, bsc, batch_size=7, max_bits=10_000, min_block_errors=20,
                            generator=generator)
    assert res["stopped"] == "min_block_errors" and 20 <= res["block_errors"] < 20 + 7
    res = simulate_code_ber(code, channels.get("bsc", 0.0), batch_size=64, max_bits=1001,
                            min_block_errors=5, generator=generator)
    assert res["stopped"] == "max_bits" and res["blocks"] == 101 and res["bit_errors"] == 0
    # no errors: the BER interval is [0, BLER upper bound]
    assert res["ber_ci"] == [0.0, res["bler_ci"][1]]
    assert res["bler_ci"][1] == pytest.approx(1 - 0.025 ** (1 / 101))


def test_stops_on_min_bit_errors_and_zero_turns_a_stop_off(generator):
    code = RepetitionCode(1, k=10)
    bsc = channels.get("bsc", 0.3)  # ≈ 3 bit errors per block of 10
    res = simulate_code_ber(code, bsc, batch_size=5, max_bits=10_000, min_block_errors=0,
                            min_bit_errors=100, generator=generator)
    assert res["stopped"] == "min_bit_errors"
    assert 100 <= res["bit_errors"] < 100 + 5 * 10  # stopped within one batch of the target
    both = simulate_code_ber(code, bsc, batch_size=5, max_bits=10_000, min_block_errors=3,
                             min_bit_errors=10**6, generator=generator)
    assert both["stopped"] == "min_block_errors" and both["blocks"] == 5  # the first one wins
    off = simulate_code_ber(code, bsc, batch_size=50, max_bits=2_000, min_block_errors=0,
                            min_bit_errors=0, generator=generator)
    assert off["stopped"] == "max_bits" and off["bits"] == 2_000


@pytest.mark.parametrize("kw", [{"min_block_errors": -1}, {"min_bit_errors": -3},
                                {"min_bit_errors": 2.5}, {"min_block_errors": True}])
def test_error_targets_are_checked(generator, kw):
    with pytest.raises(ValueError, match="expected an integer ≥ 0"):
        simulate_code_ber(RepetitionCode(1, k=10), channels.get("bsc", 0.1), max_bits=100,
                          generator=generator, **kw)


def test_same_seed_same_numbers():
    bsc = channels.get("bsc", 0.1)
    a = simulate_code_ber(RepetitionCode(3, k=20), bsc, max_bits=20_000, min_block_errors=0,
                          generator=torch.Generator().manual_seed(7))
    b = simulate_code_ber(RepetitionCode(3, k=20), bsc, max_bits=20_000, min_block_errors=0,
                          generator=torch.Generator().manual_seed(7))
    assert a["bit_errors"] == b["bit_errors"] and a["block_errors"] == b["block_errors"]


def test_validation():
    bsc = channels.get("bsc", 0.1)
    with pytest.raises(ValueError, match="ideal"):
        simulate_code_ber(IdealCode(bsc), bsc)
    with pytest.raises(ValueError, match="max_bits"):
        simulate_code_ber(RepetitionCode(3), bsc, max_bits=0)


def test_cli_adapter_prints_and_writes_a_result(tmp_path, capsys):
    out = tmp_path / "sim.json"
    args = argparse.Namespace(code="repetition", rate=1 / 3, k=100, channel="bsc", eps=0.05,
                              max_bits=20_000, min_errors=1000, seed=3, json=str(out))
    assert simulate_code(args) == 0
    line = capsys.readouterr().out
    assert "BER" in line and "BLER" in line and "repetition" in line
    res = json.loads(out.read_text())
    assert res["schema"] == "njscc.result/1" and res["task"] == "simulate_code"
    assert res["channel"] == {"name": "bsc", "param": 0.05}
    assert res["metrics"]["bits"] == 20_000 and res["config"]["code"]["n"] == 300
    p = 3 * 0.05**2 * 0.95 + 0.05**3
    assert abs(res["metrics"]["ber"] - p) < 6 * math.sqrt(p / 20_000)


@pytest.mark.sionna
def test_ldpc5g_rate_half_over_bsc_005(generator):
    """5G LDPC (400, 800), 20 BP iterations, BSC ε = 0.05 (C = 0.714): BER < 1e-4 over
    ≥ 1e5 info bits (with 0 block errors the 95 % upper bound is ≈ 1.5e-2 on BLER)."""
    pytest.importorskip("sionna.phy")
    from baselines.codes import LDPC5G

    res = simulate_code_ber(LDPC5G(400, 800), channels.get("bsc", 0.05), batch_size=250,
                            max_bits=100_000, min_block_errors=0, generator=generator)
    assert res["bits"] >= 100_000
    assert res["ber"] < 1e-4
