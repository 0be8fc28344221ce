"""Gaussian noise injections (GNIs) and their explicit regulariser (Camuto, Willetts,
Şimşekli, Roberts & Holmes 2020, "Explicit regularisation in Gaussian noise injections").

Adding ε_k ~ N(0, σ²I) to activation h_k of a network (k = 0 the input, 1… the hidden layers)
and averaging the loss over the noise is, to second order in σ,

    E_ε L(h + ε) ≈ L(h) + (σ²/2) Σ_k Tr(∂²L/∂h_k²),

the cross terms vanishing because the injections are independent and zero-mean. For a ReLU
network the logits z are piecewise linear in each h_k, so ∂²L/∂h_k² = J_kᵀ H J_k almost
everywhere, with J_k = ∂z/∂h_k and H = diag(p) − ppᵀ the Hessian of the softmax
cross-entropy in the logits; hence Tr(J_kᵀ H J_k) = Σ_c p_c ‖J_{k,c}‖² − ‖Σ_c p_c J_{k,c}‖².
:func:`explicit_regulariser` computes it exactly (one backward pass per class, differentiable),
:class:`GaussianNoiseInjection` (``gni``) trains on the noisy loss, :class:`ExplicitGNI`
(``gni_explicit``) on the clean loss plus the regulariser in its place.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from njscc.codec import LatentCodec, Support
from njscc.data import Batch
from njscc.objectives.base import Objective, to_floats

__all__ = ["LAYERS", "ExplicitGNI", "GaussianNoiseInjection", "explicit_regulariser",
           "noisy_loss"]

#: where noise is injected: ``all`` (input and hidden activations) or ``hidden``
LAYERS = ("all", "hidden")


def _layers_ok(codec: LatentCodec) -> Support:
    if not callable(getattr(codec, "activations", None)) or not codec.classifies:
        return Support.no("it needs a classifier exposing its activations (mlp_classifier)")
    return Support.yes()


def _injected(k: int, layers: str) -> bool:
    return layers == "all" or k > 0


def noisy_loss(codec: Any, x: Tensor, labels: Tensor, sigma: float, *, layers: str = "all",
               generator: torch.Generator | None = None) -> Tensor:
    """Cross-entropy per input ``[B]`` with N(0, σ²) added to the chosen activations."""
    def noise(h: Tensor, k: int) -> Tensor:
        if sigma == 0 or not _injected(k, layers):
            return h
        return h + sigma * torch.randn(h.shape, generator=generator, device=h.device,
                                       dtype=h.dtype)
    _, logits = codec.activations(x, noise)
    return torch.nn.functional.cross_entropy(logits, labels, reduction="none")


def explicit_regulariser(codec: Any, x: Tensor, sigma: float, *, layers: str = "all",
                         create_graph: bool = True) -> tuple[Tensor, Tensor]:
    """``(R [B], logits [B, C])`` with R = (σ²/2) Σ_k Tr(J_kᵀ H J_k) (see the module
    docstring); differentiable in the parameters when ``create_graph``."""
    # the input as a leaf that requires grad: every activation then lies on a path to z
    acts, logits = codec.activations(
        x, lambda h, k: h.detach().requires_grad_(True) if k == 0 else h)
    chosen = [h for k, h in enumerate(acts) if _injected(k, layers)]
    if not chosen:
        raise ValueError("explicit_regulariser: no layer receives noise")
    p = torch.softmax(logits, -1)
    n_cls = logits.shape[-1]
    sq = torch.zeros(x.shape[0], dtype=logits.dtype, device=logits.device)
    mean_j = [torch.zeros_like(h) for h in chosen]
    for c in range(n_cls):
        grads = torch.autograd.grad(logits[:, c].sum(), chosen, retain_graph=True,
                                    create_graph=create_graph)
        pc = p[:, c]
        for i, g in enumerate(grads):
            g = g.reshape(g.shape[0], -1)
            sq = sq + pc * g.square().sum(-1)
            mean_j[i] = mean_j[i] + pc.unsqueeze(-1) * g.reshape(mean_j[i].shape)
    trace = sq - sum(m.reshape(m.shape[0], -1).square().sum(-1) for m in mean_j)
    return 0.5 * sigma ** 2 * trace, logits


class _GNIBase(Objective):
    needs = ("x", "labels")
    uses_channel = False

    def __init__(self, sigma: float = 0.1, layers: str = "all") -> None:
        super().__init__()
        if not (float(sigma) >= 0):
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        if layers not in LAYERS:
            raise ValueError(f"layers: expected one of {', '.join(LAYERS)}, got {layers!r}")
        self.sigma, self.layers = float(sigma), layers

    def supports(self, codec: LatentCodec) -> Support:
        return _layers_ok(codec)


class GaussianNoiseInjection(_GNIBase):
    """Cross-entropy with N(0, σ²) injected on the activations (one draw per step); with
    σ = 0 plain cross-entropy. The default objective of ``mlp_classifier``."""

    default_for = ("real",)

    def loss(self, codec: LatentCodec, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        ce = noisy_loss(codec, batch.x, batch.labels, self.sigma, layers=self.layers,
                        generator=generator).mean()
        d = ce.detach()
        return ce, to_floats(loss=d, bound=-d, distortion=d, class_ce_nats=d)


class ExplicitGNI(_GNIBase):
    """Clean cross-entropy + the explicit GNI regulariser (σ²/2) Σ_k Tr(J_kᵀ H J_k)."""

    def loss(self, codec: LatentCodec, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        reg, logits = explicit_regulariser(codec, batch.x, self.sigma, layers=self.layers)
        ce = torch.nn.functional.cross_entropy(logits, batch.labels)
        loss = ce + reg.mean()
        with torch.no_grad():
            err = (logits.argmax(-1) != batch.labels).double().mean()
        return loss, to_floats(loss=loss.detach(), bound=-loss.detach(), distortion=ce.detach(),
                               class_ce_nats=ce.detach(), regulariser=reg.detach().mean(),
                               error=err)
