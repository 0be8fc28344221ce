"""Certified r-robustness radius of a Lipschitz VAE (Barrett, Camuto, Willetts & Rainforth
2022, margin bound 1).

For g(x) = x̂(μ(x) + σ(x)·ξ) with L_μ-Lipschitz μ, L_σ-Lipschitz σ and an L_g-Lipschitz
reconstruction x̂, two independent draws give, for ‖δ‖₂ = t and s = ‖σ(x)‖₂,

    E‖g(x+δ) − g(x)‖² ≤ L_g² (‖μ(x+δ) − μ(x)‖² + ‖σ(x+δ)‖² + ‖σ(x)‖²)
                      ≤ L_g² ((L_μ² + L_σ²) t² + 2 L_σ s t + 2 s²),

and Markov's inequality on the squared distance makes P(‖g(x+δ) − g(x)‖ > r) < ½ whenever
that is below r²/2. The certified radius is the largest such t (0 when even t = 0 fails):
``bound="ours"``. ``bound="reference"`` is the looser polynomial of the paper's reference code
(the authors' fork of ``lnets``: (L_μ² + L_σ²) t² + 4 L_σ s t + 4 s² ≤ r²/(2 L_g²)); every
radius it certifies is also certified by ours.

Shapes: images ``[B, *D]`` → radii ``[B]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from njscc.codec import LatentCodec

__all__ = ["BOUNDS", "certified_radius", "solve_radius"]

BOUNDS = ("ours", "reference")


def solve_radius(s: Tensor, r: float, l_mean: float, l_std: float, l_dec: float,
                 bound: str = "ours") -> Tensor:
    """Largest t ≥ 0 with A t² + B t + C ≤ 0 for the chosen bound (``s = ‖σ(x)‖₂`` per image);
    0 where C > 0."""
    if bound not in BOUNDS:
        raise ValueError(f"bound: expected one of {', '.join(BOUNDS)}, got {bound!r}")
    if not r > 0:
        raise ValueError(f"r must be > 0, got {r}")
    k = 2.0 if bound == "ours" else 4.0
    s = s.double()
    a = l_mean ** 2 + l_std ** 2
    b = k * l_std * s
    c = k * s.square() - r ** 2 / (2.0 * l_dec ** 2)
    disc = (b.square() - 4 * a * c).clamp_min(0.0)
    if a == 0:
        t = torch.where(b > 0, -c / b.clamp_min(1e-300), torch.full_like(s, float("inf")))
    else:
        t = (-b + disc.sqrt()) / (2 * a)
    return torch.where(c > 0, torch.zeros_like(t), t.clamp_min(0.0))


@torch.no_grad()
def certified_radius(codec: LatentCodec, x: Tensor, r: float, bound: str = "ours") -> Tensor:
    """Per-image certified L2 radius ``[B]`` for a codec with ``lipschitz_constants()``
    (``mean``, ``std``, ``decoder``) and a Gaussian posterior (``split``)."""
    fn = getattr(codec, "lipschitz_constants", None)
    if not callable(fn):
        raise ValueError(f"{type(codec).__name__} declares no Lipschitz constants "
                         "(use a Lipschitz VAE, e.g. vae_lipschitz)")
    lc = fn()
    _, logvar = codec.split(codec.encode(x))  # type: ignore[attr-defined]
    s = torch.exp(0.5 * logvar).reshape(x.shape[0], -1).norm(dim=1)
    return solve_radius(s, r, lc["mean"], lc["std"], lc["decoder"], bound)
