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

Evaluation: :func:`iwae_bound` (Burda et al.), the K-sample importance-weighted bound on
log p(x) (``K = 1`` is the ELBO; non-decreasing in K in expectation), and
:func:`evaluate_rate_distortion` (test-set R, D, ELBO, IWAE with standard errors, nats and
bits). All statistics are logged in nats and bits (``*_nats``, ``*_bits``).

Labelled batches (VIB) go through the Trainer unchanged as one tensor:
:func:`pack_labelled` appends the label as a last column, :func:`unpack_labelled` splits it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from njscc.objectives.base import Objective, check_n_samples, to_floats

__all__ = ["LN2", "ELBO", "VIB", "BetaVAE", "TherML", "bit_codec_rate_distortion",
           "evaluate_rate_distortion", "iwae_bound", "pack_labelled", "unpack_labelled"]

LN2 = math.log(2.0)


# --------------------------------------------------------------------------- labelled data
def pack_labelled(images: Tensor, labels: Tensor) -> Tensor:
    """``images`` ``[N, *D]`` + int ``labels`` ``[N]`` → float ``[N, prod(D) + 1]``."""
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape [{images.shape[0]}], got {list(labels.shape)}")
    return torch.cat([images.reshape(images.shape[0], -1),
                      labels.to(images.dtype).unsqueeze(1)], 1)


def unpack_labelled(x: Tensor, data_shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`pack_labelled`: ``[B, prod(D) + 1]`` → (images ``[B, *D]``, labels)."""
    d = math.prod(data_shape)
    if x.dim() != 2 or x.shape[1] != d + 1:
        raise ValueError(f"labelled batch must have shape [B, {d + 1}] (pixels + label, see "
                         f"pack_labelled), got {list(x.shape)}")
    return x[:, :d].reshape(-1, *data_shape), x[:, d].round().long()


# --------------------------------------------------------------------------- objectives
def _check_weight(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


class TherML(Objective):
    """``w_rate·R + w_distortion·D + w_class·C`` for continuous-latent codecs.

    Args:
        w_rate, w_distortion, w_class: non-negative weights (see the module table).
        n_samples: reparameterised samples per input for D, C and a Monte-Carlo R.
        analytic_kl: use the closed-form KL when the prior allows it (N(0, I)).

    ``x`` is ``[B, *data_shape]``, or a packed labelled batch (:func:`pack_labelled`) when
    ``w_class > 0``. The ``channel`` argument is ignored (continuous latents).

    Stats (batch means): ``loss`` (the objective), ``bound`` (= −loss), ``rate_nats``/
    ``rate_bits``, and when present ``distortion_nats``/``_bits``, ``elbo_nats`` (−(D + R)),
    ``class_ce_nats``/``_bits``, ``error`` (classification error of the first sample).
    ``distortion`` is D (reconstruction codecs) or C (classifiers).
    """

    def __init__(self, w_rate: float = 1.0, w_distortion: float = 1.0, w_class: float = 0.0,
                 n_samples: int = 1, analytic_kl: bool = True) -> None:
        super().__init__()
        self.w_rate = _check_weight("w_rate", w_rate)
        self.w_distortion = _check_weight("w_distortion", w_distortion)
        self.w_class = _check_weight("w_class", w_class)
        self.n_samples = check_n_samples(n_samples)
        self.analytic_kl = bool(analytic_kl)

    def terms(self, codec: Any, x: Tensor, generator: torch.Generator | None = None
              ) -> dict[str, Tensor]:
        """Per-input terms ``[B]`` (differentiable): ``rate`` and, as needed, ``distortion``,
        ``class_ce``; plus ``error`` (no grad) for classifiers."""
        from njscc.models.vae.base import is_continuous

        if not is_continuous(codec):
            raise TypeError(f"{type(self).__name__} needs a continuous-latent codec (vae_mlp, "
                            f"vib_mlp); got {type(codec).__name__} (bit codecs: use vimco etc.)")
        labels = None
        if self.w_class > 0:
            if not codec.has_classifier:
                raise ValueError(f"w_class > 0 needs a classifier codec (vib_mlp), got "
                                 f"{type(codec).__name__}")
            x, labels = unpack_labelled(x, codec.data_shape)
        if self.w_distortion > 0 and not codec.has_reconstruction:
            raise ValueError(f"w_distortion > 0 needs a reconstruction decoder (vae_mlp), got "
                             f"{type(codec).__name__}")
        h = codec.encode(x)
        z = codec.sample_latent(h, self.n_samples, generator)
        out = {"rate": codec.rate(h, z, analytic=self.analytic_kl)}
        params = codec.decode(z)
        if codec.has_reconstruction:
            out["distortion"] = -codec.log_prob(x, params).mean(0)
        if labels is not None:
            out["class_ce"] = -codec.log_prob(labels, params).mean(0)
            with torch.no_grad():
                out["error"] = (params[0].argmax(-1) != labels).to(params.dtype)
        return out

    def forward(self, codec: Any, x: Tensor, channel: Any = None,
                generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
        t = self.terms(codec, x, generator)
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
            stats.update(distortion=d, distortion_nats=d, distortion_bits=d / LN2,
                         elbo_nats=-(d + r))
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

    def __init__(self, beta: float = 1.0, n_samples: int = 1, analytic_kl: bool = True) -> None:
        super().__init__(beta, 1.0, 0.0, n_samples, analytic_kl)
        self.beta = self.w_rate


class VIB(TherML):
    """Deep VIB (Alemi et al. 2017): CE + β·R, TherML (β, 0, 1); needs labelled batches."""

    def __init__(self, beta: float = 1e-3, n_samples: int = 1, analytic_kl: bool = True) -> None:
        super().__init__(beta, 0.0, 1.0, n_samples, analytic_kl)
        self.beta = self.w_rate


# --------------------------------------------------------------------------- evaluation
@torch.no_grad()
def iwae_bound(codec: Any, x: Tensor, n_samples: int = 100, chunk: int = 100,
               generator: torch.Generator | None = None) -> Tensor:
    """log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x): per image ``[B]`` (nats).

    A lower bound on log p(x) for every K (K = 1: a single-sample ELBO), tighter in expectation
    as K grows. Samples are drawn ``chunk`` at a time (memory ``chunk·B·D``).
    """
    k = check_n_samples(n_samples)
    h = codec.encode(x)
    parts = []
    for start in range(0, k, chunk):
        n = min(chunk, k - start)
        z = codec.sample_latent(h, n, generator)
        parts.append(codec.log_prob(x, codec.decode(z)) + codec.log_prior(z) - codec.log_q(z, h))
    logw = torch.cat(parts, 0)  # [K, B]
    return torch.logsumexp(logw, 0) - math.log(k)


def _mean_se(v: Tensor) -> tuple[float, float]:
    v = v.double()
    n = v.numel()
    return float(v.mean()), float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0


@torch.no_grad()
def evaluate_rate_distortion(
    codec: Any,
    images: Tensor,
    *,
    n_samples: int = 1,
    iwae_samples: int = 0,
    iwae_images: int | None = None,
    batch_size: int = 500,
    generator: torch.Generator | None = None,
    subset_seed: int = 0,
) -> dict[str, float]:
    """Test-set rate, distortion, ELBO (and IWAE) of a continuous-latent VAE codec.

    Args:
        codec: a reconstruction codec (``vae_mlp``), switched to eval mode for the call.
        images: ``[N, *data_shape]``.
        n_samples: samples per image for D (and a Monte-Carlo R for non-Gaussian priors).
        iwae_samples: K for :func:`iwae_bound` (0: skip).
        iwae_images: evaluate IWAE on N images only (cost K·N decoder passes): a random subset
            drawn with ``subset_seed`` (``None``: all images).
        batch_size: images per pass.

    Returns:
        floats: ``rate_nats``, ``distortion_nats``, ``elbo_nats`` (= −(D + R)), ``nll_elbo_nats``,
        their ``_bits`` versions, ``*_se`` (standard error over images); ``iwae_nats`` (mean IWAE
        bound = an estimate of log p(x)), ``nll_iwae_nats`` and ``_bits``, ``iwae_k``,
        ``n_images``, ``n_iwae_images``, ``elbo_nats_iwae_subset`` (ELBO on the IWAE images),
        ``iwae_minus_elbo_nats`` (paired gap, ≥ 0 in expectation), ``rate_analytic`` (1.0 when
        R is closed form).
    """
    was = codec.training
    codec.eval()
    dev = next(codec.parameters()).device
    rates, dists, iw = [], [], []
    try:
        for i in range(0, images.shape[0], batch_size):
            x = images[i:i + batch_size].to(dev)
            h = codec.encode(x)
            z = codec.sample_latent(h, n_samples, generator)
            rates.append(codec.rate(h, z).cpu())
            dists.append((-codec.log_prob(x, codec.decode(z)).mean(0)).cpu())
        n_all = images.shape[0]
        n_iw = n_all if iwae_images is None else min(iwae_images, n_all)
        # a seeded random subset (test files may be ordered: the first N are not representative)
        sub = (torch.arange(n_all) if n_iw == n_all else
               torch.randperm(n_all, generator=torch.Generator().manual_seed(subset_seed))[:n_iw])
        if iwae_samples:
            for i in range(0, n_iw, batch_size):
                x = images[sub[i:i + batch_size]].to(dev)
                iw.append(iwae_bound(codec, x, iwae_samples, generator=generator).cpu())
    finally:
        codec.train(was)
    r, d = torch.cat(rates), torch.cat(dists)
    out: dict[str, float] = {}
    for name, v in (("rate", r), ("distortion", d), ("elbo", -(r + d)), ("nll_elbo", r + d)):
        mean, se = _mean_se(v)
        out.update({f"{name}_nats": mean, f"{name}_nats_se": se, f"{name}_bits": mean / LN2,
                    f"{name}_bits_se": se / LN2})
    out["rate_analytic"] = float(bool(codec.prior.analytic_kl))
    out["n_images"] = int(images.shape[0])
    out["n_samples"] = int(n_samples)
    if iw:
        v = torch.cat(iw)
        mean, se = _mean_se(v)
        out.update(iwae_nats=mean, iwae_nats_se=se, nll_iwae_nats=-mean,
                   nll_iwae_bits=-mean / LN2, iwae_k=int(iwae_samples), n_iwae_images=n_iw)
        # same images, for a paired ELBO vs IWAE comparison
        out["elbo_nats_iwae_subset"] = _mean_se(-(r[sub] + d[sub]))[0]
        out["iwae_minus_elbo_nats"] = _mean_se(v + r[sub] + d[sub])[0]
    return out


@torch.no_grad()
def bit_codec_rate_distortion(
    codec: Any,
    images: Tensor,
    channel: Any,
    *,
    n_samples: int = 10,
    batch_size: int = 500,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Rate and distortion (nats) of a NECST bit codec over ``channel``, in the VAE's units.

    * ``distortion_nats``: −E_{q(y|x)} log p(x|y), y from the closed-form channel marginal of
      the stochastic encoder (``codec.forward`` with ``n_samples`` draws per image) — the
      quantity NECST's objective minimises (nats for the Bernoulli likelihood).
    * ``distortion_hard_nats``: the same with the most probable code ŷ = 1[ℓ > 0] sent over
      the channel (the NECST test protocol).
    * ``rate_capacity_nats``: m·C(ε)·ln 2 ≥ I(X;Y), the channel bound.
    * ``rate_variational_nats``: E_x KL(q(y|x) ‖ Π_j r_j(y_j)), r_j = the test-set average of
      the per-bit received marginals; also ≥ I(X;Y) and ≤ the capacity bound for a BSC.
    * ``rate_hard_variational_nats``: the same bound for the hard-code protocol.
    """
    was = codec.training
    codec.eval()
    dev = next(codec.parameters()).device
    channel = channel.to(dev)
    d_soft, d_hard, margs, hard_margs = [], [], [], []
    try:
        for i in range(0, images.shape[0], batch_size):
            x = images[i:i + batch_size].to(dev)
            out = codec(x, channel, n_samples=n_samples, generator=generator)
            d_soft.append((-out["log_p"].mean(0)).cpu())
            logits = out["logits"]
            margs.append(channel.marginal(torch.sigmoid(logits)).double().cpu())  # [B, m, S]
            bits = (logits > 0).to(logits.dtype)
            hard_margs.append(channel.marginal(bits).double().cpu())
            y = channel(bits, generator=generator)
            d_hard.append((-codec.log_prob(x, codec.decode(y))).cpu())
    finally:
        codec.train(was)

    def variational(ms: list[Tensor]) -> Tensor:
        q = torch.cat(ms)  # [N, m, S]
        r = q.mean(0, keepdim=True)
        kl = (q * (q.clamp_min(1e-300).log() - r.clamp_min(1e-300).log())).sum(-1).sum(-1)
        return kl  # [N]

    out_d: dict[str, float] = {}
    for name, v in (("distortion", torch.cat(d_soft)), ("distortion_hard", torch.cat(d_hard)),
                    ("rate_variational", variational(margs)),
                    ("rate_hard_variational", variational(hard_margs))):
        mean, se = _mean_se(v)
        out_d.update({f"{name}_nats": mean, f"{name}_nats_se": se, f"{name}_bits": mean / LN2})
    cap = float(channel.capacity)
    out_d.update(rate_capacity_bits=codec.m * cap, rate_capacity_nats=codec.m * cap * LN2,
                 capacity_bits_per_use=cap, m=int(codec.m), n_images=int(images.shape[0]),
                 n_samples=int(n_samples))
    return out_d
