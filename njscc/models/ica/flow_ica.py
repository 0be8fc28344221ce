"""Linear ICA with a bijective feature map (Camuto, Willetts, Roberts, Holmes & Rainforth,
AISTATS 2021): a normalising flow f (zuko's masked autoregressive flow) maps the data to a
feature space y = f⁻¹(x) where a *non-square* linear ICA model holds,

    y = A s + A_⊥ n,   s ~ Π_i p(s_i) (k non-Gaussian sources),   n ~ N(0, σ² I_{D−k}),

with A (D × k) kept near the Stiefel manifold (orthonormal columns) by a penalty
λ ‖AᵀA − I‖²_F, and A_⊥ its orthogonal complement. For orthonormal A the density is exact:

    log p(x) = Σ_i log p(s_i = (Aᵀy)_i) + log N(‖y‖² − ‖Aᵀy‖²; σ², D − k) + log |det ∂f⁻¹/∂x|

(the residual energy ‖A_⊥ᵀy‖² = ‖y‖² − ‖Aᵀy‖² needs no A_⊥). Sources: standard logistic
(``"logistic"``, super-Gaussian) or ``"gaussian"`` — with Gaussian sources and k = D the model
is a plain flow with a standard-normal base ("the flow alone").

As a codec: latent ``real(k)``; ``encode(x)`` → the recovered sources Aᵀ f⁻¹(x) ``[B, k]``;
``decode(s)`` → f(A s) (the image of the sources alone); ``log_likelihood(x)`` → ``[B]``
nats, ``penalty()`` the Stiefel term; trained by the ``nll`` objective.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from njscc.codec import LatentCodec, LatentSpec
from njscc.models import register
from njscc.validation import (
    LIMITS,
    check_choice,
    check_int_tuple,
    check_number,
    check_positive_int,
)

__all__ = ["FlowICA"]

SOURCE_PRIORS = ("logistic", "gaussian")
_LOG_2PI = math.log(2 * math.pi)


@register("flow_ica")
class FlowICA(LatentCodec):
    """Flow feature map + non-square linear ICA (module docstring).

    Args:
        n_sources: k (≤ D).
        data_shape: ``(D,)``.
        transforms, hidden: the MAF's number of transforms and hidden widths.
        source_prior: ``"logistic"`` or ``"gaussian"``.
        stiefel: λ of the penalty λ ‖AᵀA − I‖²_F.
        noise: initial σ of the residual (learned).
    """

    likelihood = "normal"
    reconstructs = True

    def __init__(self, n_sources: int = 3, data_shape: Sequence[int] = (6,),
                 transforms: int = 3, hidden: Sequence[int] = (64, 64),
                 source_prior: str = "logistic", stiefel: float = 10.0,
                 noise: float = 0.1) -> None:
        super().__init__()
        import zuko

        self.data_shape = check_int_tuple(data_shape, "data_shape", length=1)
        d = self.data_shape[0]
        self.m = check_positive_int(n_sources, "n_sources", max=LIMITS["latent_dims"])
        if self.m > d:
            raise ValueError(f"n_sources ({self.m}) must not exceed the data dimension ({d})")
        self.source_prior = check_choice(source_prior, "source_prior", SOURCE_PRIORS)
        self.stiefel = check_number(stiefel, "stiefel", min=0)
        hid = check_int_tuple(hidden, "hidden", max=LIMITS["hidden"])
        self.flow = zuko.flows.MAF(features=d, transforms=check_positive_int(
            transforms, "transforms", max=64), hidden_features=hid)
        q, _ = torch.linalg.qr(torch.randn(d, self.m))
        self.mixing = nn.Parameter(q)  # A, D × k, starts orthonormal
        s = check_number(noise, "noise", min=0, min_open=True)
        self.log_noise = nn.Parameter(torch.tensor(math.log(s)))

    @property
    def latent(self) -> LatentSpec:
        return LatentSpec.real(self.m)

    @property
    def log_scale(self) -> Tensor | None:
        return self.log_noise

    def features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """y = f⁻¹(x) ``[B, D]`` and log |det ∂y/∂x| ``[B]``."""
        self._check_x(x)
        return self.flow.transform().call_and_ladj(x.reshape(x.shape[0], -1))

    def _log_source(self, s: Tensor) -> Tensor:
        if self.source_prior == "logistic":
            return (-s - 2 * F.softplus(-s)).sum(-1)
        return -0.5 * (s.square() + _LOG_2PI).sum(-1)

    def log_likelihood(self, x: Tensor) -> Tensor:
        """log p(x) per input ``[B]`` (exact for orthonormal A; module docstring)."""
        y, ladj = self.features(x)
        s = y @ self.mixing
        d, k = y.shape[-1], self.m
        out = self._log_source(s) + ladj
        if d > k:
            resid = (y.square().sum(-1) - s.square().sum(-1)).clamp_min(0)
            var = torch.exp(2 * self.log_noise)
            out = out - 0.5 * (resid / var + (d - k) * (_LOG_2PI + 2 * self.log_noise))
        return out

    def penalty(self) -> Tensor:
        """λ ‖AᵀA − I‖²_F (0-dim)."""
        a = self.mixing
        return self.stiefel * (a.T @ a - torch.eye(self.m, dtype=a.dtype, device=a.device)
                               ).square().sum()

    def encode(self, x: Tensor) -> Tensor:
        """The recovered sources Aᵀ f⁻¹(x), ``[B, k]``."""
        return self.features(x)[0] @ self.mixing

    def decode(self, s: Tensor) -> Tensor:
        """f(A s): the data point the sources alone explain, ``[..., D]``."""
        y = s @ self.mixing.T
        return self.flow.transform().inv(y.reshape(-1, y.shape[-1])).reshape(y.shape)

    @torch.no_grad()
    def compress(self, x: Tensor) -> Tensor:
        return self.encode(x)

    @torch.no_grad()
    def decompress(self, s: Tensor) -> Tensor:
        return self.decode(s)

    def reconstruct(self, params: Tensor) -> Tensor:
        return params
