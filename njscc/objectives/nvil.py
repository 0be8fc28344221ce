"""NVIL (Mnih & Gregor, 2014): REINFORCE with a learned input-dependent baseline."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from njscc.codec import LatentCodec
from njscc.objectives.base import ScoreFunctionObjective, check_n_samples
from njscc.validation import LIMITS, check_number, check_positive_int

__all__ = ["NVIL"]


class NVIL(ScoreFunctionObjective):
    """Neural variational inference and learning for the bound ``E_q log p(x|y)``.

    Learning signal ``l = log p(x|y)``; centred ``a = (l − c − b_ψ(x)) / max(1, √v)`` with
    ``b_ψ`` a small MLP on the (flattened) input (``hidden`` tanh units) and ``c``, ``v``
    running mean and variance of ``l − b_ψ(x)`` (decay ``alpha``). Encoder gradient
    ``mean a ∇ log q(y|x)``, decoder gradient ``mean ∇ log p(x|y)``. ``b_ψ`` is trained by
    the squared error ``(l − c − b_ψ(x))²``, which is *added to the returned loss* (it only
    reaches ψ): put ``objective.parameters()`` in an optimiser (after :meth:`prepare`).

    ``c`` and ``v`` from before the current batch are used (so the estimator is unbiased up to
    the positive scale ``1/max(1, √v)``); they are initialised from the first training batch
    and updated only in training mode. They are buffers, saved in ``state_dict``.

    Args:
        n_samples: K independent samples per input (default 1).
        hidden: width of the baseline MLP's hidden layer (Mnih & Gregor: 100).
        alpha: decay of the running mean/variance (Mnih & Gregor: 0.8).
        variance_norm: divide the centred signal by ``max(1, √v)``.
    """

    def __init__(self, n_samples: int = 1, hidden: int = 100, alpha: float = 0.8,
                 variance_norm: bool = True) -> None:
        super().__init__()
        self.n_samples = check_n_samples(n_samples)
        self.hidden = check_positive_int(hidden, "hidden", max=LIMITS["hidden"])
        self.alpha = check_number(alpha, "alpha", min=0, max=1, max_open=True)
        self.variance_norm = bool(variance_norm)
        self.baseline_net: nn.Module | None = None
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("var", torch.ones(()))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def prepare(self, codec: LatentCodec) -> None:
        """Build the baseline MLP for inputs of ``codec.data_shape`` (idempotent)."""
        d = math.prod(codec.data_shape)
        if self.baseline_net is not None and self.baseline_net[1].in_features == d:
            return
        ref = next(codec.parameters(), None)
        net = nn.Sequential(nn.Flatten(), nn.Linear(d, self.hidden), nn.Tanh(),
                            nn.Linear(self.hidden, 1))
        nn.init.zeros_(net[3].weight)
        nn.init.zeros_(net[3].bias)
        if ref is not None:
            net = net.to(device=ref.device, dtype=ref.dtype)
        self.baseline_net = net

    def surrogate(self, codec: LatentCodec, x: Tensor, out: dict[str, Tensor]
                  ) -> tuple[Tensor, Tensor, dict[str, Tensor | float]]:
        if self.baseline_net is None:
            self.prepare(codec)
        log_p, log_q = out["log_p"], out["log_q"]  # [K, B]
        lp = log_p.detach()
        b = self.baseline_net(x).squeeze(-1)  # [B], trained below
        resid = lp - b.detach()  # [K, B]
        if self.training:
            with torch.no_grad():
                bm, bv = resid.mean(), resid.var(unbiased=False)
                if not bool(self.initialised):
                    self.mean.copy_(bm)
                    self.var.copy_(bv)
                    self.initialised.fill_(True)
                c, v = self.mean.clone(), self.var.clone()
                self.mean.mul_(self.alpha).add_((1 - self.alpha) * bm)
                self.var.mul_(self.alpha).add_((1 - self.alpha) * bv)
        else:
            c, v = self.mean, self.var
        signal = resid - c
        if self.variance_norm:
            signal = signal / v.sqrt().clamp_min(1.0)
        baseline_loss = (lp - c - b).square().mean()
        surrogate = -(log_p + signal * log_q).mean() + baseline_loss
        value = lp.mean()
        return surrogate, value, {"log_p": value, "baseline_loss": baseline_loss.detach(),
                                  "signal_mean": c, "signal_var": v}
