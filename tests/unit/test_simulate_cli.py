"""``njscc simulate`` (channel mode) in-process: output, JSON/PNG files, bad input → exit 2."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import pytest

from njscc.cli import main
from njscc.cli.commands.simulate import parse_sweep
from njscc.io.results import SCHEMA, load_result

Z999 = 3.2905267314919255


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["simulate", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _field(out: str, label: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith(label))
    return line[len(label):].split()[0]


def test_bsc_single_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bsc.json"
    rc, out, _ = _run(capsys, "--channel", "bsc", "--eps", "0.1", "--bits", "200000",
                      "--seed", "3", "--batch", "50000", "--json", str(path))
    assert rc == 0
    rate = float(_field(out, "error rate"))
    assert abs(rate - 0.1) <= Z999 * math.sqrt(0.09 / 200_000)
    assert "95% CI [" in out and "(wilson)" in out and "expected 0.1" in out
    assert "capacity    0.531004 bits/use" in out
    res = load_result(path)
    assert res["schema"] == SCHEMA and res["task"] == "simulate"
    assert res["channel"] == {"name": "bsc", "param": 0.1}
    m = res["metrics"]
    assert m["bits"] == 200_000 and m["error_rate"] == pytest.approx(rate, rel=1e-5)
    lo, hi = m["error_ci"]
    assert lo < m["error_rate"] < hi and hi - lo < 0.01
    assert res["config"]["seed"] == 3


def test_same_seed_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--channel", "z", "--eps", "0.2", "--bits", "1e5", "--seed", "9")
    _, out1, _ = _run(capsys, *args)
    _, out2, _ = _run(capsys, *args)
    _, out3, _ = _run(capsys, *args[:-1], "10")
    assert _field(out1, "errors") == _field(out2, "errors") != _field(out3, "errors")


def test_bec_prints_erasure_rate(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--channel", "bec", "--eps", "0.25", "--bits", "100000")
    assert rc == 0
    assert _field(out, "errors") == "0"
    rate = float(_field(out, "erasure rate"))
    assert abs(rate - 0.25) <= Z999 * math.sqrt(0.25 * 0.75 / 100_000)
    assert "capacity    0.750000" in out


def test_ge_uses_batch_means_and_channel_args(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--channel", "ge", "--eps", "0.05", "--bits", "200000",
                      "--channel-arg", "p_bg=0.2", "--channel-arg", "eps_bad=0.4")
    assert rc == 0 and "(batch-means)" in out and "mean error rate = 0.05" in out


def test_awgn_soft(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--channel", "awgn", "--eps", "0", "--bits", "100000",
                      "--channel-arg", "output=soft")
    assert rc == 0 and "capacity    0.721452 bits/use" in out
    assert "expected 0.0786496" in out


def test_sweep_writes_json_and_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "sw"
    rc, out, _ = _run(capsys, "--channel", "bsc", "--sweep", "0:0.3:0.1", "--bits", "20000",
                      "--out", str(out_dir))
    assert rc == 0
    res = load_result(out_dir / "bsc.json")
    m = res["metrics"]
    assert m["param"] == [0.0, 0.1, 0.2, 0.3]  # stop included: it lies on the grid
    for key in ("error_rate", "error_ci", "capacity", "expected_error_rate", "erasure_rate"):
        assert len(m[key]) == 4
    assert m["error_rate"][0] == 0.0 and m["capacity"][0] == 1.0
    assert res["channel"]["name"] == "bsc" and res["channel"]["sweep"] == "0:0.3:0.1"
    png = (out_dir / "bsc.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "wrote" in out and "0.531004" in out
    json.loads((out_dir / "bsc.json").read_text())


def test_bec_and_awgn_sweeps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = _run(capsys, "--channel", "bec", "--sweep", "0.1:0.5:0.2", "--bits", "10000",
                      "--out", str(tmp_path))
    assert rc == 0 and "erasures" in out
    assert load_result(tmp_path / "bec.json")["metrics"]["param"] == [0.1, 0.3, 0.5]
    # a negative start needs the --sweep=... form (argparse would take -2:6:2 for an option)
    rc, _, _ = _run(capsys, "--channel", "awgn", "--sweep=-2:6:2", "--bits", "10000",
                    "--out", str(tmp_path))
    assert rc == 0 and (tmp_path / "awgn.png").exists()


def test_parse_sweep() -> None:
    assert parse_sweep("0:0.3:0.01")[-1] == 0.3 and len(parse_sweep("0:0.3:0.01")) == 31
    assert parse_sweep("0:0.25:0.1") == [0.0, 0.1, 0.2]  # stop off the grid: not included
    assert parse_sweep("1:1:0.5") == [1.0]


@pytest.mark.parametrize("argv, match", [
    (["--channel", "bsc", "--eps", "1.5"], "eps: expected a probability in [0, 1], got 1.5"),
    (["--channel", "bsc", "--eps", "nan"], "eps"),
    (["--channel", "foo", "--eps", "0.1"], "--channel: expected one of"),
    (["--channel", "bsc"], "--eps: required"),
    (["--channel", "bsc", "--eps", "0.1", "--sweep", "0:1:0.1"], "not both"),
    (["--channel", "bsc", "--sweep", "0:1"], "START:STOP:STEP"),
    (["--channel", "bsc", "--sweep", "0:1:0"], "STEP > 0"),
    (["--channel", "bsc", "--sweep", "1:0:0.1"], "STOP >= START"),
    (["--channel", "bsc", "--sweep", "0.5:1.2:0.1"], "eps: expected a probability"),
    (["--channel", "ge", "--sweep", "0:0.5:0.1"], "mean error rate must be in"),
    (["--channel", "ge", "--eps", "0.1", "--channel-arg", "p_bg"], "KEY=VALUE"),
    (["--channel", "bsc", "--eps", "0.1", "--channel-arg", "colour=red"], "unexpected"),
    (["--channel", "awgn", "--eps", "0", "--channel-arg", "output=medium"], "output"),
    (["--channel", "bsc", "--eps", "0.1", "--rate", "0.5"], "--rate: only used with --code"),
    (["--channel", "bsc", "--sweep", "0:0.1:0.1", "--json", "x.json"], "--json: only for"),
    (["--channel", "bsc", "--eps", "0.1", "--device", "nonsense"], "--device"),
])
def test_bad_input_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                          match: str, tmp_path: Path) -> None:
    rc, out, err = _run(capsys, *argv, "--bits", "1000", "--out", str(tmp_path))
    assert rc == 2
    assert not list(tmp_path.iterdir())  # nothing written (sweeps validate every point first)
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("njscc simulate: error: ")
    assert match in lines[0]
    assert "Traceback" not in err


def test_bad_bits_argument_is_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--eps", "0.1", "--bits", "-5"]) == 2
    err = capsys.readouterr().err
    assert "expected a positive integer" in err and len(err.strip().splitlines()) == 1


def test_code_mode_delegates_to_baselines(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    fake = types.ModuleType("baselines.simulate")

    def simulate_code(args: object) -> int:
        seen["args"] = args
        print("fake code sim")
        return 0

    fake.simulate_code = simulate_code  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "baselines.simulate", fake)
    rc, out, _ = _run(capsys, "--code", "repetition", "--rate", "0.5", "--k", "10",
                      "--channel", "bsc", "--eps", "0.1", "--max-bits", "1e4",
                      "--min-block-errors", "0", "--min-bit-errors", "50")
    assert rc == 0 and "fake code sim" in out
    a = seen["args"]
    assert (a.code, a.rate, a.k, a.max_bits, a.min_block_errors, a.min_bit_errors) == (
        "repetition", 0.5, 10, 10_000, 0, 50)  # 0 is accepted: no block-error stop
    rc, _, err = _run(capsys, "--code", "repetition", "--channel", "bsc", "--eps", "0.1",
                      "--min-errors", "7")  # the old spelling: block errors, with a warning
    assert rc == 0 and seen["args"].min_block_errors == 7
    assert "--min-errors is deprecated; use --min-block-errors" in err


def test_code_mode_without_baselines_module(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "baselines.simulate", None)  # import fails
    rc, _, err = _run(capsys, "--code", "ldpc", "--eps", "0.1")
    assert rc == 2 and "--code needs the baselines package" in err


def test_old_param_spelling_still_works_with_a_warning(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    rc, out, err = _run(capsys, "--channel", "bsc", "--param", "0.1", "--bits", "10000")
    assert rc == 0 and "error rate" in out
    assert err.strip() == "njscc simulate: warning: --param is deprecated; use --eps"


def test_channel_name_colon_param_is_the_same_as_eps(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    a = _run(capsys, "--channel", "bsc:0.2", "--bits", "10000", "--seed", "1")
    b = _run(capsys, "--channel", "bsc", "--eps", "0.2", "--bits", "10000", "--seed", "1")
    assert a[0] == b[0] == 0
    strip = [ln for ln in a[1].splitlines() if not ln.startswith("bits")]
    assert strip == [ln for ln in b[1].splitlines() if not ln.startswith("bits")]
    rc, _, err = _run(capsys, "--channel", "bsc:0.2", "--eps", "0.1", "--bits", "1000")
    assert rc == 2 and "give the parameter once" in err

