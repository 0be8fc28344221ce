"""``njscc train --model vae --beta``, ``njscc eval`` on a VAE checkpoint, argument errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from njscc.cli import main

TINY = ["--preset", "embedded", "--m", "4", "--K", "1", "--train-size", "300",
        "--test-size", "100", "--threads", "1", "--quiet", "--model-arg", "enc_hidden=[16]",
        "--model-arg", "dec_hidden=[16]"]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rd") / "vae"
    assert main(["train", "--model", "vae", "--beta", "0.5", *TINY, "--epochs", "1",
                 "--out", str(out)]) == 0
    return out


def test_train_vae_uses_beta_vae_and_noiseless_channel(vae_run):
    info = json.loads((vae_run / "run.json").read_text())
    assert info["model"]["name"] == "vae_mlp" and info["model"]["kwargs"]["m"] == 4
    assert info["objective"] == {"name": "beta_vae", "kwargs": {"n_samples": 1, "beta": 0.5}}
    assert info["channel"]["train_param"] == 0.0
    row = json.loads((vae_run / "log.jsonl").read_text().splitlines()[-1])
    assert row["rate_nats"] >= 0 and "distortion_bits" in row and "test_sse" in row


def test_eval_vae_checkpoint_reports_rate_distortion_iwae(vae_run, capsys):
    assert main(["eval", "--checkpoint", str(vae_run), "--iwae-k", "5",
                 "--iwae-images", "40"]) == 0
    text = capsys.readouterr().out
    assert "rate" in text and "nll_iwae" in text
    r = json.loads((vae_run / "eval" / "eval_rd.json").read_text())
    assert r["task"] == "eval_rd" and r["dataset"] == "embedded"
    m = r["metrics"]
    assert m["nll_elbo_nats"] == pytest.approx(m["rate_nats"] + m["distortion_nats"])
    assert m["n_iwae_images"] == 40 and m["iwae_k"] == 5


@pytest.mark.parametrize("argv,msg", [
    (["train", "--beta", "0.5", *TINY], "--beta applies"),
    (["train", "--model", "vae", "--objective", "vimco2", *TINY], "cannot train"),
    (["train", "--model", "vae", "--beta", "-1", *TINY], "--beta must be"),
    (["train", "--model", "vib", *TINY], "njscc vib"),
])
def test_bad_rd_train_arguments(argv, msg, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert msg in capsys.readouterr().err
