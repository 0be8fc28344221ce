"""VIMCO (Mnih & Rezende, 2016): multi-sample bound with leave-one-out baselines."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from njscc.codec import LatentCodec
from njscc.objectives.base import ScoreFunctionObjective, check_n_samples
from njscc.validation import check_choice, check_number

__all__ = ["VIMCO", "vimco_signal"]


@torch.no_grad()
def vimco_signal(f: Tensor) -> Tensor:
    """Per-sample VIMCO learning signals ``L̂ − L̂₋ₖ`` for log-weights ``f`` ``[K, B]``.

    ``L̂ = log (1/K) Σ_j exp f_j`` and ``L̂₋ₖ`` is the same with ``f_k`` replaced by the
    arithmetic mean of the other K − 1 values (the geometric mean of their exp), as in
    Mnih & Rezende (2016), eq. 10. Returns ``[K, B]``, no gradient.
    """
    k = f.shape[0]
    total = torch.logsumexp(f, 0)  # [B]
    others = (f.sum(0, keepdim=True) - f) / (k - 1)  # [K, B]
    eye = torch.eye(k, dtype=torch.bool, device=f.device).unsqueeze(-1)  # [K, K, 1]
    # row k: f with its k-th entry replaced by others[k]
    replaced = torch.where(eye, others.unsqueeze(1), f.unsqueeze(0))  # [K, K, B]
    return total.unsqueeze(0) - torch.logsumexp(replaced, 1)


class VIMCO(ScoreFunctionObjective):
    """VIMCO on the K-sample bound ``L = log (1/K) Σ_k exp(β·log p(x|y_k))``.

    Samples ``y_k ~ q(y|x)``, the closed-form channel marginal (``codec.forward``). The encoder
    gradient is ``Σ_k (L̂ − L̂₋ₖ) ∇ log q(y_k|x)``; the decoder gradient is that of ``L``
    itself, ``Σ_k w_k ∇ β log p(x|y_k)`` with importance weights ``w = softmax(β log p)``.

    Args:
        n_samples: K ≥ 2 (default 5, as in NECST).
        loglik_scale: β, multiplies ``codec.log_prob`` inside the bound. With the ``"sse"``
            likelihood, β = 1 uses the per-image SSE unscaled, the scale of the official
            NECST code.
        bound: ``"lower"`` (default) maximises the bound above. ``"upper"`` minimises
            ``log (1/K) Σ_k exp(−β log p(x|y_k))`` (= log-mean-exp of the SSE), which is
            what the official TF NECST ``vimco_loss`` optimises (it feeds the positive
            SSE to its VIMCO construction); by Jensen it upper-bounds E[−β log p] and is a
            risk-averse objective that weights the worst of the K samples most.

    Stats: ``loss`` (−bound), ``bound``, ``distortion``, ``log_p`` (mean single-sample
    log p), ``ess`` (mean effective sample size of the weights, 1..K).
    """

    default_for = ("bits",)

    def __init__(self, n_samples: int = 5, loglik_scale: float = 1.0,
                 bound: str = "lower") -> None:
        super().__init__()
        self.n_samples = check_n_samples(n_samples, minimum=2)
        self.loglik_scale = check_number(loglik_scale, "loglik_scale", min=0, min_open=True)
        self.bound = check_choice(bound, "bound", ("lower", "upper"))

    def surrogate(self, codec: LatentCodec, x: Tensor, out: dict[str, Tensor]
                  ) -> tuple[Tensor, Tensor, dict[str, Tensor | float]]:
        log_p, log_q = out["log_p"], out["log_q"]  # [K, B]
        sign = 1.0 if self.bound == "lower" else -1.0
        f = (sign * self.loglik_scale) * log_p
        bound = torch.logsumexp(f, 0) - math.log(self.n_samples)  # [B], grad to decoder
        signal = vimco_signal(f.detach())  # [K, B]
        surrogate = -sign * (bound + (signal * log_q).sum(0)).mean()
        with torch.no_grad():
            value = sign * bound.mean()
            w = torch.softmax(f.detach(), 0)
            ess = (1.0 / w.square().sum(0)).mean()
        return surrogate, value, {"log_p": log_p.detach().mean(), "ess": ess}
