"""Exact maximum likelihood for density codecs (flows): ``−mean log p(x)`` plus the codec's
own regulariser.

A density codec provides ``log_likelihood(x)`` (``[B]``, nats, exact) and optionally
``penalty()`` (0-dim, e.g. the flow-ICA model's Stiefel term); no latent is sampled and no
channel is used.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.objectives.base import Objective, to_floats

__all__ = ["NLL"]


class NLL(Objective):
    """Negative log-likelihood of a density codec (module docstring).

    Stats: ``loss`` (the NLL, nats per input), ``bound`` (the log-likelihood), ``distortion``
    (= the NLL), ``bits_per_dim``, ``penalty``.
    """

    uses_channel = False
    #: the default for real-latent codecs it supports (those with an exact log_likelihood)
    default_for = ("real",)

    def supports(self, codec: LatentCodec) -> Support:
        if not hasattr(codec, "log_likelihood"):
            return Support.no("it needs a density codec with an exact log_likelihood (flow_ica)")
        return Support.yes()

    def loss(self, codec: LatentCodec, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        nll = -codec.log_likelihood(batch.x).mean()  # type: ignore[attr-defined]
        pen = codec.penalty() if hasattr(codec, "penalty") else nll * 0
        d = math.prod(codec.data_shape)
        return nll + pen, to_floats(loss=nll.detach(), bound=-nll.detach(),
                                    distortion=nll.detach(), penalty=pen.detach(),
                                    bits_per_dim=nll.detach() / (d * math.log(2)))
