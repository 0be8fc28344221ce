"""Pixel likelihoods p(x | decoder output), shared by every reconstruction codec.

The decoder outputs pre-sigmoid parameters θ with the data's shape; per image (summed over the
``ndim`` data dimensions, nats where the density is normalised):

* ``"bernoulli"``: −BCE(x, σ(θ)) (binary or binarised data), normalised;
* ``"sse"``: −Σ (x − σ(θ))², the NECST paper's squared error used as an *unnormalised*
  Gaussian log-likelihood (variance 1/2, the official code's scale): its unit is SSE, not nats;
* ``"gaussian"``: N(x; σ(θ), s²) with one learned scale ``s = exp(log_scale)``, normalised;
* ``"normal"``: N(x; θ, s²) — the same with an identity mean, for real-valued data that is
  not confined to [0, 1] (standardised features, the ICA studies); a codec's
  ``reconstruct`` then returns θ itself. Only the continuous-latent codecs offer it
  (:data:`LIKELIHOODS`); pixel codecs (NECST, DeepJSCC) take :data:`PIXEL_LIKELIHOODS`.
"""

from __future__ import annotations

import math

from torch import Tensor
from torch.nn import functional as F

__all__ = ["LIKELIHOODS", "NORMALISED", "PIXEL_LIKELIHOODS", "SCALED", "categorical_log_prob",
           "log_likelihood", "units"]

#: likelihoods of data in [0, 1] (a sigmoid mean)
PIXEL_LIKELIHOODS = ("bernoulli", "sse", "gaussian")
LIKELIHOODS = (*PIXEL_LIKELIHOODS, "normal")
#: whether the likelihood is a normalised density (its negative log is in nats)
NORMALISED = {"bernoulli": True, "sse": False, "gaussian": True, "normal": True}
#: likelihoods with a learned scale (``log_scale``)
SCALED = ("gaussian", "normal")
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def units(likelihood: str) -> str:
    """``"nats"`` for normalised likelihoods, ``"sse"`` for the squared error."""
    return "nats" if NORMALISED.get(likelihood, True) else "sse"


def log_likelihood(likelihood: str, x: Tensor, params: Tensor, ndim: int,
                   log_scale: Tensor | None = None) -> Tensor:
    """log p(x | θ) per image: ``x`` ``[B, *D]``, ``params`` ``[..., B, *D]`` → ``[..., B]``.

    ``ndim`` = len(D); ``log_scale`` (0-dim) is needed by ``"gaussian"`` and ``"normal"``.
    """
    x = x.expand_as(params)
    # one fused elementwise kernel each way; negate after the sum (a [..., B] tensor)
    if likelihood == "bernoulli":
        return -F.binary_cross_entropy_with_logits(params, x, reduction="none").flatten(-ndim) \
            .sum(-1)
    if likelihood == "sse":
        return -F.mse_loss(params.sigmoid(), x, reduction="none").flatten(-ndim).sum(-1)
    if likelihood in SCALED:
        if log_scale is None:
            raise ValueError(f"the {likelihood} likelihood needs a log_scale")
        mean = params.sigmoid() if likelihood == "gaussian" else params
        sq = F.mse_loss(mean, x, reduction="none").flatten(-ndim).sum(-1)
        d = math.prod(params.shape[-ndim:])
        return -0.5 * sq * (-2 * log_scale).exp() - d * (log_scale + _HALF_LOG_2PI)
    raise ValueError(f"likelihood: expected one of {', '.join(LIKELIHOODS)}, got {likelihood!r}")


def categorical_log_prob(labels: Tensor, logits: Tensor) -> Tensor:
    """log softmax(logits)[label]: ``labels`` int ``[B]``, ``logits`` ``[..., B, C]`` →
    ``[..., B]`` (the classifier codecs' ``log_prob``)."""
    logp = F.log_softmax(logits, -1)
    idx = labels.long().reshape(*([1] * (logits.dim() - 2)), -1, 1)
    return logp.gather(-1, idx.expand(*logits.shape[:-1], 1)).squeeze(-1)
