"""A small multi-resolution hierarchical VAE with a U-Net architecture (Falck, Williams et al.
2023, "A Fourier space perspective on diffusion models / a multi-resolution framework for
U-Nets"; reference FabianFalck/unet-design).

The image (28×28, zero-padded to 32×32) goes up a U-Net encoder with **average pooling**
between resolutions 32 → 16 → 8 → 4 (by :mod:`njscc.nn.haar`, each pooling is the Haar
approximation band, so the bottom-up path is a Haar multi-resolution analysis); the decoder
comes down 4 → 8 → 16 → 32 with nearest upsampling. At each latent resolution r (default 4,
8, 16) a Gaussian latent z_r (``z_channels`` × r × r) is drawn top-down, ladder-style:

    prior      p(z_r | d_r)          = N(μ_p(d_r), σ_p²(d_r))
    posterior  q(z_r | x, z_{<r})    = N(μ_q([d_r, skip_r(x)]), σ_q²(…))
    state      d_r ← d_r + W z_r, then ``steps`` residual blocks, then upsampling

so the U-Net's skip connection at resolution r reaches the decoder only through z_r. p(x | d_32)
is Bernoulli (binarized MNIST). The ELBO's rate is the sum of the closed-form Gaussian KLs.

Every resolution applies ``steps`` residual blocks on each path; ``share_weights=True`` applies
*one* block ``steps`` times (the paper's weight sharing across the time-like depth: about half
the parameters at ``steps = 2``).

Latent: ``hierarchical(real(z_c·4²), real(z_c·8²), real(z_c·16²))`` (coarse first), not sent
over a channel. ``compress(x)`` → the posterior means, top-down, concatenated ``[B, Σ]``;
``decompress(z)`` → images. Training: ``hierarchical_elbo`` (:meth:`elbo_terms`); IWAE:
:meth:`log_weights` (used by :func:`njscc.evaluation.rate_distortion.iwae_bound`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from njscc.codec import LatentCodec, LatentSpec
from njscc.models import register
from njscc.models.vae.base import LOGVAR_RANGE
from njscc.priors import diag_gaussian_log_prob
from njscc.validation import LIMITS, check_bool, check_int_tuple, check_positive_int

__all__ = ["UNetHVAE"]

_PADDED = 32


def _draw(mean: Tensor, logvar: Tensor, generator: torch.Generator | None) -> Tensor:
    """A reparameterised draw from N(mean, e^logvar)."""
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(0.5 * logvar) * eps


class _ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.c2(F.gelu(self.c1(F.gelu(x))))


class _Stage(nn.Module):
    """``steps`` residual blocks, or one block applied ``steps`` times (shared)."""

    def __init__(self, c: int, steps: int, shared: bool) -> None:
        super().__init__()
        self.steps = steps
        self.blocks = nn.ModuleList(_ResBlock(c) for _ in range(1 if shared else steps))

    def forward(self, x: Tensor) -> Tensor:
        for s in range(self.steps):
            x = self.blocks[s % len(self.blocks)](x)
        return x


@register("unet_hvae")
class UNetHVAE(LatentCodec):
    """U-Net hierarchical VAE (module docstring).

    Args:
        data_shape: ``(1, 28, 28)`` (padded to 32×32) or any ``(C, 32, 32)``.
        channels: feature channels at every resolution.
        z_channels: channels of each latent.
        latent_res: resolutions carrying a latent (each of 4, 8, 16, 32).
        steps: residual blocks per resolution and path.
        share_weights: one block per resolution and path, applied ``steps`` times.
    """

    likelihood = "bernoulli"
    reconstructs = True

    def __init__(self, data_shape: Sequence[int] = (1, 28, 28), channels: int = 32,
                 z_channels: int = 4, latent_res: Sequence[int] = (4, 8, 16), steps: int = 2,
                 share_weights: bool = False) -> None:
        super().__init__()
        self.data_shape = check_int_tuple(data_shape, "data_shape", length=3)
        c_in, h, w = self.data_shape
        if h != w or h > _PADDED or (_PADDED - h) % 2:
            raise ValueError(f"data_shape: square images of side ≤ {_PADDED} with an even "
                             f"margin, got {list(self.data_shape)}")
        self.pad = (_PADDED - h) // 2
        c = check_positive_int(channels, "channels", max=LIMITS["hidden"])
        self.z_channels = check_positive_int(z_channels, "z_channels", max=LIMITS["hidden"])
        res = check_int_tuple(latent_res, "latent_res")
        if not res or any(r not in (4, 8, 16, 32) for r in res) or len(set(res)) != len(res):
            raise ValueError(f"latent_res: distinct values from 4, 8, 16, 32, got {list(res)}")
        self.latent_res = tuple(sorted(res))
        self.steps = check_positive_int(steps, "steps", max=16)
        self.share_weights = check_bool(share_weights, "share_weights")
        self.resolutions = (32, 16, 8, 4)
        self.m = sum(self.z_channels * r * r for r in self.latent_res)
        zc = self.z_channels
        self.encoder = nn.ModuleDict({
            "inp": nn.Conv2d(c_in, c, 3, padding=1),
            "stages": nn.ModuleList(_Stage(c, self.steps, self.share_weights)
                                    for _ in self.resolutions),
            "post": nn.ModuleDict({str(r): nn.Conv2d(2 * c, 2 * zc, 3, padding=1)
                                   for r in self.latent_res})})
        self.decoder = nn.ModuleDict({
            "stages": nn.ModuleList(_Stage(c, self.steps, self.share_weights)
                                    for _ in self.resolutions),
            "prior": nn.ModuleDict({str(r): nn.Conv2d(c, 2 * zc, 3, padding=1)
                                    for r in self.latent_res}),
            "zproj": nn.ModuleDict({str(r): nn.Conv2d(zc, c, 1) for r in self.latent_res}),
            "out": nn.Conv2d(c, c_in, 3, padding=1)})
        self.top = nn.Parameter(torch.zeros(c, 4, 4))

    @property
    def latent(self) -> LatentSpec:
        return LatentSpec.hierarchical(LatentSpec.real(self.z_channels * r * r)
                                       for r in self.latent_res)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        enc = list(self.encoder.parameters())
        seen = {id(p) for p in enc}
        return {"encoder": enc, "decoder": [p for p in self.parameters() if id(p) not in seen]}

    # ------------------------------------------------------------------ paths
    def _skips(self, x: Tensor) -> dict[int, Tensor]:
        """Bottom-up features at every resolution (average pooling in between)."""
        self._check_x(x)
        h = F.pad(x.reshape(x.shape[0], *self.data_shape), [self.pad] * 4)
        h = self.encoder["inp"](h)
        skips = {}
        for r, stage in zip(self.resolutions, self.encoder["stages"], strict=True):
            h = stage(h)
            skips[r] = h
            if r > 4:
                h = F.avg_pool2d(h, 2)
        return skips

    def _top_down(self, batch: int, skips: dict[int, Tensor] | None = None,
                  given: dict[int, Tensor] | None = None, generator: torch.Generator | None = None,
                  sample: bool = True) -> dict[str, object]:
        """The top-down pass. With ``skips``: z_r from the posterior (a sample, or its mean if
        not ``sample``); with ``given``: those z_r; otherwise from the prior. Returns the pixel
        logits, the z's and the per-latent (μ_p, logvar_p, μ_q, logvar_q)."""
        d = self.top.expand(batch, *self.top.shape)
        zs, stats = {}, {}
        for r, stage in zip(self.resolutions[::-1], self.decoder["stages"][::-1], strict=True):
            if r in self.latent_res:
                mp, lp = self.decoder["prior"][str(r)](d).chunk(2, 1)
                lp = lp.clamp(*LOGVAR_RANGE)
                if given is not None:
                    z, mq, lq = given[r], None, None
                elif skips is not None:
                    mq, lq = self.encoder["post"][str(r)](torch.cat([d, skips[r]], 1)).chunk(2, 1)
                    lq = lq.clamp(*LOGVAR_RANGE)
                    z = _draw(mq, lq, generator) if sample else mq
                else:
                    mq = lq = None
                    z = _draw(mp, lp, generator)
                zs[r] = z
                stats[r] = (mp, lp, mq, lq)
                d = d + self.decoder["zproj"][str(r)](z)
            d = stage(d)
            if r < 32:
                d = F.interpolate(d, scale_factor=2, mode="nearest")
        logits = self.decoder["out"](d)
        p = self.pad
        if p:
            logits = logits[..., p:-p, p:-p]
        return {"params": logits, "z": zs, "stats": stats}

    # ------------------------------------------------------------------ training
    def elbo_terms(self, x: Tensor, tau: float = 1.0, hard: bool = True,
                   generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One reparameterised sample: ``distortion`` −log p(x|z), ``rate`` Σ_r KL(q ‖ p)
        (closed form, given the samples above), ``rate_layers`` ``[B, L]`` (coarse first),
        ``aux`` 0; per input ``[B]``. (``tau``/``hard`` are for discrete layers: unused.)"""
        out = self._top_down(x.shape[0], self._skips(x), generator=generator)
        kls = []
        for r in self.latent_res:
            mp, lp, mq, lq = out["stats"][r]  # type: ignore[index]
            kl = 0.5 * (lp - lq + (torch.exp(lq) + (mq - mp).square()) * torch.exp(-lp) - 1)
            kls.append(kl.flatten(1).sum(-1))
        rate_layers = torch.stack(kls, -1)
        distortion = -self.log_prob(x, out["params"])  # type: ignore[arg-type]
        return {"distortion": distortion, "rate": rate_layers.sum(-1),
                "rate_layers": rate_layers, "aux": torch.zeros_like(distortion)}

    @torch.no_grad()
    def log_weights(self, x: Tensor, n_samples: int, generator: torch.Generator | None = None
                    ) -> Tensor:
        """log p(x, z) − log q(z | x) for ``n_samples`` posterior samples → ``[K, B]``."""
        b = x.shape[0]
        xr = x.repeat(n_samples, *([1] * (x.dim() - 1)))
        out = self._top_down(xr.shape[0], self._skips(xr), generator=generator)
        lw = self.log_prob(xr, out["params"])  # type: ignore[arg-type]
        for r in self.latent_res:
            mp, lp, mq, lq = out["stats"][r]  # type: ignore[index]
            z = out["z"][r]  # type: ignore[index]
            lw = lw + diag_gaussian_log_prob(z.flatten(1), mp.flatten(1), lp.flatten(1)) \
                - diag_gaussian_log_prob(z.flatten(1), mq.flatten(1), lq.flatten(1))
        return lw.reshape(n_samples, b)

    # ------------------------------------------------------------------ codes
    def encode(self, x: Tensor) -> Tensor:
        """The posterior means, top-down, concatenated coarse first ``[B, Σ z_c r²]``."""
        out = self._top_down(x.shape[0], self._skips(x), sample=False)
        return torch.cat([out["z"][r].flatten(1) for r in self.latent_res], -1)  # type: ignore[index]

    def _unflatten(self, z: Tensor) -> dict[int, Tensor]:
        if z.shape[-1] != self.m:
            raise ValueError(f"z must have last dim {self.m}, got shape {list(z.shape)}")
        sizes = [self.z_channels * r * r for r in self.latent_res]
        return {r: part.reshape(-1, self.z_channels, r, r)
                for r, part in zip(self.latent_res, z.split(sizes, -1), strict=True)}

    def decode(self, z: Tensor) -> Tensor:
        """Latents ``[B, Σ]`` → pixel logits ``[B, *data_shape]``."""
        return self._top_down(z.shape[0], given=self._unflatten(z))["params"]  # type: ignore[return-value]

    @torch.no_grad()
    def compress(self, x: Tensor) -> Tensor:
        return self.encode(x)

    @torch.no_grad()
    def decompress(self, z: Tensor) -> Tensor:
        return self.reconstruct(self.decode(z))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images from the prior (top-down ancestral sampling; decoder means)."""
        return self.reconstruct(self._top_down(n, generator=generator)["params"])  # type: ignore[arg-type]

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return (f"latents at {list(self.latent_res)}, steps={self.steps}, "
                f"shared={self.share_weights}, params={self.n_parameters()}")
