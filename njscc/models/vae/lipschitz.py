"""Certifiably robust VAE (Barrett, Camuto, Willetts & Rainforth 2022): Lipschitz encoder mean,
encoder standard deviation and decoder, with the constants chosen up front."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.models import register
from njscc.models.vae.base import GaussianLatentCodec
from njscc.nn.lipschitz import lipschitz_mlp, lipschitz_upper_bound
from njscc.validation import LIMITS, check_int_tuple, check_positive_int

__all__ = ["LipschitzVAE"]


class _MeanStd(nn.Module):
    """x → (μ(x), log σ(x)²) with σ = softplus(f(x)) + σ_min: both heads L-Lipschitz."""

    def __init__(self, mean: nn.Module, std: nn.Module, sigma_min: float) -> None:
        super().__init__()
        self.mean, self.std, self.sigma_min = mean, std, float(sigma_min)

    def forward(self, x: Tensor) -> Tensor:
        sigma = nn.functional.softplus(self.std(x)) + self.sigma_min
        return torch.cat([self.mean(x), 2.0 * sigma.log()], -1)


@register("vae_lipschitz")
class LipschitzVAE(GaussianLatentCodec):
    """VAE whose encoder mean μ, encoder std σ and decoder are Lipschitz by construction.

    Each is a :func:`njscc.nn.lipschitz.lipschitz_mlp` (Björck-orthonormal linear layers,
    GroupSort activations, output ×L); σ(x) = softplus(f(x)) + ``sigma_min`` keeps f's
    constant (softplus is 1-Lipschitz). The reconstruction is σ(decoder logits), so its
    constant is ¼ of the decoder's. :meth:`lipschitz_constants` reports the *measured* bounds
    of the trained weights, which the certificate (:mod:`njscc.robustness.certify`) uses.

    Architecture::

        μ, σ    x [B, C, H, W] → flatten → enc_hidden (GroupSort) → d     (L_μ, L_σ)
        decoder z [N, d] → dec_hidden (GroupSort) → C·H·W pixel logits     (L_dec)

    Args:
        m: latent dimensions d.
        lipschitz_mean, lipschitz_std, lipschitz_decoder: the constants L_μ, L_σ, L_dec.
        iters: Björck steps per forward pass (the bound holds after any number).
        sigma_min: the smallest encoder standard deviation.
    """

    def __init__(
        self,
        m: int = 32,
        data_shape: Sequence[int] = (1, 28, 28),
        enc_hidden: Sequence[int] = (256, 256),
        dec_hidden: Sequence[int] = (256, 256),
        likelihood: str = "bernoulli",
        lipschitz_mean: float = 1.0,
        lipschitz_std: float = 1.0,
        lipschitz_decoder: float = 1.0,
        iters: int = 5,
        sigma_min: float = 1e-3,
        prior: str = "normal",
        init_scale: float = 0.1,
    ) -> None:
        super().__init__(m, data_shape, likelihood, prior, 10, True)
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        dec = check_int_tuple(dec_hidden, "dec_hidden", allow_empty=True, max=LIMITS["hidden"])
        it = check_positive_int(iters, "iters", max=100)
        if not 0 < float(sigma_min) < 1:
            raise ValueError(f"sigma_min must be in (0, 1), got {sigma_min}")
        self.encoder = _MeanStd(lipschitz_mlp((self.data_dim, *enc, self.m), lipschitz_mean, it),
                                lipschitz_mlp((self.data_dim, *enc, self.m), lipschitz_std, it),
                                sigma_min)
        self.decoder = lipschitz_mlp((self.m, *dec, self.data_dim), lipschitz_decoder, it)
        self._setup(init_scale)

    def lipschitz_constants(self) -> dict[str, float]:
        """Measured L2 Lipschitz bounds: ``mean`` (μ), ``std`` (σ), ``decoder`` (the
        reconstruction x̂(z) = sigmoid(logits), ¼ of the logits' bound)."""
        return {"mean": lipschitz_upper_bound(self.encoder.mean),
                "std": lipschitz_upper_bound(self.encoder.std),
                "decoder": 0.25 * lipschitz_upper_bound(self.decoder)}
