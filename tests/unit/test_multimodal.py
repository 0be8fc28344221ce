"""Joint image–attribute VAE: product of experts, TELBO / JMVAE / bi-VCCA objectives."""

from __future__ import annotations

import math

import pytest
import torch

from njscc.data import Batch, load_dataset
from njscc.data.mnist_a import make_mnist_a
from njscc.models import MODELS
from njscc.models.multimodal import product_of_experts
from njscc.objectives import OBJECTIVES
from njscc.objectives.multimodal import gaussian_kl
from njscc.priors import diag_gaussian_log_prob


def test_product_of_experts_is_the_normalised_product():
    g = torch.Generator().manual_seed(0)
    means, logvars = torch.randn(3, 2, 4, generator=g), torch.randn(3, 2, 4, generator=g)
    mean, logvar = product_of_experts(means, logvars)
    z = torch.randn(50, 3, 4, generator=g)
    prod = (diag_gaussian_log_prob(z.unsqueeze(2), means, logvars).sum(-1)
            + diag_gaussian_log_prob(z, torch.zeros(4), torch.zeros(4)))
    diff = prod - diag_gaussian_log_prob(z, mean, logvar)  # a constant in z per input
    assert torch.allclose(diff, diff[:1].expand_as(diff), atol=1e-4)


def test_product_of_experts_ignores_missing_attributes():
    g = torch.Generator().manual_seed(1)
    means, logvars = torch.randn(2, 3, 5, generator=g), torch.randn(2, 3, 5, generator=g)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    mean, logvar = product_of_experts(means, logvars, mask)
    m0, l0 = product_of_experts(means[:1, [0, 2]], logvars[:1, [0, 2]])
    assert torch.allclose(mean[0], m0[0], atol=1e-6) and torch.allclose(logvar[0], l0[0])
    assert torch.equal(mean[1], torch.zeros(5)) and torch.equal(logvar[1], torch.zeros(5))
    with pytest.raises(ValueError, match="mask"):
        product_of_experts(means, logvars, mask[:, :2])


def test_gaussian_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(2)
    hq, hp = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    mq, lq = hq.chunk(2, -1)
    z = mq + torch.randn(200_000, 4, 3, generator=g) * torch.exp(0.5 * lq)
    mc = (diag_gaussian_log_prob(z, mq, lq) - diag_gaussian_log_prob(z, *hp.chunk(2, -1)))
    se = mc.std(0) / math.sqrt(z.shape[0])
    assert ((mc.mean(0) - gaussian_kl(hq, hp)).abs() < 5 * se + 1e-3).all()


@pytest.fixture(scope="module")
def mnist_a():
    d = load_dataset("embedded", "train")
    a = make_mnist_a(d.images[:800], d.labels[:800], "train", canvas=32, seed=0)
    return Batch(a["images"], a["attributes"][:, 0].clone(),
                 extra={"attributes": a["attributes"]})


def _model():
    torch.manual_seed(0)
    return MODELS.get("joint_vae", data_shape=(1, 32, 32), enc_hidden=(128,),
                      dec_hidden=(128,), attr_hidden=(32,))


def test_telbo_unimodal_terms_leave_the_decoders_alone(mnist_a):
    b = mnist_a[:32]
    grads = {}
    for stop in (True, False):
        for ay in (1.0, 100.0):
            m = _model()
            obj = OBJECTIVES.get("telbo", alpha_y=1.0, alpha_y_unimodal=ay,
                                 stop_unimodal_decoder=stop)
            loss, _ = obj(m, b, generator=torch.Generator().manual_seed(3))
            loss.backward()
            grads[stop, ay] = torch.cat([p.grad.flatten()
                                         for p in m.attribute_decoder.parameters()])
            assert all(p.grad is not None for p in m.experts.parameters())
    assert torch.allclose(grads[True, 1.0], grads[True, 100.0])
    assert not torch.allclose(grads[False, 1.0], grads[False, 100.0])


@pytest.mark.parametrize("name", ["telbo", "jmvae", "bivcca"])
def test_objectives_train_on_mnist_a(mnist_a, name):
    m = _model()
    obj = OBJECTIVES.get(name, alpha_y=50.0, attribute_dropout=0.1)
    obj.check(m, mnist_a.fields)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    hist = []
    for step in range(200):
        i = (step * 64) % (len(mnist_a) - 64)
        loss, stats = obj(m, mnist_a[i:i + 64], generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(stats["bound"])
    assert sum(hist[-5:]) / 5 > sum(hist[:5]) / 5 + 20, hist[::10]
    # q(z|y) of the trained model predicts the attributes it was given better than chance
    with torch.no_grad():
        y = mnist_a.extra["attributes"][:200]
        z = m.split(m.encode_attributes(y))[0]
        acc = [float((lg.argmax(-1) == y[:, j]).double().mean())
               for j, lg in enumerate(m.decode_attributes(z))]
    gain = [a - 1 / k for a, k in zip(acc, (10, 2, 3, 4), strict=True)]
    assert sum(gain) / 4 > 0.1, acc


def test_multimodal_objectives_check_their_inputs(mnist_a):
    with pytest.raises(ValueError, match="attributes"):
        OBJECTIVES.get("telbo").check(_model(), {"x", "labels"})
    with pytest.raises(ValueError, match="joint_vae"):
        OBJECTIVES.get("jmvae").check(MODELS.get("vae_mlp"))
    m = _model()
    bad = mnist_a.extra["attributes"][:4].clone()
    bad[0, 1] = 2  # scale has two values
    with pytest.raises(ValueError, match="out of range"):
        m.encode_attributes(bad)
