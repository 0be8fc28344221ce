"""Rate–distortion objectives with explicit information terms (Alemi et al. 2018; TherML).

For a codec with encoder e(z|x), prior (marginal model) m(z), decoder d(x|z) and classifier
c(y|z), per input (nats)::

    R = KL(e(z|x) ‖ m(z))            rate       (closed form for N(0, I), Monte Carlo otherwise)
    D = −E_e log d(x|z)              distortion
    C = −E_e log c(y|z)              classification error (cross-entropy)

and, for any data distribution with entropy H, ``H − D ≤ I(X;Z) ≤ R``.

:class:`TherML` ``(w_rate, w_distortion, w_class)`` minimises ``w_rate·R + w_distortion·D +
w_class·C`` (batch mean, reparameterised Gaussian samples). Its settings:

=====================  ========================  ===========================================
objective              (w_rate, w_dist, w_class)  value
=====================  ========================  ===========================================
:class:`ELBO`          (1, 1, 0)                 −ELBO = D + R
:class:`BetaVAE`       (β, 1, 0)                 D + β·R  (β < 1: more rate, β > 1: less)
:class:`VIB`           (β, 0, 1)                 C + β·R  (deep variational IB)
NECST                  (0, 1, 0)                 D over the channel; R is not penalised but
                                                 *bounded by construction*: the m code bits
                                                 cross a channel of capacity C(ε) bits/use,
                                                 so I(X;Y) ≤ m·C(ε) bits (m·C·ln 2 nats).
=====================  ========================  ===========================================

NECST codecs have discrete latents, so their gradient needs a score-function estimator
(VIMCO etc.); :func:`bit_codec_rate_distortion` evaluates their R and D in the same units:
D = −E_{q(y|x)} log p(x|y) over the closed-form channel marginal, and two upper bounds on the
rate I(X;Y): ``m·C(ε)·ln 2`` and the variational E_x KL(q(y|x) ‖ r(y)) with r the product of
the per-bit aggregate marginals (≤ m·C·ln 2 for a BSC).

Evaluation after training (IWAE, test-set R and D, NECST's rate bounds) lives in
:mod:`njscc.evaluation.rate_distortion`. Statistics are logged in nats and bits (``*_nats``,
``*_bits``) where the likelihood is normalised; with the unnormalised ``"sse"`` likelihood the
distortion is an SSE and only ``distortion`` is logged. Labels (VIB) come in the batch's
``labels`` field.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.objectives.base import Objective, check_n_samples, condition_kwargs, to_floats
from njscc.validation import check_bool, check_number

__all__ = ["LN2", "ELBO", "VIB", "BetaVAE", "TherML"]

LN2 = math.log(2.0)


# --------------------------------------------------------------------------- objectives
class TherML(Objective):
    """``w_rate·R + w_distortion·D + w_class·C`` for continuous-latent codecs.

    Args:
        w_rate, w_distortion, w_class: non-negative weights (see the module table).
        n_samples: reparameterised samples per input for D, C and a Monte-Carlo R.
        analytic_kl: use the closed-form KL when the prior allows it (N(0, I)).

    The batch needs ``labels`` when ``w_class > 0``; no channel is used (continuous latents).
    Conditional codecs (:attr:`~njscc.codec.LatentCodec.conditions`, e.g. ``ivae``'s segment
    label or ``fair_vae``'s u) get those batch fields in encode, decode and rate.

    Stats (batch means): ``loss`` (the objective), ``bound`` (= −loss), ``rate_nats``/
    ``rate_bits``, and when present ``distortion_nats``/``_bits``, ``elbo_nats`` (−(D + R)),
    ``class_ce_nats``/``_bits``, ``error`` (classification error of the first sample).
    ``distortion`` is D (reconstruction codecs) or C (classifiers).
    """

    uses_channel = False

    def __init__(self, w_rate: float = 1.0, w_distortion: float = 1.0, w_class: float = 0.0,
                 n_samples: int = 1, analytic_kl: bool = True) -> None:
        super().__init__()
        self.w_rate = check_number(w_rate, "w_rate", min=0)
        self.w_distortion = check_number(w_distortion, "w_distortion", min=0)
        self.w_class = check_number(w_class, "w_class", min=0)
        self.n_samples = check_n_samples(n_samples)
        self.analytic_kl = check_bool(analytic_kl, "analytic_kl")

    conditional = True

    @property
    def needs(self) -> tuple[str, ...]:
        return ("x", "labels") if self.w_class > 0 else ("x",)

    def supports(self, codec: LatentCodec) -> Support:
        if codec.latent.kind != "real" or not codec.variational:
            return Support.no(f"it needs a real latent with a prior (vae_mlp, vib_mlp), the "
                              f"model has {codec.latent.kind}")
        if self.w_class > 0 and not codec.classifies:
            return Support.no("w_class > 0 needs a classifier decoder q(label | z) (vib_mlp)")
        if self.w_distortion > 0 and not codec.reconstructs:
            return Support.no("w_distortion > 0 needs a reconstruction decoder (vae_mlp)")
        return Support.yes()

    def terms(self, codec: Any, batch: Batch, generator: torch.Generator | None = None
              ) -> dict[str, Tensor]:
        """Per-input terms ``[B]`` (differentiable): ``rate`` and, as needed, ``distortion``,
        ``class_ce``; plus ``error`` (no grad) for classifiers."""
        x, labels = batch.x, (batch.labels if self.w_class > 0 else None)
        cond = condition_kwargs(codec, batch)
        h = codec.encode(x, **cond)
        z = codec.sample_latent(h, self.n_samples, generator)
        out = {"rate": codec.rate(h, z, analytic=self.analytic_kl, **cond)}
        params = codec.decode(z, **cond)
        if codec.reconstructs:
            out["distortion"] = -codec.log_prob(x, params).mean(0)
        if labels is not None:
            out["class_ce"] = -codec.log_prob(labels, params).mean(0)
            with torch.no_grad():
                out["error"] = (params[0].argmax(-1) != labels).to(params.dtype)
        return out

    def loss(self, codec: LatentCodec, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        t = self.terms(codec, batch, generator)
        loss = self.w_rate * t["rate"].mean()
        if self.w_distortion > 0:
            loss = loss + self.w_distortion * t["distortion"].mean()
        if self.w_class > 0:
            loss = loss + self.w_class * t["class_ce"].mean()
        stats: dict[str, Tensor | float] = {"loss": loss.detach(), "bound": -loss.detach()}
        r = t["rate"].detach().mean()
        stats.update(rate_nats=r, rate_bits=r / LN2)
        if "distortion" in t:
            d = t["distortion"].detach().mean()
            stats["distortion"] = d
            if codec.distortion_units == "nats":
                stats.update(distortion_nats=d, distortion_bits=d / LN2, elbo_nats=-(d + r))
        if "class_ce" in t:
            c = t["class_ce"].detach().mean()
            stats.update(class_ce_nats=c, class_ce_bits=c / LN2, error=t["error"].mean())
            stats.setdefault("distortion", c)
        return loss, to_floats(**stats)


class ELBO(TherML):
    """Negative evidence lower bound D + R: TherML (1, 1, 0)."""

    def __init__(self, n_samples: int = 1, analytic_kl: bool = True) -> None:
        super().__init__(1.0, 1.0, 0.0, n_samples, analytic_kl)


class BetaVAE(TherML):
    """β-VAE (Higgins et al. 2017): D + β·R, TherML (β, 1, 0)."""

    default_for = ("real",)

    def __init__(self, beta: float = 1.0, n_samples: int = 1, analytic_kl: bool = True) -> None:
        super().__init__(beta, 1.0, 0.0, n_samples, analytic_kl)
        self.beta = self.w_rate


class VIB(TherML):
    """Deep VIB (Alemi et al. 2017): CE + β·R, TherML (β, 0, 1); needs labelled batches."""

    default_for = ("real",)

    def __init__(self, beta: float = 1e-3, n_samples: int = 1, analytic_kl: bool = True) -> None:
        super().__init__(beta, 0.0, 1.0, n_samples, analytic_kl)
        self.beta = self.w_rate
