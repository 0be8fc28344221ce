"""Rate–distortion objectives: closed-form KL, ELBO identity, IWAE ordering, TherML settings.

Statistical checks use explicit standard errors (|estimate − truth| < 5 s.e., a two-sided
false-alarm probability below 1e-6 under normality).
"""

from __future__ import annotations

import math
import types

import pytest
import torch

from channels import BinarySymmetricChannel
from njscc import models, objectives
from njscc.data import Batch
from njscc.evaluation.rate_distortion import (
    bit_codec_rate_distortion,
    evaluate_rate_distortion,
    iwae_bound,
)
from njscc.models.vae.base import kl_standard_normal
from njscc.objectives.rate_distortion import (
    ELBO,
    LN2,
    VIB,
    BetaVAE,
    TherML,
)
from njscc.priors import (
    GaussianMixturePrior,
    StandardNormalPrior,
    VampPrior,
    diag_gaussian_log_prob,
)

Z = 5.0  # standard errors allowed


def _vae(prior: str = "normal", m: int = 4, likelihood: str = "bernoulli", seed: int = 0):
    torch.manual_seed(seed)
    return models.get("vae_mlp", m=m, enc_hidden=[16], dec_hidden=[16], likelihood=likelihood,
                      prior=prior, n_components=3)


def _binary_images(n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 28, 28, generator=g) < 0.3).float()


# --------------------------------------------------------------------------- KL and rate
def test_closed_form_kl_matches_monte_carlo(generator):
    mean = torch.randn(6, 3, generator=generator)
    logvar = torch.randn(6, 3, generator=generator)
    closed = kl_standard_normal(mean, logvar)
    n = 200_000
    z = mean + torch.randn(n, 6, 3, generator=generator) * torch.exp(0.5 * logvar)
    lr = diag_gaussian_log_prob(z, mean, logvar) - StandardNormalPrior(3).log_prob(z)
    mc, se = lr.mean(0), lr.std(0) / math.sqrt(n)
    assert ((mc - closed).abs() < Z * se + 1e-6).all(), (mc, closed, se)


def test_kl_is_zero_at_the_prior_and_never_negative(generator):
    assert kl_standard_normal(torch.zeros(3, 7), torch.zeros(3, 7)).abs().max() == 0
    mean = 10 * torch.randn(10_000, 8, generator=generator)
    logvar = 8 * torch.randn(10_000, 8, generator=generator)
    assert (kl_standard_normal(mean, logvar) >= 0).all()
    tiny = torch.full((5, 2), 1e-7)  # near-prior: expm1 keeps it exact, no cancellation to < 0
    assert (kl_standard_normal(tiny, tiny) >= 0).all()


@pytest.mark.parametrize("prior", ["normal", "mog", "vamp"])
def test_model_rate_never_negative_on_average(prior, generator):
    model = _vae(prior)
    x = _binary_images(64)
    r = evaluate_rate_distortion(model, x, n_samples=200, generator=generator)
    assert r["rate_nats"] >= -Z * r["rate_nats_se"]
    assert r["rate_analytic"] == (1.0 if prior == "normal" else 0.0)
    # the TherML stats report the rate in nats and bits
    _, stats = ELBO(n_samples=4)(model, x, None, generator=generator)
    assert stats["rate_bits"] == pytest.approx(stats["rate_nats"] / LN2)
    if prior == "normal":
        assert stats["rate_nats"] >= 0


def test_monte_carlo_rate_matches_closed_form_for_the_normal_prior(generator):
    model = _vae("normal")
    x = _binary_images(8)
    h = model.encode(x)
    z = model.sample_latent(h, 20_000, generator)
    lr = model.log_q(z, h) - model.log_prior(z)  # [K, B]
    mc, se = lr.mean(0), lr.std(0) / math.sqrt(z.shape[0])
    closed = model.rate(h)
    assert ((mc - closed).abs() < Z * se + 1e-5).all()
    torch.testing.assert_close(model.rate(h, z, analytic=False), mc)


def test_priors_are_normalised_densities(generator):
    """∫ p(z) dz = 1 in 1-D, checked on a fine grid (trapezoid)."""
    grid = torch.linspace(-30, 30, 60_001).unsqueeze(-1)
    torch.manual_seed(0)
    mog = GaussianMixturePrior(1, 4)
    vamp = VampPrior(1, n_components=3)
    lin = torch.nn.Linear(4, 2)
    owner = types.SimpleNamespace(data_shape=(1, 2, 2),
                                  posterior=lambda u: lin(u.reshape(u.shape[0], -1)).chunk(2, -1))
    vamp.bind(owner)
    for prior in (StandardNormalPrior(1), mog, vamp):
        with torch.no_grad():
            p = prior.log_prob(grid).exp()
        assert torch.trapezoid(p, grid.squeeze(-1)).item() == pytest.approx(1.0, abs=1e-4)
        s = prior.sample(5, generator)
        assert s.shape == (5, 1) and torch.isfinite(s).all()


# --------------------------------------------------------------------------- ELBO, IWAE
def test_elbo_identity_and_manual_computation(seed):
    model = _vae("normal")
    x = _binary_images(10)
    loss, stats = ELBO(n_samples=3)(model, x, None, generator=torch.Generator().manual_seed(seed))
    # float32 sums: exact up to rounding
    assert stats["elbo_nats"] == pytest.approx(-(stats["distortion_nats"] + stats["rate_nats"]),
                                               rel=1e-6)
    assert stats["loss"] == pytest.approx(-stats["elbo_nats"], rel=1e-6)
    # by hand, same random draws
    g = torch.Generator().manual_seed(seed)
    mean, logvar = model.posterior(x)
    eps = torch.randn((3, *mean.shape), generator=g)
    z = mean + eps * torch.exp(0.5 * logvar)
    logits = model.decoder(z.reshape(-1, 4)).reshape(3, 10, 1, 28, 28)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, x.expand_as(logits), reduction="none").flatten(2).sum(-1)
    kl = 0.5 * (mean**2 + logvar.exp() - 1 - logvar).sum(-1)
    torch.testing.assert_close(loss, (bce.mean(0) + kl).mean(), rtol=1e-5, atol=1e-4)


def test_iwae_is_above_elbo_and_grows_with_k(generator):
    """E IWAE_K is non-decreasing in K and IWAE_1 has mean ELBO; paired over images."""
    model = _vae("normal", m=4)
    model.eval()
    x = _binary_images(16)
    reps = 150
    with torch.no_grad():
        h = model.encode(x)
        z = model.sample_latent(h, 4000, generator)
        elbo = (model.log_prob(x, model.decode(z)).mean(0) - model.rate(h)).mean()
        est = {k: torch.stack([iwae_bound(model, x, k, generator=generator).mean()
                               for _ in range(reps)]) for k in (1, 5, 50)}
    mean = {k: v.mean() for k, v in est.items()}
    se = {k: v.std() / math.sqrt(reps) for k, v in est.items()}
    assert (mean[1] - elbo).abs() < Z * se[1] + 0.05
    for a, b in ((1, 5), (5, 50)):
        diff = est[b] - est[a]  # independent draws: s.e. of the difference of means
        assert diff.mean() > -Z * math.sqrt(se[a] ** 2 + se[b] ** 2)
    assert mean[50] > elbo  # strictly above for an untrained model (large gap)


def test_evaluate_rate_distortion_keys_and_paired_gap(generator):
    model = _vae("normal")
    x = _binary_images(40)
    r = evaluate_rate_distortion(model, x, n_samples=2, iwae_samples=20, iwae_images=30,
                                 batch_size=16, generator=generator)
    assert r["n_iwae_images"] == 30 and r["iwae_k"] == 20 and r["n_images"] == 40
    assert r["nll_elbo_nats"] == pytest.approx(r["rate_nats"] + r["distortion_nats"])
    assert r["rate_bits"] == pytest.approx(r["rate_nats"] / LN2)
    assert r["iwae_minus_elbo_nats"] > 0
    assert r["nll_iwae_nats"] == pytest.approx(-r["iwae_nats"])
    assert model.training  # mode restored


# --------------------------------------------------------------------------- TherML
def test_therml_settings_reproduce_named_objectives_exactly(seed):
    model = _vae("normal")
    x = _binary_images(12)
    pairs = [(ELBO(n_samples=2), TherML(1.0, 1.0, 0.0, n_samples=2)),
             (BetaVAE(0.25, n_samples=2), TherML(0.25, 1.0, 0.0, n_samples=2)),
             (objectives.get("beta_vae", beta=4.0), TherML(4.0, 1.0, 0.0))]
    for named, general in pairs:
        la, sa = named(model, x, None, generator=torch.Generator().manual_seed(seed))
        lb, sb = general(model, x, None, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(la, lb) and sa == sb
    # β-VAE = D + βR with the same draws as the ELBO's terms
    _, s1 = ELBO(n_samples=2)(model, x, None, generator=torch.Generator().manual_seed(seed))
    lb, _ = BetaVAE(0.25, n_samples=2)(model, x, None,
                                      generator=torch.Generator().manual_seed(seed))
    assert lb.item() == pytest.approx(s1["distortion_nats"] + 0.25 * s1["rate_nats"], rel=1e-5)

    torch.manual_seed(0)
    vib = models.get("vib_mlp", m=4, enc_hidden=[16])
    labelled = Batch(x, torch.arange(12) % 10)
    la, sa = VIB(0.01, n_samples=3)(vib, labelled, None,
                                    generator=torch.Generator().manual_seed(seed))
    lb, sb = TherML(0.01, 0.0, 1.0, n_samples=3)(vib, labelled, None,
                                                 generator=torch.Generator().manual_seed(seed))
    assert torch.equal(la, lb) and sa == sb
    assert la.item() == pytest.approx(sa["class_ce_nats"] + 0.01 * sa["rate_nats"], rel=1e-5)
    assert sa["distortion"] == sa["class_ce_nats"] and 0 <= sa["error"] <= 1


def test_therml_gradients_and_validation(generator):
    model = _vae("mog")
    x = _binary_images(8)
    loss, _ = BetaVAE(2.0)(model, x, None, generator=generator)
    loss.backward()
    assert model.prior.means.grad is not None and model.encoder[1].weight.grad is not None
    with pytest.raises(ValueError, match="w_rate"):
        TherML(-1.0)
    with pytest.raises(ValueError, match="classifier"):
        TherML(1.0, 1.0, 1.0)(model, x, None)
    vib = models.get("vib_mlp", m=4, enc_hidden=[8])
    with pytest.raises(ValueError, match="reconstruction"):
        ELBO()(vib, x, None)
    with pytest.raises(ValueError, match="needs field.*labels"):
        VIB()(vib, x, None)
    with pytest.raises(ValueError, match="cannot train model 'necst_mlp'.*real latent"):
        ELBO()(models.get("necst_mlp", m=8, enc_hidden=[8], dec_hidden=[8]), x, None)


def test_labels_travel_as_a_named_field():
    x = torch.rand(5, 1, 28, 28)
    y = torch.tensor([0, 9, 3, 3, 7])
    b = Batch(x, y)
    assert b.fields == {"x", "labels"} and torch.equal(b[1:3].labels, y[1:3])
    with pytest.raises(ValueError, match="labels"):
        Batch(x, y[:3])


# --------------------------------------------------------------------------- models
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "sse"])
def test_vae_contract_shapes_and_checkpoint_roundtrip(likelihood, tmp_path, generator):
    from njscc.training.checkpoint import load_model, save_checkpoint

    model = _vae("vamp", likelihood=likelihood)
    assert model.latent.kind == "real" and not model.latent.sendable
    assert models.get("necst_mlp", m=4).latent.kind == "bits"
    x = torch.rand(3, 1, 28, 28)
    h = model.encode(x)
    assert h.shape == (3, 8)
    out = model(x, None, n_samples=5, generator=generator)
    assert out["z"].shape == (5, 3, 4) and out["params"].shape == (5, 3, 1, 28, 28)
    for k in ("log_p", "log_q", "log_prior"):
        assert out[k].shape == (5, 3)
    assert out["rate"].shape == (3,)
    code = model.compress(x)
    assert code.shape == (3, 4) and code.dtype == torch.float32
    torch.testing.assert_close(code, model.split(h)[0])
    xh = model.decompress(code)
    assert xh.shape == (3, 1, 28, 28) and 0 <= xh.min() and xh.max() <= 1
    save_checkpoint(tmp_path / "ck", model)
    back = load_model(tmp_path / "ck")
    assert back.config == model.config
    torch.testing.assert_close(back.encode(x), model.encode(x))
    torch.testing.assert_close(back.prior.log_prob(out["z"].detach()),
                               model.prior.log_prob(out["z"].detach()))


def test_registry_names_and_validation():
    assert {"vae_mlp", "vib_mlp"} <= set(models.available())
    assert {"elbo", "beta_vae", "vib", "therml"} <= set(objectives.available())
    with pytest.raises(ValueError, match="prior"):
        models.get("vae_mlp", prior="flow")
    with pytest.raises(ValueError, match="likelihood"):
        models.get("vae_mlp", likelihood="poisson")
    with pytest.raises(ValueError, match="x must have shape"):
        models.get("vae_mlp", m=2).encode(torch.rand(2, 10))
    with pytest.raises(ValueError, match="last dim"):
        models.get("vae_mlp", m=2).decode(torch.rand(2, 3))
    assert models.get("vib_mlp").config["kwargs"]["enc_hidden"] == [1024, 1024]


# --------------------------------------------------------------------------- NECST mapping
def test_bit_codec_rate_is_bounded_by_capacity(generator):
    torch.manual_seed(0)
    necst = models.get("necst_mlp", m=12, enc_hidden=[16], dec_hidden=[16],
                       likelihood="bernoulli")
    x = _binary_images(50)
    ch = BinarySymmetricChannel(0.1)
    r = bit_codec_rate_distortion(necst, x, ch, n_samples=4, generator=generator)
    cap_nats = 12 * ch.capacity * LN2
    assert r["rate_capacity_nats"] == pytest.approx(cap_nats)
    for k in ("rate_variational_nats", "rate_hard_variational_nats"):
        assert 0 <= r[k] <= cap_nats + 1e-9
    assert r["distortion_nats"] > 0 and r["distortion_hard_nats"] > 0
