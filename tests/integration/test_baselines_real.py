"""Separation baseline on real MNIST test images (first 100), BSC ε = 0.1.

The numbers these tests check are the ones recorded in docs/baselines.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import channels
from baselines import (
    IdealCode,
    JPEGCodec,
    SeparationScheme,
    WebPCodec,
    bits_needed,
    pick_rate,
    summarize,
)

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def mnist100(data_dir):
    from njscc.data import read_idx

    x8 = read_idx(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz")[:100]
    return torch.from_numpy(np.array(x8)).float().div(255).unsqueeze(1)


def test_jpeg_header_is_330_bytes_and_payload_decodes_identically(mnist100):
    x8 = (mnist100[:, 0] * 255).round().to(torch.uint8).numpy()
    for q in (1, 10, 50, 90):
        full, hk = JPEGCodec(q), JPEGCodec(q, header_known=True)
        for img in x8:
            file, payload = full.encode(img), hk.encode(img)
            # 28×28 grey JPEG: 328 header bytes (SOI, JFIF, DQT, SOF0, 2×DHT, SOS) + EOI
            assert len(file) - len(payload) == 330
            np.testing.assert_array_equal(full.decode(file, img.shape),
                                          hk.decode(payload, img.shape))


@pytest.mark.parametrize("cls", [JPEGCodec, WebPCodec])
def test_ideal_code_costs_and_distortion(mnist100, cls):
    bsc = channels.get("bsc", 0.1)
    sse_prev = np.inf
    for q in (10, 50, 90):
        res = SeparationScheme(cls(q, header_known=True), IdealCode(bsc), bsc).run(
            mnist100, torch.Generator().manual_seed(0))
        assert not res["failed"].any() and res["bit_errors"].sum() == 0
        for b, cb in zip(res["source_bytes"].tolist(), res["channel_bits"].tolist(),
                         strict=True):
            assert cb == bits_needed(8 * b, bsc.capacity)
        sse = float(res["sse"].mean())
        assert sse < sse_prev  # distortion falls as quality rises
        sse_prev = sse
    assert sse_prev < 0.1  # q = 90: SSE per image well under 0.1 (on [0, 1], 784 pixels)


def test_tiny_budgets_cannot_fit(mnist100):
    """NECST's MNIST setting sends m = 100 bits; no JPEG/WebP stream fits that at ε = 0.1."""
    bsc = channels.get("bsc", 0.1)
    for cls in (JPEGCodec, WebPCodec):
        res = SeparationScheme(cls(header_known=True, signal_quality=True), IdealCode(bsc),
                               bsc).run(mnist100[:20], budget_bits=100)
        assert res["cannot_fit"].all() and res["failed"].all()
        assert torch.all(res["x_hat"] == 0.5)


@pytest.mark.slow
@pytest.mark.sionna
def test_jpeg_ldpc_at_the_picked_rate_is_reliable(mnist100):
    pytest.importorskip("sionna.phy")
    from baselines import LDPC5G

    bsc = channels.get("bsc", 0.1)
    rate = pick_rate(bsc)
    assert rate == 1 / 3
    code = LDPC5G(400, 1200)
    res = SeparationScheme(JPEGCodec(50, header_known=True), code, bsc).run(
        mnist100, torch.Generator().manual_seed(0))
    s = summarize(res)
    assert s["failure_rate"] <= 0.03
    clean = SeparationScheme(JPEGCodec(50, header_known=True), IdealCode(bsc), bsc).run(
        mnist100)
    ok = ~res["failed"] & (res["bit_errors"] == 0)
    assert torch.allclose(res["sse"][ok], clean["sse"][ok])
    assert torch.all(res["channel_bits"] == ((8 * res["source_bytes"] + 399) // 400) * 1200)
