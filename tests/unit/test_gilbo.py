"""GILBO: exact mutual information of a linear-Gaussian model; the m·ln 2 bound for bit codes."""

from __future__ import annotations

import json
import math

import pytest
import torch

from njscc import models
from njscc.evaluation.gilbo import GaussianEncoderNet, codec_gilbo, gilbo
from njscc.priors import StandardNormalPrior


def test_gilbo_recovers_linear_gaussian_mutual_information():
    """z ~ N(0, I_2), x = W z + σ ε in R^6 with orthogonal columns of W: the optimal encoder is a
    diagonal Gaussian, so the fitted bound should reach I = ½ log det(I + W Wᵀ/σ²)."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 2, generator=g))
    w = q * torch.tensor([2.0, 1.0])
    sigma = 0.5
    true_mi = 0.5 * torch.logdet(torch.eye(6) + w @ w.T / sigma**2).item()

    def pairs(n, gen):
        z = torch.randn(n, 2, generator=gen)
        return z, z @ w.T + sigma * torch.randn(n, 6, generator=gen)

    res = gilbo(pairs, StandardNormalPrior(2).log_prob, GaussianEncoderNet(6, 2, hidden=()),
                steps=300, batch_size=512, lr=3e-2, n_eval=20000, generator=g)
    assert true_mi == pytest.approx(0.5 * (math.log(17) + math.log(5)), rel=1e-5)
    # a lower bound (up to sampling noise), and close to tight
    assert res["gilbo_nats"] <= true_mi + 5 * res["gilbo_nats_se"]
    assert res["gilbo_nats"] == pytest.approx(true_mi, abs=0.08)
    assert res["gilbo_bits"] == pytest.approx(res["gilbo_nats"] / math.log(2))


def test_necst_decoder_gilbo_never_exceeds_m_bits():
    torch.manual_seed(0)
    m = 8
    necst = models.get("necst_mlp", m=m, enc_hidden=[16], dec_hidden=[32],
                       likelihood="bernoulli")
    with torch.no_grad():  # larger decoder weights: distinct images for distinct codes
        for p in necst.decoder.parameters():
            p.mul_(4)
    res = codec_gilbo(necst, steps=150, batch_size=128, lr=3e-3, n_eval=2000, hidden=(64,),
                      generator=torch.Generator().manual_seed(1))
    assert res["latent"] == "bits" and res["upper_bound_nats"] == pytest.approx(m * math.log(2))
    assert res["gilbo_nats"] <= m * math.log(2)  # log e(z|x) <= 0: holds exactly
    assert res["gilbo_nats"] > 0.8 * m * math.log(2)  # nearly every bit is recoverable
    # sampled generator output: noisier images, the bound holds too
    res_s = codec_gilbo(necst, x_mode="sample", steps=50, batch_size=64, n_eval=500,
                        hidden=(32,), generator=torch.Generator().manual_seed(2))
    assert res_s["gilbo_nats"] <= m * math.log(2)


def test_vae_gilbo_runs_and_cli(tmp_path):
    from njscc.cli import main
    from njscc.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    vae = models.get("vae_mlp", m=3, enc_hidden=[8], dec_hidden=[8], prior="mog",
                     n_components=2)
    res = codec_gilbo(vae, steps=20, batch_size=32, n_eval=200, hidden=(16,),
                      generator=torch.Generator().manual_seed(0))
    assert res["latent"] == "gaussian" and math.isfinite(res["gilbo_nats"])
    assert "upper_bound_nats" not in res
    save_checkpoint(tmp_path / "ck", vae)
    out = tmp_path / "g.json"
    assert main(["gilbo", "--checkpoint", str(tmp_path / "ck"), "--steps", "10",
                 "--n-eval", "100", "--hidden", "8", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["task"] == "gilbo" and "gilbo_nats" in r["metrics"]
    assert main(["gilbo", "--checkpoint", str(tmp_path / "nope")]) == 2
