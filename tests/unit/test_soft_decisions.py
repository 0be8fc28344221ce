"""Bit codecs over a soft-output channel (BPSK-AWGN, ``awgn_soft``): soft bits, sampling,
training."""

from __future__ import annotations

import math

import pytest
import torch

import channels
from njscc import models
from njscc.codec import decoder_input, received_view, sample_channel
from njscc.evaluation.distortion import evaluate_codec


def test_soft_bits_are_the_exact_posterior() -> None:
    ch = channels.get("awgn_soft", 1.0)
    y = torch.linspace(-3, 3, 61, dtype=torch.float64)
    s2 = ch.noise_var
    # bit 0 → +1, bit 1 → −1; P(b=1|y) by Bayes with a uniform prior
    l1 = torch.exp(-(y + 1) ** 2 / (2 * s2))
    l0 = torch.exp(-(y - 1) ** 2 / (2 * s2))
    torch.testing.assert_close(ch.soft_bits(y), l1 / (l0 + l1))
    # the bipolar decoder feature is E[2b − 1 | y] = tanh(llr / 2)
    torch.testing.assert_close(decoder_input(ch.soft_bits(y), "bipolar"),
                               torch.tanh(ch.llr(y) / 2))
    # discrete channels are fed their symbols unchanged
    bits = torch.tensor([0.0, 1.0, 1.0])
    assert torch.equal(received_view(channels.get("bsc", 0.1), bits), bits)
    assert torch.equal(received_view(None, bits), bits)


def test_sample_channel_soft_scores_the_sent_bits() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 32, requires_grad=True)
    # at 40 dB the soft bits are the sent bits to within 1e-6: recover them, check log_q
    y, log_q = sample_channel(logits, channels.get("awgn_soft", 40.0), 3,
                              torch.Generator().manual_seed(1))
    assert y.shape == (3, 4, 32) and log_q.shape == (3, 4)
    sent = y.round()
    assert float((y - sent).abs().max()) < 1e-6
    expect = torch.distributions.Bernoulli(logits=logits).log_prob(sent).sum(-1)
    torch.testing.assert_close(log_q, expect)
    log_q.sum().backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    # at low SNR the soft bits are strictly inside (0, 1) and reproducible under a seed
    a, _ = sample_channel(logits.detach(), channels.get("awgn_soft", 0.0), 2,
                          torch.Generator().manual_seed(7))
    b, _ = sample_channel(logits.detach(), channels.get("awgn_soft", 0.0), 2,
                          torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and bool(((a > 0) & (a < 1)).all())


def test_soft_bits_carry_more_than_hard_decisions() -> None:
    """The soft bit is a sufficient statistic: its mean log-loss on the sent bit is below the
    hard decision's (the BSC's log-loss H(ε)), and ≈ 1 − C_BI-AWGN bits (closed form)."""
    esno_db = 0.0
    soft, hard = channels.get("awgn_soft", esno_db), channels.get("awgn", esno_db)
    bits = torch.randint(0, 2, (200_000,), generator=torch.Generator().manual_seed(3)).double()
    p = soft.soft_bits(soft(bits, generator=torch.Generator().manual_seed(4)))
    nll = -(bits * p.log() + (1 - bits) * (1 - p).log()).mean() / math.log(2)
    eps = hard.error_probability
    h_eps = -(eps * math.log2(eps) + (1 - eps) * math.log2(1 - eps))
    # H(b | y) = 1 − C for uniform bits; the Monte-Carlo σ is ≈ 0.002 bits at this size
    assert float(nll) == pytest.approx(1 - channels.biawgn_capacity(esno_db), abs=0.01)
    assert float(nll) < h_eps - 0.05


def test_evaluate_codec_over_soft_channel() -> None:
    torch.manual_seed(0)
    model = models.get("necst_mlp", m=12, enc_hidden=[16], dec_hidden=[16]).eval()
    x = torch.rand(20, 1, 28, 28)
    clean = evaluate_codec(model, x, None)
    # far above the noise the soft bits are the bits: the noiseless distortion
    high = evaluate_codec(model, x, channels.get("awgn_soft", 40.0),
                          generator=torch.Generator().manual_seed(0))
    assert high["sse"] == pytest.approx(clean["sse"], rel=1e-4)
    low = evaluate_codec(model, x, channels.get("awgn_soft", -10.0), n_draws=2,
                         generator=torch.Generator().manual_seed(0))
    assert math.isfinite(low["sse"]) and low["sse"] != pytest.approx(clean["sse"], rel=1e-4)


def test_training_over_soft_channel_lowers_the_loss(tmp_path) -> None:
    """Real digits (the embedded MNIST subset), VIMCO through soft BPSK-AWGN at 0 dB: the
    training loss falls and the trained decoder is better fed soft bits than hard ones."""
    from njscc.data import load_dataset
    from njscc.training.runs import fit_codec

    train = load_dataset("embedded", "train").images[:3000].clone()
    test = load_dataset("embedded", "test").images[:500].clone()
    ch = channels.get("awgn_soft", 0.0)
    r = fit_codec("necst_mlp", {"m": 32, "enc_hidden": [128], "dec_hidden": [128]}, "vimco",
                  {}, train, tmp_path / "run", epochs=8, batch_size=50, lr=1e-3, seed=0,
                  channel=ch)
    losses = [h["loss"] for h in r["history"]]
    assert losses[-1] < 0.8 * losses[0], losses
    model = r["model"].eval()
    # the same received reals decoded twice: as soft bits, and as hard decisions 1[y < 0]
    sse_soft, sse_hard = [], []
    with torch.no_grad():
        bits = model.compress(test).float()
        for d in range(4):
            y = ch(bits, generator=torch.Generator().manual_seed(d))
            for view, out in ((ch.soft_bits(y), sse_soft), ((y < 0).float(), sse_hard)):
                x_hat = model.decompress(view)
                out.append((x_hat - test).square().flatten(1).sum(1))
    diff = torch.stack(sse_hard).mean(0) - torch.stack(sse_soft).mean(0)  # per image
    se = float(diff.std() / math.sqrt(diff.numel()))
    assert float(diff.mean()) > 3 * se, (float(diff.mean()), se, losses)
