"""Objectives of the better-inference family on one Gaussian-latent VAE (Shu, Bui, Whang &
Ermon, AISTATS 2019, "Buffered stochastic variational inference"):

==========  ==================================================================================
``iwae``    IWAE-k (Burda et al. 2016): −ln (1/k) Σ_i w(z_i), z_i ~ q(z|x), every parameter
            trained on it (reparameterised)
``svi``     SVI-k: the encoder is trained on the ELBO at its own λ₀ = (μ(x), log σ²(x)); k SVI
            steps refine λ (:func:`svi_chain`) and the *decoder* (and prior)
            is trained on the one-sample ELBO at the last λ_k only
``bsvi``    BSVI-k: the same chain, the decoder trained on the buffered bound
            ln Σ_i π_i w(z_i; λ_i) over all k + 1 draws; the encoder again on ln w(z₀; λ₀)
==========  ==================================================================================

(The plain VAE is ``elbo``, :mod:`njscc.objectives.rate_distortion`.) In ``svi``/``bsvi``
the chain's λ_i are treated as constants for the decoder gradient (no back-propagation
through the refinement steps), and the encoder's term reaches only the encoder: its decoder
weights are detached (``frozen_call``). BSVI's decoder gradient
Σ_i ω̃_i ∇_θ ln p_θ(x, z_i) (ω̃ the normalised π_i w_i) is by default estimated with one
index drawn from ω̃ per image (``mc_gradient``: one decoder backward instead of k + 1, the
paper's trick that makes BSVI as fast as SVI).

Stats: ``loss`` (= −bound), ``bound`` (the objective's bound: IWAE-k, SVI's last-sample
ELBO, the BSVI bound), ``elbo_encoder`` (the one-sample ELBO at λ₀), ``distortion``.

**The chains** behind them, also used at evaluation time (:func:`bsvi_bound`,
:func:`amortisation_gap`). For an input x and a diagonal Gaussian q(z; λ), λ = (μ, log σ²),
the log importance weight is

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

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.objectives.base import Objective, check_n_samples, frozen_call, to_floats
from njscc.priors import diag_gaussian_log_prob
from njscc.validation import check_bool, check_number

__all__ = ["BSVI", "IWAE", "SVI", "SVIChain", "amortisation_gap", "bsvi_bound",
           "bsvi_log_weights", "buffer_log_pi", "elbo_at", "log_weight", "svi_chain"]


# --------------------------------------------------------------------------- SVI chains



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


# --------------------------------------------------------------------------- objectives

def _supports_vae(codec: LatentCodec) -> Support:
    if codec.latent.kind != "real" or not getattr(codec, "variational", False):
        return Support.no(f"it needs a real latent with a prior (vae_mlp), the model has "
                          f"{codec.latent.kind}")
    if not codec.reconstructs:
        return Support.no("it needs a reconstruction decoder p(x | z) (vae_mlp)")
    if not hasattr(codec, "split"):
        return Support.no("it needs a diagonal-Gaussian encoder (GaussianLatentCodec)")
    return Support.yes()


class IWAE(Objective):
    """IWAE-k: the importance-weighted bound with ``n_samples`` = k draws (k = 1: the ELBO)."""

    uses_channel = False

    def __init__(self, n_samples: int = 5) -> None:
        super().__init__()
        self.n_samples = check_n_samples(n_samples)

    def supports(self, codec: LatentCodec) -> Support:
        return _supports_vae(codec)

    def loss(self, codec: Any, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x = batch.x
        out = codec(x, n_samples=self.n_samples, generator=generator)
        lw = out["log_p"] + out["log_prior"] - out["log_q"]  # [K, B]
        bound = (torch.logsumexp(lw, 0) - math.log(self.n_samples)).mean()
        return -bound, to_floats(loss=-bound.detach(), bound=bound.detach(),
                                 elbo_encoder=lw.detach().mean(),
                                 distortion=-out["log_p"].detach().mean())


def _encoder_term(codec: Any, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """ln w(z₀; λ₀) ``[B]`` with z₀ ~ q(z|x) reparameterised and the decoder's weights
    detached: its gradient reaches the encoder only."""
    h = codec.encode(x)
    mean, logvar = codec.split(h)
    z = codec.sample_latent(h, 1, generator)[0]
    return frozen_call(codec, log_weight, x, z, mean, logvar)


class SVI(Objective):
    """SVI-k (see the module doc): ``steps`` = k refinement steps of size ``step_size`` (each
    image's λ-gradient clipped to ``max_grad_norm``)."""

    uses_channel = False

    def __init__(self, steps: int = 10, step_size: float = 1e-3,
                 max_grad_norm: float | None = None) -> None:
        super().__init__()
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        self.steps = steps
        self.step_size = check_number(step_size, "step_size", min=0)
        self.max_grad_norm = (None if max_grad_norm is None else
                              check_number(max_grad_norm, "max_grad_norm", min=0, min_open=True))

    def supports(self, codec: LatentCodec) -> Support:
        return _supports_vae(codec)

    def _chain(self, codec: Any, x: Tensor, generator: torch.Generator | None) -> Any:
        return svi_chain(codec, x, self.steps, self.step_size, max_grad_norm=self.max_grad_norm,
                         generator=generator)

    def decoder_term(self, codec: Any, x: Tensor, chain: Any,
                     generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """(per-image decoder surrogate ``[B]`` whose gradient is the decoder's, the bound's
        value ``[B]``): SVI's one-sample ELBO at the last λ_k."""
        lw = log_weight(codec, x, chain.z[-1], chain.mean[-1], chain.logvar[-1])
        return lw, lw.detach()

    def loss(self, codec: Any, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x = batch.x
        enc = _encoder_term(codec, x, generator)
        chain = self._chain(codec, x, generator)
        dec, bound = self.decoder_term(codec, x, chain, generator)
        loss = -(enc.mean() + dec.mean())
        b = bound.mean()
        with torch.no_grad():
            dist = -codec.log_prob(x, codec.decode(chain.z[-1])).mean()
        return loss, to_floats(loss=-b, bound=b, elbo_encoder=chain.log_w[0].mean(),
                               elbo_gain=(chain.log_w[-1] - chain.log_w[0]).mean(),
                               distortion=dist)


class BSVI(SVI):
    """BSVI-k (see the module doc): SVI-k's chain, the decoder trained on the buffered bound
    with weights π (uniform, or ``last_weight`` on the last draw); ``mc_gradient``: one draw
    of the buffer index per image for the decoder gradient (unbiased), else all k + 1."""

    def __init__(self, steps: int = 10, step_size: float = 1e-3,
                 max_grad_norm: float | None = None, last_weight: float | None = None,
                 mc_gradient: bool = True) -> None:
        super().__init__(steps, step_size, max_grad_norm)
        self.last_weight = (None if last_weight is None else
                            check_number(last_weight, "last_weight", min=0, max=1,
                                         min_open=True))
        self.mc_gradient = check_bool(mc_gradient, "mc_gradient")

    def decoder_term(self, codec: Any, x: Tensor, chain: Any,
                     generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        a = bsvi_log_weights(chain, self.last_weight)  # [k+1, B]
        bound = torch.logsumexp(a, 0)
        if self.mc_gradient:
            probs = torch.softmax(a, 0).T  # [B, k+1]
            j = torch.multinomial(probs, 1, generator=generator)[:, 0]
            b = torch.arange(x.shape[0], device=x.device)
            lw = log_weight(codec, x, chain.z[j, b], chain.mean[j, b], chain.logvar[j, b])
            # the decoder gradient of ln Σ π_i w_i is E_{j ~ ω̃} ∇ ln p(x, z_j)
            return lw - lw.detach() + bound, bound
        lw = log_weight(codec, x, chain.z, chain.mean, chain.logvar)  # [k+1, B]
        return torch.logsumexp(lw + (a - chain.log_w), 0), bound
