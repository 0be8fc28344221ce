"""SVI / BSVI / IWAE (njscc.objectives.inference) against exact values."""

from __future__ import annotations

import math

import pytest
import torch

from njscc.models import MODELS
from njscc.objectives import OBJECTIVES
from njscc.objectives.inference import (
    amortisation_gap,
    bsvi_bound,
    bsvi_log_weights,
    buffer_log_pi,
    elbo_at,
    svi_chain,
)


@pytest.fixture(scope="module")
def tiny():
    """A 2-d latent Bernoulli VAE on 6 pixels, and 4 binary inputs with exact ln p(x)."""
    torch.manual_seed(0)
    codec = MODELS.get("vae_mlp", m=2, data_shape=(1, 2, 3), enc_hidden=(8,), dec_hidden=(16,))
    with torch.no_grad():  # a sharper decoder: a posterior far from the encoder's guess
        for p in codec.decoder.parameters():
            p.mul_(3)
    x = (torch.rand(4, 1, 2, 3, generator=torch.Generator().manual_seed(3)) > 0.5).float()
    g = torch.linspace(-7, 7, 561)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        lj = (codec.log_prob(x, codec.decode(grid[:, None, :].expand(-1, 4, -1)))
              + codec.log_prior(grid)[:, None])
    log_px = torch.logsumexp(lj, 0) + 2 * math.log(float(g[1] - g[0]))
    return codec, x, log_px


def _repeat(x, r):
    return x.repeat(r, 1, 1, 1)


def test_bsvi_is_a_lower_bound_tighter_than_svi(tiny):
    codec, x, log_px = tiny
    r = 2000
    chain = svi_chain(codec, _repeat(x, r), 10, 0.05, generator=torch.Generator().manual_seed(1))
    bsvi = torch.logsumexp(bsvi_log_weights(chain), 0).reshape(r, 4)
    svi = chain.log_w[-1].reshape(r, 4)
    se = bsvi.std(0) / math.sqrt(r)
    assert (bsvi.mean(0) <= log_px + 4 * se).all(), (bsvi.mean(0), log_px)
    assert (bsvi.mean(0) >= log_px - 0.5).all()  # and a tight one on this model
    d = bsvi - svi  # paired: BSVI ≥ SVI-k's last-sample ELBO in expectation
    assert (d.mean(0) > 4 * d.std(0) / math.sqrt(r)).all(), d.mean(0)


def test_svi_steps_raise_the_elbo_and_leave_the_codec_alone(tiny):
    codec, x, _ = tiny
    before = [p.detach().clone() for p in codec.parameters()]
    chain = svi_chain(codec, x, 30, 0.05, generator=torch.Generator().manual_seed(2))
    assert chain.steps == 30 and chain.z.shape == (31, 4, 2)
    gen = torch.Generator().manual_seed(4)
    e0 = elbo_at(codec, x, chain.mean[0], chain.logvar[0], 4000, gen)
    ek = elbo_at(codec, x, chain.mean[-1], chain.logvar[-1], 4000, gen)
    assert (ek > e0 + 0.1).all(), (e0, ek)
    assert all(torch.equal(a, b) for a, b in zip(before, codec.parameters(), strict=True))
    assert all(p.grad is None for p in codec.parameters())
    gap = amortisation_gap(codec, x, 30, 0.05, n_samples=2000,
                           generator=torch.Generator().manual_seed(2))
    assert (gap["gap"] > 0).all()


def test_buffer_weights_and_special_cases(tiny):
    codec, x, _ = tiny
    assert torch.allclose(buffer_log_pi(4).exp().sum(), torch.tensor(1.0))
    pi = buffer_log_pi(5, 0.6).exp()
    assert torch.allclose(pi, torch.tensor([0.1, 0.1, 0.1, 0.1, 0.6]))
    chain = svi_chain(codec, x, 5, 0.05, generator=torch.Generator().manual_seed(5))
    # all weight on the last draw: BSVI is SVI's last-sample ELBO
    only_last = torch.logsumexp(bsvi_log_weights(chain, last_weight=1.0), 0)
    assert torch.allclose(only_last, chain.log_w[-1], atol=1e-5)
    with pytest.raises(ValueError, match="last_weight"):
        buffer_log_pi(3, 1.5)
    with pytest.raises(ValueError, match="steps"):
        svi_chain(codec, x, -1)
    with pytest.raises(ValueError, match="chains"):
        bsvi_bound(codec, x, chains=0)


def test_bsvi_bound_with_chains_tightens(tiny):
    codec, x, log_px = tiny
    gen = torch.Generator().manual_seed(6)
    one = torch.stack([bsvi_bound(codec, x, 0, chains=1, generator=gen) for _ in range(300)])
    many = torch.stack([bsvi_bound(codec, x, 5, 0.05, chains=20, generator=gen)
                        for _ in range(60)])
    assert (many.mean(0) > one.mean(0)).all()
    assert (many.mean(0) <= log_px + 4 * many.std(0) / math.sqrt(60)).all()


def test_bsvi_mc_gradient_is_unbiased(tiny):
    codec, x, _ = tiny
    chain = svi_chain(codec, x, 4, 0.05, generator=torch.Generator().manual_seed(7))
    dec = list(codec.decoder.parameters())
    exact_obj = OBJECTIVES.get("bsvi", steps=4, step_size=0.05, mc_gradient=False)
    v, _ = exact_obj.decoder_term(codec, x, chain, None)
    exact = torch.autograd.grad(v.sum(), dec)
    mc_obj = OBJECTIVES.get("bsvi", steps=4, step_size=0.05, mc_gradient=True)
    gen = torch.Generator().manual_seed(8)
    n = 3000
    acc = [torch.zeros_like(p) for p in dec]
    sq = [torch.zeros_like(p) for p in dec]
    for _ in range(n):
        v, bound = mc_obj.decoder_term(codec, x, chain, gen)
        g = torch.autograd.grad(v.sum(), dec)
        for a, s, gi in zip(acc, sq, g, strict=True):
            a += gi
            s += gi.square()
    for e, a, s in zip(exact, acc, sq, strict=True):
        mean = a / n
        se = ((s / n - mean.square()).clamp_min(0) / n).sqrt()
        assert ((mean - e).abs() <= 5 * se + 1e-5).all()
    assert torch.allclose(bound, torch.logsumexp(bsvi_log_weights(chain), 0))


def test_encoder_term_reaches_only_the_encoder(tiny):
    from njscc.objectives.inference import _encoder_term

    codec, x, _ = tiny
    codec.zero_grad(set_to_none=True)
    _encoder_term(codec, x, torch.Generator().manual_seed(9)).sum().backward()
    groups = codec.param_groups()
    assert all(p.grad is None or not p.grad.any() for p in groups["decoder"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["encoder"])
    codec.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name,kw", [("iwae", {"n_samples": 5}),
                                     ("svi", {"steps": 3, "step_size": 1e-3}),
                                     ("bsvi", {"steps": 3, "step_size": 1e-3})])
def test_objectives_train_a_vae_on_real_digits(name, kw):
    from njscc.data import load_dataset

    torch.manual_seed(0)
    data = load_dataset("embedded", "train")
    x = (data.images[:512] > 0.5).float()
    codec = MODELS.get("vae_mlp", m=8, enc_hidden=(64,), dec_hidden=(64,))
    obj = OBJECTIVES.get(name, **kw)
    obj.check(codec, ("x",))
    opt = torch.optim.Adam(codec.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    first = last = None
    for step in range(60):
        xb = x[(step * 64) % 512:(step * 64) % 512 + 64]
        loss, stats = obj(codec, xb, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert math.isfinite(stats["bound"]) and stats["loss"] == -stats["bound"]
        if step < 5:
            first = stats["bound"] if first is None else first + stats["bound"]
        if step >= 55:
            last = stats["bound"] if last is None else last + stats["bound"]
    assert last / 5 > first / 5 + 50, (first / 5, last / 5)  # nats per image


def test_objectives_refuse_other_codecs():
    codec = MODELS.get("necst_mlp", m=16)
    for name in ("iwae", "svi", "bsvi"):
        with pytest.raises(ValueError, match="real latent"):
            OBJECTIVES.get(name).check(codec)
