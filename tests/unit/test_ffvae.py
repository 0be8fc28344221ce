"""FFVAE and its pieces: the DSpritesUnfair-like generator (exact attribute distribution,
determinism, rendering), the density-ratio TC estimator against the Gaussian closed form,
block permutations, the FFVAE codec and objectives, subgroup helpers, joint codes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from njscc import models, objectives
from njscc.data import Batch, load_dataset
from njscc.data.datasets import joint_code
from njscc.data.dsprites import (
    ATTRIBUTES,
    attribute_distribution,
    make_dsprites_unfair,
    render_sprite,
)
from njscc.evaluation.fairness import (
    conjunction,
    fresh_total_correlation,
    most_correlated_dims,
    pareto_front,
)
from njscc.objectives.disentangle import permute_blocks

# ------------------------------------------------------------------ the generator


def _agreement(patterns, prob, a, b):
    i, j = ATTRIBUTES.index(a), ATTRIBUTES.index(b)
    return float(prob[patterns[:, i] == patterns[:, j]].sum())


def test_attribute_distribution_is_exact():
    patterns, prob = attribute_distribution()
    assert patterns.shape == (32, 5) and prob.sum() == pytest.approx(1.0, abs=1e-12)
    assert _agreement(patterns, prob, "shape", "x_pos") == pytest.approx(0.9, abs=1e-12)
    assert _agreement(patterns, prob, "scale", "y_pos") == pytest.approx(0.8, abs=1e-12)
    # the two pairs and rotation stay mutually independent: p(shape, scale) factorises
    marg = {a: float(prob[patterns[:, k] == 1].sum()) for k, a in enumerate(ATTRIBUTES)}
    both = float(prob[(patterns[:, 0] == 1) & (patterns[:, 1] == 1)].sum())
    assert both == pytest.approx(marg["shape"] * marg["scale"], abs=1e-12)
    assert marg["rotation"] == pytest.approx(0.5, abs=1e-12)
    # anti-correlation is a tilt below 1
    p2, q2 = attribute_distribution([("rotation", "y_pos", 0.1)])
    assert _agreement(p2, q2, "rotation", "y_pos") == pytest.approx(0.1, abs=1e-12)


def test_sampled_attributes_agree_within_confidence_bounds():
    d = make_dsprites_unfair("train", 4000, seed=3)
    a = d["attributes"]
    n = len(a)
    for (i, j), c in (((0, 3), 0.9), ((1, 4), 0.8), ((0, 1), None)):
        agree = float((a[:, i] == a[:, j]).double().mean())
        if c is None:   # independent shape–scale: P(equal) = 2/3 · 1/2 + 1/3 · 1/2 = 1/2
            c = 0.5
        assert abs(agree - c) < 4 * math.sqrt(c * (1 - c) / n)
    # the factors give back the bits
    f = d["factors"]
    bits = torch.stack([(f[:, 0] > 0), f[:, 1] >= 3, f[:, 2] % 10 >= 5, f[:, 3] >= 16,
                        f[:, 4] >= 16], 1).long()
    assert torch.equal(bits, a)


def test_generator_is_seeded_per_split():
    a = make_dsprites_unfair("test", 200, seed=1)
    b = make_dsprites_unfair("test", 200, seed=1)
    c = make_dsprites_unfair("train", 200, seed=1)
    assert torch.equal(a["images"], b["images"]) and torch.equal(a["factors"], b["factors"])
    assert not torch.equal(a["factors"], c["factors"])
    assert a["images"].shape == (200, 1, 32, 32)
    assert set(a["images"].unique().tolist()) <= {0.0, 1.0}


def test_render_places_the_centroid_and_grows_with_scale():
    size = 64
    for shape in range(3):
        img = render_sprite(shape, 5, 7, 0, 31, size)
        ys, xs = np.nonzero(img)
        # x index 0 → 0.2 · size, y index 31 → 0.8 · size (pixel centres at +0.5)
        assert xs.mean() + 0.5 == pytest.approx(0.2 * size, abs=1.0)
        assert ys.mean() + 0.5 == pytest.approx(0.8 * size, abs=1.0)
        areas = [render_sprite(shape, s, 0, 16, 16, size).sum() for s in range(6)]
        assert all(a < b for a, b in zip(areas, areas[1:], strict=False))
    # a square is the same after a quarter turn (orientation 10 of 40); a heart is not
    sq0, sq90 = render_sprite(0, 5, 3, 16, 16, size), render_sprite(0, 5, 13, 16, 16, size)
    assert np.abs(sq0.astype(int) - sq90).sum() <= 4
    h0, h90 = render_sprite(2, 5, 3, 16, 16, size), render_sprite(2, 5, 13, 16, 16, size)
    assert np.abs(h0.astype(int) - h90).sum() > 40


def test_generator_refuses_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        make_dsprites_unfair("dev", 10)
    with pytest.raises(ValueError, match="two pairs"):
        attribute_distribution([("shape", "x_pos", 0.9), ("shape", "y_pos", 0.8)])
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        attribute_distribution([("shape", "x_pos", 1.0)])
    with pytest.raises(ValueError, match="unknown attribute"):
        attribute_distribution([("colour", "x_pos", 0.5)])
    with pytest.raises(ValueError, match="at least 8"):
        make_dsprites_unfair("train", 10, size=4)


def test_dataset_registration_exposes_attributes_and_joint_codes():
    ds = load_dataset("dsprites_unfair", "test", n=300, seed=2, target="y_pos")
    assert torch.equal(ds.labels, ds.extra["y_pos"])
    assert ds.extra["attributes"].shape == (300, 5)
    view = ds.with_sensitive(["shape", "scale"])
    assert torch.equal(view.sensitive, ds.extra["shape"] + 2 * ds.extra["scale"])
    with pytest.raises(ValueError, match="no attribute"):
        ds.with_sensitive(["colour"])


def test_joint_code_is_mixed_radix_and_checks_ranges():
    a, b = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 0, 1, 1])
    assert joint_code([a, b], [3, 2]).tolist() == [0, 1, 5, 3]
    with pytest.raises(ValueError, match="outside"):
        joint_code([a, b], [2, 2])


# ------------------------------------------------------------------ TC estimation


def test_permute_blocks_keeps_each_block_marginal_and_breaks_dependence():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 5, generator=g)
    z[:, 1] = z[:, 0]                    # dims 0, 1 equal; the block keeps them together
    blocks = [[0, 1], [2], [3, 4]]
    p = permute_blocks(z, blocks, torch.Generator().manual_seed(1))
    assert torch.equal(p, permute_blocks(z, blocks, torch.Generator().manual_seed(1)))
    assert torch.equal(p[:, 0], p[:, 1])
    for cols in blocks:   # each block's rows: a permutation of the original rows
        assert torch.equal(torch.sort(p[:, cols[0]]).values, torch.sort(z[:, cols[0]]).values)
    z2 = z.clone()
    z2[:, 2] = z2[:, 0]
    p2 = permute_blocks(z2, blocks, g)
    assert abs(float(torch.corrcoef(p2[:, [0, 2]].T)[0, 1])) < 4 / math.sqrt(4000)


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_density_ratio_tc_matches_the_gaussian_closed_form(rho):
    """Bivariate Gaussian with correlation ρ: TC = I(z_1; z_2) = −½ log(1 − ρ²); a
    discriminator fitted on one sample, read on another."""
    g = torch.Generator().manual_seed(0)

    def draw(n):
        a = torch.randn(n, 2, generator=g)
        return torch.stack([a[:, 0], rho * a[:, 0] + math.sqrt(1 - rho ** 2) * a[:, 1]], 1)

    est = fresh_total_correlation(draw(30000), draw(20000), [[0], [1]], epochs=10,
                                  hidden=(64, 64))
    assert est == pytest.approx(-0.5 * math.log(1 - rho ** 2), abs=0.05)
    # a 3-d latent whose first two columns are one block: only the third is independent
    z = torch.cat([draw(4000), torch.randn(4000, 1, generator=g)], 1)
    assert abs(fresh_total_correlation(z[:3000], z[3000:], [[0, 1], [2]], epochs=5)) < 0.06
    with pytest.raises(ValueError, match="partition"):
        fresh_total_correlation(z, z, [[0], [2]])


# ------------------------------------------------------------------ codec and objectives


def _dsprites_batches(n=2000, bs=100, seed=0):
    ds = load_dataset("dsprites_unfair", "train", n=n, seed=seed, size=32)
    b = ds.batch()
    return [Batch(b.x[i:i + bs], b.labels[i:i + bs],
                  extra={k: v[i:i + bs] for k, v in b.extra.items()})
            for i in range(0, n, bs)]


def test_ffvae_codec_heads_and_fair_representation():
    codec = models.get("ffvae", m=6, n_sensitive=2, data_shape=[1, 32, 32])
    z = torch.randn(3, 4, 6)
    assert codec.attribute_logits(z).shape == (3, 4, 2)
    r = codec.fair_representation(z, drop=[1])
    assert r.shape == (3, 4, 5) and torch.equal(r[..., 0], z[..., 0])
    assert torch.equal(r[..., 1:], z[..., 2:])
    with pytest.raises(ValueError, match="drop"):
        codec.fair_representation(z, drop=[2])
    with pytest.raises(ValueError, match="n_sensitive"):
        models.get("ffvae", m=3, n_sensitive=3, data_shape=[4])
    tab = models.get("ffvae", m=4, n_sensitive=1, data_shape=[12], activation="softplus")
    assert tab(torch.rand(5, 12).round())["z"].shape[-2:] == (5, 4)


def test_ffvae_objective_checks_the_codec_and_attributes():
    obj = objectives.get("ffvae", attributes=["shape", "scale"])
    assert not obj.supports(models.get("vae_mlp", m=4, data_shape=[1, 32, 32]))
    assert not obj.supports(models.get("ffvae", m=5, n_sensitive=3, data_shape=[1, 32, 32]))
    codec = models.get("ffvae", m=5, n_sensitive=2, data_shape=[1, 32, 32])
    assert obj.supports(codec)
    with pytest.raises(RuntimeError, match="prepare"):
        obj(codec, _dsprites_batches(200)[0], None)
    obj.prepare(codec)
    b = _dsprites_batches(200)[0]
    bad = Batch(b.x, b.labels, extra={**b.extra, "scale": b.extra["scale"] + 1})
    with pytest.raises(ValueError, match="0/1"):
        obj(codec, bad, None)
    with pytest.raises(ValueError, match="repeat"):
        objectives.get("ffvae", attributes=["shape", "shape"])


@pytest.mark.parametrize("name", ["ffvae", "factorvae"])
def test_training_on_dsprites_lowers_the_loss_and_learns_the_attributes(name):
    torch.manual_seed(0)
    if name == "ffvae":
        codec = models.get("ffvae", m=8, n_sensitive=3, data_shape=[1, 32, 32],
                           enc_hidden=[128], dec_hidden=[128])
        obj = objectives.get("ffvae", alpha=50.0, gamma=10.0)
    else:
        codec = models.get("vae_mlp", m=8, data_shape=[1, 32, 32], enc_hidden=[128],
                           dec_hidden=[128])
        obj = objectives.get("factorvae", gamma=10.0)
    obj.prepare(codec)
    opt = torch.optim.Adam([*codec.parameters(), *obj.parameters()], lr=1e-3)
    batches = _dsprites_batches()
    history = []
    for epoch in range(3):
        for i, batch in enumerate(batches):
            loss, stats = obj(codec, batch, None, torch.Generator().manual_seed(100 * epoch + i))
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(stats)
    first = np.mean([s["distortion"] for s in history[:5]])
    last = np.mean([s["distortion"] for s in history[-5:]])
    assert last < 0.6 * first
    assert all(0.0 <= s["disc_acc"] <= 1.0 and math.isfinite(s["tc"]) for s in history)
    if name == "ffvae":  # b_shape and b_scale read their attribute well above chance
        assert np.mean([s["acc_shape"] for s in history[-5:]]) > 0.75
        assert np.mean([s["acc_scale"] for s in history[-5:]]) > 0.75


# ------------------------------------------------------------------ subgroup helpers


def test_conjunction_and_its_checks():
    a, b = torch.tensor([0, 1, 1, 0]), torch.tensor([1, 1, 0, 0])
    assert conjunction([a, b]).tolist() == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="0/1"):
        conjunction([a, b + 1])
    with pytest.raises(ValueError, match="at least one"):
        conjunction([])


def test_pareto_front_keeps_the_non_dominated_points():
    pts = [(0.1, 0.8), (0.05, 0.7), (0.2, 0.9), (0.1, 0.75), (0.3, 0.85), (0.05, 0.7)]
    # (0.1, 0.75) is dominated by (0.1, 0.8); (0.3, 0.85) by (0.2, 0.9); duplicates both stay
    assert pareto_front(pts) == [1, 5, 0, 2]


def test_most_correlated_dims_choose_without_repeats():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 2, (2000,), generator=g)
    b = torch.randint(0, 2, (2000,), generator=g)
    z = torch.randn(2000, 4, generator=g)
    z[:, 2] += 3 * a
    z[:, 0] += 2 * a + 1.5 * b
    assert most_correlated_dims(z, [a, b]) == [2, 0]
    assert most_correlated_dims(z, [a, a]) == [2, 0]
