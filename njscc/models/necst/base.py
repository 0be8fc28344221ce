"""Shared pieces of the NECST codecs: m Bernoulli code bits, K-sample decoding."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.codec import LatentCodec, decoder_input, encoder_decoder_groups
from njscc.nn.likelihoods import LIKELIHOODS
from njscc.validation import (
    LIMITS,
    check_choice,
    check_data_shape,
    check_number,
    check_positive_int,
)

__all__ = ["NecstCodec"]


class NecstCodec(LatentCodec):
    """Base of the NECST codecs: ``m`` Bernoulli bits, a decoder fed ``decoder_input(y)``.

    Subclasses build ``self.encoder`` (``[B, *data_shape]`` → logits ``[B, m]``) and
    ``self.decoder`` (bipolar features ``[N, m]`` → pixel logits ``[N, *data_shape]``).
    Likelihoods: :mod:`njscc.nn.likelihoods` (``"sse"``, the paper's; ``"bernoulli"``;
    ``"gaussian"`` with a learned scale ``exp(decoder.log_scale)``).
    Parameter groups (one Adam each, as in the reference): ``encoder`` and ``decoder``.
    """

    def __init__(self, m: int, data_shape: Sequence[int], likelihood: str) -> None:
        super().__init__()
        self.m = check_positive_int(m, "m", max=LIMITS["code_bits"])
        self.data_shape = check_data_shape(data_shape)
        self.likelihood = check_choice(likelihood, "likelihood", LIKELIHOODS)
        self.data_dim = math.prod(self.data_shape)

    def _add_scale(self, init_scale: float) -> None:
        """Give the decoder a learned log-scale (gaussian likelihood only)."""
        if self.likelihood == "gaussian":
            s = check_number(init_scale, "init_scale", min=0, min_open=True)
            self.decoder.log_scale = nn.Parameter(torch.tensor(math.log(s)))

    @property
    def log_scale(self) -> Tensor | None:
        return self.decoder.log_scale if self.likelihood == "gaussian" else None

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return encoder_decoder_groups(self)

    def _check_x(self, x: Tensor) -> None:
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.data_dim:
            raise ValueError(f"x must have shape [B, {', '.join(map(str, self.data_shape))}], "
                             f"got {list(x.shape)}")

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
        h = decoder_input(y)
        lead = h.shape[:-1]
        out = self.decoder(h.reshape(-1, self.m))
        return out.reshape(*lead, *self.data_shape)
