"""Shared pieces of the NECST codecs: m Bernoulli code bits, K-sample decoding."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor

from njscc.codec import EncoderDecoderCodec, decoder_input
from njscc.nn.likelihoods import PIXEL_LIKELIHOODS
from njscc.validation import (
    LIMITS,
    check_choice,
    check_data_shape,
    check_positive_int,
)

__all__ = ["NecstCodec"]


class NecstCodec(EncoderDecoderCodec):
    """Base of the NECST codecs: ``m`` Bernoulli bits, a decoder fed ``decoder_input(y)``.

    Subclasses build ``self.encoder`` (``[B, *data_shape]`` → logits ``[B, m]``) and
    ``self.decoder`` (bipolar features ``[N, m]`` → pixel logits ``[N, *data_shape]``).
    Likelihoods: :mod:`njscc.nn.likelihoods` (``"sse"``, the paper's; ``"bernoulli"``;
    ``"gaussian"`` with a learned scale ``exp(decoder.log_scale)``).
    Parameter groups (one Adam each, as in the reference): ``encoder`` and ``decoder``.
    """

    #: how the decoder sees received symbols (:data:`njscc.codec.DECODER_INPUTS`)
    decoder_input_mode: str = "bipolar"

    def __init__(self, m: int, data_shape: Sequence[int], likelihood: str) -> None:
        super().__init__()
        self.m = check_positive_int(m, "m", max=LIMITS["code_bits"])
        self.data_shape = check_data_shape(data_shape)
        self.likelihood = check_choice(likelihood, "likelihood", PIXEL_LIKELIHOODS)
        self.data_dim = math.prod(self.data_shape)

    def encode(self, x: Tensor) -> Tensor:
        """``x`` ``[B, *data_shape]`` in [0, 1] → logits ``[B, m]`` of q(ŷ = 1 | x)."""
        self._check_x(x)
        return self.encoder(x)

    def decode(self, y: Tensor) -> Tensor:
        """Received symbols ``[..., m]`` ({0, 1, ERASED}) → pixel logits ``[..., *data_shape]``.

        Any number of leading dims (e.g. ``[K, B, m]``); they are flattened into one batch so
        all K samples go through the decoder in one pass.
        """
        if y.shape[-1] != self.m:
            raise ValueError(f"y must have last dim m={self.m}, got shape {list(y.shape)}")
        h = decoder_input(y, self.decoder_input_mode)
        lead = h.shape[:-1]
        out = self.decoder(h.reshape(-1, self.m))
        return out.reshape(*lead, *self.data_shape)
