"""Adversarial transformation networks (Baluja & Fischer 2017).

An ATN g is a network trained, for one target class t and a fixed classifier f, to map any
image x to an x' = g(x) that f labels t while staying close to x:

    L = β · ‖x' − x‖² + ‖f(x') − r_α(f(x), t)‖²,

with the *reranking* target r_α(y, t) = normalise(y with y_t replaced by α·max y), so that
only the top of f's output moves. Two kinds:

* ``perturbation`` (P-ATN): x' = clip(x + ε_max · tanh(h(x))), h an MLP — a bounded residual;
* ``autoencoder`` (AAE-ATN): x' = sigmoid(h(x)), the whole image regenerated.

Shapes: images ``[N, C, H, W]`` in [0, 1]; the classifier gives logits ``[N, n_classes]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["ATN", "KINDS", "atn_loss", "evaluate_atn", "rerank", "targeted_metrics",
           "train_atn"]

KINDS = ("perturbation", "autoencoder")


def rerank(probs: Tensor, target: int, alpha: float = 1.5) -> Tensor:
    """r_α(y, t): ``probs`` ``[N, K]`` with column t set to α·max(y), renormalised."""
    if not alpha > 1:
        raise ValueError(f"alpha must be > 1, got {alpha}")
    r = probs.clone()
    r[:, target] = alpha * probs.max(-1).values
    return r / r.sum(-1, keepdim=True)


class ATN(nn.Module):
    """``kind`` ATN: an MLP ``[N, C, H, W]`` → images of the same shape (see module doc)."""

    def __init__(self, data_shape: tuple[int, ...] = (1, 28, 28), kind: str = "perturbation",
                 hidden: int = 512, max_perturbation: float = 0.3) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        self.kind, self.data_shape = kind, tuple(data_shape)
        self.max_perturbation = float(max_perturbation)
        d = math.prod(self.data_shape)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(d, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, d))

    def forward(self, x: Tensor) -> Tensor:
        h = self.net(x).reshape(x.shape[0], *self.data_shape)
        if self.kind == "autoencoder":
            return torch.sigmoid(h)
        return (x + self.max_perturbation * torch.tanh(h)).clamp(0.0, 1.0)


def atn_loss(classifier: nn.Module, x: Tensor, x_adv: Tensor, target: int, beta: float,
             alpha: float = 1.5) -> Tensor:
    """β‖x' − x‖² + ‖softmax f(x') − r_α(softmax f(x), t)‖², mean over the batch."""
    with torch.no_grad():
        goal = rerank(torch.softmax(classifier(x), -1), target, alpha)
    lx = (x_adv - x).reshape(x.shape[0], -1).square().sum(-1)
    ly = (torch.softmax(classifier(x_adv), -1) - goal).square().sum(-1)
    return (beta * lx + ly).mean()


def train_atn(classifier: nn.Module, images: Tensor, target: int, *, kind: str = "perturbation",
              beta: float = 0.01, alpha: float = 1.5, epochs: int = 2, batch_size: int = 128,
              lr: float = 1e-3, seed: int = 0,
              progress: Callable[[str], None] | None = None) -> ATN:
    """Train one ATN for ``target`` against the frozen ``classifier`` (seeded)."""
    for p in classifier.parameters():
        p.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        atn = ATN(tuple(images.shape[1:]), kind)
    opt = torch.optim.Adam(atn.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 1)
    n = images.shape[0]
    for ep in range(epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            xb = images[order[i:i + batch_size]]
            loss = atn_loss(classifier, xb, atn(xb), target, beta, alpha)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        if progress:
            progress(f"ATN {kind} → {target}: epoch {ep + 1}/{epochs} loss {total / n:.4f}")
    return atn.eval()


@torch.no_grad()
def evaluate_atn(atn: ATN, classifier: nn.Module, images: Tensor, labels: Tensor,
                 target: int, judge: nn.Module | None = None) -> dict[str, float]:
    """:func:`targeted_metrics` of ``atn(x)`` on the images not already of class ``target``."""
    keep = labels != target
    return targeted_metrics(images[keep], atn(images[keep]), labels[keep], classifier, target,
                            judge)


@torch.no_grad()
def targeted_metrics(x: Tensor, x_adv: Tensor, labels: Tensor, classifier: nn.Module,
                     target: int, judge: nn.Module | None = None) -> dict[str, float]:
    """How well ``x_adv`` ``[N, C, H, W]`` (made from ``x``, true ``labels`` ``[N]``) steers
    ``classifier`` to ``target``: success rate (it says t) with its standard error, mean L2
    and L∞ of x' − x; given an independent ``judge``, also how often the judge still sees the
    true class and ``fooled`` — both at once (the victim says t, the judge the true class: a
    real adversarial example rather than a redrawn digit)."""
    hit = classifier(x_adv).argmax(-1) == target
    d = (x_adv - x).reshape(x.shape[0], -1)
    h = hit.double()
    out = {"success": float(h.mean()), "success_se": float(h.std() / math.sqrt(len(h))),
           "l2": float(d.norm(dim=1).mean()), "linf": float(d.abs().amax(1).mean()),
           "n": int(x.shape[0])}
    if judge is not None:
        same = judge(x_adv).argmax(-1) == labels
        out["judge_true_class"] = float(same.double().mean())
        out["fooled"] = float((same & hit).double().mean())
    return out
