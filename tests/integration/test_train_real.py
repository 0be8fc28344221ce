"""Training on real MNIST: the loss and the test distortion go down within a few hundred steps."""

from __future__ import annotations

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
