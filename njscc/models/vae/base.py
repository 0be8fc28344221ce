"""Continuous-latent codecs: a diagonal-Gaussian encoder q(z|x) and a prior p(z).

They follow the :class:`~njscc.codec.LatentCodec` names with a ``real`` latent
(:class:`~njscc.codec.LatentSpec` ``real(d)``), which no binary channel or bitstream carries:

==================  ========================================================================
``m``               latent dimensions d (not bits)
``encode(x)``       posterior parameters, one tensor ``[B, 2d]``: ``(mean, log-variance)``
                    concatenated on the last dim (:meth:`GaussianLatentCodec.split` splits it)
``decode(z)``       ``[..., d]`` → parameters of p(x|z) ``[..., *data_shape]`` (pixel logits
                    for ``"bernoulli"``, pre-sigmoid means for ``"gaussian"``/``"sse"``)
``forward``         ``(x, channel=None, n_samples=K, generator)`` → dict with ``z`` ``[K, B, d]``,
                    ``params``, ``log_p`` (log p(x|z)), ``log_q`` (log q(z|x)), ``log_prior``
                    (log p(z)), all ``[K, B]``, and ``rate`` ``[B]`` (KL in nats, closed form
                    for the standard-normal prior, else the K-sample Monte-Carlo estimate)
``compress(x)``     the posterior mean ``[B, d]`` (float, not bits)
``decompress(z)``   x̂ in data space, one decoder pass
==================  ========================================================================

``forward`` takes no channel (``channel`` must be ``None``): continuous latents are not sent
over the binary channels of :mod:`channels`. Likelihoods: :mod:`njscc.nn.likelihoods`.
Priors come from the :data:`njscc.priors.PRIORS` registry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from njscc.codec import EncoderDecoderCodec, LatentSpec
from njscc.nn.likelihoods import LIKELIHOODS
from njscc.priors import PRIORS, Prior, diag_gaussian_log_prob
from njscc.validation import (
    LIMITS,
    check_bool,
    check_choice,
    check_data_shape,
    check_positive_int,
)

__all__ = ["LOGVAR_RANGE", "GaussianLatentCodec", "kl_standard_normal", "onehot_condition"]

#: log-variances are clamped to this range (exp(-12)..exp(8)) for numerical safety
LOGVAR_RANGE = (-12.0, 8.0)


def kl_standard_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, diag e^logvar) ‖ N(0, I)) in nats, summed over the last dim → ``[...]``.

    ½ Σ (μ² + σ² − 1 − log σ²); never negative (``expm1`` keeps it exact near σ = 1).
    """
    return 0.5 * (mean.square() + torch.expm1(logvar) - logvar).sum(-1)


def onehot_condition(values: Any, n: int, rows: int, who: str, field: str) -> Tensor:
    """One-hot ``[rows, n]`` of a conditional codec's batch field (int64 ``[rows]`` in
    ``0 … n − 1``); a ``ValueError`` naming ``who`` and ``field`` otherwise."""
    if not isinstance(values, Tensor) or values.dtype != torch.int64 or values.shape != (rows,):
        raise ValueError(f"{who} is conditioned on {field}: pass {field}= an int64 tensor "
                         f"[{rows}], got {getattr(values, 'shape', type(values).__name__)}")
    if rows and (int(values.min()) < 0 or int(values.max()) >= n):
        raise ValueError(f"{field}: values must be in 0…{n - 1}, got "
                         f"{int(values.min())}…{int(values.max())}")
    return torch.nn.functional.one_hot(values, n)


class GaussianLatentCodec(EncoderDecoderCodec):
    """Base of the continuous-latent codecs (VAE, VIB): see the module docstring.

    Subclasses build ``self.encoder`` (``[B, *data_shape]`` → ``[B, 2d]``) and
    ``self.decoder`` (``[N, d]`` → ``[N, *out_shape]``) and call :meth:`_setup`.
    ``stochastic=False`` makes the encoder deterministic (z = mean; the deterministic baseline
    of the VIB experiments); the rate is still reported.
    """

    likelihoods: tuple[str, ...] = LIKELIHOODS
    variational = True
    #: entries of ``data_shape``: 3 for images ``(C, H, W)``, 1 for tabular features ``(D,)``,
    #: ``None`` for either (codecs that flatten x, e.g. MLPs on images or tables)
    data_ndim: int | None = 3

    def __init__(self, m: int, data_shape: Sequence[int], likelihood: str, prior: str,
                 n_components: int, stochastic: bool = True) -> None:
        super().__init__()
        self.m = check_positive_int(m, "m", max=LIMITS["latent_dims"])
        ndim = self.data_ndim
        if ndim is None:
            ndim = len(data_shape) if isinstance(data_shape, Sequence) and len(data_shape) in (
                1, 3) else 3
        self.data_shape = check_data_shape(data_shape, ndim=ndim)
        self.data_dim = math.prod(self.data_shape)
        self.likelihood = check_choice(likelihood, "likelihood", self.likelihoods)
        self._prior_name = PRIORS.canonical(prior)
        self._n_components = check_positive_int(n_components, "n_components",
                                                max=LIMITS["hidden"])
        self.stochastic = check_bool(stochastic, "stochastic")

    @property
    def latent(self) -> LatentSpec:
        return LatentSpec.real(self.m)

    def _setup(self, init_scale: float = 0.1) -> None:
        """Build and bind the prior (after the encoder exists) and the Gaussian scale."""
        name = self._prior_name
        options = {"n_components": self._n_components} if PRIORS.entry(name).accepts(
            "n_components") else {}
        self.prior: Prior = PRIORS.get(name, dim=self.m, **options)
        self.prior.bind(self)
        self._add_scale(init_scale)

    # ------------------------------------------------------------------ encoder side
    def encode(self, x: Tensor) -> Tensor:
        """``x`` ``[B, *data_shape]`` → posterior parameters ``[B, 2d]`` = (mean, log-variance)."""
        self._check_x(x)
        h = self.encoder(x.reshape(x.shape[0], *self.data_shape))
        mean, logvar = h.chunk(2, -1)
        return torch.cat([mean, logvar.clamp(*LOGVAR_RANGE)], -1)

    @staticmethod
    def split(h: Tensor) -> tuple[Tensor, Tensor]:
        """``[..., 2d]`` → ``(mean [..., d], logvar [..., d])``."""
        return h.chunk(2, -1)  # type: ignore[return-value]

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` → ``(mean, logvar)``, each ``[B, d]``."""
        return self.split(self.encode(x))

    def sample_latent(self, h: Tensor, n_samples: int = 1,
                      generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised samples z = μ + σ·ε, ``[K, B, d]`` (z = μ if not ``stochastic``)."""
        mean, logvar = self.split(h)
        if not self.stochastic:
            return mean.unsqueeze(0).expand(n_samples, *mean.shape)
        eps = torch.randn((n_samples, *mean.shape), generator=generator, device=mean.device,
                          dtype=mean.dtype)
        return mean + eps * torch.exp(0.5 * logvar)

    def log_q(self, z: Tensor, h: Tensor) -> Tensor:
        """log q(z|x) for ``z`` ``[K, B, d]`` → ``[K, B]``."""
        mean, logvar = self.split(h)
        return diag_gaussian_log_prob(z, mean, logvar)

    def log_prior(self, z: Tensor, **conditions: Tensor) -> Tensor:
        """log p(z), ``[..., d]`` → ``[...]``. ``conditions``: a conditional codec's batch
        fields; the prior here does not depend on them (``ivae``'s does)."""
        return self.prior.log_prob(z)

    def rate(self, h: Tensor, z: Tensor | None = None, analytic: bool = True,
             **conditions: Tensor) -> Tensor:
        """KL(q(z|x) ‖ p(z)) per input ``[B]`` in nats.

        Closed form when the prior allows it and ``analytic``; otherwise the Monte-Carlo mean
        over the samples ``z`` ``[K, B, d]`` of log q(z|x) − log p(z) (unbiased; a single
        estimate may be negative, its expectation is not).
        """
        if analytic and self.prior.analytic_kl:
            return kl_standard_normal(*self.split(h))
        if z is None:
            raise ValueError("rate: samples z are needed for a Monte-Carlo KL")
        return (self.log_q(z, h) - self.log_prior(z, **conditions)).mean(0)

    # ------------------------------------------------------------------ decoder side
    def decode(self, z: Tensor) -> Tensor:
        """``z`` ``[..., d]`` → parameters of p(x|z) ``[..., *out_shape]``."""
        if z.shape[-1] != self.m:
            raise ValueError(f"z must have last dim d={self.m}, got shape {list(z.shape)}")
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, self.m))
        return out.reshape(*lead, *self.out_shape)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.data_shape

    # ------------------------------------------------------------------ contract
    def forward(self, x: Tensor, channel: Any = None, n_samples: int = 1,
                generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Encode, draw K reparameterised latents, decode.

        Returns ``posterior`` ``[B, 2d]``, ``z`` ``[K, B, d]``, ``params`` ``[K, B, *D]``,
        ``log_q``/``log_prior`` ``[K, B]``, ``rate`` ``[B]`` (nats) and, for reconstruction
        codecs, ``log_p`` ``[K, B]``.
        """
        if channel is not None:
            raise ValueError(f"{type(self).__name__} has a real latent: it is not sent over a "
                             f"binary channel (got channel {getattr(channel, 'name', channel)!r})")
        h = self.encode(x)
        z = self.sample_latent(h, n_samples, generator)
        params = self.decode(z)
        out = {"posterior": h, "z": z, "params": params, "log_q": self.log_q(z, h),
               "log_prior": self.log_prior(z), "rate": self.rate(h, z)}
        if self.reconstructs:
            out["log_p"] = self.log_prob(x, params)
        return out

    @torch.no_grad()
    def compress(self, x: Tensor) -> Tensor:
        """The posterior mean, float ``[B, d]`` (the continuous code; not bits)."""
        return self.split(self.encode(x))[0]

    @torch.no_grad()
    def decompress(self, z: Tensor) -> Tensor:
        """``z`` ``[..., d]`` → x̂ in data space (``reconstruct(decode(z))``)."""
        return self.reconstruct(self.decode(z.to(next(self.parameters()).dtype)))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws z ~ p(z) decoded to x̂ (decoder means), ``[n, *out_shape]``."""
        return self.decompress(self.prior.sample(n, generator))
