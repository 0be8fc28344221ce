"""Rate–distortion estimates after training: IWAE, test-set R and D, NECST's rate bounds.

* :func:`iwae_bound` (Burda et al.): the K-sample importance-weighted bound on log p(x)
  (``K = 1`` is the ELBO; non-decreasing in K in expectation).
* :func:`evaluate_rate_distortion`: test-set R, D, ELBO, IWAE of a variational codec with
  standard errors, nats and bits; :func:`vae_point` is the seeded call.
* :func:`bit_codec_rate_distortion`: a NECST bit codec in the same units — D over the channel
  and two upper bounds on its rate I(X;Y); :func:`necst_point` is the seeded call.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from njscc.evaluation.stats import mean_se
from njscc.objectives.base import check_n_samples
from njscc.objectives.rate_distortion import LN2

__all__ = ["bit_codec_rate_distortion", "evaluate_rate_distortion", "iwae_bound",
           "iwae_on_subset", "necst_point", "vae_point"]


@torch.no_grad()
def iwae_bound(codec: Any, x: Tensor, n_samples: int = 100, chunk: int = 100,
               generator: torch.Generator | None = None) -> Tensor:
    """log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x): per image ``[B]`` (nats).

    A lower bound on log p(x) for every K (K = 1: a single-sample ELBO), tighter in expectation
    as K grows. Codecs whose posterior of a layer depends on the samples above provide
    ``log_weights(x, K, generator)`` (``[K, B]`` log p(x, z) − log q(z|x)) instead. Samples
    are drawn ``chunk`` at a time (memory ``chunk·B·D``).
    """
    k = check_n_samples(n_samples)
    if hasattr(codec, "log_weights"):  # top-down inference (U-Net HVAE): the codec samples
        logw = torch.cat([codec.log_weights(x, min(chunk, k - s), generator)
                          for s in range(0, k, chunk)], 0)
        return torch.logsumexp(logw, 0) - math.log(k)
    h = codec.encode(x)
    parts = []
    for start in range(0, k, chunk):
        n = min(chunk, k - start)
        z = codec.sample_latent(h, n, generator)
        parts.append(codec.log_prob(x, codec.decode(z)) + codec.log_prior(z) - codec.log_q(z, h))
    logw = torch.cat(parts, 0)  # [K, B]
    return torch.logsumexp(logw, 0) - math.log(k)


@torch.no_grad()
def iwae_on_subset(codec: Any, images: Tensor, n_samples: int, n_images: int, seed: int,
                   generator: torch.Generator | None = None, batch: int = 100,
                   chunk: int = 100) -> tuple[Tensor, Tensor]:
    """IWAE with ``n_samples`` samples and the single-sample ELBO, both on the same
    ``n_images`` images drawn at random (``torch.randperm`` seeded by ``seed``): ``(iwae
    [n], elbo [n])`` on the CPU, nats. Batches of ``batch`` images, ``chunk`` samples at a
    time; all IWAE batches are drawn from ``generator`` before the ELBO batches."""
    dev = next(codec.parameters()).device
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(int(seed)))
    x = images[pick[:n_images]].to(dev)
    iw = torch.cat([iwae_bound(codec, x[i:i + batch], n_samples, chunk=chunk,
                               generator=generator).cpu() for i in range(0, len(x), batch)])
    e1 = torch.cat([iwae_bound(codec, x[i:i + batch], 1, generator=generator).cpu()
                    for i in range(0, len(x), batch)])
    return iw, e1


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
        mean, se = mean_se(v)
        out.update({f"{name}_nats": mean, f"{name}_nats_se": se, f"{name}_bits": mean / LN2,
                    f"{name}_bits_se": se / LN2})
    out["rate_analytic"] = float(bool(codec.prior.analytic_kl))
    out["distortion_units"] = codec.distortion_units
    out["n_images"] = int(images.shape[0])
    out["n_samples"] = int(n_samples)
    if iw:
        v = torch.cat(iw)
        mean, se = mean_se(v)
        out.update(iwae_nats=mean, iwae_nats_se=se, nll_iwae_nats=-mean,
                   nll_iwae_bits=-mean / LN2, iwae_k=int(iwae_samples), n_iwae_images=n_iw)
        # same images, for a paired ELBO vs IWAE comparison
        out["elbo_nats_iwae_subset"] = mean_se(-(r[sub] + d[sub]))[0]
        out["iwae_minus_elbo_nats"] = mean_se(v + r[sub] + d[sub])[0]
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
        mean, se = mean_se(v)
        out_d.update({f"{name}_nats": mean, f"{name}_nats_se": se, f"{name}_bits": mean / LN2})
    cap = float(channel.capacity)
    out_d.update(rate_capacity_bits=codec.m * cap, rate_capacity_nats=codec.m * cap * LN2,
                 capacity_bits_per_use=cap, m=int(codec.m), n_images=int(images.shape[0]),
                 n_samples=int(n_samples))
    return out_d


def vae_point(model: Any, test_x: Tensor, *, iwae_k: int = 100, iwae_images: int | None = 2000,
              seed: int = 0, batch_size: int = 250) -> dict[str, float]:
    """:func:`evaluate_rate_distortion` with a seeded generator (R and D on all of ``test_x``;
    IWAE on a seeded random subset of ``iwae_images``)."""
    g = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    return evaluate_rate_distortion(model, test_x, n_samples=1, iwae_samples=iwae_k,
                                    iwae_images=iwae_images, batch_size=batch_size, generator=g,
                                    subset_seed=seed)


def necst_point(model: Any, test_x: Tensor, channel: Any, *, n_samples: int = 10,
                seed: int = 0) -> dict[str, float]:
    """:func:`bit_codec_rate_distortion`, seeded."""
    g = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    return bit_codec_rate_distortion(model, test_x, channel, n_samples=n_samples, generator=g)
