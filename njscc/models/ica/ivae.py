"""iVAE (Khemakhem, Kingma, Monti & Hyvärinen, AISTATS 2020): a VAE whose prior is
conditioned on an observed auxiliary variable u — identifiable up to permutation and
component-wise transforms when u changes the sources' distribution enough.

* prior p(z | u) = N(μ_u, diag exp(λ_u)): one learned mean and log-variance per value of u
  (an MLP of a one-hot u without hidden layers; iVAE's own code used λ(u) only, mean 0 —
  learned means also fit clustered sources);
* encoder q(z | x, u): an MLP of [x, one-hot u];
* decoder p(x | z): an MLP of z alone (default likelihood ``"normal"``: identity mean,
  learned scale — the ICA data are standardised reals).

A *conditional* codec: its methods take the batch field ``labels`` (u, int64 ``[B]`` in
``0 … n_aux − 1``) as a keyword argument (:attr:`~njscc.codec.LatentCodec.conditions`);
``elbo`` / ``beta_vae`` pass it. Shapes: x ``[B, D]`` (or images, flattened), posterior
``[B, 2d]``, z ``[K, B, d]``, decoder parameters ``[K, B, *data_shape]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from njscc.models import register
from njscc.models.vae.base import LOGVAR_RANGE, onehot_condition
from njscc.models.vae.mlp import VAEMLP
from njscc.nn.mlp import mlp
from njscc.priors import diag_gaussian_log_prob
from njscc.validation import LIMITS, check_int_tuple, check_positive_int

__all__ = ["IVAE"]


@register("ivae")
class IVAE(VAEMLP):
    """VAE with the conditional prior p(z | u) and encoder q(z | x, u) (module docstring).

    Args:
        m: latent dimensions d.
        data_shape: ``(D,)`` features or ``(C, H, W)`` images.
        n_aux: number of values of u.
        enc_hidden, dec_hidden, likelihood, activation, init_scale: as ``vae_mlp``.
    """

    conditions: ClassVar[tuple[str, ...]] = ("labels",)

    def __init__(self, m: int = 5, data_shape: Sequence[int] = (5,), n_aux: int = 10,
                 enc_hidden: Sequence[int] = (64, 64), dec_hidden: Sequence[int] = (64, 64),
                 likelihood: str = "normal", activation: str = "leaky_relu",
                 init_scale: float = 0.1) -> None:
        super().__init__(m, data_shape, enc_hidden, dec_hidden, likelihood, "normal", 1,
                         activation, init_scale)
        self.n_aux = check_positive_int(n_aux, "n_aux", max=LIMITS["hidden"])
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        self.encoder = nn.Sequential(*mlp((self.data_dim + self.n_aux, *enc, 2 * self.m),
                                          activation))
        self.prior_mean = nn.Parameter(torch.zeros(self.n_aux, self.m))
        self.prior_logvar = nn.Parameter(torch.zeros(self.n_aux, self.m))

    def _onehot(self, labels: Any, rows: int) -> Tensor:
        return onehot_condition(labels, self.n_aux, rows, "ivae", "labels")

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """``x`` ``[B, *data_shape]``, u ``[B]`` → (mean, log-variance) ``[B, 2d]``."""
        self._check_x(x)
        u = self._onehot(labels, x.shape[0]).to(x.dtype)
        h = self.encoder(torch.cat([x.reshape(x.shape[0], -1), u], -1))
        mean, logvar = h.chunk(2, -1)
        return torch.cat([mean, logvar.clamp(*LOGVAR_RANGE)], -1)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """``z`` ``[..., d]`` → parameters of p(x | z) (u is not used by the decoder)."""
        return super().decode(z)

    def prior_params(self, labels: Tensor) -> tuple[Tensor, Tensor]:
        """(μ_u, log σ²_u) of p(z | u), each ``[B, d]``."""
        self._onehot(labels, labels.shape[0] if isinstance(labels, Tensor) else -1)
        return self.prior_mean[labels], self.prior_logvar[labels].clamp(*LOGVAR_RANGE)

    def log_prior(self, z: Tensor, labels: Tensor | None = None, **_: Tensor) -> Tensor:
        """log p(z | u) for ``z`` ``[..., B, d]`` → ``[..., B]``."""
        if labels is None:
            raise ValueError("ivae: log p(z | u) needs labels= (u)")
        mean, logvar = self.prior_params(labels)
        return diag_gaussian_log_prob(z, mean, logvar)

    def rate(self, h: Tensor, z: Tensor | None = None, analytic: bool = True,
             labels: Tensor | None = None, **_: Tensor) -> Tensor:
        """KL(q(z | x, u) ‖ p(z | u)) per input ``[B]``, closed form (two diagonal
        Gaussians) when ``analytic``, else the Monte-Carlo mean over ``z``."""
        if labels is None:
            raise ValueError("ivae: the rate needs labels= (u)")
        if not analytic:
            if z is None:
                raise ValueError("rate: samples z are needed for a Monte-Carlo KL")
            return (self.log_q(z, h) - self.log_prior(z, labels=labels)).mean(0)
        mq, lq = self.split(h)
        mp, lp = self.prior_params(labels)
        return 0.5 * (lp - lq + (torch.exp(lq) + (mq - mp).square()) * torch.exp(-lp)
                      - 1).sum(-1)

    def forward(self, x: Tensor, channel: Any = None, n_samples: int = 1,
                generator: torch.Generator | None = None, *,
                labels: Tensor | None = None) -> dict[str, Tensor]:
        """As :meth:`GaussianLatentCodec.forward`, given u (``labels``)."""
        if channel is not None:
            raise ValueError("ivae has a real latent: no binary channel")
        h = self.encode(x, labels)
        z = self.sample_latent(h, n_samples, generator)
        params = self.decode(z)
        return {"posterior": h, "z": z, "params": params, "log_q": self.log_q(z, h),
                "log_prior": self.log_prior(z, labels=labels), "rate": self.rate(h, z,
                                                                               labels=labels),
                "log_p": self.log_prob(x, params)}

    @torch.no_grad()
    def compress(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The posterior mean of q(z | x, u), ``[B, d]``."""
        return self.split(self.encode(x, labels))[0]

    @torch.no_grad()
    def decompress(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """``z`` ``[..., d]`` → x̂ (decoder means; u is not needed by the decoder)."""
        return super().decompress(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError("IVAE.sample needs u: decode z ~ p(z | u) for chosen u")
