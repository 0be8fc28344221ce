"""Reference attacks on plain classifiers, from torchattacks (Kim 2020).

The attacks on *codecs* are ours (:mod:`njscc.robustness.attacks`); against an ordinary
image classifier a well-kept library does the job, and its numbers set the bar a learned
attacker (an ATN, :mod:`njscc.robustness.atn`) is measured against. torchattacks is installed
with ``pip install --no-deps torchattacks==3.5.1`` (``make install`` does it): its declared
dependencies would replace the CPU torch build, and the attacks used here need only torch.

Shapes: images ``[N, C, H, W]`` in [0, 1]; the classifier gives logits ``[N, n_classes]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["targeted_pgd_l2"]


def _torchattacks() -> Any:
    try:
        import torchattacks
    except ImportError as e:  # pragma: no cover - exercised only without the package
        raise ImportError("the reference classifier attacks need torchattacks: "
                          "pip install --no-deps torchattacks==3.5.1") from e
    return torchattacks


def targeted_pgd_l2(classifier: nn.Module, images: Tensor, target: int | Tensor, eps: float, *,
                    steps: int = 50, step_size: float | None = None, seed: int = 0,
                    batch_size: int = 500) -> Tensor:
    """Targeted L2 PGD (Madry et al. 2018, torchattacks ``PGDL2``): each image moved within
    ‖δ‖₂ ≤ ``eps`` towards class ``target`` (an int or ``[N]`` labels), ``steps`` steps of
    ``step_size`` (default 2.5·eps/steps), a random start drawn from ``seed``. Returns
    ``[N, C, H, W]`` adversarial images in [0, 1]."""
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    ta = _torchattacks()
    n = images.shape[0]
    tgt = torch.full((n,), int(target)) if isinstance(target, int) else target.long()
    if tgt.shape != (n,):
        raise ValueError(f"target: expected an int or [{n}] labels, got {tuple(tgt.shape)}")
    atk = ta.PGDL2(classifier, eps=float(eps), alpha=step_size or 2.5 * eps / steps,
                   steps=int(steps), random_start=True)
    atk.set_mode_targeted_by_label(quiet=True)
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in range(0, n, batch_size):
            out.append(atk(images[i:i + batch_size], tgt[i:i + batch_size]).detach())
    return torch.cat(out) if out else images.clone()
