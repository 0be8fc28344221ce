"""Downstream classification from received NECST codes (the paper's "robust codes" claim).

A NECST encoder is frozen; each image is sent as its most probable code ``compress(x)`` through
a channel, and a classifier (a *probe*: softmax regression, or a small MLP) is trained on the
received symbols and tested on symbols received at other noise levels. Codes learned over a
noisy channel should keep more class information when the test channel is noisy, and a probe
trained on noisy codes should degrade more gracefully than one trained on clean codes.

Features are the decoder's own view of the received symbols, ``decoder_input(y)``: bits as
±1, erasures as 0. Training noise is drawn afresh every epoch (the channel is the data
augmentation). Every draw uses an explicit ``torch.Generator``.

Shapes: images ``[N, C, H, W]`` in [0, 1]; labels int64 ``[N]``; codes and features ``[N, m]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from channels.base import BinaryChannel
from njscc.codec import LatentCodec, decoder_input

__all__ = ["accuracy_sweep", "chance_accuracy", "encode_codes", "make_probe", "plot_downstream",
           "receive", "summary_rows", "train_probe"]


@torch.no_grad()
def encode_codes(model: LatentCodec, images: Tensor, batch_size: int = 4096) -> Tensor:
    """Most probable codes ``[N, m]`` (float 0/1) of ``images`` ``[N, C, H, W]``, on the CPU."""
    if images.dim() < 2 or images.shape[0] == 0:
        raise ValueError(f"images: expected a non-empty batch [N, ...], got {list(images.shape)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = [model.compress(images[i:i + batch_size].to(device)).to("cpu", torch.float32)
               for i in range(0, images.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def receive(codes: Tensor, channel: BinaryChannel | None,
            generator: torch.Generator | None = None) -> Tensor:
    """Features of the received symbols: ``decoder_input(channel(codes))`` ``[N, m]`` in
    {−1, 0, +1} (``channel=None``: noiseless)."""
    y = codes if channel is None else channel(codes, generator=generator)
    return decoder_input(y)


def make_probe(m: int, n_classes: int, hidden: Sequence[int] = ()) -> nn.Module:
    """Softmax regression (``hidden=()``) or an MLP with ReLU hidden layers, ``[N, m]`` → logits."""
    sizes = [int(m), *(int(h) for h in hidden), int(n_classes)]
    if any(s < 1 for s in sizes):
        raise ValueError(f"probe sizes must be >= 1, got {sizes}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_probe(codes: Tensor, labels: Tensor, channel: BinaryChannel | None, *,
                hidden: Sequence[int] = (), epochs: int = 10, batch_size: int = 256,
                lr: float = 1e-2, weight_decay: float = 1e-4,
                generator: torch.Generator | None = None) -> nn.Module:
    """Train a probe on ``receive(codes, channel)`` (fresh channel noise every epoch).

    Args:
        codes: ``[N, m]`` 0/1 codes (from :func:`encode_codes`).
        labels: int64 ``[N]`` class indices in ``[0, n_classes)``.
        channel: training channel, or ``None`` for clean codes.
        hidden: probe hidden widths (empty: softmax regression).
        generator: drives the channel noise, the shuffles and the initialisation.
    """
    if codes.dim() != 2 or labels.shape != codes.shape[:1]:
        raise ValueError(f"codes [N, m] and labels [N] expected, got {list(codes.shape)} and "
                         f"{list(labels.shape)}")
    if labels.dtype != torch.int64 or int(labels.min()) < 0:
        raise ValueError("labels: expected int64 class indices >= 0")
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError("epochs and batch_size must be >= 1 and lr > 0")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    n_classes = int(labels.max()) + 1
    seed = int(torch.randint(0, 2**62, (1,), generator=gen))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # probe initialisation from the same generator
        probe = make_probe(codes.shape[1], n_classes, hidden)
    opt = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    n = codes.shape[0]
    for _ in range(epochs):
        feats = receive(codes, channel, gen)
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            loss = loss_fn(probe(feats[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return probe.eval()


@torch.no_grad()
def accuracy_sweep(probe: nn.Module, codes: Tensor, labels: Tensor, channel_name: str,
                   params: Sequence[float], *, draws: int = 1,
                   generator: torch.Generator | None = None) -> dict[str, list[float]]:
    """Test accuracy of ``probe`` on codes received over ``channel_name`` at each parameter:
    ``{"param", "accuracy", "accuracy_se"}``.

    Accuracy is averaged over ``draws`` channel draws per image; ``accuracy_se`` is the binomial
    standard error over the N images, √(a(1 − a)/N).
    """
    import channels

    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    n = codes.shape[0]
    acc, se = [], []
    for p in params:
        ch = None if float(p) == 0.0 else channels.get(channel_name, float(p))
        hits = 0.0
        for _ in range(draws):
            pred = probe(receive(codes, ch, gen)).argmax(-1)
            hits += float((pred == labels).double().mean())
        a = hits / draws
        acc.append(a)
        se.append(math.sqrt(max(a * (1.0 - a), 0.0) / n))
    return {"param": [float(p) for p in params], "accuracy": acc, "accuracy_se": se}


def chance_accuracy(labels: Tensor) -> float:
    """Accuracy of always predicting the most frequent class."""
    return float(torch.bincount(labels).max()) / labels.numel()


def summary_rows(params: Sequence[float], curves: list[dict[str, Any]]) -> str:
    """A plain-text table of accuracy (%) vs test parameter, one row per curve."""
    width = max(len(c["label"]) for c in curves)
    lines = [f"{'model; probe':<{width}}" + "".join(f"{p:>9g}" for p in params)]
    for c in curves:
        cells = "".join(f"{100 * a:>8.2f}%" for a in c["accuracy"])
        lines.append(f"{c['label']:<{width}}{cells}")
    return "\n".join(lines)


def plot_downstream(result_path: str | Any, out: str | Any) -> Any:
    """Draw accuracy vs test noise (one line per model/probe, ± 1 s.e.) from a results JSON
    written by ``njscc downstream``; returns the PNG path."""

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import load_result, save_figure

    res = load_result(result_path)
    met = res["metrics"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in met["curves"]:
        a = torch.tensor(c["accuracy"]) * 100
        e = torch.tensor(c["accuracy_se"]) * 100
        style = "-" if c.get("probe_param", 0) == 0 else "--"
        ax.errorbar(met["param"], a.tolist(), yerr=e.tolist(), fmt=style + "o", ms=4,
                    capsize=2, label=c["label"])
    ax.axhline(100 * met["chance"], color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xlabel(f"test {res['channel']['name'].upper()} parameter ε (received code bits)")
    ax.set_ylabel("test accuracy [%]")
    ax.set_title(f"{res['dataset']}: classifier on received NECST codes "
                 f"({met['probe']}, {met['n_test']} test images)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
