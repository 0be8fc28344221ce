"""REINFORCE (score function) with an exponential-moving-average baseline."""

from __future__ import annotations

import torch
from torch import Tensor

from channels.base import BinaryChannel
from njscc.codec import LatentCodec
from njscc.objectives.base import Objective, check_n_samples, distortion, to_floats

__all__ = ["Reinforce"]


class Reinforce(Objective):
    """REINFORCE on ``E_q log p(x|y)`` with a scalar moving-average baseline ``b``.

    Encoder gradient ``mean_k (log p(x|y_k) − b) ∇ log q(y_k|x)``; decoder gradient
    ``mean_k ∇ log p(x|y_k)``. ``b`` is the EMA (``decay``) of past batch means of log p;
    the value from *before* the current batch is used, so the estimator is unbiased (except
    on the very first training batch, where ``b`` is initialised from that batch's mean).
    ``b`` is a buffer (saved in ``state_dict``) updated only in training mode.

    Args:
        n_samples: K independent samples per input (default 1).
        decay: EMA decay in [0, 1).
    """

    def __init__(self, n_samples: int = 1, decay: float = 0.9) -> None:
        super().__init__()
        self.n_samples = check_n_samples(n_samples)
        if not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.register_buffer("baseline", torch.zeros(()))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def forward(
        self,
        codec: LatentCodec,
        x: Tensor,
        channel: BinaryChannel,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        out = codec(x, channel, n_samples=self.n_samples, generator=generator)
        log_p, log_q = out["log_p"], out["log_q"]  # [K, B]
        lp = log_p.detach()
        if self.training:
            with torch.no_grad():
                batch_mean = lp.mean()
                if not bool(self.initialised):
                    self.baseline.copy_(batch_mean)
                    self.initialised.fill_(True)
                b = self.baseline.clone()
                self.baseline.mul_(self.decay).add_((1 - self.decay) * batch_mean)
        else:
            b = self.baseline
        surrogate = -(log_p + (lp - b) * log_q).mean()
        value = lp.mean()
        return surrogate, to_floats(loss=-value, bound=value,
                                    distortion=distortion(codec, x, out["params"], log_p),
                                    log_p=value, baseline=b)
