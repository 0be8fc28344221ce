"""Separation scheme end to end: exact at ε = 0, failures counted (never raised), budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import channels
from baselines import (
    IdealCode,
    JPEGCodec,
    RepetitionCode,
    SeparationScheme,
    WebPCodec,
    bits_needed,
    summarize,
)
from channels.base import BinaryChannel


def _images(n: int = 6, c: int = 1, h: int = 28, w: int = 28, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = (0.6 * yy + 0.3 * xx)[None, None]
    x = base + 0.15 * torch.rand(n, c, h, w, generator=g)
    return (x.clamp(0, 1) * 255).round() / 255  # exactly representable in uint8


class _FlipAll(BinaryChannel):
    """Test channel: every bit flipped (capacity 1, but the decoder is not told)."""

    name = "flipall"

    def forward(self, bits, generator=None):
        return 1 - bits

    def marginal(self, probs):  # pragma: no cover - unused
        return torch.stack([probs, 1 - probs], -1)

    def llr(self, received):
        return (2 * received.float() - 1) * 10.0

    @property
    def capacity(self):
        return 1.0


@pytest.mark.parametrize("source", [JPEGCodec(50), JPEGCodec(50, header_known=True),
                                     WebPCodec(40, header_known=True)])
@pytest.mark.parametrize("code", [RepetitionCode(3, k=8), IdealCode(0.8)])
def test_noiseless_scheme_equals_direct_coding(source, code, generator):
    x = _images(5, c=1)
    res = SeparationScheme(source, code, "bsc", 0.0).run(x, generator)
    assert not res["failed"].any() and not res["cannot_fit"].any()
    assert res["bit_errors"].sum() == 0 and res["block_errors"].sum() == 0
    for i in range(5):
        img = (x[i, 0] * 255).round().to(torch.uint8).numpy()
        stream = source.encode(img)
        ref = source.decode(stream, img.shape)
        np.testing.assert_array_equal((res["x_hat"][i, 0] * 255).round().numpy(), ref)
        assert res["source_bytes"][i] == len(stream)
        assert res["channel_bits"][i] == code.channel_bits(8 * len(stream))
        assert res["quality"][i] == source.quality
        sse = float(((torch.from_numpy(ref.copy()).double() / 255 - x[i, 0].double()) ** 2).sum())
        assert res["sse"][i].item() == pytest.approx(sse, rel=1e-9)
        assert res["psnr"][i].item() == pytest.approx(10 * math.log10(784 / sse), rel=1e-9)
    if code.ideal:
        assert res["channel_bits"][0] == bits_needed(8 * res["source_bytes"][0].item(), 0.8)


def test_rgb_images_round_trip(generator):
    x = _images(3, c=3, h=16, w=24)
    res = SeparationScheme(JPEGCodec(90, header_known=True), RepetitionCode(1, k=16),
                           channels.get("bsc", 0.0)).run(x, generator)
    assert res["x_hat"].shape == x.shape and not res["failed"].any()
    assert (res["psnr"] > 25).all()


@pytest.mark.parametrize("header_known", [False, True])
def test_corrupted_stream_is_a_failure_and_never_raises(header_known, generator):
    x = _images(4)
    mean = x.mean(0)
    scheme = SeparationScheme(JPEGCodec(50, header_known=header_known),
                              RepetitionCode(1, k=64), _FlipAll(), fallback=mean)
    res = scheme.run(x, generator)
    assert (res["bit_errors"] == 8 * res["source_bytes"]).all()
    if not header_known:  # no SOI marker: every image is undecodable → the fallback
        assert res["failed"].all()
    for i in torch.nonzero(res["failed"]).flatten().tolist():
        assert torch.equal(res["x_hat"][i], mean)
        assert res["sse"][i].item() == pytest.approx(float(((mean - x[i]) ** 2).sum()))
    # a fully-corrupted scan must decode to garbage or fail, never to the original
    assert (res["sse"] > 1.0).all()


def test_heavy_noise_counts_failures_with_grey_fallback(generator):
    x = _images(8)
    res = SeparationScheme(JPEGCodec(50), RepetitionCode(1, k=32), "bsc", 0.05).run(
        x, generator)
    assert res["failed"].all()  # whole files with ~200 flipped bits: headers broken
    assert torch.all(res["x_hat"] == 0.5)
    s = summarize(res)
    assert s["failure_rate"] == 1.0 and s["images"] == 8 and s["bit_errors_total"] > 0


def test_budget_mode(generator):
    x = _images(6)
    code = RepetitionCode(2, k=10)
    src = JPEGCodec(header_known=True, signal_quality=True)
    scheme = SeparationScheme(src, code, "bsc", 0.0)
    for budget in (0, 300, 1200, 4000):
        res = scheme.run(x, generator, budget_bits=budget)
        assert (res["channel_bits"] <= budget).all()
        sent = ~res["cannot_fit"]
        assert torch.equal(res["failed"], res["cannot_fit"])  # noiseless: only misfits fail
        assert (res["quality"][sent] >= 1).all() and (res["quality"][~sent] == -1).all()
        assert (res["source_bytes"][~sent] == 0).all()
        assert (8 * res["source_bytes"][sent] <= scheme.max_source_bits(budget)).all()
    assert res["cannot_fit"].sum() == 0 and (res["quality"] > 50).all()
    with pytest.raises(ValueError, match="signal_quality"):
        SeparationScheme(JPEGCodec(header_known=True), code, "bsc", 0.0).run(
            x, generator, budget_bits=1000)


def test_ideal_budget_uses_the_capacity(generator):
    x = _images(4)
    bsc = channels.get("bsc", 0.1)
    scheme = SeparationScheme(WebPCodec(header_known=True, signal_quality=True),
                              IdealCode(bsc), bsc)
    res = scheme.run(x, generator, budget_bits=2000)
    assert (res["channel_bits"] <= 2000).all()
    for i in range(4):
        assert res["channel_bits"][i] == bits_needed(8 * int(res["source_bytes"][i]),
                                                     bsc.capacity)


def test_validation():
    with pytest.raises(TypeError, match="source"):
        SeparationScheme("jpeg", RepetitionCode(1), "bsc", 0.1)
    with pytest.raises(TypeError, match="code"):
        SeparationScheme(JPEGCodec(), "ldpc", "bsc", 0.1)
    with pytest.raises(ValueError, match="param"):
        SeparationScheme(JPEGCodec(), RepetitionCode(1), "bsc")
    with pytest.raises(ValueError, match="fallback"):
        SeparationScheme(JPEGCodec(), RepetitionCode(1), "bsc", 0.1, fallback=2.0)
    s = SeparationScheme(JPEGCodec(), RepetitionCode(1), ("bsc", 0.1))
    with pytest.raises(ValueError, match="images"):
        s.run(torch.zeros(2, 28, 28))
