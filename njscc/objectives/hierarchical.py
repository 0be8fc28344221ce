"""The ELBO of hierarchical codecs that compute their own per-layer terms: the discrete
RRVQ / VQ-VAE hierarchy and the Gaussian U-Net HVAE.

Their posterior of a layer depends on the samples of the layers above (top-down inference) or
on a relaxation that belongs to the parameterisation, so the codec does the sampling:
``codec.elbo_terms(x, tau=…, hard=…, generator=…)`` returns per-input tensors
``distortion`` (−log p(x | z)), ``rate`` (Σ over layers of KL(q(z_l | x, z_{>l}) ‖
p(z_l | z_{>l})), exact given the samples above) and ``aux`` (extra training losses, e.g.
VQ-VAE's codebook and commitment terms; 0 otherwise). The objective adds them up:

    loss = D + R + aux,   −(D + R) = the ELBO (one sample).

``tau`` and ``hard`` are the Gumbel-softmax settings of discrete layers; Gaussian layers
ignore them. The codes are trained noiselessly (no channel); how they fare over a binary
channel is measured after training.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.objectives.base import Objective, to_floats
from njscc.validation import check_bool, check_number

__all__ = ["HierarchicalELBO"]


class HierarchicalELBO(Objective):
    """D + R (+ aux) of a codec with ``elbo_terms`` (module docstring).

    Args:
        tau: Gumbel-softmax temperature τ > 0 (discrete layers).
        hard: straight-through one-hot forward pass for discrete layers (the decoder sees
            hard codes in training as at test time); ``False`` feeds the relaxed sample.

    Stats: ``loss`` (−ELBO), ``bound``, ``distortion`` (D, nats), ``rate_nats``,
    ``elbo_nats``, ``bits_per_dim`` (−ELBO / (D·ln 2), D = pixels), ``aux``.
    """

    uses_channel = False
    default_for = ("categorical", "hierarchical")

    def __init__(self, tau: float = 1.0, hard: bool = True) -> None:
        super().__init__()
        self.tau = check_number(tau, "tau", min=0, min_open=True)
        self.hard = check_bool(hard, "hard")

    def supports(self, codec: LatentCodec) -> Support:
        if not hasattr(codec, "elbo_terms"):
            return Support.no(f"it needs a hierarchical codec that computes its ELBO terms "
                              f"(rrvq, unet_hvae), the model has a {codec.latent.kind} latent")
        return Support.yes()

    def loss(self, codec: LatentCodec, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        t = codec.elbo_terms(batch.x, tau=self.tau, hard=self.hard,  # type: ignore[attr-defined]
                             generator=generator)
        d, r, aux = t["distortion"].mean(), t["rate"].mean(), t["aux"].mean()
        loss = d + r + aux
        neg_elbo = (d + r).detach()
        pixels = math.prod(codec.data_shape)
        return loss, to_floats(loss=neg_elbo, bound=-neg_elbo, distortion=d.detach(),
                               rate_nats=r.detach(), elbo_nats=-neg_elbo,
                               bits_per_dim=neg_elbo / (pixels * math.log(2)), aux=aux.detach())
