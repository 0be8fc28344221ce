"""Generalised divisive normalisation (Ballé, Laparra & Simoncelli 2016), as used by DeepJSCC.

``GDN``:  y_i = x_i / √(β_i + Σ_j γ_ij x_j²)  (encoder);  ``inverse=True`` (IGDN):
y_i = x_i · √(β_i + Σ_j γ_ij x_j²) (decoder). β > 0 and γ ≥ 0 are kept by a squared
parameterisation (β = b² + β_min, γ = g²); initialised at β = 1, γ = 0.1·I as in the
reference implementations. Shapes: ``[B, C, H, W]`` → the same.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["GDN"]


class GDN(nn.Module):
    """(Inverse) GDN over the channels of ``[B, C, H, W]`` feature maps."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_min = float(beta_min)
        self.b = nn.Parameter(torch.ones(channels))
        self.g = nn.Parameter(torch.eye(channels) * gamma_init ** 0.5)

    def forward(self, x: Tensor) -> Tensor:
        beta = self.b.square() + self.beta_min
        gamma = self.g.square()
        c = x.shape[1]
        norm = F.conv2d(x.square(), gamma.reshape(c, c, 1, 1), beta).sqrt()
        return x * norm if self.inverse else x / norm

    def extra_repr(self) -> str:
        return f"channels={self.b.numel()}, inverse={self.inverse}"
