"""Priors p(z) over continuous latents (VAE/VIB codecs), one registry: :data:`PRIORS`.

Every prior is a :class:`Prior` (an ``nn.Module``) built as ``PRIORS.get(name, dim=d,
**options)`` and then attached to its codec with :meth:`Prior.bind` (which gives priors that
need them the data shape and the encoder). A prior has

* ``log_prob(z)``: ``[..., d]`` → ``[...]`` in nats;
* ``sample(n, generator=None)``: ``[n, d]``;
* ``analytic_kl``: True when KL(q(z|x) ‖ p(z)) has a closed form for a diagonal-Gaussian q
  (only :class:`StandardNormalPrior`); otherwise the rate is estimated by Monte Carlo.

Registered priors (plugins: entry-point group ``njscc.priors``):

* ``"normal"`` — :class:`StandardNormalPrior`, N(0, I).
* ``"mog"`` — :class:`GaussianMixturePrior`, a learned mixture of C diagonal Gaussians
  (learned weights, means, log-variances).
* ``"vamp"`` — :class:`VampPrior` (Tomczak & Welling, 2018), p(z) = 1/C Σ_c q(z | u_c) with C
  learned pseudo-inputs u_c in data space (created by :meth:`VampPrior.bind`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from njscc.registry import Configurable, Registry
from njscc.validation import LIMITS, check_number, check_positive_int

__all__ = ["PRIORS", "GaussianMixturePrior", "Prior", "StandardNormalPrior", "VampPrior",
           "diag_gaussian_log_prob", "mixture_log_prob"]

_LOG_2PI = math.log(2 * math.pi)


def diag_gaussian_log_prob(z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mean, diag(exp(logvar))) summed over the last dim (broadcasting) → ``[...]``."""
    return -0.5 * ((z - mean).square() * torch.exp(-logvar) + logvar + _LOG_2PI).sum(-1)


def mixture_log_prob(z: Tensor, means: Tensor, logvars: Tensor, log_weights: Tensor) -> Tensor:
    """log Σ_c w_c N(z; μ_c, diag σ_c²): ``z`` ``[..., d]``, ``means``/``logvars`` ``[C, d]``,
    ``log_weights`` ``[C]`` (normalised) → ``[...]``."""
    comp = diag_gaussian_log_prob(z.unsqueeze(-2), means, logvars)  # [..., C]
    return torch.logsumexp(comp + log_weights, -1)


class Prior(Configurable, nn.Module):
    """Base class of latent priors (see the module docstring)."""

    _config_kind: ClassVar[str] = "prior"
    analytic_kl: bool = False
    dim: int

    def bind(self, codec: Any) -> None:  # noqa: B027 - optional hook
        """Attach to the codec that owns this prior (after its encoder exists)."""

    def log_prob(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def _ref(self) -> Tensor:
        buf = next(iter(self.buffers()), None)
        par = next(iter(self.parameters()), None)
        return par if par is not None else buf  # type: ignore[return-value]


PRIORS: Registry[Prior] = Registry("prior", "njscc.priors", base=Prior)


@PRIORS.register("normal")
class StandardNormalPrior(Prior):
    """p(z) = N(0, I_d); KL to a diagonal Gaussian in closed form."""

    analytic_kl = True

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim", max=LIMITS["latent_dims"])
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def log_prob(self, z: Tensor) -> Tensor:
        return -0.5 * (z.square() + _LOG_2PI).sum(-1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        a = self._anchor
        return torch.randn(n, self.dim, generator=generator, device=a.device, dtype=a.dtype)


@PRIORS.register("mog")
class GaussianMixturePrior(Prior):
    """Learned mixture of ``n_components`` diagonal Gaussians.

    Means are initialised N(0, init_spread²) (seeded by the global RNG, like the weights of the
    codec), log-variances 0 and weights uniform; all three are trained with the decoder.
    """

    def __init__(self, dim: int, n_components: int = 10, init_spread: float = 1.0) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim", max=LIMITS["latent_dims"])
        n_components = check_positive_int(n_components, "n_components", max=LIMITS["hidden"])
        init_spread = check_number(init_spread, "init_spread", min=0)
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


@PRIORS.register("vamp")
class VampPrior(Prior):
    """VampPrior: p(z) = 1/C Σ_c q(z | u_c) with learned pseudo-inputs ``u_c = σ(a_c)``.

    :meth:`bind` creates the C pseudo-inputs in the codec's data shape and attaches its
    encoder ``u → (mean, logvar)`` (a function, not a submodule, so the encoder's weights are
    saved once, under ``encoder``).
    """

    def __init__(self, dim: int, n_components: int = 50) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim", max=LIMITS["latent_dims"])
        self.n_components = check_positive_int(n_components, "n_components",
                                               max=LIMITS["hidden"])
        self._posterior: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None

    def bind(self, codec: Any) -> None:
        """Create the pseudo-inputs ``[C, *codec.data_shape]`` and attach ``codec.posterior``."""
        self.pseudo_logits = nn.Parameter(
            0.1 * torch.randn(self.n_components, *codec.data_shape) - 2.0)
        object.__setattr__(self, "_posterior", codec.posterior)

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
