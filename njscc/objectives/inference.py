"""Objectives of the better-inference family on one Gaussian-latent VAE (Shu, Bui, Whang &
Ermon, AISTATS 2019, "Buffered stochastic variational inference"):

==========  ==================================================================================
``iwae``    IWAE-k (Burda et al. 2016): −ln (1/k) Σ_i w(z_i), z_i ~ q(z|x), every parameter
            trained on it (reparameterised)
``svi``     SVI-k: the encoder is trained on the ELBO at its own λ₀ = (μ(x), log σ²(x)); k SVI
            steps refine λ (:func:`njscc.inference.svi_chain`) and the *decoder* (and prior)
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
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.inference import bsvi_log_weights, log_weight, svi_chain
from njscc.objectives.base import Objective, check_n_samples, frozen_call, to_floats
from njscc.validation import check_bool, check_number

__all__ = ["BSVI", "IWAE", "SVI"]


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
