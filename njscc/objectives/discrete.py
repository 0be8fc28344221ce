"""The ELBO of hierarchical discrete codecs (RRVQ, VQ-VAE): one relaxed sample per input.

The codec computes its own differentiable terms (``relaxed_terms(x, tau, hard, generator)``:
a Gumbel-softmax sample of each layer's responsibility posterior, or the VQ straight-through
code) because the relaxation is part of its parameterisation; the objective adds them up:

    loss = D + R + aux,   D = −log p(x | z),   R = Σ_l Σ_i KL(q(z_{l,i} | x) ‖ p(z_{l,i} | z_{>l})),

with ``aux`` the VQ-VAE codebook and commitment losses (0 for RRVQ). −(D + R) is the ELBO
(for VQ the posterior is deterministic, so R = −log p(z)). The codes are trained noiselessly
(no channel); how they fare over a binary channel is measured after training.
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

__all__ = ["DiscreteELBO"]


class DiscreteELBO(Objective):
    """D + R (+ VQ losses) of a hierarchical discrete codec (module docstring).

    Args:
        tau: Gumbel-softmax temperature τ > 0 (RRVQ layers).
        hard: straight-through one-hot forward pass (the decoder sees hard codes in training
            as at test time); ``False`` feeds the relaxed sample.

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
        if codec.latent.kind not in ("categorical", "hierarchical") or not hasattr(
                codec, "relaxed_terms"):
            return Support.no(f"it needs a discrete codebook codec with relaxed_terms (rrvq), "
                              f"the model has a {codec.latent.kind} latent")
        return Support.yes()

    def loss(self, codec: LatentCodec, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        t = codec.relaxed_terms(batch.x, tau=self.tau, hard=self.hard,  # type: ignore[attr-defined]
                                generator=generator)
        d, r, aux = t["distortion"].mean(), t["rate"].mean(), t["aux"].mean()
        loss = d + r + aux
        neg_elbo = (d + r).detach()
        pixels = math.prod(codec.data_shape)
        return loss, to_floats(loss=neg_elbo, bound=-neg_elbo, distortion=d.detach(),
                               rate_nats=r.detach(), elbo_nats=-neg_elbo,
                               bits_per_dim=neg_elbo / (pixels * math.log(2)), aux=aux.detach())
