"""How smooth a decoder is: a local Lipschitz estimate and the high-frequency content of the
decoder along lines in latent space (after Camuto & Willetts' harmonic analysis of VAEs:
larger encoder variance acts as a low-pass filter on the decoder).

* :func:`jacobian_spectral_norm` — ‖∂x̂/∂z‖₂ at each latent point by power iteration on
  JᵀJ (forward- and reverse-mode products, no Jacobian is formed);
* :func:`high_frequency_fraction` — decode z₀ + t·u for t on a grid over [−T, T] (u a random
  unit direction), take the Hann-windowed FFT over t of every output pixel, and report the
  share of the non-constant spectral energy above ``cutoff`` cycles per unit of latent
  distance.

Shapes: latent points ``[N, d]``; results ``[N]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["high_frequency_fraction", "jacobian_spectral_norm"]

Decoder = Callable[[Tensor], Tensor]


def jacobian_spectral_norm(fn: Decoder, z: Tensor, iters: int = 20,
                           generator: torch.Generator | None = None) -> Tensor:
    """Largest singular value of the Jacobian of ``fn`` (``[N, d]`` → ``[N, ...]``, applied
    row-wise) at each row of ``z``: ``[N]``."""
    from torch.func import jvp, vjp

    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    z = z.detach()
    v = torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
    v = v / v.norm(dim=1, keepdim=True)
    _, pullback = vjp(fn, z)
    sigma = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
    for _ in range(iters):
        _, jv = jvp(fn, (z,), (v,))
        (jtjv,) = pullback(jv)
        n = jtjv.reshape(z.shape[0], -1).norm(dim=1).clamp_min(1e-30)
        v = jtjv / n.unsqueeze(-1)
        sigma = n.sqrt()
    return sigma.detach()


@torch.no_grad()
def high_frequency_fraction(fn: Decoder, z0: Tensor, *, half_width: float = 3.0,
                            n_points: int = 128, cutoff: float = 0.5,
                            generator: torch.Generator | None = None) -> Tensor:
    """Share of the spectral energy (mean removed) above ``cutoff`` cycles per latent unit of
    ``fn`` along a random line through each ``z0`` row: ``[N]`` in [0, 1]."""
    if n_points < 8:
        raise ValueError(f"n_points must be >= 8, got {n_points}")
    step = 2 * half_width / (n_points - 1)
    nyquist = 0.5 / step
    if not 0 < cutoff < nyquist:
        raise ValueError(f"cutoff must be in (0, {nyquist:g}) cycles per unit, got {cutoff}")
    u = torch.randn(z0.shape, generator=generator, dtype=z0.dtype, device=z0.device)
    u = u / u.norm(dim=1, keepdim=True)
    t = torch.linspace(-half_width, half_width, n_points, dtype=z0.dtype, device=z0.device)
    pts = z0[:, None, :] + t[None, :, None] * u[:, None, :]  # [N, T, d]
    out = fn(pts.reshape(-1, z0.shape[1])).reshape(z0.shape[0], n_points, -1)
    window = torch.hann_window(n_points, periodic=False, dtype=z0.dtype,
                               device=z0.device)[None, :, None]
    spec = torch.fft.rfft((out - out.mean(1, keepdim=True)) * window, dim=1)
    spec = spec.abs().square().sum(-1)  # [N, F]
    freqs = torch.fft.rfftfreq(n_points, d=step).to(z0.device)
    high = spec[:, freqs >= cutoff].sum(1)
    return (high / spec[:, 1:].sum(1).clamp_min(1e-30)).clamp(0, 1)
