"""FFVAE, the flexibly fair VAE (Creager, Madras, Jacobsen, Weis, Swersky, Pitassi & Zemel,
ICML 2019, "Flexibly fair representation learning by disentanglement").

A VAE whose d latent dimensions split into k *sensitive* dimensions b = (b_1 … b_k) — the
first k, one per binary sensitive attribute a_j, each made predictive of its attribute by
p(a_j = 1 | b_j) = σ(w_j b_j + c_j) — and the rest z. Training (objective ``ffvae``) adds
α Σ_j log p(a_j | b_j) and a total-correlation penalty γ · KL(q(z, b) ‖ q(z) Π_j q(b_j)) to
the ELBO, so that z carries nothing about a and each b_j only about a_j. At test time a
subgroup's dimensions are dropped (:meth:`FFVAE.fair_representation`): [z, b without b_S] is a
representation for demographic parity with respect to the attributes in S or their
conjunction — one encoder for every subgroup, and the encoder never reads a.

The encoder and decoder are :class:`~njscc.models.vae.mlp.VAEMLP`'s (x flattened, tabular or
image); ``m`` counts every latent dimension (b and z), so a FactorVAE baseline of the same
``m`` has the same capacity. Shapes: x ``[B, *data_shape]``, posterior ``[B, 2m]``, z
``[..., B, m]`` (b = ``z[..., :k]``), attribute logits ``[..., B, k]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.models import register
from njscc.models.vae.mlp import VAEMLP
from njscc.validation import check_positive_int

__all__ = ["FFVAE"]


@register("ffvae")
class FFVAE(VAEMLP):
    """VAE with k attribute-predictive latent dimensions (see the module docstring).

    Args:
        m: latent dimensions in all (the first ``n_sensitive`` are b).
        n_sensitive: k, one per binary sensitive attribute (``m - k ≥ 1`` are z).
        data_shape: ``(C, H, W)`` images or ``(D,)`` features.
        enc_hidden, dec_hidden, likelihood, activation: as :class:`VAEMLP`.
    """

    data_ndim = None

    def __init__(self, m: int = 13, n_sensitive: int = 3, data_shape: Sequence[int] = (1, 32, 32),
                 enc_hidden: Sequence[int] = (256, 256), dec_hidden: Sequence[int] = (256, 256),
                 likelihood: str = "bernoulli", activation: str = "relu") -> None:
        super().__init__(m, data_shape, enc_hidden, dec_hidden, likelihood, "normal", 10,
                         activation)
        if self.m < 2:
            raise ValueError(f"m: FFVAE needs at least 2 latent dimensions (b and z), got {m}")
        self.n_sensitive = check_positive_int(n_sensitive, "n_sensitive", max=self.m - 1)
        self.attr_weight = nn.Parameter(torch.ones(self.n_sensitive))
        self.attr_bias = nn.Parameter(torch.zeros(self.n_sensitive))

    def attribute_logits(self, z: Tensor) -> Tensor:
        """logit p(a_j = 1 | b_j) = w_j b_j + c_j: ``z`` ``[..., m]`` → ``[..., k]``."""
        if z.shape[-1] != self.m:
            raise ValueError(f"z must have last dim m={self.m}, got {list(z.shape)}")
        return z[..., :self.n_sensitive] * self.attr_weight + self.attr_bias

    def fair_representation(self, z: Tensor, drop: Sequence[int] = ()) -> Tensor:
        """``z`` ``[..., m]`` without the sensitive dimensions ``drop`` (attribute indices in
        ``0 … k − 1``) → ``[..., m − len(drop)]``: the representation for demographic parity
        with respect to those attributes and any conjunction of them."""
        drop = sorted({int(j) for j in drop})
        if any(not 0 <= j < self.n_sensitive for j in drop):
            raise ValueError(f"drop: attribute indices must be in 0…{self.n_sensitive - 1}, "
                             f"got {drop}")
        keep = [i for i in range(self.m) if i not in drop]
        return z[..., keep]
