"""Continuous-latent codecs: a diagonal-Gaussian encoder q(z|x) and a prior p(z).

These follow the :class:`~njscc.codec.LatentCodec` method names with a *continuous* latent
type (``latent = "gaussian"``; bit codecs have no ``latent`` attribute or ``"bits"``):

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

The ``channel`` argument of ``forward`` is accepted for interface compatibility and ignored:
continuous latents are not sent over the binary channels of :mod:`channels` (a NECST codec is
the bit-latent member of the family; see :mod:`njscc.objectives.rate_distortion`).

Likelihoods p(x|z) (``log_prob``, per image, nats):

* ``"bernoulli"``: −BCE(x, σ(θ)), for binarized MNIST;
* ``"gaussian"``: N(x; σ(θ), s²) with one learned scale ``s = exp(decoder.log_scale)`` — a
  normalised density, so rates and distortions are both in nats;
* ``"sse"``: −Σ (x − σ(θ))², the NECST paper's squared error (an unnormalised Gaussian).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from njscc.codec import LatentCodec
from njscc.models import register
from njscc.models.necst.base import check_int_tuple, check_positive_int, jsonable
from njscc.priors import PRIORS, Prior, diag_gaussian_log_prob, make_prior

__all__ = ["ACTIVATIONS", "LIKELIHOODS", "GaussianLatentCodec", "VAEMLP", "is_continuous",
           "kl_standard_normal", "mlp"]

LIKELIHOODS = ("bernoulli", "gaussian", "sse")
ACTIVATIONS = {"relu": nn.ReLU, "softplus": nn.Softplus, "leaky_relu": nn.LeakyReLU,
               "tanh": nn.Tanh, "elu": nn.ELU}
#: log-variances are clamped to this range (exp(-12)..exp(8)) for numerical safety
LOGVAR_RANGE = (-12.0, 8.0)


def is_continuous(codec: Any) -> bool:
    """True for the continuous-latent codecs of this module (``latent == "gaussian"``)."""
    return getattr(codec, "latent", "bits") == "gaussian"


def kl_standard_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, diag e^logvar) ‖ N(0, I)) in nats, summed over the last dim → ``[...]``.

    ½ Σ (μ² + σ² − 1 − log σ²); never negative (``expm1`` keeps it exact near σ = 1).
    """
    return 0.5 * (mean.square() + torch.expm1(logvar) - logvar).sum(-1)


def mlp(sizes: Sequence[int], activation: str) -> list[nn.Module]:
    """Linear layers with ``activation`` between them (none after the last)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return layers


class GaussianLatentCodec(LatentCodec):
    """Base of the continuous-latent codecs (VAE, VIB): see the module docstring.

    Subclasses build ``self.encoder`` (``[B, *data_shape]`` → ``[B, 2d]``) and
    ``self.decoder`` (``[N, d]`` → ``[N, *out_shape]``), call :meth:`_setup` and set
    ``config``. ``stochastic=False`` makes the encoder deterministic (z = mean; the
    deterministic baseline of the VIB experiments); the rate is still reported.
    """

    latent = "gaussian"
    #: has a reconstruction decoder p(x|z) (VAE) / a classifier q(y|z) (VIB)
    has_reconstruction = True
    has_classifier = False

    def __init__(self, m: int, data_shape: Sequence[int], likelihood: str, prior: str,
                 n_components: int, stochastic: bool = True) -> None:
        super().__init__()
        self.m = check_positive_int("m", m)
        self.data_shape = check_int_tuple("data_shape", data_shape, length=3)
        self.data_dim = math.prod(self.data_shape)
        if likelihood not in self.likelihoods():
            raise ValueError(f"likelihood must be one of {self.likelihoods()}, "
                             f"got {likelihood!r}")
        self.likelihood = likelihood
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        check_positive_int("n_components", n_components)
        if not isinstance(stochastic, bool):
            raise TypeError(f"stochastic must be a bool, got {type(stochastic).__name__}")
        self.stochastic = stochastic
        self._prior_args = (prior, n_components)
        self.config = {"name": type(self).__name__, "kwargs": {}}

    @classmethod
    def likelihoods(cls) -> tuple[str, ...]:
        return LIKELIHOODS

    def _setup(self, init_scale: float = 0.1) -> None:
        """Build the prior (after the encoder exists) and the Gaussian scale parameter."""
        name, n = self._prior_args
        self.prior: Prior = make_prior(name, self.m, self.data_shape, n)
        if name == "vamp":
            self.prior.bind(self.posterior)  # type: ignore[attr-defined]
        if self.likelihood == "gaussian":
            if not init_scale > 0:
                raise ValueError(f"init_scale must be > 0, got {init_scale!r}")
            self.decoder.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))

    def _set_config(self, name: str, **kwargs: Any) -> None:
        self.config = {"name": name,
                       "kwargs": {k: jsonable(v, f"argument {k!r}") for k, v in kwargs.items()}}

    # ------------------------------------------------------------------ encoder side
    def _check_x(self, x: Tensor) -> None:
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.data_dim:
            raise ValueError(f"x must have shape [B, {', '.join(map(str, self.data_shape))}], "
                             f"got {list(x.shape)}")

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

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z), ``[..., d]`` → ``[...]``."""
        return self.prior.log_prob(z)

    def rate(self, h: Tensor, z: Tensor | None = None, analytic: bool = True) -> Tensor:
        """KL(q(z|x) ‖ p(z)) per input ``[B]`` in nats.

        Closed form when the prior allows it and ``analytic``; otherwise the Monte-Carlo mean
        over the samples ``z`` ``[K, B, d]`` of log q(z|x) − log p(z) (unbiased; a single
        estimate may be negative, its expectation is not).
        """
        if analytic and self.prior.analytic_kl:
            return kl_standard_normal(*self.split(h))
        if z is None:
            raise ValueError("rate: samples z are needed for a Monte-Carlo KL")
        return (self.log_q(z, h) - self.log_prior(z)).mean(0)

    # ------------------------------------------------------------------ decoder side
    def decode(self, z: Tensor) -> Tensor:
        """``z`` ``[..., d]`` → parameters of p(x|z) ``[..., *data_shape]``."""
        if z.shape[-1] != self.m:
            raise ValueError(f"z must have last dim d={self.m}, got shape {list(z.shape)}")
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, self.m))
        return out.reshape(*lead, *self.out_shape)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.data_shape

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """log p(x|z) per image (nats, or −SSE): ``x`` ``[B, *D]``, ``params`` ``[..., B, *D]``
        → ``[..., B]``."""
        x = x.reshape(x.shape[0], *self.data_shape).expand_as(params)
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(params, x, reduction="none")
            return -nll.flatten(-3).sum(-1)
        diff = (x - torch.sigmoid(params)).square().flatten(-3).sum(-1)
        if self.likelihood == "sse":
            return -diff
        log_s = self.decoder.log_scale
        return (-0.5 * diff * torch.exp(-2 * log_s)
                - self.data_dim * (log_s + 0.5 * math.log(2 * math.pi)))

    # ------------------------------------------------------------------ contract
    def forward(self, x: Tensor, channel: Any = None, n_samples: int = 1,
                generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Encode, draw K reparameterised latents, decode (``channel`` is ignored).

        Returns ``posterior`` ``[B, 2d]``, ``z`` ``[K, B, d]``, ``params`` ``[K, B, *D]``,
        ``log_p``/``log_q``/``log_prior`` ``[K, B]`` and ``rate`` ``[B]`` (nats).
        """
        h = self.encode(x)
        z = self.sample_latent(h, n_samples, generator)
        params = self.decode(z)
        out = {"posterior": h, "z": z, "params": params, "log_q": self.log_q(z, h),
               "log_prior": self.log_prior(z), "rate": self.rate(h, z)}
        if self.has_reconstruction:
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


@register("vae_mlp")
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
        prior: ``"normal"``, ``"mog"`` (learned mixture) or ``"vamp"`` (VampPrior).
        n_components: mixture components / VampPrior pseudo-inputs.
        activation: one of :data:`ACTIVATIONS`.
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
        enc = check_int_tuple("enc_hidden", enc_hidden, allow_empty=True)
        dec = check_int_tuple("dec_hidden", dec_hidden, allow_empty=True)
        self.encoder = nn.Sequential(nn.Flatten(), *mlp((self.data_dim, *enc, 2 * self.m),
                                                        activation))
        self.decoder = nn.Sequential(*mlp((self.m, *dec, self.data_dim), activation))
        self._setup(init_scale)
        self._set_config("vae_mlp", m=m, data_shape=self.data_shape, enc_hidden=enc,
                         dec_hidden=dec, likelihood=likelihood, prior=prior,
                         n_components=n_components, activation=activation,
                         init_scale=float(init_scale), stochastic=stochastic)
