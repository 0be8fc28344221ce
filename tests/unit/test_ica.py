"""Identifiability pieces: MCC and its CCA form, clustering accuracy, the synthetic
non-linear ICA generator, the iVAE codec (conditional prior, closed-form KL) and conditional
codecs through the ELBO."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from njscc import models, objectives
from njscc.data import Batch, load_dataset
from njscc.data.ica import _mix, make_nonlinear_ica, mixing_mlp
from njscc.evaluation.clustering import cluster_accuracy
from njscc.evaluation.identifiability import (
    cca_mcc,
    correlation_matrix,
    mean_corr_coef,
    pairwise_mcc,
)

# ------------------------------------------------------------------ MCC


def test_mcc_is_one_for_permuted_rescaled_sign_flipped_copy():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((2000, 6))
    perm = rng.permutation(6)
    z = s[:, perm] * rng.uniform(0.1, 10, 6) * np.sign(rng.standard_normal(6)) + 3.0
    out = mean_corr_coef(s, z)
    assert out["mcc"] == pytest.approx(1.0, abs=1e-12)
    assert sorted(out["pairs"]) == sorted((int(perm[j]), j) for j in range(6))


def test_spearman_mcc_is_one_for_monotone_transforms_pearson_is_not():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((3000, 4))
    z = np.exp(2 * s[:, ::-1])  # permuted, strictly increasing per dimension
    assert mean_corr_coef(s, z, "spearman")["mcc"] == pytest.approx(1.0, abs=1e-12)
    assert mean_corr_coef(s, z)["mcc"] < 0.8


def test_mcc_of_independent_noise_is_near_zero():
    # |ρ| of independent columns ~ half-normal with σ = 1/√N: mean ≈ 0.8/√N = 0.011 here;
    # the best of 5! matchings stays well below 0.05
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5000, 5)), rng.standard_normal((5000, 5))
    assert mean_corr_coef(a, b)["mcc"] < 0.05


def test_mcc_rotation_is_not_identified_but_cca_is():
    rng = np.random.default_rng(3)
    s = rng.laplace(size=(4000, 3))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    z = s @ q
    assert mean_corr_coef(s, z)["mcc"] < 0.95
    assert cca_mcc(s, z) == pytest.approx(1.0, abs=1e-6)


def test_correlation_matrix_matches_numpy_and_handles_constants():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((500, 3)), rng.standard_normal((500, 2))
    ref = np.corrcoef(a.T, b.T)[:3, 3:]
    assert np.allclose(correlation_matrix(a, b), ref, atol=1e-12)
    a[:, 1] = 5.0
    c = correlation_matrix(a, b)
    assert np.all(c[1] == 0)


def test_mcc_rejects_bad_input():
    with pytest.raises(ValueError, match="same number"):
        mean_corr_coef(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        mean_corr_coef(np.full((10, 2), np.nan), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="method"):
        mean_corr_coef(np.ones((10, 2)), np.ones((10, 2)), "kendall")
    with pytest.raises(ValueError, match="two"):
        pairwise_mcc([np.zeros((10, 2))])


def test_pairwise_mcc_counts_pairs():
    rng = np.random.default_rng(5)
    s = rng.standard_normal((1000, 3))
    out = pairwise_mcc([s, s[:, [2, 0, 1]], -2 * s])
    assert out["pairs"] == [(0, 1), (0, 2), (1, 2)]
    assert out["mean"] == pytest.approx(1.0) and out["std"] == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------ clustering accuracy


def test_cluster_accuracy_hungarian_and_majority():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert cluster_accuracy(y, np.array([2, 2, 0, 0, 1, 1]))["accuracy"] == 1.0
    out = cluster_accuracy(y, np.array([1, 1, 1, 0, 2, 2]))
    assert out["accuracy"] == pytest.approx(5 / 6) and out["matching"] == "hungarian"
    # one-to-one: clusters 0 and 1 cannot both map to class 0 (majority would give 3/4)
    assert cluster_accuracy(np.array([0, 0, 0, 1]), np.array([0, 1, 1, 1]))[
        "accuracy"] == pytest.approx(1 / 2)
    # more clusters than classes: majority (many-to-one)
    out = cluster_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3]))
    assert out["accuracy"] == 1.0 and out["matching"] == "majority"
    with pytest.raises(ValueError, match="integer"):
        cluster_accuracy(np.array([0.5]), np.array([0]))


# ------------------------------------------------------------------ generator


def test_generator_is_deterministic_and_splits_differ():
    a = make_nonlinear_ica("train", 500, seed=3)
    b = make_nonlinear_ica("train", 500, seed=3)
    c = make_nonlinear_ica("test", 500, seed=3)
    d = make_nonlinear_ica("train", 500, seed=4)
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["sources"], b["sources"])
    assert not torch.equal(a["x"], c["x"])
    assert torch.equal(a["means"], c["means"])           # same distribution across splits
    assert not torch.equal(a["means"], d["means"])


def test_sources_are_segment_conditional_gaussians():
    d = make_nonlinear_ica("train", 40_000, n_sources=3, n_segments=4, seed=0)
    s, u = d["sources"].double(), d["segments"]
    for k in range(4):
        sk = s[u == k]
        n = sk.shape[0]
        # mean within 4 standard errors, std within 4 s.e. of the sample std (≈ σ/√(2n))
        assert torch.all((sk.mean(0) - d["means"][k]).abs() < 4 * d["stds"][k] / n ** 0.5)
        assert torch.all((sk.std(0) - d["stds"][k]).abs() < 4 * d["stds"][k] / (2 * n) ** 0.5)
        # independent given u
        c = torch.corrcoef(sk.T)
        assert torch.all((c - torch.eye(3, dtype=c.dtype)).abs() < 4 / n ** 0.5 + 1e-9)
    counts = torch.bincount(u, minlength=4).double()
    assert torch.all((counts / 40_000 - 0.25).abs() < 4 * (0.25 * 0.75 / 40_000) ** 0.5)


def test_mixing_is_injective_and_standardised():
    d = make_nonlinear_ica("train", 20_000, n_sources=3, n_obs=6, seed=1)
    x = d["x"].double()
    assert x.shape == (20_000, 6)
    assert torch.all(x.mean(0).abs() < 0.05) and torch.all((x.std(0) - 1).abs() < 0.05)
    mats = mixing_mlp(3, 6, 3, seed=1)
    assert mats[0].shape == (6, 3) and np.linalg.matrix_rank(mats[0]) == 3
    assert all(np.linalg.cond(a) < 1e3 for a in mats)
    # invert layer by layer: the square layers exactly, leaky ReLU by its inverse, the first
    # (6 x 3, full column rank) by least squares — s comes back: f is injective
    s = d["sources"].numpy().astype(np.float64)[:500]
    h = _mix(s, mats, 0.2)
    for i in range(len(mats) - 1, 0, -1):
        h = np.linalg.solve(mats[i], h.T).T
        h = np.where(h > 0, h, h / 0.2)
    back = np.linalg.lstsq(mats[0], h.T, rcond=None)[0].T
    assert np.allclose(back, s, atol=1e-8)


def test_generator_rejects_bad_settings():
    with pytest.raises(ValueError, match="n_obs"):
        make_nonlinear_ica("train", 10, n_sources=4, n_obs=2)
    with pytest.raises(ValueError, match="split"):
        make_nonlinear_ica("dev", 10)
    with pytest.raises(ValueError, match="ReLU"):
        make_nonlinear_ica("train", 10, slope=0.0)


def test_dataset_entry_carries_segments_and_sources():
    ds = load_dataset("nonlinear_ica", "valid", n=300, n_sources=4, n_segments=7)
    b = ds.batch()
    assert b.x.shape == (300, 4) and torch.equal(b.labels, b.sensitive)
    assert int(b.labels.max()) < 7 and ds.meta["sources"].shape == (300, 4)
    assert torch.equal(b.get("segment"), b.labels)
    with pytest.raises(ValueError, match="no field"):
        b.get("digits")


# ------------------------------------------------------------------ iVAE


def _ivae(**kw):
    torch.manual_seed(0)
    return models.get("ivae", m=3, data_shape=[4], n_aux=5, enc_hidden=[16],
                      dec_hidden=[16], **kw)


def test_ivae_closed_form_kl_matches_monte_carlo():
    model = _ivae()
    with torch.no_grad():
        model.prior_mean.normal_()
        model.prior_logvar.uniform_(-1, 1)
    x = torch.randn(6, 4)
    u = torch.tensor([0, 1, 2, 3, 4, 0])
    h = model.encode(x, labels=u)
    z = model.sample_latent(h, 200_000, torch.Generator().manual_seed(0))
    exact = model.rate(h, labels=u)
    mc = model.rate(h, z, analytic=False, labels=u)
    assert torch.allclose(exact, mc, atol=0.03)
    assert torch.all(exact >= 0)


def test_ivae_prior_depends_on_u_and_needs_it():
    model = _ivae()
    with torch.no_grad():
        model.prior_mean[1] += 3.0
    z = torch.zeros(1, 2, 3)
    lp = model.log_prior(z, labels=torch.tensor([0, 1]))
    assert lp.shape == (1, 2) and lp[0, 0] > lp[0, 1]
    with pytest.raises(ValueError, match="labels"):
        model.encode(torch.randn(2, 4))
    with pytest.raises(ValueError, match="0…4"):
        model.encode(torch.randn(2, 4), labels=torch.tensor([0, 5]))
    assert model.config["name"] == "ivae"


def test_ivae_elbo_training_lowers_the_loss_and_other_objectives_refuse_it():
    ds = load_dataset("nonlinear_ica", "train", n=2000, n_sources=3, n_obs=4, n_segments=5)
    model = _ivae()
    obj = objectives.get("elbo")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = ds.batch()
    gen = torch.Generator().manual_seed(0)
    first = float(obj(model, batch, None, gen)[1]["loss"])
    for _ in range(150):
        idx = torch.randint(0, 2000, (128,), generator=gen)
        loss, _ = obj(model, batch[idx], None, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(obj(model, batch, None, gen)[1]["loss"]) < 0.8 * first
    assert not objectives.get("iwae").supports(model)


def test_conditional_fair_vae_trains_with_the_elbo_too():
    model = models.get("fair_vae", m=2, data_shape=[6], n_groups=2)
    x = torch.bernoulli(torch.full((8, 6), 0.5), generator=torch.Generator().manual_seed(0))
    b = Batch(x, sensitive=torch.tensor([0, 1] * 4))
    loss, stats = objectives.get("elbo")(model, b, None, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and stats["rate_nats"] >= 0
