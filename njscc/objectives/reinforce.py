"""REINFORCE (score function) with an exponential-moving-average baseline."""

from __future__ import annotations

import torch
from torch import Tensor

from njscc.codec import LatentCodec
from njscc.objectives.base import ScoreFunctionObjective, check_n_samples
from njscc.validation import check_number

__all__ = ["Reinforce"]


class Reinforce(ScoreFunctionObjective):
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
        self.decay = check_number(decay, "decay", min=0, max=1, max_open=True)
        self.register_buffer("baseline", torch.zeros(()))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def surrogate(self, codec: LatentCodec, x: Tensor, out: dict[str, Tensor]
                  ) -> tuple[Tensor, Tensor, dict[str, Tensor | float]]:
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
        return surrogate, value, {"log_p": value, "baseline": b}
