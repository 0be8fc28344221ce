"""Fully connected VAE (the rate–distortion family's reconstruction codec)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

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
        data_shape: ``(C, H, W)``.
        enc_hidden, dec_hidden: hidden widths.
        likelihood: ``"bernoulli"`` (binary data), ``"gaussian"`` (learned scale) or ``"sse"``.
        prior: a registered prior (:data:`njscc.priors.PRIORS`): ``"normal"``, ``"mog"``
            (learned mixture) or ``"vamp"`` (VampPrior).
        n_components: mixture components / VampPrior pseudo-inputs.
        activation: one of :data:`njscc.nn.ACTIVATIONS`.
        init_scale: initial std of the ``"gaussian"`` likelihood.
        stochastic: False gives a deterministic autoencoder (z = mean).
    """

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
    ) -> None:
        super().__init__(m, data_shape, likelihood, prior, n_components, stochastic)
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        dec = check_int_tuple(dec_hidden, "dec_hidden", allow_empty=True, max=LIMITS["hidden"])
        self.encoder = nn.Sequential(nn.Flatten(), *mlp((self.data_dim, *enc, 2 * self.m),
                                                        activation))
        self.decoder = nn.Sequential(*mlp((self.m, *dec, self.data_dim), activation))
        self._setup(init_scale)
