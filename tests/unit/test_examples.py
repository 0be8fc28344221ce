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
