"""The example scripts run and produce what they say (kept short: they are documentation)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_code_ber_curves_repetition_matches_closed_form(tmp_path):
    out = tmp_path / "ber"
    r = subprocess.run([sys.executable, str(EXAMPLES / "code_ber_curves.py"), "--codes",
                        "repetition:0.34", "--eps", "0.05,0.1", "--k", "100", "--max-bits",
                        "200000", "--min-block-errors", "0", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "ber_curves.json").read_text())
    assert res["schema"] == "njscc.result/1"
    (curve,) = res["metrics"]["curves"]
    assert curve["n"] == 300 and curve["bits"] == [200000, 200000]
    for eps, ber in zip(res["metrics"]["param"], curve["ber"], strict=True):
        p = 3 * eps**2 - 2 * eps**3  # majority of 3 copies fails when ≥ 2 flip
        assert abs(ber - p) < 5 * math.sqrt(p * (1 - p) / 200000), (eps, ber, p)
    assert (out / "ber_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_learned_separation_finds_the_cheapest_code_length(tmp_path, data_dir):
    import pytest

    pytest.importorskip("sionna.phy.fec.polar")
    from njscc.cli import main

    tiny = ["--preset", "embedded", "--model-arg", "enc_hidden=[32]", "--model-arg",
            "dec_hidden=[32]", "--epochs", "1", "--threads", "1", "--quiet", "--test-every", "0"]
    assert main(["train", *tiny, "--m", "24", "--out", str(tmp_path / "necst")]) == 0
    assert main(["train", *tiny, "--m", "16", "--train-eps", "0",
                 "--out", str(tmp_path / "src")]) == 0
    out = tmp_path / "sep"
    r = subprocess.run([sys.executable, str(EXAMPLES / "learned_separation.py"), "--necst",
                        str(tmp_path / "necst"), "--source", str(tmp_path / "src"),
                        "--n-images", "64", "--budget", "40", "--data-dir", str(data_dir),
                        "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "learned_separation.json").read_text())
    (row,) = res["sources"]
    assert row["m"] == 16 and row["ideal"]["channel_bits_for_m"] == math.ceil(16 / 0.531004)
    for code in ("polar", "ldpc"):
        tried = row[code]["tried"]
        assert tried and all(t["n"] >= 16 for t in tried)
        if row[code]["bits"] is not None:  # the answer meets the target, one less does not
            assert row[code]["at_target"]["sse"] <= res["necst"]["sse"]
    r = subprocess.run([sys.executable, str(EXAMPLES / "learned_separation.py"), "--summarize",
                        str(out), str(out), "--out", str(tmp_path / "sum")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "sum" / "summary.json").read_text())
    assert summary["necst_sse"] == {"mean": res["necst"]["sse"], "std": 0.0, "n": 2}
    assert summary["sources"][0]["m"] == 16
