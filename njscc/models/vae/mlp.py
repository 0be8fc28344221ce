"""Fully connected VAE (the rate–distortion family's reconstruction codec)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.models import register
from njscc.models.vae.base import GaussianLatentCodec
from njscc.nn.mlp import mlp
from njscc.validation import LIMITS, check_int_tuple

__all__ = ["VAEMLP"]


@register("vae_mlp", aliases=("vae",))
class VAEMLP(GaussianLatentCodec):
    """Fully connected VAE: diagonal-Gaussian encoder, prior p(z), likelihood p(x|z).

    Architecture::

        encoder  x [B, C, H, W] → flatten → enc_hidden (activation) → 2d (mean, log-variance)
        decoder  z [N, d] → dec_hidden (activation) → C·H·W pixel parameters

    Args:
        m: latent dimensions d.
        data_shape: ``(C, H, W)`` images or ``(D,)`` features (x is flattened).
        enc_hidden, dec_hidden: hidden widths.
        likelihood: ``"bernoulli"`` (binary data), ``"gaussian"`` (learned scale) or ``"sse"``.
        prior: a registered prior (:data:`njscc.priors.PRIORS`): ``"normal"``, ``"mog"``
            (learned mixture) or ``"vamp"`` (VampPrior).
        n_components: mixture components / VampPrior pseudo-inputs.
        activation: one of :data:`njscc.nn.ACTIVATIONS`.
        init_scale: initial std of the ``"gaussian"`` likelihood.
        stochastic: False gives a deterministic autoencoder (z = mean).
        fixed_variance: a fixed encoder variance σ² for every input and dimension (the
            encoder then learns only the mean; the harmonic-analysis study sweeps it), or
            ``None`` (learned).
    """

    data_ndim = None  # images or features: the MLP flattens x

    def __init__(
        self,
        m: int = 32,
        data_shape: Sequence[int] = (1, 28, 28),
        enc_hidden: Sequence[int] = (256, 256),
        dec_hidden: Sequence[int] = (256, 256),
        likelihood: str = "bernoulli",
        prior: str = "normal",
        n_components: int = 10,
        activation: str = "relu",
        init_scale: float = 0.1,
        stochastic: bool = True,
        fixed_variance: float | None = None,
    ) -> None:
        super().__init__(m, data_shape, likelihood, prior, n_components, stochastic)
        if fixed_variance is not None and not (0 < float(fixed_variance) < 1e3):
            raise ValueError(f"fixed_variance must be in (0, 1000), got {fixed_variance}")
        self.fixed_variance = None if fixed_variance is None else float(fixed_variance)
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        dec = check_int_tuple(dec_hidden, "dec_hidden", allow_empty=True, max=LIMITS["hidden"])
        self.encoder = nn.Sequential(nn.Flatten(), *mlp((self.data_dim, *enc, 2 * self.m),
                                                        activation))
        self.decoder = nn.Sequential(*mlp((self.m, *dec, self.data_dim), activation))
        self._setup(init_scale)

    def encode(self, x: Tensor) -> Tensor:
        """``x`` → ``[B, 2d]`` (mean, log-variance); the log-variance is log σ² when
        ``fixed_variance`` is set."""
        h = super().encode(x)
        if self.fixed_variance is None:
            return h
        mean = h[..., :self.m]
        return torch.cat([mean, torch.full_like(mean, math.log(self.fixed_variance))], -1)
