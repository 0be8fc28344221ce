"""r-robustness of stochastic codecs (Camuto, Willetts, Roberts, Holmes & Rainforth 2021).

A codec with a stochastic reconstruction g (a VAE: decode(μ + σ·ξ); NECST: decode of a sampled
code through its channel) is **r-robust** at x to a perturbation δ when

    P(‖g(x + δ) − g(x)‖₂ ≤ r) > ½,

the two reconstructions drawn independently. Its **r-robustness margin** is the size of the
smallest δ that breaks this. :func:`r_robust_probability` estimates the probability by Monte
Carlo; :func:`margin` finds, per image, the largest radius ρ at which the max-damage attack
(:func:`njscc.robustness.attacks.max_damage_objective`, PGD in the L2 ball of radius ρ) still
leaves the probability above ½ — bisection over ρ, so the result is an *upper* estimate of the
true margin (a stronger attack can only lower it) and the certified radius of a Lipschitz VAE
(:mod:`njscc.robustness.certify`) must lie below it.

Shapes: images ``[B, *D]``; per-image results ``[B]``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from channels.base import BinaryChannel
from njscc.codec import LatentCodec
from njscc.robustness.attacks import max_damage_objective, pgd
from njscc.robustness.latents import differentiable_code

__all__ = ["margin", "r_robust_probability", "sample_reconstructions"]


@torch.no_grad()
def sample_reconstructions(codec: LatentCodec, x: Tensor, n_samples: int, *,
                           channel: BinaryChannel | None = None,
                           generator: torch.Generator | None = None) -> Tensor:
    """``n_samples`` independent draws of g(x): ``[S, B, *D]``."""
    return torch.stack([codec.reconstruct(codec.decode(differentiable_code(
        codec, x, sample=True, channel=channel, generator=generator)))
        for _ in range(n_samples)])


@torch.no_grad()
def r_robust_probability(codec: LatentCodec, x: Tensor, delta: Tensor | None, r: float, *,
                         n_samples: int = 100, channel: BinaryChannel | None = None,
                         generator: torch.Generator | None = None) -> Tensor:
    """Monte-Carlo P̂(‖g(x + δ) − g(x)‖₂ ≤ r) per image ``[B]`` from ``n_samples`` independent
    pairs (its standard error is at most ½/√n_samples). ``delta=None``: δ = 0."""
    if not r > 0:
        raise ValueError(f"r must be > 0, got {r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    xa = x if delta is None else (x + delta)
    a = sample_reconstructions(codec, xa, n_samples, channel=channel, generator=generator)
    b = sample_reconstructions(codec, x, n_samples, channel=channel, generator=generator)
    dist = (a - b).reshape(n_samples, x.shape[0], -1).norm(dim=-1)
    return (dist <= r).double().mean(0)


def margin(codec: LatentCodec, x: Tensor, r: float, *, max_radius: float = 10.0,
           n_bisect: int = 8, steps: int = 40, n_draws: int = 4, n_samples: int = 64,
           channel: BinaryChannel | None = None, generator: torch.Generator | None = None,
           **attack_kw: Any) -> dict[str, Tensor]:
    """Empirical r-robustness margin per image by max-damage attack + bisection over the L2
    radius in ``[0, max_radius]``.

    Returns ``{"margin": [B] (largest radius found robust; 0 if g is not r-robust even at
    δ = 0), "upper": [B] (smallest radius found broken; ``inf`` if never), "p0": [B]
    (P̂ at δ = 0)}``.
    """
    if not (max_radius > 0 and math.isfinite(max_radius)):
        raise ValueError(f"max_radius must be a positive number, got {max_radius}")
    for name, v in (("n_bisect", n_bisect), ("steps", steps), ("n_draws", n_draws),
                    ("n_samples", n_samples)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    b = x.shape[0]
    p0 = r_robust_probability(codec, x, None, r, n_samples=n_samples, channel=channel,
                              generator=generator)
    lo = torch.zeros(b, dtype=torch.float64)
    hi = torch.full((b,), math.inf, dtype=torch.float64)
    alive = p0 > 0.5

    def robust_at(radius: Tensor, rows: Tensor) -> Tensor:
        """Robust (P̂ > ½) after the attack at per-image ``radius`` for images ``rows``."""
        xs = x[rows]
        obj = max_damage_objective(codec, xs, channel=channel, n_draws=n_draws,
                                   generator=generator, **attack_kw)
        d, _ = pgd(obj, xs, radius.to(xs.dtype), norm="l2", steps=steps)
        return r_robust_probability(codec, xs, d, r, n_samples=n_samples, channel=channel,
                                    generator=generator) > 0.5

    # first: is the image robust at max_radius? then bisection
    rows = alive.nonzero().squeeze(-1)
    if rows.numel():
        full = robust_at(torch.full((rows.numel(),), float(max_radius)), rows)
        lo[rows[full]] = max_radius
        hi[rows[~full]] = max_radius
        todo = rows[~full]
        for _ in range(n_bisect):
            if not todo.numel():
                break
            mid = 0.5 * (lo[todo] + hi[todo])
            ok = robust_at(mid, todo)
            lo[todo[ok]] = mid[ok]
            hi[todo[~ok]] = mid[~ok]
    return {"margin": lo, "upper": hi, "p0": p0}

