"""Adversarial attacks on codecs (Kos, Fischer & Song 2017) and the max-damage attack.

Every attack is projected gradient descent (:func:`pgd`) on a per-image objective over a
perturbation δ in an L2 or L∞ ball of radius ``budget``, with x + δ kept in [0, 1]. The three
classes of Kos et al., written for any codec whose latent :mod:`njscc.robustness.latents` reads
(NECST bits through straight-through or relaxed gradients, optionally *through a channel*;
Gaussian VAEs through μ(x)):

* :func:`classifier_objective` — (a) a classifier on the latent code must say the target
  class: cross-entropy of ``classifier(code(x + δ))`` against it;
* :func:`reconstruction_objective` — (b) the L_VAE attack: the reconstruction of x + δ must
  match a target image: −log p(x_target | code(x + δ));
* :func:`latent_objective` — (c) the code of x + δ must match the target's code: for bits the
  cross-entropy of the logits ℓ(x + δ) against the target's most probable bits, for Gaussian
  latents ‖μ(x + δ) − μ(x_target)‖².

:func:`max_damage_objective` is the r-robustness attack (Camuto et al. 2021): maximise the
expected distance between the reconstruction of x + δ and that of x.

Channel noise and latent sampling inside an objective are averaged over ``n_draws`` draws per
step (expectation over the randomness), each from the caller's ``torch.Generator``.
Shapes: images ``[B, *D]``; objectives return ``[B]`` (lower is better for the attacker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from channels.base import BinaryChannel
from njscc.codec import LatentCodec
from njscc.robustness.latents import differentiable_code

__all__ = ["NORMS", "classifier_objective", "latent_objective", "max_damage_objective",
           "norms", "pgd", "project", "reconstruction_objective"]

NORMS = ("l2", "linf")
Objective = Callable[[Tensor], Tensor]


def _flat_norm(d: Tensor, norm: str) -> Tensor:
    f = d.reshape(d.shape[0], -1)
    return f.norm(dim=1) if norm == "l2" else f.abs().amax(dim=1)


def norms(delta: Tensor) -> dict[str, Tensor]:
    """``{"l2": ‖δ‖₂ [B], "linf": ‖δ‖∞ [B]}`` per image."""
    return {n: _flat_norm(delta, n) for n in NORMS}


def _per_image(budget: float | Tensor, x: Tensor) -> Tensor:
    """``budget`` (a number or ``[B]``) as ``[B, 1, ..., 1]`` on ``x``'s device."""
    b = torch.as_tensor(budget, dtype=x.dtype, device=x.device)
    if b.dim() == 0:
        b = b.expand(x.shape[0])
    if b.shape != x.shape[:1]:
        raise ValueError(f"budget: expected a number or [B={x.shape[0]}], got {list(b.shape)}")
    return b.view(-1, *([1] * (x.dim() - 1)))


def project(delta: Tensor, x: Tensor, budget: float | Tensor, norm: str) -> Tensor:
    """δ projected onto the ``norm`` ball of radius ``budget`` (a number, or one per image
    ``[B]``) and so that x + δ ∈ [0, 1].

    (The two constraints are applied in turn — ball, then box; for L∞ that is the exact
    projection onto their intersection, for L2 the box step can only shrink ‖δ‖.)"""
    b = _per_image(budget, x)
    if norm == "l2":
        n = _flat_norm(delta, "l2").clamp_min(1e-12).view_as(b)
        delta = delta * (b / n).clamp(max=1.0)
    else:
        delta = torch.maximum(torch.minimum(delta, b), -b)
    return (x + delta).clamp(0.0, 1.0) - x


def pgd(objective: Objective, x: Tensor, budget: float | Tensor, *, norm: str = "l2",
        steps: int = 50,
        step_size: float | None = None, random_start: bool = False,
        generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Minimise ``objective(x + δ)`` (per image, ``[B]``) over ‖δ‖ ≤ ``budget`` (a number or
    one radius per image ``[B]``).

    L2 steps along the normalised gradient, L∞ steps along its sign; ``step_size`` defaults to
    2.5·budget/steps (Madry et al.). The best δ seen per image is returned, so the objective
    never ends above its start (``random_start=False``).

    Returns:
        ``(delta [B, *D], objective value at x + delta [B])``.
    """
    if norm not in NORMS:
        raise ValueError(f"norm: expected one of {', '.join(NORMS)}, got {norm!r}")
    x = x.detach()
    b = _per_image(budget, x)
    if not bool((b >= 0).all()) or not bool(torch.isfinite(b).all()):
        raise ValueError(f"budget must be finite and >= 0, got {budget}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    alpha = b * 2.5 / steps if step_size is None else torch.full_like(b, float(step_size))
    if random_start:
        r = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
        delta = project(r * b, x, budget, norm)
    else:
        delta = torch.zeros_like(x)
    with torch.no_grad():
        best_val = objective(x + delta).detach()
    best = delta.clone()
    if not bool((b > 0).any()):
        return best, best_val
    view = (-1, *([1] * (x.dim() - 1)))
    for _ in range(steps):
        delta.requires_grad_(True)
        val = objective(x + delta)
        (grad,) = torch.autograd.grad(val.sum(), delta)
        with torch.no_grad():
            better = val.detach() < best_val
            best[better] = delta.detach()[better]
            best_val = torch.where(better, val.detach(), best_val)
            if norm == "l2":
                g = grad / _flat_norm(grad, "l2").clamp_min(1e-12).view(view)
            else:
                g = grad.sign()
            delta = project(delta.detach() - alpha * g, x, budget, norm)
    with torch.no_grad():
        val = objective(x + delta)
        better = val < best_val
        best[better] = delta[better]
        best_val = torch.where(better, val, best_val)
    return best, best_val


def _mean_draws(fn: Callable[[], Tensor], n_draws: int) -> Tensor:
    return torch.stack([fn() for _ in range(n_draws)]).mean(0)


def classifier_objective(codec: LatentCodec, classifier: nn.Module, target: Tensor, *,
                         channel: BinaryChannel | None = None, gradient: str = "st",
                         sample: bool = False, n_draws: int = 1,
                         generator: torch.Generator | None = None) -> Objective:
    """(a) cross-entropy of ``classifier(code(x'))`` against ``target`` (int64 ``[B]``)."""
    ce = nn.CrossEntropyLoss(reduction="none")

    def f(xa: Tensor) -> Tensor:
        return _mean_draws(lambda: ce(classifier(differentiable_code(
            codec, xa, sample=sample, channel=channel, gradient=gradient,
            generator=generator)), target), n_draws)
    return f


def reconstruction_objective(codec: LatentCodec, target_images: Tensor, *,
                             channel: BinaryChannel | None = None, gradient: str = "st",
                             sample: bool = False, n_draws: int = 1,
                             generator: torch.Generator | None = None) -> Objective:
    """(b) L_VAE: −log p(x_target | code(x')) in the codec's likelihood units (SSE or nats)."""
    def f(xa: Tensor) -> Tensor:
        return _mean_draws(lambda: -codec.log_prob(target_images, codec.decode(
            differentiable_code(codec, xa, sample=sample, channel=channel, gradient=gradient,
                                generator=generator))), n_draws)
    return f


@torch.no_grad()
def _target_code(codec: LatentCodec, target_images: Tensor) -> Tensor:
    h = codec.encode(target_images)
    if codec.latent.kind == "bits":
        return (h > 0).to(h.dtype)
    return codec.split(h)[0]  # type: ignore[attr-defined]


def latent_objective(codec: LatentCodec, target_images: Tensor) -> Objective:
    """(c) the code of x' must match the target's: bits — Σ BCE(ℓ(x'), ŷ_target) over the m
    bits; Gaussian — ‖μ(x') − μ(x_target)‖²."""
    tgt = _target_code(codec, target_images)
    bits = codec.latent.kind == "bits"

    def f(xa: Tensor) -> Tensor:
        h = codec.encode(xa)
        if bits:
            return nn.functional.binary_cross_entropy_with_logits(h, tgt, reduction="none").sum(-1)
        return (codec.split(h)[0] - tgt).square().sum(-1)  # type: ignore[attr-defined]
    return f


def max_damage_objective(codec: LatentCodec, x: Tensor, *, channel: BinaryChannel | None = None,
                         gradient: str = "st", n_draws: int = 4,
                         generator: torch.Generator | None = None,
                         **code_kw: Any) -> Objective:
    """r-robustness attack: −E‖g(x') − g(x)‖₂ with g the stochastic reconstruction (sampled
    code, through ``channel``), both sides drawn afresh (``n_draws`` pairs per step)."""
    x = x.detach()

    def g(xa: Tensor) -> Tensor:
        return codec.reconstruct(codec.decode(differentiable_code(
            codec, xa, sample=True, channel=channel, gradient=gradient, generator=generator,
            **code_kw)))

    def f(xa: Tensor) -> Tensor:
        def one() -> Tensor:
            with torch.no_grad():
                ref = g(x)
            return -(g(xa) - ref).reshape(x.shape[0], -1).norm(dim=1)
        return _mean_draws(one, n_draws)
    return f
