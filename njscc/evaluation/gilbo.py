"""GILBO: the generative information lower bound (Alemi & Fischer, 2018).

For a generative model z ~ p(z), x = g(z) (or x ~ p(x|z)), and any encoder e(z|x),

    GILBO = E_{z∼p(z), x=g(z)} [ log e(z|x) − log p(z) ]  ≤  I(X; Z)

(Barber–Agakov). The encoder is *fitted afresh* to samples (z, g(z)) of the generator by
maximum likelihood (that maximises the bound), then the bound is averaged over fresh samples.

* Continuous latents (VAEs): e is a diagonal-Gaussian MLP (:class:`GaussianEncoderNet`).
* Bit latents (NECST decoders): z is uniform on {0, 1}^m, log p(z) = −m·ln 2, and e is a
  factorised Bernoulli MLP (:class:`BernoulliEncoderNet`); since log e ≤ 0 the GILBO can never
  exceed m·ln 2 nats (m bits).

``x_mode`` chooses the generator output: ``"mean"`` (the decoder mean σ(θ(z)) — the GILBO
paper's deterministic generator, whose true I(X;Z) may be infinite, so the bound is set by
the encoder's fit) or ``"sample"`` (x ~ p(x|z), the model's stochastic joint).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from njscc.models.vae.base import LOGVAR_RANGE
from njscc.nn.mlp import mlp
from njscc.priors import diag_gaussian_log_prob

__all__ = ["BernoulliEncoderNet", "GaussianEncoderNet", "codec_gilbo", "gilbo"]

SamplePairs = Callable[[int, torch.Generator | None], tuple[Tensor, Tensor]]


class GaussianEncoderNet(nn.Module):
    """e(z|x) = N(μ(x), diag σ²(x)), an MLP ``x [N, in_dim] → (μ, log σ²) [N, 2d]``."""

    def __init__(self, in_dim: int, latent_dim: int, hidden: Sequence[int] = (256, 256),
                 activation: str = "relu") -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(*mlp((in_dim, *hidden, 2 * latent_dim), activation))

    def log_prob(self, z: Tensor, x: Tensor) -> Tensor:
        """log e(z|x): ``z`` ``[N, d]``, ``x`` ``[N, ...]`` → ``[N]``."""
        mean, logvar = self.net(x.reshape(x.shape[0], -1)).chunk(2, -1)
        return diag_gaussian_log_prob(z, mean, logvar.clamp(*LOGVAR_RANGE))


class BernoulliEncoderNet(nn.Module):
    """e(z|x) = Π_j Bernoulli(z_j; σ(ℓ_j(x))), an MLP ``x → ℓ [N, m]``; log e ≤ 0."""

    def __init__(self, in_dim: int, m: int, hidden: Sequence[int] = (256, 256),
                 activation: str = "relu") -> None:
        super().__init__()
        self.net = nn.Sequential(*mlp((in_dim, *hidden, m), activation))

    def log_prob(self, z: Tensor, x: Tensor) -> Tensor:
        logits = self.net(x.reshape(x.shape[0], -1))
        return -F.binary_cross_entropy_with_logits(logits, z, reduction="none").sum(-1)


def gilbo(
    sample_pairs: SamplePairs,
    log_prior: Callable[[Tensor], Tensor],
    encoder: nn.Module,
    *,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    n_eval: int = 10000,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Fit ``encoder`` to the generator by maximum likelihood, then estimate the GILBO.

    Args:
        sample_pairs: ``(n, generator) → (z [n, d], x [n, ...])``, fresh draws every call.
        log_prior: ``z → log p(z)`` ``[n]``.
        encoder: a module with ``log_prob(z, x) → [n]`` (trained in place, Adam ``lr``).
        steps, batch_size: training budget (fresh samples each step: no overfitting).
        n_eval: fresh samples for the final estimate.

    Returns:
        ``gilbo_nats`` (mean of log e(z|x) − log p(z)), ``gilbo_nats_se``, ``gilbo_bits``,
        ``steps``, ``batch_size``, ``n_eval``, ``train_loss_nats`` (final −log e, mean of the
        last 50 steps).
    """
    from tqdm.auto import tqdm

    if steps < 0 or batch_size < 1 or n_eval < 2:
        raise ValueError(f"need steps >= 0, batch_size >= 1, n_eval >= 2; got {steps}, "
                         f"{batch_size}, {n_eval}")
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    recent: list[float] = []
    encoder.train()
    for _ in tqdm(range(steps), disable=not progress, desc="gilbo fit", leave=False):
        with torch.no_grad():
            z, x = sample_pairs(batch_size, generator)
        loss = -encoder.log_prob(z, x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        recent = (recent + [float(loss.detach())])[-50:]
    encoder.eval()
    vals = []
    with torch.no_grad():
        for i in range(0, n_eval, 1000):
            z, x = sample_pairs(min(1000, n_eval - i), generator)
            vals.append((encoder.log_prob(z, x) - log_prior(z)).double().cpu())
    v = torch.cat(vals)
    mean = float(v.mean())
    se = float(v.std(unbiased=True) / math.sqrt(v.numel()))
    return {"gilbo_nats": mean, "gilbo_nats_se": se, "gilbo_bits": mean / math.log(2),
            "steps": int(steps), "batch_size": int(batch_size), "n_eval": int(v.numel()),
            "train_loss_nats": sum(recent) / len(recent) if recent else math.nan}


def codec_gilbo(codec: Any, *, x_mode: str = "mean", hidden: Sequence[int] = (256, 256),
                generator: torch.Generator | None = None, **fit: Any) -> dict[str, Any]:
    """GILBO of a trained codec's decoder (a VAE's, with its prior; or a NECST decoder with
    z uniform on m bits). A fresh encoder is built (global RNG for its initial weights);
    ``fit`` are :func:`gilbo`'s ``steps``, ``batch_size``, ``lr``, ``n_eval``, ``progress``.

    Returns :func:`gilbo`'s dict plus ``latent`` (``"gaussian"``/``"bits"``), ``x_mode``,
    ``m`` and, for bit codecs, ``upper_bound_nats`` = m·ln 2 (never exceeded).
    """
    if x_mode not in ("mean", "sample"):
        raise ValueError(f"x_mode must be 'mean' or 'sample', got {x_mode!r}")
    codec.eval()  # the codec is only sampled (under no_grad); its weights are not touched
    dev = next(codec.parameters()).device
    dtype = next(codec.parameters()).dtype
    in_dim = math.prod(codec.data_shape)
    if not codec.reconstructs:
        raise ValueError(f"GILBO needs a generator of data (a reconstruction decoder); "
                         f"{codec.config.get('name') or type(codec).__name__} classifies")
    continuous = codec.latent.kind == "real"
    if continuous and not codec.variational:
        raise ValueError("GILBO of a real latent needs the codec's prior (a variational codec)")
    if not continuous and codec.latent.kind != "bits":
        raise ValueError(f"GILBO is defined here for bits and real latents, not "
                         f"{codec.latent.kind}")
    m = int(codec.m)

    def generate(z: Tensor, g: torch.Generator | None) -> Tensor:
        params = codec.decode(z)
        if x_mode == "mean":
            return codec.reconstruct(params)
        if codec.likelihood != "bernoulli":
            raise ValueError("x_mode='sample' needs a Bernoulli likelihood")
        probs = torch.sigmoid(params)
        return (torch.rand(probs.shape, generator=g, device=dev, dtype=dtype) < probs).to(dtype)

    if continuous:
        def sample_pairs(n: int, g: torch.Generator | None) -> tuple[Tensor, Tensor]:
            z = codec.prior.sample(n, g).to(dev, dtype)
            return z, generate(z, g)

        log_prior: Callable[[Tensor], Tensor] = codec.log_prior
        enc: nn.Module = GaussianEncoderNet(in_dim, m, hidden)
    else:
        def sample_pairs(n: int, g: torch.Generator | None) -> tuple[Tensor, Tensor]:
            z = torch.randint(0, 2, (n, m), generator=g, device=dev).to(dtype)
            return z, generate(z, g)

        def log_prior(z: Tensor) -> Tensor:
            return torch.full(z.shape[:1], -m * math.log(2), dtype=z.dtype, device=z.device)

        enc = BernoulliEncoderNet(in_dim, m, hidden)
    enc = enc.to(dev, dtype)
    out = gilbo(sample_pairs, log_prior, enc, generator=generator, **fit)
    out.update(latent="gaussian" if continuous else "bits", x_mode=x_mode, m=m,
               encoder_hidden=list(hidden))
    if not continuous:
        out["upper_bound_nats"] = m * math.log(2)
        out["upper_bound_bits"] = float(m)
    return out
