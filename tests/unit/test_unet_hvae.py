"""The Haar transform against PyWavelets, average pooling as the Haar projection, and the
U-Net HVAE: shapes, closed-form KL vs Monte Carlo, ELBO = IWAE(1) in expectation, weight
sharing halves the parameters, the skip path reaches the decoder only through z."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import torch
from torch.nn import functional as F

from njscc import models, objectives
from njscc.data import Batch
from njscc.evaluation.rate_distortion import iwae_bound
from njscc.nn.haar import haar_dwt2, haar_idwt2, haar_projection


def test_haar_matches_pywavelets_and_inverts():
    x = torch.randn(3, 2, 8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ca, (ch, cv, cd) = haar_dwt2(x)
    ref_a, (ref_h, ref_v, ref_d) = pywt.dwt2(x.numpy(), "haar", axes=(-2, -1))
    for ours, ref in ((ca, ref_a), (ch, ref_h), (cv, ref_v), (cd, ref_d)):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)
    torch.testing.assert_close(haar_idwt2(ca, (ch, cv, cd)), x)
    # orthonormal: energy is kept
    energy = sum(t.square().sum() for t in (ca, ch, cv, cd))
    torch.testing.assert_close(energy, x.square().sum())
    with pytest.raises(ValueError, match="even"):
        haar_dwt2(torch.zeros(1, 5, 4))


def test_average_pooling_is_the_haar_approximation_band():
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ca, details = haar_dwt2(x)
    torch.testing.assert_close(F.avg_pool2d(x, 2), ca / 2)
    p = haar_projection(x)
    # the projection: pooling + nearest upsampling = inverse DWT of the approximation alone,
    # idempotent, self-adjoint, and what it removes is exactly the detail bands
    torch.testing.assert_close(p, haar_idwt2(ca))
    ref = pywt.idwt2((pywt.dwt2(x.numpy(), "haar", axes=(-2, -1))[0], (None, None, None)),
                     "haar", axes=(-2, -1))
    np.testing.assert_allclose(p.numpy(), ref, atol=1e-12)
    torch.testing.assert_close(haar_projection(p), p)
    y = torch.randn_like(x)
    torch.testing.assert_close((haar_projection(y) * x).sum(), (y * p).sum())
    torch.testing.assert_close(x - p, haar_idwt2(torch.zeros_like(ca), details))


def small(**kw):
    torch.manual_seed(0)
    return models.get("unet_hvae", channels=8, z_channels=2, **kw)


def x_bin(n=6):
    return (torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(2)) > 0.5).float()


def test_shapes_latent_and_parameter_sharing():
    model = small()
    assert model.latent.kind == "hierarchical" and model.latent.size == 2 * (16 + 64 + 256)
    assert model.latent.channel_bits is None  # real latents are not sent over a channel
    x = x_bin()
    t = model.elbo_terms(x, generator=torch.Generator().manual_seed(0))
    assert t["distortion"].shape == (6,) and t["rate_layers"].shape == (6, 3)
    assert torch.all(t["rate_layers"] >= 0)
    z = model.compress(x)
    assert z.shape == (6, model.m) and model.decompress(z).shape == (6, 1, 28, 28)
    assert model.sample(3, torch.Generator().manual_seed(0)).shape == (3, 1, 28, 28)
    shared = small(share_weights=True)
    blocks = sum(p.numel() for n, p in model.named_parameters() if "stages" in n)
    blocks_shared = sum(p.numel() for n, p in shared.named_parameters() if "stages" in n)
    assert blocks_shared * 2 == blocks  # steps = 2: one block instead of two per stage
    assert shared.n_parameters() < model.n_parameters()


def test_closed_form_kl_matches_monte_carlo_and_elbo_matches_iwae1():
    torch.manual_seed(0)
    model = models.get("unet_hvae", channels=4, z_channels=1, steps=1,
                       latent_res=[4, 8]).double()
    x = x_bin(2).double()
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        t = model.elbo_terms(x.repeat(200, 1, 1, 1), generator=g)
        neg = -(t["distortion"] + t["rate"]).reshape(200, 2)
        lw = model.log_weights(x, 400, g)
    # E[log w] over the posterior is the ELBO; the closed-form-KL estimate has the same mean
    elbo = neg.mean(0)
    se = lw.std(0) / np.sqrt(400) + neg.std(0) / np.sqrt(200)
    assert torch.all((lw.mean(0) - elbo).abs() < 5 * se + 1e-6)
    iw = iwae_bound(model, x, 50, generator=g)
    assert torch.all(iw >= elbo - 5 * se)  # IWAE-50 above the ELBO (within noise)


def test_skip_connections_reach_the_decoder_only_through_z():
    model = small()
    x = x_bin(2)
    z = model.compress(x)
    # the decoder given z does not depend on x: decode(z) is a function of z alone
    torch.testing.assert_close(model.decode(z), model.decode(z.clone()))
    x2 = 1 - x
    assert not torch.allclose(model.compress(x2), z)


def test_trains_with_hierarchical_elbo():
    torch.manual_seed(0)
    model = models.get("unet_hvae", channels=4, z_channels=1, steps=1)
    objective = objectives.get("hierarchical_elbo")
    objective.check(model)
    assert objectives.default_for(model) == "hierarchical_elbo"
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    x = x_bin(16)
    losses = []
    for i in range(15):
        loss, stats = objective(model, Batch(x), None, torch.Generator().manual_seed(i))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(stats["loss"])
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize("kw, match", [({"latent_res": [3]}, "latent_res"),
                                       ({"data_shape": [1, 27, 27]}, "data_shape"),
                                       ({"steps": 0}, "steps")])
def test_bad_configurations(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        models.get("unet_hvae", **kw)

