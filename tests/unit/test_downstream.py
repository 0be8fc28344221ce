"""Downstream probes on received NECST codes (``njscc downstream``)."""

from __future__ import annotations

import json
import math

import pytest
import torch

import channels
from channels.base import ERASED
from njscc import models
from njscc.cli import main
from njscc.data import load_dataset
from njscc.experiments.downstream import accuracy_sweep, encode_codes, receive, train_probe
from njscc.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def digits():
    train = load_dataset("embedded", "train")
    test = load_dataset("embedded", "test")
    return train.images[:3000], train.labels[:3000], test.images, test.labels


@pytest.fixture(scope="module")
def codes(digits):
    # An untrained encoder is a random projection + sign: its 100 bits keep class information
    # (a real property to test the probe on, and no training needed).
    torch.manual_seed(0)
    model = models.get("necst_mlp", m=100)
    xtr, ytr, xte, yte = digits
    return encode_codes(model, xtr), ytr, encode_codes(model, xte), yte


def test_receive_features():
    codes = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    assert torch.equal(receive(codes, None), torch.tensor([[-1.0, 1.0, 1.0, -1.0]]))
    assert torch.equal(receive(codes, channels.get("bsc", 0.0)), receive(codes, None))

    class EraseAll(channels.get("bec", 0.5).__class__):
        def forward(self, bits, generator=None):
            return torch.full_like(bits, ERASED)

    assert torch.equal(receive(codes, EraseAll(0.5)), torch.zeros(1, 4))


def test_codes_are_binary(codes):
    ctr, _, cte, _ = codes
    assert ctr.shape == (3000, 100) and cte.shape == (2300, 100)
    assert set(torch.unique(ctr).tolist()) <= {0.0, 1.0}


def test_probe_learns_and_noise_destroys_it(codes):
    ctr, ytr, cte, yte = codes
    probe = train_probe(ctr, ytr, None, epochs=5, generator=torch.Generator().manual_seed(0))
    res = accuracy_sweep(probe, cte, yte, "bsc", [0.0, 0.1, 0.5], draws=3,
                         generator=torch.Generator().manual_seed(1))
    acc = res["accuracy"]
    assert acc[0] > 0.6  # chance is 10 % on these balanced test digits
    assert acc[0] > acc[1] + 5 * res["accuracy_se"][1]
    # BSC(0.5): received bits are independent of the image, so accuracy is 1/10 in expectation
    se = math.sqrt(0.1 * 0.9 / (3 * cte.shape[0]))
    assert abs(acc[2] - 0.1) < 5 * se + 0.01


def test_probe_is_reproducible(codes):
    ctr, ytr, cte, yte = codes
    bsc = channels.get("bsc", 0.1)
    runs = [accuracy_sweep(train_probe(ctr, ytr, bsc, epochs=2,
                                       generator=torch.Generator().manual_seed(3)),
                           cte, yte, "bsc", [0.1], generator=torch.Generator().manual_seed(4))
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_train_probe_validates():
    with pytest.raises(ValueError, match="codes"):
        train_probe(torch.zeros(5, 3), torch.zeros(4, dtype=torch.int64), None)
    with pytest.raises(ValueError, match="labels"):
        train_probe(torch.zeros(5, 3), torch.zeros(5), None)


def test_cli_writes_json_and_png(tmp_path, capsys):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", models.get("necst_mlp", m=32))
    out = tmp_path / "out"
    rc = main(["downstream", "--checkpoint", str(tmp_path / "ck"), "--dataset", "embedded",
               "--train-size", "1000", "--test-size", "500", "--epochs", "2",
               "--probe-eps", "0,0.1", "--eps", "0,0.2", "--out", str(out)])
    assert rc == 0
    res = json.loads((out / "downstream_bsc.json").read_text())
    assert res["schema"] == "njscc.result/1" and res["task"] == "downstream"
    curves = res["metrics"]["curves"]
    assert [c["probe_param"] for c in curves] == [0.0, 0.1]
    assert all(len(c["accuracy"]) == 2 for c in curves)
    assert (out / "downstream_bsc.png").read_bytes()[:4] == b"\x89PNG"
    assert "chance" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["--eps", "0,2"], "--eps"),
    (["--probe-eps", "x"], "--probe-eps"),
    (["--channel", "nope"], "nope"),
    (["--epochs", "0"], "--epochs"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, needle):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", models.get("necst_mlp", m=8))
    rc = main(["downstream", "--checkpoint", str(tmp_path / "ck"), "--dataset", "embedded",
               "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and needle in err and len(err.splitlines()) == 1
