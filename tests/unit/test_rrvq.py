"""Hierarchical discrete codes (RRVQ / VQ-VAE): codes as bits and back (erasures, K not a
power of two), the posterior and the top-down prior by exact enumeration, the ELBO ≤ log p(x)
≤ IWAE ordering, VQ's straight-through gradient, the bitstream round trip."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import channels
import njscc
from njscc import models, objectives
from njscc.codec import ERASED
from njscc.data import Batch
from njscc.evaluation.rate_distortion import iwae_bound
from njscc.models.vq.rrvq import HierarchicalVQ, bits_to_indices, indices_to_bits

TINY = {"data_shape": [1, 4, 4], "embed_dim": 3, "enc_hidden": [8], "hidden": 8}


def tiny(**kw) -> HierarchicalVQ:
    torch.manual_seed(0)
    model = models.get("rrvq", **{**TINY, **kw})
    with torch.no_grad():
        model.top_prior.normal_()
        for p in model.decoder["priors"].parameters():
            p.normal_()
    return model


def x_tiny(n: int = 5) -> torch.Tensor:
    return (torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(3)) > 0.5).float()


def enumerate_codes(model: HierarchicalVQ) -> torch.Tensor:
    """Every code of a small model as one-hot rows ``[N, Σ n_l K_l]``."""
    axes = [range(k) for n, k in zip(model.n_codes, model.codebook_sizes, strict=True)
            for _ in range(n)]
    rows = []
    for combo in itertools.product(*axes):
        it = iter(combo)
        parts = [torch.nn.functional.one_hot(torch.tensor([next(it) for _ in range(n)]), k)
                 .float() for n, k in zip(model.n_codes, model.codebook_sizes, strict=True)]
        rows.append(model._join(parts))
    return torch.stack(rows)


def test_latent_spec_and_bit_layout():
    model = tiny(n_codes=[2, 3], codebook_sizes=[4, 8])
    spec = model.latent
    assert spec.kind == "hierarchical" and spec.channel_bits == 2 * 2 + 3 * 3 == model.m
    assert str(tiny(n_codes=[5]).latent) == "5 × categorical(16)"
    idx = torch.randint(0, 8, (6, 3))
    bits = indices_to_bits(idx, 3)
    assert bits.shape == (6, 9) and bits.dtype == torch.uint8
    assert torch.equal(bits_to_indices(bits, 3), idx)
    assert indices_to_bits(torch.tensor([[5]]), 3).tolist() == [[1, 0, 1]]  # MSB first


def test_compress_decompress_reads_the_same_code():
    model = tiny(n_codes=[2, 3], codebook_sizes=[4, 8])
    x = x_tiny()
    bits = model.compress(x)
    z = model.onehot_from_bits(bits.float())
    expected = model._join([torch.nn.functional.one_hot(i, k).float() for i, k in zip(
        model.indices(x), model.codebook_sizes, strict=True)])
    assert torch.equal(z, expected)
    torch.testing.assert_close(model.decompress(bits.float()),
                               model.reconstruct(model.decode(expected)))


def test_erased_bits_average_the_consistent_codebook_entries():
    model = tiny(n_codes=[1], codebook_sizes=[4])
    y = torch.tensor([[1.0, ERASED], [ERASED, ERASED], [0.0, 1.0]])
    z = model.onehot_from_bits(y)
    assert z.tolist() == [[0, 0, 0.5, 0.5], [0.25] * 4, [0, 1, 0, 0]]


def test_an_index_beyond_the_codebook_is_read_as_the_last_entry():
    model = tiny(n_codes=[1], codebook_sizes=[5])  # 3 bits, indices 5..7 unused
    z = model.onehot_from_bits(torch.tensor([[1.0, 1.0, 0.0], [1.0, ERASED, 1.0]]))
    assert z[0].tolist() == [0, 0, 0, 0, 1]
    assert z[1].tolist() == [0, 0, 0, 0, 1]  # 101 = 5 or 111 = 7: both beyond K → K − 1


@pytest.mark.parametrize("quantizer", ["rr", "vq"])
def test_posterior_is_normalised_and_log_q_reads_it(quantizer):
    model = tiny(n_codes=[2, 3], codebook_sizes=[4, 4], quantizer=quantizer)
    x = x_tiny()
    h = model.encode(x)
    for part in model._split(h):
        torch.testing.assert_close(part.exp().sum(-1), torch.ones(part.shape[:-1]))
    z = model.sample_latent(h, 7, torch.Generator().manual_seed(0))
    assert z.shape == (7, 5, 20) and set(z.unique().tolist()) <= {0.0, 1.0}
    lq = model.log_q(z, h)
    manual = sum((zp * hp).sum((-1, -2)) for zp, hp in zip(model._split(z), model._split(h),
                                                            strict=True))
    torch.testing.assert_close(lq, manual)
    if quantizer == "vq":  # deterministic: the nearest codebook entry, log q = 0
        assert torch.allclose(lq, torch.zeros_like(lq))
        embs = model._embeddings(x)
        for j, emb in enumerate(embs):
            assert torch.equal(model.indices(x)[j], model._sq_dist(emb, j).argmin(-1))


def test_top_down_prior_sums_to_one_over_every_code():
    model = tiny(n_codes=[1, 2], codebook_sizes=[3, 2])
    codes = enumerate_codes(model)  # 3 · 2 · 2 = 12 codes
    assert codes.shape[0] == 12
    total = torch.logsumexp(model.log_prior(codes), 0)
    assert float(total.detach()) == pytest.approx(0.0, abs=1e-5)


def test_elbo_below_exact_log_likelihood_below_iwae_limit():
    model = tiny(n_codes=[2], codebook_sizes=[3], codebook_init=1.0).double()  # broad q
    x = x_tiny(4).double()
    codes = enumerate_codes(model).double()  # 9 codes
    h = model.encode(x)
    zz = codes[:, None].expand(-1, x.shape[0], -1)
    log_joint = model.log_prob(x, model.decode(zz)) + model.log_prior(codes)[:, None]
    log_px = torch.logsumexp(log_joint, 0)  # exact log p(x), [B]
    log_q = (codes[:, None] * h).sum(-1)  # [9, B]
    q = log_q.exp()
    elbo = (q * (log_joint - log_q)).sum(0)
    assert torch.all(elbo <= log_px + 1e-9)
    # KL(q ‖ p) from enumeration equals the codec's one-layer rate (exact categorical KL)
    t = model.elbo_terms(x, generator=torch.Generator().manual_seed(0))
    kl = (q * (log_q - model.log_prior(codes)[:, None])).sum(0)
    torch.testing.assert_close(t["rate"], kl)
    # IWAE with many samples approaches log p(x) from below (enumeration is exact)
    g = torch.Generator().manual_seed(1)
    iw = iwae_bound(model, x, 4000, generator=g)
    assert torch.all(iw <= log_px + 0.05) and torch.all(iw >= elbo - 0.05)
    assert float((log_px - iw).abs().max().detach()) < 0.05


def test_vq_straight_through_reaches_encoder_and_codebook():
    model = tiny(n_codes=[3], codebook_sizes=[4], quantizer="vq")
    objective = objectives.get("hierarchical_elbo")
    loss, stats = objective(model, Batch(x_tiny(8)), None, torch.Generator().manual_seed(0))
    loss.backward()
    assert model.encoder["heads"][0].weight.grad.abs().sum() > 0
    assert model.codebooks[0].grad.abs().sum() > 0
    assert stats["aux"] >= 0 and stats["rate_nats"] > 0
    assert stats["bits_per_dim"] == pytest.approx(-stats["elbo_nats"] / (16 * math.log(2)))


def test_objective_pairing_and_defaults():
    model = tiny(n_codes=[2, 2], codebook_sizes=[4, 4])
    assert objectives.default_for(model) == "hierarchical_elbo"
    with pytest.raises(ValueError, match="computes its ELBO terms"):
        objectives.get("hierarchical_elbo").check(models.get("necst_mlp", m=8))
    with pytest.raises(ValueError, match="does not use a channel"):
        objectives.get("hierarchical_elbo").check(model, channel=channels.get("bsc", 0.1))
    with pytest.raises(ValueError, match="codebook_sizes"):
        models.get("rrvq", n_codes=[2, 2], codebook_sizes=[4, 4, 4])
    with pytest.raises(ValueError, match="quantizer"):
        models.get("rrvq", quantizer="nearest")


def test_bitstream_and_channel_round_trip():
    model = tiny(n_codes=[2, 3], codebook_sizes=[4, 8]).eval()
    x = x_tiny(6)
    data = njscc.encode(model, x)
    out = njscc.decode(model, data)
    torch.testing.assert_close(out, model.decompress(model.compress(x).float()).clamp(0, 1))
    noisy, stats = njscc.transmit(data, channels.get("bec", 0.5),
                                  torch.Generator().manual_seed(0))
    assert njscc.decode(model, noisy).shape == x.shape


def test_ancestral_samples_are_seeded():
    model = tiny(n_codes=[2, 3], codebook_sizes=[4, 4])
    a = model.sample(5, torch.Generator().manual_seed(0))
    b = model.sample(5, torch.Generator().manual_seed(0))
    assert a.shape == (5, 1, 4, 4) and torch.equal(a, b)
    assert torch.all((a >= 0) & (a <= 1))
