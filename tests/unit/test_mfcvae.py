"""MFCVAE: the facet mixture prior, the rate identity with the reference's five ELBO terms,
the progressive schedule (through the Trainer, saved with the model), the GMM
initialisation, compositional sampling, bad configurations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from njscc import models, objectives
from njscc.data import Batch
from njscc.models.cluster import MFCVAE
from njscc.priors import diag_gaussian_log_prob

SMALL = {"z_dims": [2, 3], "n_clusters": [3, 4], "data_shape": [1, 6, 6],
         "enc_backbone": [16, 12], "dec_rung": [12, 10], "dec_backbone": [8, 12],
         "stage_steps": 10, "fade_in_steps": 4}


def small(**kw) -> MFCVAE:
    torch.manual_seed(0)
    model = models.get("mfcvae", **{**SMALL, **kw})
    for j in range(2):  # spread the prior so the responsibilities are not uniform
        model.prior.means[j].data.normal_()
        model.prior.logits[j].data.normal_()
    return model


def test_registered_with_real_latent_and_shapes():
    model = small()
    assert isinstance(model, MFCVAE) and str(model.latent) == "5 real dims"
    x = torch.rand(7, 1, 6, 6)
    h = model.encode(x)
    assert h.shape == (7, 10)
    z = model.sample_latent(h, 3, torch.Generator().manual_seed(0))
    assert model.decode(z).shape == (3, 7, 1, 6, 6)
    assert model.rate(h, z).shape == (7,) and model.facet_rates(h, z).shape == (7, 2)
    assert model.assign(x).shape == (7, 2) and model.assign(x).dtype == torch.int64
    resp = model.responsibilities(x)
    assert [r.shape for r in resp] == [(7, 3), (7, 4)]
    for r in resp:
        torch.testing.assert_close(r.sum(-1), torch.ones(7, dtype=r.dtype))


def test_rate_equals_reference_five_terms():
    """Σ_j [E log q(z_j|x) − Σ_c q(c|x) log p(z_j|c) + Σ_c q(c|x) (log q(c|x) − log π_c)]
    with q(c|x) = p(c|z) is exactly log q(z|x) − log p(z) of the mixture marginal."""
    model = small(progressive=False).double()
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    h = model.encode(x)
    z = model.sample_latent(h, 4, torch.Generator().manual_seed(1))
    mean, logvar = model.split(h)
    total = torch.zeros(5, dtype=torch.float64)
    for j, (zj, mj, lj) in enumerate(zip(model.prior.split(z), model.prior.split(mean),
                                         model.prior.split(logvar), strict=True)):
        log_q = diag_gaussian_log_prob(zj, mj, lj)
        var = model.prior.variances(j)
        log_pz_c = diag_gaussian_log_prob(zj.unsqueeze(-2), model.prior.means[j], var.log())
        log_pi = torch.log_softmax(model.prior.logits[j], 0)
        log_q_c = torch.log_softmax(log_pz_c + log_pi, -1)
        q_c = log_q_c.exp()
        kl_z = log_q - (q_c * log_pz_c).sum(-1)
        kl_c = (q_c * (log_q_c - log_pi)).sum(-1)
        total += (kl_z + kl_c).mean(0)
    torch.testing.assert_close(model.rate(h, z), total)
    torch.testing.assert_close(model.rate(h, z),
                               (model.log_q(z, h) - model.log_prior(z)).mean(0))


def test_schedule_fades_in_the_shallow_facet():
    model = small()
    assert model.schedule(0) == {"alpha": [0.0, 1.0], "gamma": [0.0, 1.0]}
    assert model.schedule(9)["alpha"] == [0.0, 1.0]
    assert model.schedule(12) == {"alpha": [0.5, 1.0], "gamma": [0.5, 1.0]}
    assert model.schedule(14)["alpha"] == [1.0, 1.0] == model.schedule(10 ** 6)["gamma"]
    assert small(progressive=False).schedule(0)["alpha"] == [1.0, 1.0]
    three = models.get("mfcvae", z_dims=[2, 2, 2], n_clusters=[2, 2, 2], data_shape=[4],
                       enc_backbone=[8, 8, 8], dec_rung=[8, 8, 8], dec_backbone=[8, 8, 8],
                       stage_steps=10, fade_in_steps=0)
    assert [three.schedule(t)["alpha"] for t in (0, 10, 25)] == [
        [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]


def test_faded_out_facet_neither_reaches_the_decoder_nor_pays_rate():
    model = small()
    z = torch.randn(6, 5)
    z2 = z.clone()
    z2[:, :2] += 3.0  # change facet 0 only
    model.training_step(0)
    torch.testing.assert_close(model.decode(z), model.decode(z2))
    x = torch.rand(6, 1, 6, 6)
    h = model.encode(x)
    zs = model.sample_latent(h, 2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.rate(h, zs), model.facet_rates(h, zs)[:, 1])
    model.training_step(100)
    assert not torch.allclose(model.decode(z), model.decode(z2))
    torch.testing.assert_close(model.rate(h, zs), model.facet_rates(h, zs).sum(-1))


def test_schedule_step_travels_with_the_state_dict():
    model = small()
    model.training_step(12)
    clone = models.get("mfcvae", **model.config["kwargs"])
    assert clone.schedule()["alpha"] == [0.0, 1.0]
    clone.load_state_dict(model.state_dict())
    assert clone.schedule() == model.schedule() == {"alpha": [0.5, 1.0], "gamma": [0.5, 1.0]}


def test_trainer_announces_every_step(tmp_path):
    from njscc.data.datasets import ImageDataset
    from njscc.training.runs import fit_codec

    torch.manual_seed(0)
    data = ImageDataset(torch.rand(64, 1, 6, 6), name="toy")
    calls = []
    res = fit_codec("mfcvae", {**SMALL, "stage_steps": 4, "fade_in_steps": 2}, "elbo", {},
                    data, tmp_path / "run", epochs=2, batch_size=16, seed=0,
                    prepare=lambda m: calls.append(type(m).__name__))
    model = res["model"]
    assert calls == ["MFCVAE"]
    assert int(model.schedule_step) == 7  # 2 epochs × 4 steps, 0-based
    assert model.schedule()["alpha"] == [1.0, 1.0]
    # resuming a finished run skips prepare (the checkpoint holds the initialised prior)
    fit_codec("mfcvae", {**SMALL, "stage_steps": 4, "fade_in_steps": 2}, "elbo", {}, data,
              tmp_path / "run", epochs=2, batch_size=16, seed=0,
              prepare=lambda m: calls.append("again"))
    assert calls == ["MFCVAE"]


def test_init_prior_finds_separated_clusters():
    model = models.get("mfcvae", z_dims=[2, 1], n_clusters=[3, 2], data_shape=[4],
                       enc_backbone=[8, 8], dec_rung=[8, 8], dec_backbone=[8, 8])
    rng = np.random.default_rng(0)
    c0 = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, -3.0]])
    c1 = np.array([[-4.0], [4.0]])
    a, b = rng.integers(0, 3, 3000), rng.integers(0, 2, 3000)
    z = np.concatenate([c0[a] + 0.3 * rng.standard_normal((3000, 2)),
                        c1[b] + 0.3 * rng.standard_normal((3000, 1))], 1)
    model.init_prior(torch.from_numpy(z).float(), seed=0)
    for j, centres in enumerate((c0, c1)):
        got = model.prior.means[j].detach().numpy()
        d = np.linalg.norm(got[:, None] - centres[None], axis=-1)
        assert d.min(1).max() < 0.1 and len(set(d.argmin(1))) == len(centres)
        torch.testing.assert_close(model.prior.variances(j),
                                   torch.full_like(model.prior.variances(j), 0.01))
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        model.init_prior(torch.zeros(10, 2))


def test_compositional_sampling_fixes_a_facet_cluster():
    model = small()
    n = 5
    fixed = [torch.full((n,), 2), None]
    z = model.prior.sample(n, torch.Generator().manual_seed(0), fixed, temperature=0.0)
    torch.testing.assert_close(z[:, :2], model.prior.means[0][2].detach().expand(n, 2))
    zz = model.prior.sample(4000, torch.Generator().manual_seed(1))
    counts = np.bincount(model.prior.responsibilities(zz)[1].argmax(-1).numpy(), minlength=4)
    pi = torch.softmax(model.prior.logits[1], 0).detach().numpy()
    # the sampled cluster frequencies follow π (5σ binomial bounds, clusters overlap a bit)
    assert np.all(np.abs(counts / 4000 - pi) < 5 * np.sqrt(pi * (1 - pi) / 4000) + 0.08)
    assert model.sample(3, torch.Generator().manual_seed(0), [None, torch.tensor([0, 1, 2])]
                        ).shape == (3, 1, 6, 6)


def test_fixed_and_learned_likelihood_scale():
    fixed = small()
    assert "decoder.log_scale" in fixed.state_dict()
    assert all("log_scale" not in n for n, _ in fixed.named_parameters())
    assert float(fixed.log_scale) == pytest.approx(math.log(0.35))
    learned = small(learn_scale=True)
    assert any(n.endswith("log_scale") for n, _ in learned.named_parameters())
    assert small(likelihood="bernoulli").log_scale is None


@pytest.mark.parametrize("kw, match", [
    ({"n_clusters": [3]}, "one entry per facet"),
    ({"dec_rung": [11, 10]}, r"dec_rung\[0\]"),
    ({"n_clusters": [1, 4]}, "at least 2 clusters"),
    ({"likelihood": "sse"}, "likelihood"),
    ({"stage_steps": -1}, "stage_steps"),
])
def test_bad_configurations(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        models.get("mfcvae", **{**SMALL, **kw})


def test_elbo_trains_the_facets_and_their_prior():
    model = small(progressive=False)
    objective = objectives.get("elbo")
    objective.check(model)
    x = torch.rand(32, 1, 6, 6)
    loss, stats = objective(model, Batch(x), None, torch.Generator().manual_seed(0))
    loss.backward()
    for j in range(2):
        assert model.prior.means[j].grad is not None and model.prior.logits[j].grad.abs().sum() > 0
    assert stats["elbo_nats"] == pytest.approx(-stats["loss"])
