"""Metrics: closed forms, shapes, accumulator statistics."""

from __future__ import annotations

import math

import pytest
import torch

from channels.base import ERASED
from njscc.evaluation import metrics


def test_sse_mse_psnr_closed_forms():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.stack([torch.full((1, 2, 2), 0.5), torch.zeros(1, 2, 2)])
    torch.testing.assert_close(metrics.sse(x, x_hat), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(metrics.mse(x, x_hat), torch.tensor([0.25, 0.0]))
    p = metrics.psnr(x, x_hat)
    assert p[0].item() == pytest.approx(10 * math.log10(4))
    assert p[1].item() == pytest.approx(100.0)  # MSE floor 1e-10
    assert metrics.psnr(x, x_hat, peak=255.0)[0].item() == pytest.approx(
        10 * math.log10(255.0**2 / 0.25))


def test_k_leading_dims_broadcast():
    x = torch.rand(3, 1, 4, 4)
    x_hat = torch.rand(5, 3, 1, 4, 4)
    assert metrics.sse(x, x_hat).shape == (5, 3)
    torch.testing.assert_close(metrics.sse(x, x_hat)[2], metrics.sse(x, x_hat[2]))
    assert metrics.bce(x, x_hat).shape == (5, 3)
    with pytest.raises(ValueError, match="x_hat must have shape"):
        metrics.sse(x, torch.rand(3, 1, 4, 5))


def test_bce_matches_definition_and_logits_version():
    x = (torch.rand(4, 1, 3, 3) > 0.5).float()
    logits = torch.randn(4, 1, 3, 3)
    p = torch.sigmoid(logits)
    ref = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    torch.testing.assert_close(metrics.bce(x, p), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(metrics.bce_with_logits(x, logits), ref, rtol=1e-5, atol=1e-5)
    # clamping keeps a confident wrong pixel finite: −log(1e-7) ≈ 16.1 nats
    one = metrics.bce(torch.ones(1, 1), torch.zeros(1, 1))
    assert one.item() == pytest.approx(-math.log(1e-7), rel=1e-3)


def test_psnr_of_mean_mse_is_below_mean_psnr():
    x = torch.rand(50, 1, 8, 8)
    x_hat = (x + torch.rand(50, 1, 1, 1) * 0.3 * torch.randn(50, 1, 8, 8)).clamp(0, 1)
    acc = metrics.MetricAccumulator()
    for i in range(0, 50, 7):  # uneven batches
        acc.update(metrics.reconstruction_metrics(x[i:i + 7], x_hat[i:i + 7]))
    r = acc.result()
    per = metrics.reconstruction_metrics(x, x_hat)
    assert r["n"] == 50
    assert r["sse"] == pytest.approx(per["sse"].double().mean().item(), rel=1e-9)
    assert r["sse_se"] == pytest.approx(per["sse"].double().std().item() / math.sqrt(50),
                                        rel=1e-6)
    assert r["psnr"] == pytest.approx(per["psnr"].double().mean().item(), rel=1e-9)
    assert r["psnr_of_mean_mse"] <= r["psnr"]
    assert r["psnr_of_mean_mse"] == pytest.approx(
        10 * math.log10(1 / per["mse"].double().mean().item()), rel=1e-9)


def test_accumulator_single_value_and_empty():
    acc = metrics.MetricAccumulator()
    assert acc.result() == {}
    acc.update({"sse": torch.tensor([2.0])})
    r = acc.result()
    assert r["sse"] == 2.0 and math.isnan(r["sse_se"]) and r["n"] == 1


def test_bit_error_and_erasure_rates():
    sent = torch.tensor([0, 1, 1, 0, 1, 0], dtype=torch.uint8)
    recv = torch.tensor([0, 0, ERASED, 0, 1, ERASED], dtype=torch.int8)
    assert metrics.bit_error_rate(sent, recv) == pytest.approx(1 / 4)
    assert metrics.erasure_rate(recv) == pytest.approx(2 / 6)
    assert math.isnan(metrics.bit_error_rate(sent, torch.full((6,), ERASED)))
    assert metrics.bit_error_rate(sent.float(), sent.float()) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        metrics.bit_error_rate(sent, recv[:3])
