"""Training on real MNIST: the loss and the test distortion go down within a few hundred steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import channels
from njscc import models, objectives
from njscc.data import load_dataset
from njscc.evaluation.distortion import evaluate_codec
from njscc.training.trainer import TrainConfig, Trainer

pytestmark = pytest.mark.data


def test_loss_and_test_distortion_decrease_on_mnist(data_dir: Path, tmp_path: Path) -> None:
    train = load_dataset("mnist", "train", data_dir=data_dir).images[:10000]
    test = load_dataset("mnist", "test", data_dir=data_dir).images[:2000]
    torch.manual_seed(0)
    model = models.get("necst_mlp", m=100)  # the paper's MNIST configuration
    bsc = channels.get("bsc", 0.1)
    g = torch.Generator().manual_seed(0)
    before = evaluate_codec(model, test, bsc, generator=g)
    trainer = Trainer(model, objectives.get("vimco", n_samples=5), bsc, train,
                      TrainConfig(epochs=2, seed=0), test_data=test, out_dir=tmp_path / "run",
                      device="cpu", quiet=True)
    h = trainer.fit()  # 2 × 100 steps
    assert [r["epoch"] for r in h] == [1, 2]
    assert h[1]["loss"] < h[0]["loss"] - 5  # per-image SSE units
    assert h[1]["distortion"] < h[0]["distortion"]
    # test SSE at the test ε: clearly below the untrained model's, beyond 5 standard errors
    assert h[1]["test_sse"] + 5 * (h[1]["test_sse_se"] + before["sse_se"]) < before["sse"]
    assert h[1]["test_sse"] < h[0]["test_sse"]
    # and the noiseless distortion is lower than the noisy one
    clean = evaluate_codec(model, test, None)
    assert clean["sse"] < h[1]["test_sse"]


@pytest.mark.parametrize("spec", ["omniglot", "idx:{data}/omniglot"])
def test_omniglot_trains_and_evaluates_from_the_cli(spec: str, data_dir, tmp_path) -> None:
    """Omniglot 28×28 as shipped (IDX, character ids as labels): no renaming, no label
    limit, by name or as any IDX folder."""
    from njscc.cli import main

    ds = spec.format(data=data_dir)
    out = tmp_path / "run"
    assert main(["train", "--dataset", ds, "--data-dir", str(data_dir), "--m", "16",
                 "--model-arg", "enc_hidden=[32]", "--model-arg", "dec_hidden=[32]",
                 "--train-size", "1000", "--test-size", "200", "--epochs", "1", "--threads", "1",
                 "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["dataset"] == ds
    assert main(["eval", "--checkpoint", str(out), "--data-dir", str(data_dir), "--eps", "0",
                 "--channel", "bsc", "--threads", "1"]) == 0
    r = json.loads((out / "eval" / "eval_bsc.json").read_text())
    assert r["dataset"] == ds and r["metrics"]["n_images"] == 13180
