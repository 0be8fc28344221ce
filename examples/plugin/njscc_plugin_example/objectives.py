"""The straight-through estimator for Bernoulli codes sent over a binary channel."""

from __future__ import annotations

import torch
from torch import Tensor

from njscc.data import Batch
from njscc.objectives.base import BitObjective, distortion, to_floats

__all__ = ["StraightThrough"]


class StraightThrough(BitObjective):
    """Hard Bernoulli codes forward, the gradient of their probabilities backward.

    Codes ``b ~ Bernoulli(σ(ℓ))`` are sent through the channel; the decoder sees the received
    symbols and is trained on ``−mean log p(x | y)``; the encoder gets the gradient through
    ``b + σ(ℓ) − sg(σ(ℓ))`` (biased, cheap; Bengio et al. 2013). The channel noise is applied
    as ``y = y0 + b·(y1 − y0)`` from two coupled draws, so erasures stay erasures.

    Args:
        n_samples: K codes per input.
    """

    def __init__(self, n_samples: int = 1) -> None:
        super().__init__()
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: expected a positive integer, got {n_samples!r}")
        self.n_samples = n_samples

    def loss(self, codec, batch: Batch, channel, generator):  # noqa: ANN001, ANN201
        from njscc.objectives.gumbel import coupled_channel

        x = batch.x
        probs = torch.sigmoid(codec.encode(x))  # [B, m]
        shape = (self.n_samples, *probs.shape)
        u = torch.rand(shape, generator=generator, dtype=probs.dtype, device=probs.device)
        hard = (u < probs).to(probs.dtype)
        bits = hard + probs - probs.detach()
        y0, y1 = coupled_channel(channel, shape, probs.dtype, probs.device, generator)
        params = codec.decode(y0 + bits * (y1 - y0))
        log_p = codec.log_prob(x, params)  # [K, B]
        loss: Tensor = -log_p.mean()
        value = -loss.detach()
        return loss, to_floats(loss=-value, bound=value,
                               distortion=distortion(codec, x, params, log_p))
