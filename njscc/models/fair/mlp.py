"""A VAE conditioned on a sensitive attribute u (Song, Kalluri, Grover, Zhao & Ermon, AISTATS
2019, "Learning controllable fair representations"; Louizos et al.'s VFAE layout).

q(z | x, u) and p(x | z, u): the one-hot u is concatenated to the encoder's input and to the
decoder's latent, so z need not carry u to reconstruct x — what the fairness constraints then
push out of it. A *conditional* codec: every method that encodes or decodes takes the batch
field ``sensitive`` (u, int64 ``[B]`` in ``0 … n_groups − 1``) as a keyword argument
(:attr:`~njscc.codec.LatentCodec.conditions`); objectives that do not pass it refuse the
model.

Shapes: x float ``[B, *data_shape]`` (``[B, D]`` features or ``[B, C, H, W]`` images; binary
for ``"bernoulli"``), posterior ``[B, 2d]`` = (mean, log-variance), z ``[..., B, d]``, decoder
parameters ``[..., B, *data_shape]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from njscc.models import register
from njscc.models.vae.base import LOGVAR_RANGE, GaussianLatentCodec, onehot_condition
from njscc.nn.mlp import mlp
from njscc.validation import LIMITS, check_int_tuple, check_positive_int

__all__ = ["FairVAE"]


@register("fair_vae", aliases=("vfae", "mifr_vae"))
class FairVAE(GaussianLatentCodec):
    """q(z | x, u), p(z) = N(0, I), p(x | z, u) with MLPs (see the module docstring).

    Args:
        m: latent dimensions d (the reference L-MIFR setup: 10).
        data_shape: ``(D,)`` features (Adult in the reference encoding: 102 binary) or
            ``(C, H, W)`` images (flattened into the MLP).
        n_groups: number of values of u.
        enc_hidden, dec_hidden: hidden widths (reference: one layer of 50).
        likelihood: ``"bernoulli"`` (binary features) or ``"gaussian"`` / ``"sse"``.
        activation: hidden activation (reference: softplus).
    """

    conditions: ClassVar[tuple[str, ...]] = ("sensitive",)
    data_ndim = None  # features (D,) or images (C, H, W), flattened

    def __init__(self, m: int = 10, data_shape: Sequence[int] = (102,), n_groups: int = 2,
                 enc_hidden: Sequence[int] = (50,), dec_hidden: Sequence[int] = (50,),
                 likelihood: str = "bernoulli", activation: str = "softplus") -> None:
        super().__init__(m, data_shape, likelihood, "normal", 1)
        self.n_groups = check_positive_int(n_groups, "n_groups", max=LIMITS["hidden"])
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        dec = check_int_tuple(dec_hidden, "dec_hidden", allow_empty=True, max=LIMITS["hidden"])
        g = self.n_groups
        self.encoder = nn.Sequential(*mlp((self.data_dim + g, *enc, 2 * self.m), activation))
        self.decoder = nn.Sequential(*mlp((self.m + g, *dec, self.data_dim), activation))
        self._setup()

    def _onehot(self, sensitive: Any, rows: int) -> Tensor:
        return onehot_condition(sensitive, self.n_groups, rows, type(self).__name__,
                                "sensitive").float()

    def encode(self, x: Tensor, sensitive: Tensor | None = None) -> Tensor:
        """``x`` ``[B, D]``, u ``[B]`` → (mean, log-variance) ``[B, 2d]`` of q(z | x, u)."""
        self._check_x(x)
        u = self._onehot(sensitive, x.shape[0]).to(x.dtype)
        h = self.encoder(torch.cat([x.reshape(x.shape[0], -1), u], -1))
        mean, logvar = h.chunk(2, -1)
        return torch.cat([mean, logvar.clamp(*LOGVAR_RANGE)], -1)

    def decode(self, z: Tensor, sensitive: Tensor | None = None) -> Tensor:
        """``z`` ``[..., B, d]``, u ``[B]`` → parameters of p(x | z, u) ``[..., B, D]``."""
        if z.dim() < 2 or z.shape[-1] != self.m:
            raise ValueError(f"z must be [..., B, {self.m}], got {list(z.shape)}")
        u = self._onehot(sensitive, z.shape[-2]).to(z.dtype).expand(*z.shape[:-1], -1)
        out = self.decoder(torch.cat([z, u], -1))
        return out.reshape(*z.shape[:-1], *self.data_shape)

    def forward(self, x: Tensor, channel: Any = None, n_samples: int = 1,
                generator: torch.Generator | None = None, *,
                sensitive: Tensor | None = None) -> dict[str, Tensor]:
        """As :meth:`GaussianLatentCodec.forward`, given u (``sensitive``)."""
        if channel is not None:
            raise ValueError(f"{type(self).__name__} has a real latent: no binary channel")
        h = self.encode(x, sensitive)
        z = self.sample_latent(h, n_samples, generator)
        params = self.decode(z, sensitive)
        return {"posterior": h, "z": z, "params": params, "log_q": self.log_q(z, h),
                "log_prior": self.log_prior(z), "rate": self.rate(h, z),
                "log_p": self.log_prob(x, params)}

    @torch.no_grad()
    def compress(self, x: Tensor, sensitive: Tensor | None = None) -> Tensor:
        """The posterior mean of q(z | x, u), ``[B, d]``: the fair representation."""
        return self.split(self.encode(x, sensitive))[0]

    @torch.no_grad()
    def decompress(self, z: Tensor, sensitive: Tensor | None = None) -> Tensor:
        """``z`` ``[B, d]`` and u → x̂ (decoder means)."""
        return self.reconstruct(self.decode(z.to(next(self.parameters()).dtype), sensitive))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError("FairVAE.sample needs u: decode(prior.sample(n), sensitive=u)")
