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
:class:`DownstreamStudy` (``njscc downstream``) runs it for several checkpoints and probe
training noises; results ``downstream_<channel>.json`` and a PNG drawn from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from channels.base import BinaryChannel
from njscc.codec import LatentCodec, Support, decoder_input
from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm

__all__ = ["DownstreamStudy", "accuracy_sweep", "chance_accuracy", "encode_codes", "make_probe",
           "plot_downstream", "receive", "summary_rows", "train_probe"]


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


def summary_rows(params: Sequence[float], curves: list[dict[str, Any]],
                 stds: list[dict[str, Any]] | None = None) -> str:
    """A plain-text table of accuracy (%) vs test parameter, one row per curve (± σ over
    seeds when ``stds`` is given)."""
    width = max(len(c["label"]) for c in curves)
    cell = 16 if stds else 9
    lines = [f"{'model; probe':<{width}}" + "".join(f"{p:>{cell}g}" for p in params)]
    for i, c in enumerate(curves):
        sd = (stds[i] or {}).get("accuracy") if stds else None
        vals = [fmt_pm(100 * a, None if not sd or sd[j] is None else 100 * sd[j]) + "%"
                for j, a in enumerate(c["accuracy"])]
        lines.append(f"{c['label']:<{width}}" + "".join(f"{v:>{cell}}" for v in vals))
    return "\n".join(lines)


def plot_downstream(result: str | Any, out: str | Any) -> Any:
    """Draw accuracy vs test noise (one line per model/probe, ± 1 s.e.) from a ``downstream``
    result (dict or JSON path); returns the PNG path."""

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import load_result, save_figure

    res = result if isinstance(result, Mapping) else load_result(result)
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


def _label(name: str, m: int, trained_on: dict | None) -> str:
    """``"NECST m=100, trained bsc 0.1 (runs/x)"``; ``name`` is the path the user gave."""
    if trained_on:
        return f"NECST m={m}, trained {trained_on['name']} {trained_on['param']:g} ({name})"
    return f"NECST m={m} ({name})"


@EXPERIMENTS.register("downstream")
@dataclass
class DownstreamStudy(Study):
    """Classifier probes on received NECST codes: accuracy vs channel noise."""

    checkpoints: Sequence[str] = ()
    data_dir: str | None = None
    dataset: str = "mnist"
    channel: str = "bsc"
    train_eps: Sequence[float] = (0.0, 0.1)
    eps: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
    hidden: Sequence[int] = ()
    epochs: int = 10
    lr: float = 1e-2
    draws: int = 3
    train_size: int | None = None
    test_size: int | None = None
    device: str | None = None
    seed: int = 0

    @classmethod
    def supports(cls, codec: LatentCodec) -> Support:
        if codec.latent.kind != "bits":
            return Support.no(f"probes read received code bits; the model has a "
                              f"{codec.latent.kind} latent")
        return Support.yes()

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        import channels
        from njscc.data import load_dataset
        from njscc.io.results import make_result
        from njscc.training import find_checkpoint, load_checkpoint, load_model
        from njscc.validation import check_device, check_positive_int

        if not self.checkpoints:
            raise ValueError("checkpoints: give at least one NECST checkpoint")
        for what, vals in (("train_eps", self.train_eps), ("eps", self.eps)):
            for v in vals:  # validate the channel name and every parameter before any work
                try:
                    channels.get(self.channel, v)
                except ValueError as e:
                    raise ValueError(f"{what}: {e}") from None
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.draws, "draws")
        for what, n in (("train_size", self.train_size), ("test_size", self.test_size)):
            if n is not None and n < 10:
                raise ValueError(f"{what} must be >= 10, got {n}")
        data_dir = None if self.dataset == "embedded" else self.data_dir
        train = load_dataset(self.dataset, "train", data_dir)
        test = load_dataset(self.dataset, "test", data_dir)
        if train.labels is None or test.labels is None:
            raise ValueError(f"dataset {self.dataset!r} has no labels to classify")
        xtr, ytr = train.images[:self.train_size], train.labels[:self.train_size]
        xte, yte = test.images[:self.test_size], test.labels[:self.test_size]

        curves = []
        for ck_arg in self.checkpoints:
            path = find_checkpoint(ck_arg)
            model = load_model(path, map_location=check_device(self.device))
            ok = self.supports(model)
            if not ok:
                raise ValueError(f"{ck_arg}: {model.config['name']} cannot be probed: "
                                 f"{ok.reason}")
            if tuple(model.data_shape) != tuple(xtr.shape[1:]):
                raise ValueError(f"{ck_arg}: model images are {list(model.data_shape)}, the "
                                 f"dataset's {list(xtr.shape[1:])}")
            extra = load_checkpoint(path).extra if path.is_dir() else {}
            ch = extra.get("run", {}).get("channel") or {}
            trained_on = ({"name": ch["name"], "param": float(ch["train_param"])}
                          if "name" in ch and "train_param" in ch else None)
            codes_tr, codes_te = encode_codes(model, xtr), encode_codes(model, xte)
            for pe in self.train_eps:
                g = torch.Generator().manual_seed(self.seed)
                channel = None if pe == 0 else channels.get(self.channel, pe)
                probe = train_probe(codes_tr, ytr, channel, hidden=self.hidden,
                                    epochs=self.epochs, lr=self.lr, generator=g)
                res = accuracy_sweep(probe, codes_te, yte, self.channel, self.eps,
                                     draws=self.draws,
                                     generator=torch.Generator().manual_seed(self.seed + 1))
                label = f"{_label(ck_arg, int(model.m), trained_on)}; probe trained at {pe:g}"
                curves.append({"label": label, "checkpoint": str(path), "m": int(model.m),
                               "trained_on": trained_on, "probe_param": pe,
                               "accuracy": res["accuracy"], "accuracy_se": res["accuracy_se"]})
                if log:
                    log(f"{label}: " + ", ".join(
                        f"{p:g}: {100 * a:.2f}%" for p, a in zip(self.eps, res["accuracy"],
                                                                 strict=True)))
        probe_name = f"MLP {list(self.hidden)}" if self.hidden else "softmax regression"
        metrics = {"param": list(self.eps), "curves": curves, "chance": chance_accuracy(yte),
                   "probe": probe_name, "n_train": int(xtr.shape[0]),
                   "n_test": int(xte.shape[0]), "draws": self.draws}
        ms = {c["m"] for c in curves}
        result = make_result(
            "downstream", metrics, dataset=self.dataset,
            channel={"name": self.channel, "param": list(self.eps)},
            m=ms.pop() if len(ms) == 1 else None,
            config={"study": self.config_dict(), "probe_epochs": self.epochs,
                    "probe_hidden": list(self.hidden)})
        return {f"downstream_{self.channel}": result}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_downstream(r, Path(out) / f"{stem}.png") for stem, r in results.items()]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        parts = []
        for r in results.values():
            m = r["metrics"]
            stds = (r.get("metrics_std") or {}).get("curves")
            parts.append(summary_rows(m["param"], m["curves"], stds)
                         + f"\nchance {100 * m['chance']:.2f}%")
        return "\n".join(parts)
