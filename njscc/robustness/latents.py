"""How the robustness studies read a codec's latent: features for classifiers, and a
differentiable code / reconstruction for attacks.

Two latent kinds are handled, by declaration (never by model name):

* **bits** (NECST and every bit codec): encoder logits ℓ ``[B, m]``; the code is the most
  probable ŷ = 1[ℓ > 0] (``sample=False``) or a draw ŷ ~ Bernoulli(σ(ℓ)); it may cross a
  binary channel. Gradients reach ℓ by a **straight-through** estimator (forward: the hard
  received symbols; backward: ∂y/∂ŷ · ∂σ(ℓ)/∂ℓ, where ∂y/∂ŷ is +1 for a bit that arrived, −1
  for a flipped one and 0 for an erasure) or by a **relaxed** code (forward and backward: the
  channel's expected decoder input, ½ + ½·E[bipolar(y)], a smooth function of σ(ℓ)).
* **Gaussian** (``codec.variational`` with a ``split`` encoder output: the VAE family): the
  posterior mean μ(x) (``sample=False``) or a reparameterised draw μ + σ·ξ.

Shapes: images ``[B, *data_shape]`` in [0, 1]; codes ``[B, d]``; reconstructions like images.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from channels.base import ERASED, BinaryChannel
from njscc.codec import LatentCodec, Support, decoder_input

__all__ = ["GRADIENTS", "differentiable_code", "latent_features", "latent_support",
           "reconstruction"]

#: estimators of ∂code/∂ℓ for bit latents
GRADIENTS = ("st", "relaxed")


def latent_support(codec: LatentCodec) -> Support:
    """Whether the robustness tools can read ``codec``'s latent (bits, or a Gaussian
    posterior with ``split``), and why not."""
    if codec.latent.kind == "bits":
        return Support.yes()
    if getattr(codec, "variational", False) and hasattr(codec, "split"):
        return Support.yes()
    return Support.no(f"{type(codec).__name__} has a {codec.latent.kind} latent that is "
                      "neither bits nor a Gaussian posterior")


def _check(codec: LatentCodec) -> bool:
    ok = latent_support(codec)
    if not ok:
        raise ValueError(ok.reason)
    return codec.latent.kind == "bits"


def _bits(logits: Tensor, sample: bool, generator: torch.Generator | None) -> Tensor:
    if not sample:
        return (logits > 0).to(logits.dtype)
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
    return (u < torch.sigmoid(logits)).to(logits.dtype)


def differentiable_code(codec: LatentCodec, x: Tensor, *, sample: bool = False,
                        channel: BinaryChannel | None = None, gradient: str = "st",
                        generator: torch.Generator | None = None) -> Tensor:
    """What the decoder is fed for ``x`` ``[B, *D]``, differentiable in ``x``: ``[B, d]``.

    Bits: received symbols (``st``: hard values {0, 1, ERASED}; ``relaxed``: expected decoder
    input in [0, 1]) after ``channel`` (``None``: noiseless). Gaussian: μ(x) or a draw.
    ``channel`` must be ``None`` for a Gaussian latent.
    """
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient: expected one of {', '.join(GRADIENTS)}, got {gradient!r}")
    if not _check(codec):
        if channel is not None:
            raise ValueError("a Gaussian latent does not cross a binary channel")
        mean, logvar = codec.split(codec.encode(x))  # type: ignore[attr-defined]
        if not sample:
            return mean
        xi = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + xi * torch.exp(0.5 * logvar)
    logits = codec.encode(x)
    if channel is not None and channel.soft_output:
        raise ValueError(f"channel {channel.name!r} has soft outputs; the attacks take "
                         "discrete channels (bsc, bec, z, ge)")
    p = torch.sigmoid(logits)
    if gradient == "relaxed":
        if channel is None:
            return p
        pm = channel.marginal(p)  # [B, m, S]
        bip = torch.tensor([0.0 if a == ERASED else 2.0 * a - 1.0 for a in channel.alphabet],
                           dtype=p.dtype, device=p.device)
        return 0.5 + 0.5 * (pm * bip).sum(-1)
    hard = _bits(logits, sample, generator)
    y = hard if channel is None else channel(hard, generator=generator).to(p.dtype)
    sign = torch.where(y == ERASED, 0.0, torch.where(y == hard, 1.0, -1.0))
    return y + sign * (p - p.detach())


def reconstruction(codec: LatentCodec, x: Tensor, **kwargs: Any) -> Tensor:
    """x̂ = reconstruct(decode(code)) ``[B, *D]`` in [0, 1], differentiable in ``x``
    (``kwargs``: those of :func:`differentiable_code`)."""
    return codec.reconstruct(codec.decode(differentiable_code(codec, x, **kwargs)))


@torch.no_grad()
def latent_features(codec: LatentCodec, images: Tensor, *, sample: bool = False,
                    values: str = "01", channel: BinaryChannel | None = None,
                    generator: torch.Generator | None = None,
                    batch_size: int = 4096) -> Tensor:
    """Classifier features of ``images`` ``[N, *D]``: ``[N, d]`` float, on the CPU.

    Bits: the code (most probable or sampled), through ``channel`` if given, as ``values``
    ``"01"`` ({0, 1}, erasures ½) or ``"pm1"`` ({−1, +1}, erasures 0). Gaussian: μ(x) or a
    draw (``values`` and ``channel`` do not apply).
    """
    if values not in ("01", "pm1"):
        raise ValueError(f"values: expected '01' or 'pm1', got {values!r}")
    if images.dim() < 2 or images.shape[0] == 0:
        raise ValueError(f"images: expected a non-empty batch [N, ...], got {list(images.shape)}")
    bits = _check(codec)
    if not bits and channel is not None:
        raise ValueError("a Gaussian latent does not cross a binary channel")
    device = next(codec.parameters()).device
    was = codec.training
    codec.eval()
    out = []
    try:
        for i in range(0, images.shape[0], batch_size):
            xb = images[i:i + batch_size].to(device)
            if not bits:
                out.append(differentiable_code(codec, xb, sample=sample, generator=generator))
                continue
            y = _bits(codec.encode(xb), sample, generator)
            if channel is not None:
                y = channel(y, generator=generator).to(y.dtype)
            out.append(decoder_input(y) if values == "pm1" else torch.where(y == ERASED, 0.5, y))
    finally:
        codec.train(was)
    return torch.cat(out).to("cpu", torch.float32)
