"""A minimal NECST bit codec: one linear layer to the code, one back."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.codec import EncoderDecoderCodec, decoder_input

__all__ = ["TinyNecst"]


class TinyNecst(EncoderDecoderCodec):
    """Linear NECST: ``x`` → ``m`` code-bit logits → (channel) → ``x̂`` logits.

    An :class:`~njscc.codec.EncoderDecoderCodec`: parameter groups ``encoder``/``decoder``
    (one Adam each, L2 on the encoder, like NECST); latent: ``m`` bits (the default).

    Args:
        m: code bits.
        data_shape: ``(C, H, W)`` of one image.
        likelihood: ``"sse"`` or ``"bernoulli"`` (see :mod:`njscc.nn.likelihoods`).
    """

    def __init__(self, m: int = 32, data_shape: Sequence[int] = (1, 16, 16),
                 likelihood: str = "sse") -> None:
        super().__init__()
        self.m = int(m)
        self.data_shape = tuple(int(d) for d in data_shape)
        self.likelihood = likelihood
        d = math.prod(self.data_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, self.m))
        self.decoder = nn.Linear(self.m, d)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.reshape(x.shape[0], *self.data_shape))

    def decode(self, y: Tensor) -> Tensor:
        lead = y.shape[:-1]
        return self.decoder(decoder_input(y).reshape(-1, self.m)).reshape(*lead, *self.data_shape)

    @torch.no_grad()
    def compress(self, x: Tensor) -> Tensor:
        return (self.encode(x) > 0).to(torch.uint8)
