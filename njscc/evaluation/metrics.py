"""Per-image distortion metrics and a streaming accumulator for evaluations.

Conventions: images ``x`` are ``[B, *D]`` in [0, 1]; reconstructions ``x_hat`` are
``[..., B, *D]`` (extra leading dims, e.g. K samples, broadcast against ``x``). Every
per-image metric returns ``[..., B]`` and sums (or averages) over the ``D`` dims.

* :func:`sse` — Σ (x − x̂)², the NECST paper's distortion ("reconstruction error").
* :func:`psnr` — per-image ``10·log10(peak² / MSE_i)`` in dB; MSE is clamped at ``1e-10``
  (so a perfect reconstruction reads 100 dB). The *mean of per-image PSNR* is what
  :class:`MetricAccumulator` reports as ``"psnr"``; :func:`psnr_from_mse` gives the PSNR of the
  mean MSE (``"psnr_of_mean_mse"``), which is never larger (Jensen).
* :func:`bce` / :func:`bce_with_logits` — per-image binary cross-entropy in nats
  (−log p(x | x̂) of a Bernoulli decoder); probabilities clamped to ``[1e-7, 1 − 1e-7]``.
* :func:`bit_error_rate`, :func:`erasure_rate` — over the non-erased / all positions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from channels.base import ERASED

__all__ = [
    "MetricAccumulator", "bce", "bce_with_logits", "bit_error_rate", "erasure_rate", "mse",
    "psnr", "psnr_from_mse", "reconstruction_metrics", "sse",
]

#: MSE floor used by :func:`psnr` (caps it at 100 dB for peak 1)
MIN_MSE = 1e-10


def _data_dims(x: Tensor, x_hat: Tensor) -> int:
    if x.dim() < 2:
        raise ValueError(f"x must be [B, *D] with at least 2 dims, got shape {list(x.shape)}")
    nd = x.dim() - 1
    if x_hat.dim() < x.dim() or x_hat.shape[-x.dim():] != x.shape:
        raise ValueError(f"x_hat must have shape [..., {', '.join(map(str, x.shape))}], "
                         f"got {list(x_hat.shape)}")
    return nd


def sse(x: Tensor, x_hat: Tensor) -> Tensor:
    """Per-image sum of squared errors ``[..., B]``."""
    nd = _data_dims(x, x_hat)
    return (x_hat - x).square().flatten(-nd).sum(-1)


def mse(x: Tensor, x_hat: Tensor) -> Tensor:
    """Per-image mean squared error ``[..., B]``."""
    return sse(x, x_hat) / x[0].numel()


def psnr_from_mse(mse_value: Tensor | float, peak: float = 1.0) -> Tensor:
    """``10·log10(peak² / mse)`` in dB (mse clamped at ``1e-10``); tensor or float in."""
    m = torch.as_tensor(mse_value, dtype=torch.float64 if isinstance(mse_value, float)
                        else None)
    return 10.0 * torch.log10(peak**2 / m.clamp_min(MIN_MSE))


def psnr(x: Tensor, x_hat: Tensor, peak: float = 1.0) -> Tensor:
    """Per-image PSNR in dB ``[..., B]`` (images in [0, peak])."""
    return psnr_from_mse(mse(x, x_hat), peak)


def bce(x: Tensor, x_hat: Tensor, eps: float = 1e-7) -> Tensor:
    """Per-image BCE in nats ``[..., B]``; ``x_hat`` are probabilities (clamped)."""
    nd = _data_dims(x, x_hat)
    p = x_hat.clamp(eps, 1 - eps)
    return F.binary_cross_entropy(p, x.expand_as(p), reduction="none").flatten(-nd).sum(-1)


def bce_with_logits(x: Tensor, logits: Tensor) -> Tensor:
    """Per-image BCE in nats ``[..., B]`` from pixel logits (exact, no clamping)."""
    nd = _data_dims(x, logits)
    return F.binary_cross_entropy_with_logits(
        logits, x.expand_as(logits), reduction="none").flatten(-nd).sum(-1)


def bit_error_rate(sent: Tensor, received: Tensor) -> float:
    """Fraction of *non-erased* positions where ``received != sent`` (nan if all erased)."""
    if sent.shape != received.shape:
        raise ValueError(f"sent and received must have the same shape, got {list(sent.shape)} "
                         f"and {list(received.shape)}")
    r = received.to(torch.int16)
    kept = r != ERASED
    n = int(kept.sum())
    if n == 0:
        return math.nan
    return int(((r != sent.to(torch.int16)) & kept).sum()) / n


def erasure_rate(received: Tensor) -> float:
    """Fraction of ``ERASED`` symbols."""
    if received.numel() == 0:
        return math.nan
    return int((received.to(torch.int16) == ERASED).sum()) / received.numel()


def reconstruction_metrics(x: Tensor, x_hat: Tensor, with_bce: bool = False) -> dict[str, Tensor]:
    """Per-image ``{"sse", "mse", "psnr"[, "bce"]}``, each ``[..., B]``."""
    s = sse(x, x_hat)
    m = s / x[0].numel()
    out = {"sse": s, "mse": m, "psnr": psnr_from_mse(m)}
    if with_bce:
        out["bce"] = bce(x, x_hat)
    return out


class MetricAccumulator:
    """Streaming mean and standard error of per-image metrics over many batches.

        acc = MetricAccumulator()
        for x in batches:
            acc.update(reconstruction_metrics(x, model.decompress(...)))
        acc.result()  # {"sse": ..., "sse_se": ..., "psnr": ..., "psnr_of_mean_mse": ..., "n": ...}

    Sums are kept in float64. ``*_se`` is the standard error of the mean over images
    (sample std / √n; nan for n < 2). If ``"mse"`` was accumulated, ``psnr_of_mean_mse`` is
    added (PSNR of the mean MSE, see :func:`psnr_from_mse`).
    """

    def __init__(self) -> None:
        self._n: dict[str, int] = {}
        self._sum: dict[str, float] = {}
        self._sumsq: dict[str, float] = {}

    def update(self, values: dict[str, Tensor]) -> None:
        """Add per-image values (any shape; every element counts as one image)."""
        for k, v in values.items():
            v = v.detach().to(torch.float64).reshape(-1)
            self._n[k] = self._n.get(k, 0) + v.numel()
            self._sum[k] = self._sum.get(k, 0.0) + float(v.sum())
            self._sumsq[k] = self._sumsq.get(k, 0.0) + float(v.square().sum())

    def result(self) -> dict[str, float]:
        """``{name: mean, name + "_se": standard error, ..., "n": images}`` as floats."""
        out: dict[str, float] = {}
        for k, n in self._n.items():
            mean = self._sum[k] / n
            if n > 1:
                var = max(self._sumsq[k] / n - mean * mean, 0.0) * n / (n - 1)
                se = math.sqrt(var / n)
            else:
                se = math.nan
            out[k] = mean
            out[k + "_se"] = se
        if "mse" in self._n:
            out["psnr_of_mean_mse"] = float(psnr_from_mse(out["mse"]))
        if self._n:
            out["n"] = max(self._n.values())
        return out
