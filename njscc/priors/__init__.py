"""Priors p(z) over continuous latents for the VAE/VIB codecs (rate–distortion family).

Every prior is an ``nn.Module`` with

* ``log_prob(z)``: ``[..., d]`` → ``[...]`` in nats;
* ``sample(n, generator=None)``: ``[n, d]``;
* ``analytic_kl``: True when KL(q(z|x) ‖ p(z)) has a closed form for a diagonal-Gaussian q
  (only :class:`StandardNormalPrior`); otherwise the rate is estimated by Monte Carlo.

Priors:

* ``"normal"`` — :class:`StandardNormalPrior`, N(0, I).
* ``"mog"`` — :class:`GaussianMixturePrior`, a learned mixture of C diagonal Gaussians
  (learned weights, means, log-variances).
* ``"vamp"`` — :class:`VampPrior` (Tomczak & Welling, 2018), p(z) = 1/C Σ_c q(z | u_c) with C
  learned pseudo-inputs u_c in data space; it needs the codec's posterior function, attached
  with :meth:`VampPrior.bind` by the codec that owns it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["PRIORS", "GaussianMixturePrior", "Prior", "StandardNormalPrior", "VampPrior",
           "diag_gaussian_log_prob", "make_prior", "mixture_log_prob"]

PRIORS = ("normal", "mog", "vamp")

_LOG_2PI = math.log(2 * math.pi)


def diag_gaussian_log_prob(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mean, diag(exp(logvar))) summed over the last dim (broadcasting) → ``[...]``."""
    return -0.5 * ((z - mean).square() * torch.exp(-logvar) + logvar + _LOG_2PI).sum(-1)


def mixture_log_prob(z: Tensor, means: Tensor, logvars: Tensor, log_weights: Tensor) -> Tensor:
    """log Σ_c w_c N(z; μ_c, diag σ_c²): ``z`` ``[..., d]``, ``means``/``logvars`` ``[C, d]``,
    ``log_weights`` ``[C]`` (normalised) → ``[...]``."""
    comp = diag_gaussian_log_prob(z.unsqueeze(-2), means, logvars)  # [..., C]
    return torch.logsumexp(comp + log_weights, -1)


class Prior(nn.Module):
    """Base class of latent priors (see the module docstring)."""

    analytic_kl: bool = False
    dim: int

    def log_prob(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def _ref(self) -> Tensor:
        buf = next(iter(self.buffers()), None)
        par = next(iter(self.parameters()), None)
        return par if par is not None else buf  # type: ignore[return-value]


class StandardNormalPrior(Prior):
    """p(z) = N(0, I_d); KL to a diagonal Gaussian in closed form."""

    analytic_kl = True

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = int(dim)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def log_prob(self, z: Tensor) -> Tensor:
        return -0.5 * (z.square() + _LOG_2PI).sum(-1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        a = self._anchor
        return torch.randn(n, self.dim, generator=generator, device=a.device, dtype=a.dtype)


class GaussianMixturePrior(Prior):
    """Learned mixture of ``n_components`` diagonal Gaussians.

    Means are initialised N(0, init_spread²) (seeded by the global RNG, like the weights of the
    codec), log-variances 0 and weights uniform; all three are trained with the decoder.
    """

    def __init__(self, dim: int, n_components: int = 10, init_spread: float = 1.0) -> None:
        super().__init__()
        self.dim = int(dim)
        self.means = nn.Parameter(init_spread * torch.randn(n_components, dim))
        self.logvars = nn.Parameter(torch.zeros(n_components, dim))
        self.logits = nn.Parameter(torch.zeros(n_components))

    def log_prob(self, z: Tensor) -> Tensor:
        return mixture_log_prob(z, self.means, self.logvars, torch.log_softmax(self.logits, 0))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        probs = torch.softmax(self.logits, 0)
        c = torch.multinomial(probs, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, device=probs.device,
                          dtype=probs.dtype)
        return self.means[c] + eps * torch.exp(0.5 * self.logvars[c])


class VampPrior(Prior):
    """VampPrior: p(z) = 1/C Σ_c q(z | u_c) with learned pseudo-inputs ``u_c = σ(a_c)``.

    ``posterior_fn(u) -> (mean, logvar)`` is the codec's encoder; the codec calls
    :meth:`bind` after building it (the function is not a submodule, so the encoder's weights
    are saved once, under ``encoder``).
    """

    def __init__(self, dim: int, data_shape: Sequence[int], n_pseudo: int = 50) -> None:
        super().__init__()
        self.dim = int(dim)
        self.pseudo_logits = nn.Parameter(0.1 * torch.randn(n_pseudo, *data_shape) - 2.0)
        self._posterior: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None

    def bind(self, posterior_fn: Callable[[Tensor], tuple[Tensor, Tensor]]) -> None:
        """Attach the encoder ``u → (mean [C, d], logvar [C, d])``."""
        object.__setattr__(self, "_posterior", posterior_fn)

    def components(self) -> tuple[Tensor, Tensor]:
        if self._posterior is None:
            raise RuntimeError("VampPrior is not bound to an encoder (call bind)")
        return self._posterior(torch.sigmoid(self.pseudo_logits))

    def log_prob(self, z: Tensor) -> Tensor:
        means, logvars = self.components()
        c = means.shape[0]
        log_w = torch.full((c,), -math.log(c), dtype=means.dtype, device=means.device)
        return mixture_log_prob(z, means, logvars, log_w)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        means, logvars = self.components()
        c = torch.randint(0, means.shape[0], (n,), generator=generator, device=means.device)
        eps = torch.randn(n, self.dim, generator=generator, device=means.device,
                          dtype=means.dtype)
        return means[c] + eps * torch.exp(0.5 * logvars[c])


def make_prior(name: str, dim: int, data_shape: Sequence[int], n_components: int) -> Prior:
    """Build the prior ``name`` (one of :data:`PRIORS`)."""
    if name == "normal":
        return StandardNormalPrior(dim)
    if name == "mog":
        return GaussianMixturePrior(dim, n_components)
    if name == "vamp":
        return VampPrior(dim, data_shape, n_components)
    raise ValueError(f"prior must be one of {PRIORS}, got {name!r}")
