"""VIB classifier, calibration, AUROC and OOD sets (fast; embedded MNIST subset)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from njscc import models
from njscc.data import load_dataset
from njscc.evaluation.uncertainty import (
    auroc,
    calibration,
    pixel_shuffled,
    uniform_noise,
    vib_scores,
)
from njscc.experiments.vib import evaluate_classifier
from njscc.training.runs import fit_codec


@pytest.fixture(scope="module")
def embedded():
    return load_dataset("embedded", "train"), load_dataset("embedded", "test")


def test_vib_on_embedded_beats_chance_by_a_wide_margin(embedded, tmp_path):
    train, test = embedded
    res = fit_codec("vib_mlp", {"m": 16, "enc_hidden": [64]}, "vib", {"beta": 1e-3},
                    train, tmp_path / "run", epochs=1, seed=0)
    model = res["model"]
    ev = evaluate_classifier(model, test.images[:1000], test.labels[:1000],
                             {"noise": uniform_noise(200, generator=torch.Generator())},
                             n_test_samples=12)
    # chance is 90 % error; 1000 test images give a binomial s.e. below 1 % at these rates
    assert ev["test_error"] < 0.25, ev["test_error"]
    assert ev["rate_nats"] > 0 and 0 <= ev["ece"] <= 1
    assert set(ev["auroc"]["noise"]) >= {"rate", "entropy", "pred_entropy", "neg_max_prob"}
    assert res["history"][-1]["rate_nats"] > 0 and "error" in res["history"][-1]
    assert (tmp_path / "run" / "checkpoints" / "last").is_dir()


def test_deterministic_vib_has_no_sampling_noise(generator):
    torch.manual_seed(0)
    model = models.get("vib_mlp", m=4, enc_hidden=[8], stochastic=False)
    x = torch.rand(3, 1, 28, 28)
    h = model.encode(x)
    z = model.sample_latent(h, 5, generator)
    assert torch.equal(z, model.split(h)[0].expand(5, 3, 4))
    p = model.predict(x, 12, generator)
    assert p.shape == (3, 10)
    torch.testing.assert_close(p.sum(-1), torch.ones(3))


def test_calibration_known_values():
    # two bins used: conf 0.85 (3 right, 1 wrong -> acc .75) and conf 0.65 (all right)
    probs = torch.tensor([[0.85, 0.15]] * 4 + [[0.35, 0.65]] * 2, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    cal = calibration(probs, labels, n_bins=10)
    expected = (4 * abs(0.75 - 0.85) + 2 * abs(1.0 - 0.65)) / 6
    assert cal["ece"] == pytest.approx(expected)
    assert cal["error"] == pytest.approx(1 / 6)
    assert sum(cal["bins"]["count"]) == 6 and cal["bins"]["count"][8] == 4
    assert cal["bins"]["accuracy"][0] is None
    perfect = torch.eye(3)
    assert calibration(perfect, torch.arange(3))["ece"] == 0.0


def test_auroc_matches_pairwise_definition(generator):
    a = torch.randint(0, 5, (40,), generator=generator).float()  # ties on purpose
    b = torch.randint(1, 7, (30,), generator=generator).float()
    pairs = (b[:, None] > a[None, :]).double() + 0.5 * (b[:, None] == a[None, :]).double()
    assert auroc(a, b) == pytest.approx(float(pairs.mean()))
    assert auroc(torch.zeros(3), torch.ones(4)) == 1.0
    assert auroc(torch.ones(3), torch.zeros(4)) == 0.0
    assert auroc(torch.ones(3), torch.ones(4)) == 0.5


def test_ood_sets(generator):
    x = torch.rand(4, 1, 28, 28)
    s = pixel_shuffled(x, generator)
    assert s.shape == x.shape and not torch.equal(s, x)
    torch.testing.assert_close(s.flatten(1).sort(-1).values, x.flatten(1).sort(-1).values)
    u = uniform_noise(5, (1, 28, 28), generator)
    assert u.shape == (5, 1, 28, 28) and 0 <= u.min() and u.max() <= 1


def test_vib_scores_are_consistent(generator):
    torch.manual_seed(0)
    model = models.get("vib_mlp", m=4, enc_hidden=[8])
    s = vib_scores(model, torch.rand(7, 1, 28, 28), n_samples=3, generator=generator)
    assert s["probs"].shape == (7, 10)
    assert (s["rate"] >= 0).all()  # closed-form KL
    assert (s["entropy"] <= math.log(10) + 1e-6).all()
    # Jensen: entropy of the mean prediction >= mean entropy
    assert (s["pred_entropy"] >= s["entropy"] - 1e-6).all()


def test_vib_cli_tiny(tmp_path):
    from njscc.cli import main

    out = tmp_path / "res"
    rc = main(["vib", "--dataset", "embedded", "--betas", "1e-3,1e-1", "--m", "4",
               "--hidden", "16", "--epochs", "1", "--train-size", "1000", "--test-size", "300",
               "--ood", "shuffled,noise", "--n-ood", "100", "--runs-dir", str(tmp_path / "runs"),
               "--out", str(out), "--quiet"])
    assert rc == 0
    r = json.loads((out / "vib.json").read_text())
    assert r["schema"] == "njscc.result/1" and r["task"] == "vib"
    labels = [m["label"] for m in r["metrics"]["models"]]
    assert labels == ["vib_beta_0.001", "vib_beta_0.1", "deterministic"]
    assert (out / "reliability.png").stat().st_size > 0 and (out / "vib_beta.png").exists()
    assert main(["vib", "--dataset", "embedded", "--ood", "mars", "--out", str(out)]) == 2
