"""Iterative inference for Gaussian-latent codecs: SVI refinement and the BSVI buffer
(Shu, Bui, Whang & Ermon, AISTATS 2019), shared by the training objectives
(:mod:`njscc.objectives.inference`) and evaluation.

For an input x and a diagonal Gaussian q(z; λ), λ = (μ, log σ²), the log importance weight is

    ln w(z; λ) = ln p(x | z) + ln p(z) − ln q(z; λ),      z = μ + σ ε,  ε ~ N(0, I).

**SVI-k** starts at the encoder's λ₀ = (μ(x), log σ²(x)) and takes k gradient-ascent steps
λ_{i+1} = λ_i + η ∇_λ ln w(z_i; λ_i), one reparameterised draw z_i ~ q(z; λ_i) per step
(the gradient of a one-sample ELBO). The draws form a *sequential proposal*
g(z_{0:k} | x) = Π_i q(z_i; λ_i(z_{<i})), and since E[w(z_i; λ_i) | z_{<i}] = p(x) for every i,

    BSVI bound  =  E_g ln Σ_i π_i w(z_i; λ_i)   ≤   ln p(x)      (Σ π_i = 1, Jensen),

the *buffered* bound: every draw of the chain counts, not only the last one. ``π`` is uniform
by default; ``last_weight`` puts weight π_k on the last draw and shares 1 − π_k over the
others (``last_weight=1`` is plain SVI's last-sample ELBO).

Shapes: ``x`` ``[B, *data_shape]``; latents ``[B, d]``; per-image values ``[B]``. Every draw
uses the ``generator`` passed in; the codec's parameters are never updated here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from njscc.priors import diag_gaussian_log_prob
from njscc.validation import check_number

__all__ = ["SVIChain", "amortisation_gap", "bsvi_bound", "bsvi_log_weights", "buffer_log_pi",
           "elbo_at", "log_weight", "svi_chain"]


def log_weight(codec: Any, x: Tensor, z: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """ln p(x|z) + ln p(z) − ln q(z; mean, logvar) for ``z`` ``[..., B, d]`` → ``[..., B]``."""
    return (codec.log_prob(x, codec.decode(z)) + codec.log_prior(z)
            - diag_gaussian_log_prob(z, mean, logvar))


def _draw(mean: Tensor, logvar: Tensor, n: int | None,
          generator: torch.Generator | None) -> Tensor:
    shape = mean.shape if n is None else (n, *mean.shape)
    eps = torch.randn(shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + eps * torch.exp(0.5 * logvar)


@dataclass
class SVIChain:
    """The draws of one SVI-k run: ``z``, ``mean``, ``logvar`` ``[k+1, B, d]`` (step i's
    variational parameters and its draw, all detached) and ``log_w`` ``[k+1, B]``."""

    z: Tensor
    mean: Tensor
    logvar: Tensor
    log_w: Tensor

    @property
    def steps(self) -> int:
        return self.z.shape[0] - 1


def svi_chain(codec: Any, x: Tensor, steps: int, step_size: float = 1e-3, *,
              start: tuple[Tensor, Tensor] | None = None, max_grad_norm: float | None = None,
              generator: torch.Generator | None = None) -> SVIChain:
    """Run SVI-k from the encoder's λ₀ (or ``start`` = (mean, logvar) ``[B, d]``): ``steps``
    gradient-ascent steps of size ``step_size`` on ln w(z_i; λ_i), each image on its own
    (``max_grad_norm``: clip each image's λ-gradient to that L2 norm). Gradients reach only
    λ — the codec's parameters are untouched (no ``.grad`` is written)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    eta = check_number(step_size, "step_size", min=0)
    if max_grad_norm is not None:
        check_number(max_grad_norm, "max_grad_norm", min=0, min_open=True)
    if start is None:
        with torch.no_grad():
            mean, logvar = codec.split(codec.encode(x))
    else:
        mean, logvar = start
    from njscc.models.vae.base import LOGVAR_RANGE

    mean, logvar = mean.detach(), logvar.detach()
    zs, means, logvars, logws = [], [], [], []
    for i in range(steps + 1):
        last = i == steps
        with torch.enable_grad():
            m = mean.requires_grad_(not last)
            lv = logvar.requires_grad_(not last)
            z = _draw(m, lv, None, generator)
            lw = log_weight(codec, x, z, m, lv)
            if not last:
                gm, glv = torch.autograd.grad(lw.sum(), (m, lv))
        zs.append(z.detach())
        means.append(mean.detach())
        logvars.append(logvar.detach())
        logws.append(lw.detach())
        if not last:
            if max_grad_norm is not None:
                norm = torch.cat([gm, glv], -1).norm(dim=-1, keepdim=True)
                scale = (max_grad_norm / norm.clamp_min(1e-12)).clamp(max=1.0)
                gm, glv = gm * scale, glv * scale
            mean = (mean.detach() + eta * gm).detach()
            logvar = (logvar.detach() + eta * glv).clamp(*LOGVAR_RANGE).detach()
    return SVIChain(torch.stack(zs), torch.stack(means), torch.stack(logvars),
                    torch.stack(logws))


def buffer_log_pi(n: int, last_weight: float | None = None, *,
                  device: torch.device | None = None, dtype: torch.dtype | None = None
                  ) -> Tensor:
    """ln π ``[n]`` of the buffer weights: uniform, or π_last = ``last_weight`` and the rest
    uniform over 1 − ``last_weight`` (zero weights give −inf)."""
    if n < 1:
        raise ValueError(f"the buffer needs at least one draw, got {n}")
    if last_weight is None or n == 1:
        return torch.full((n,), -math.log(n), device=device, dtype=dtype)
    w = check_number(last_weight, "last_weight", min=0, max=1, min_open=True)
    rest = (1.0 - w) / (n - 1)
    pi = torch.full((n,), rest, device=device, dtype=dtype)
    pi[-1] = w
    return pi.log()


def bsvi_log_weights(chain: SVIChain, last_weight: float | None = None) -> Tensor:
    """ln π_i + ln w_i ``[k+1, B]``; their logsumexp over dim 0 is one BSVI estimate."""
    lp = buffer_log_pi(chain.log_w.shape[0], last_weight, device=chain.log_w.device,
                       dtype=chain.log_w.dtype)
    return chain.log_w + lp[:, None]


@torch.no_grad()
def elbo_at(codec: Any, x: Tensor, mean: Tensor, logvar: Tensor, n_samples: int = 1,
            generator: torch.Generator | None = None) -> Tensor:
    """Monte-Carlo ELBO E_q ln w of q = N(mean, diag e^logvar) ``[B, d]`` → ``[B]``."""
    z = _draw(mean, logvar, n_samples, generator)
    return log_weight(codec, x, z, mean, logvar).mean(0)


def amortisation_gap(codec: Any, x: Tensor, steps: int = 100, step_size: float = 1e-3, *,
                     n_samples: int = 100, max_grad_norm: float | None = None,
                     generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """ELBO with the encoder's q and with the SVI-refined q (``steps`` steps from λ₀), each
    over ``n_samples`` draws, per image ``[B]``: ``elbo_encoder``, ``elbo_refined``, ``gap``
    (refined − encoder: a lower estimate of the amortisation gap, since SVI stops short of
    the optimal q)."""
    chain = svi_chain(codec, x, steps, step_size, max_grad_norm=max_grad_norm,
                      generator=generator)
    enc = elbo_at(codec, x, chain.mean[0], chain.logvar[0], n_samples, generator)
    ref = elbo_at(codec, x, chain.mean[-1], chain.logvar[-1], n_samples, generator)
    return {"elbo_encoder": enc, "elbo_refined": ref, "gap": ref - enc}


def bsvi_bound(codec: Any, x: Tensor, steps: int = 10, step_size: float = 1e-3, *,
               chains: int = 1, last_weight: float | None = None,
               max_grad_norm: float | None = None,
               generator: torch.Generator | None = None) -> Tensor:
    """The BSVI estimate of ln p(x) per image ``[B]``: ``chains`` independent SVI-k chains,
    ln (1/R) Σ_r Σ_i π_i w(z_{r,i}; λ_{r,i}) — a lower bound on ln p(x) in expectation for
    every R (the mean of R unbiased estimates of p(x)), tighter as R grows; R = 1 with
    ``steps = 0`` is the one-sample ELBO, ``steps = 0`` with R chains is IWAE-R. Costs
    R·(k + 1) decoder passes (and k backward passes) per image."""
    if not isinstance(chains, int) or isinstance(chains, bool) or chains < 1:
        raise ValueError(f"chains must be an int >= 1, got {chains!r}")
    b = x.shape[0]
    xs = x.repeat(chains, *([1] * (x.dim() - 1)))
    with torch.no_grad():
        mean, logvar = codec.split(codec.encode(x))
        start = (mean.repeat(chains, 1), logvar.repeat(chains, 1))
    chain = svi_chain(codec, xs, steps, step_size, start=start, max_grad_norm=max_grad_norm,
                      generator=generator)
    a = bsvi_log_weights(chain, last_weight).reshape(-1, chains, b)  # [k+1, R, B]
    return torch.logsumexp(a.reshape(-1, b), 0) - math.log(chains)
