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


def test_train_vae_uses_beta_vae_and_no_channel(vae_run):
    info = json.loads((vae_run / "run.json").read_text())
    assert info["model"]["name"] == "vae_mlp" and info["model"]["kwargs"]["m"] == 4
    assert info["latent"] == {"kind": "real", "size": 4, "channel_bits": None}
    assert info["objective"] == {"name": "beta_vae",
                                 "kwargs": {"beta": 0.5, "n_samples": 1, "analytic_kl": True}}
    assert info["channel"] is None  # a real latent is not sent over a binary channel
    row = json.loads((vae_run / "log.jsonl").read_text().splitlines()[-1])
    # the embedded preset's likelihood is the (unnormalised) SSE: no "nats" claimed for D
    assert info["model"]["kwargs"]["likelihood"] == "sse"
    assert row["rate_nats"] >= 0 and "distortion" in row and "test_sse" in row
    assert "distortion_nats" not in row and "elbo_nats" not in row


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
    (["train", "--beta", "0.5", *TINY], "--beta: objective 'vimco' has no argument 'beta'"),
    (["train", "--model", "vae", "--objective", "vimco", *TINY],
     "objective 'vimco' cannot train model 'vae_mlp' (4 real dims): it needs a bits latent"),
    (["train", "--objective", "beta_vae", *TINY],
     "objective 'beta_vae' cannot train model 'necst_mlp_tf' (4 bits)"),
    (["train", "--model", "vae", "--beta", "-1", *TINY], "--beta: expected a finite number >= 0"),
    (["train", "--model", "vae", "--channel", "bec", "--train-eps", "0.3", *TINY],
     "--channel, --train-eps: model 'vae_mlp' (4 real dims) with objective 'beta_vae' is not "
     "trained over a channel"),
    (["train", "--model", "vae", "--objective-arg", "beta=1", "--beta", "2", *TINY],
     "give it once"),
    (["train", "--model", "vae", "--l2", "0", "--m", "0", *TINY],
     "argument --m/--bits: expected an integer in [1, 65536], got '0'"),
])
def test_bad_rd_train_arguments(argv, msg, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
