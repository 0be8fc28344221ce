"""``njscc compare`` end to end on real MNIST from the data dir (a briefly trained NECST,
30 test images, BSC ε ∈ {0, 0.1}, 5G LDPC through the C++ decoder and Sionna)."""

from __future__ import annotations

import math

import pytest

import channels
from njscc.cli import main
from njscc.io.results import load_result

pytestmark = [pytest.mark.data, pytest.mark.slow, pytest.mark.sionna]


def test_compare_mnist_end_to_end(data_dir, tmp_path) -> None:
    pytest.importorskip("sionna.phy")
    pytest.importorskip("ldpc")
    out = tmp_path / "out"
    rc = main(["compare", "--dataset", "mnist", "--data-dir", str(data_dir), "--channel", "bsc",
               "--eps", "0,0.1", "--n-images", "30", "--runs", str(tmp_path / "runs"),
               "--m", "100", "--m-sweep", "", "--train-missing", "--train-size", "2000",
               "--epochs", "1", "--cliff-eps", "0,0.05,0.1", "--check-eps", "0.1",
               "--cliff-design-eps", "0.05", "--learned-m", "32", "--short-eps", "0.1",
               "--short-words", "500", "--out", str(out), "--quiet"])
    assert rc == 0
    bits = load_result(out / "mnist_bsc_bits.json")
    budget = load_result(out / "mnist_bsc_budget.json")
    cliff = load_result(out / "mnist_bsc_cliff.json")
    for name in ("bits", "budget", "cliff", "bits_rd"):
        assert (out / f"mnist_bsc_{name}.png").stat().st_size > 10_000
    assert "cannot fit" in (out / "summary.md").read_text()

    # 100 channel bits hold no JPEG/WebP stream at all, even with an ideal code; the learned
    # 32-bit source fits with the ideal code (⌈32 / C(0.1)⌉ = 61 channel bits), and with the
    # finite-length one (block error 1e-3) only on the noiseless channel (it needs n > 100)
    expect = {"ideal": [0.0, 0.0], "ppv": [0.0, 1.0]}
    for c in budget["metrics"]["curves"]:
        if c["kind"] == "separation" and c["budget"] == 100:
            want = expect.get(c["code"], [1.0, 1.0]) if c["source"] == "learned" else [1.0, 1.0]
            assert c["cannot_fit_rate"] == want, c["scheme"]

    # bits needed at BSC 0.1: at least the smallest JPEG payload over the capacity
    m = bits["metrics"]
    cap = channels.get("bsc", 0.1).capacity
    q1_payload = m["source"]["jpeg"]["payload_bytes_mean"][0]
    ideal = next(c for c in m["needed"] if c["scheme"] == "JPEG+ideal")
    ldpc = next(c for c in m["needed"] if c["scheme"] == "JPEG+LDPC")
    whole = next(c for c in m["needed"] if c["scheme"] == "JPEG+ideal (file)")
    assert ideal["bits"][1] >= math.floor(8 * q1_payload / cap) > 100
    assert ldpc["bits"][1] is None or ldpc["bits"][1] >= 1200  # one (400, 1200) block
    assert whole["bits"][1] > ideal["bits"][1] + 8 * 330  # the 330-byte header, coded
    assert m["source"]["jpeg"]["file_bytes_mean"][0] - q1_payload == pytest.approx(330)

    # the cliff: designed for 0.05 (rate 1/2), exact at 0, and both decoders were run
    sep = next(c for c in cliff["metrics"]["curves"] if c["kind"] == "separation")
    assert sep["rate"] == pytest.approx(0.5) and sep["failure_rate"][0] == 0.0
    assert cliff["metrics"]["decoder_check"][0]["eps"] == 0.1

    # short codes: the 32-bit source's codeword lengths meet their BLER targets; the matched
    # cliff pairs NECST trained at 0.05 with separation designed at 0.05, 100 bits each
    short = load_result(out / "mnist_bsc_short.json")["metrics"]
    for row in short["per_bler"]:
        assert row["k"] == 32 and row["converse"] <= row["achievability"]
        for kind in ("ldpc", "polar"):
            assert row[kind] is None or row[f"{kind}_bler"] <= row["target_bler"]
    matched = load_result(out / "mnist_bsc_matched.json")["metrics"]
    assert {c["design_eps"] for c in matched["curves"]} == {0.05}
    assert {c.get("channel_bits") for c in matched["curves"]} == {100}
