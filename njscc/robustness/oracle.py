"""An independent MNIST classifier (the *oracle* that judges attacks) and a classifier on
latent codes (the victim of the latent-classifier attack).

The oracle is a small CNN (two 3×3 conv layers with max-pooling, one hidden dense layer; ≈ 99 %
test accuracy on MNIST after two epochs). It never sees a codec: attacks on codecs are judged
by what it says about their *reconstructions*. :func:`oracle` trains one or loads it from a
cache file (safetensors, written atomically) so that several studies share it.

Shapes: images ``[N, 1, 28, 28]`` in [0, 1]; labels int64 ``[N]``; logits ``[N, 10]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from njscc.codec import LatentCodec, decoder_input
from njscc.robustness.latents import differentiable_code

__all__ = ["MnistOracle", "accuracy", "cached_module", "latent_classifier", "noiseless_codes",
           "oracle", "train_classifier"]


class MnistOracle(nn.Module):
    """CNN classifier ``[N, C, H, W]`` → logits ``[N, n_classes]`` (H, W divisible by 4)."""

    def __init__(self, data_shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10,
                 width: int = 32) -> None:
        super().__init__()
        c, h, w = data_shape
        if h % 4 or w % 4:
            raise ValueError(f"MnistOracle: H and W must be divisible by 4, got {data_shape}")
        self.data_shape = tuple(data_shape)
        self.net = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), 128), nn.ReLU(),
            nn.Linear(128, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(x.shape[0], *self.data_shape))


def train_classifier(model: nn.Module, inputs: Tensor, labels: Tensor, *, epochs: int = 2,
                     batch_size: int = 128, lr: float = 1e-3,
                     features: Callable[[Tensor], Tensor] | None = None,
                     generator: torch.Generator | None = None,
                     progress: Callable[[str], None] | None = None,
                     loss: Callable[[Tensor, Tensor], Tensor] | None = None) -> nn.Module:
    """Adam on ``loss(model(features(inputs[i])), labels[i])`` (``features``: identity;
    ``loss``: cross-entropy — give another for multi-head labels ``[N, J]``); fresh shuffles
    from ``generator``. Returns ``model`` in eval mode."""
    if inputs.shape[0] != labels.shape[0] or inputs.shape[0] == 0:
        raise ValueError(f"inputs [N, ...] and labels [N] expected, got {list(inputs.shape)} and "
                         f"{list(labels.shape)}")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = loss if loss is not None else nn.CrossEntropyLoss()
    model.train()
    n = inputs.shape[0]
    for ep in range(epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb = inputs[idx] if features is None else features(inputs[idx])
            value = loss_fn(model(xb), labels[idx])
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total += float(value.detach()) * idx.numel()
        if progress:
            progress(f"classifier epoch {ep + 1}/{epochs}: loss {total / n:.4f}")
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, inputs: Tensor, labels: Tensor, batch_size: int = 2048) -> float:
    """Fraction of ``inputs`` whose arg-max logit is the label."""
    hits = sum(int((model(inputs[i:i + batch_size]).argmax(-1) == labels[i:i + batch_size]).sum())
               for i in range(0, inputs.shape[0], batch_size))
    return hits / max(inputs.shape[0], 1)


def cached_module(cache: str | Path | None, meta: dict, build: Callable[[], nn.Module],
                  train: Callable[[nn.Module], object]) -> nn.Module:
    """``build()`` loaded from the safetensors file ``cache`` when its side file
    ``<cache>.meta`` equals ``meta``; else ``build()`` then ``train(net)``, saved there
    (atomically). Returns the module in eval mode."""
    from safetensors.torch import load_file
    from safetensors.torch import save as save_bytes

    from njscc.io.results import atomic_write_bytes

    if cache is not None and Path(cache).is_file():
        side = Path(str(cache) + ".meta")
        if side.is_file() and json.loads(side.read_text()) == meta:
            net = build()
            net.load_state_dict(load_file(str(cache)))
            return net.eval()
    net = build()
    train(net)
    if cache is not None:
        atomic_write_bytes(cache, save_bytes({k: v.contiguous() for k, v in
                                              net.state_dict().items()}))
        atomic_write_bytes(str(cache) + ".meta", json.dumps(meta).encode())
    return net.eval()


def oracle(images: Tensor, labels: Tensor, *, cache: str | Path | None = None, epochs: int = 2,
           seed: int = 0, progress: Callable[[str], None] | None = None) -> MnistOracle:
    """The oracle CNN trained on ``images``/``labels`` — loaded from ``cache`` if it holds one
    for the same data shape, epochs and seed, else trained (seeded) and saved there."""
    shape = tuple(int(s) for s in images.shape[1:])
    meta = {"data_shape": list(shape), "epochs": int(epochs), "seed": int(seed),
            "n_train": int(images.shape[0])}

    def build() -> MnistOracle:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return MnistOracle(shape)  # type: ignore[arg-type]

    def train(net: nn.Module) -> None:
        train_classifier(net, images, labels, epochs=epochs,
                         generator=torch.Generator().manual_seed(seed + 1), progress=progress)

    return cached_module(cache, meta, build, train)  # type: ignore[return-value]


@torch.no_grad()
def noiseless_codes(codec: LatentCodec, images: Tensor, batch_size: int = 4096) -> Tensor:
    """The decoder-side code of every image, no channel: ``[N, d]`` (the victim's input)."""
    return torch.cat([differentiable_code(codec, images[i:i + batch_size])
                      for i in range(0, images.shape[0], batch_size)])


def latent_classifier(codec: LatentCodec, images: Tensor, labels: Tensor, *,
                      hidden: int = 256, epochs: int = 5, seed: int = 0) -> nn.Module:
    """An MLP (one hidden ReLU layer) trained on ``codec``'s noiseless codes — bits as ±1,
    Gaussian latents as μ(x) — the victim of the latent-classifier attack. It takes the
    decoder-side code (:func:`~njscc.robustness.latents.differentiable_code`) as input."""
    codes = noiseless_codes(codec, images)
    bits = codec.latent.kind == "bits"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = LatentMLP(codes.shape[1], hidden, int(labels.max()) + 1, bits)
    return train_classifier(net, codes, labels, epochs=epochs,
                            generator=torch.Generator().manual_seed(seed + 1))


class LatentMLP(nn.Module):
    """``[N, d]`` decoder-side codes → logits; bit codes are read as ±1 (erasures 0)."""

    def __init__(self, d: int, hidden: int, n_classes: int, bits: bool) -> None:
        super().__init__()
        self.bits = bits
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, code: Tensor) -> Tensor:
        return self.net(decoder_input(code) if self.bits else code)
