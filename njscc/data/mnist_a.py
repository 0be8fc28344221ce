"""MNIST-A, "MNIST with attributes" (Vedantam, Fischer, Huang & Murphy, ICLR 2018), generated
in code from MNIST, seeded.

Each MNIST digit is drawn with four discrete attributes, sampled uniformly and independently:

===============  =================================================================  =========
attribute        values (how the continuous latent behind each is drawn)             classes
===============  =================================================================  =========
``digit``        the MNIST label                                                     10
``scale``        big: s ~ N(0.9, 0.1²), small: s ~ N(0.6, 0.1²), kept in [0.4, 1]      2
``orientation``  clockwise: θ ~ N(−45°, 10²), upright: 0, counterclockwise: N(+45°,    3
                 10²), kept in [−90°, 90°]
``location``     top-left, top-right, bottom-left, bottom-right: the digit's centre      4
                 ~ N(quadrant centre pushed c/16 toward the corner, (c/16)²) per axis,
                 redrawn until the digit lies inside the canvas
===============  =================================================================  =========

The digit is rotated by θ (bicubic, canvas expanded), shrunk to s·(c/64) of its rotated size
(so a smaller canvas c keeps the reference's proportions; c = 64 is the reference) and pasted
on a black c × c canvas — the recipe of the reference code (google/joint_vae,
``datasets/mnist_attributes``), written anew. Splits, as there: pooled MNIST (train + test)
images, each drawn ``replication`` times; ``iid`` assigns every image to train / valid / test
with probabilities 0.85 / 0.05 / 0.10, ``comp`` shuffles the 240 attribute combinations and
gives 85 % / 5 % / 10 % of *combinations* to train / valid / test (the test combinations are
never seen in training: the compositional split). ``binarize`` samples pixels once,
x ~ Bernoulli(grey level), as the reference does.

Everything is drawn from ``numpy.random.Generator(seed)``: same arguments ⇒ same dataset.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np
import torch

__all__ = ["ATTRIBUTES", "SPLIT_TYPES", "attribute_combinations", "make_mnist_a",
           "render_digit"]

#: attribute name → value names, in the order of the ``attributes`` columns
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "digit": tuple(str(d) for d in range(10)),
    "scale": ("big", "small"),
    "orientation": ("clockwise", "upright", "counterclockwise"),
    "location": ("top-left", "top-right", "bottom-left", "bottom-right"),
}
SPLIT_TYPES = ("iid", "comp")
_SPLITS = ("train", "valid", "test")
_FRACTIONS = (0.85, 0.05, 0.10)


def _truncated(rng: np.random.Generator, mean: float, std: float, lo: float, hi: float
               ) -> float:
    while True:
        v = float(rng.normal(mean, std))
        if lo <= v <= hi:
            return v


def render_digit(digit: np.ndarray, scale: int, orientation: int, location: int, canvas: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float, int, int]]:
    """One MNIST-A image: ``digit`` uint8 ``[28, 28]`` with attribute classes ``scale``,
    ``orientation``, ``location`` (indices into :data:`ATTRIBUTES`) → uint8 ``[canvas,
    canvas]`` and the continuous latents (θ in degrees, s, centre x, centre y)."""
    from PIL import Image

    theta = {0: lambda: _truncated(rng, -45.0, 10.0, -90.0, 90.0), 1: lambda: 0.0,
             2: lambda: _truncated(rng, 45.0, 10.0, -90.0, 90.0)}[orientation]()
    s = _truncated(rng, 0.9 if scale == 0 else 0.6, 0.1, 0.4, 1.0)
    img = Image.fromarray(digit).rotate(theta, Image.BICUBIC, expand=True)
    k = canvas / 64.0
    img.thumbnail((max(int(img.size[0] * s * k), 1), max(int(img.size[1] * s * k), 1)),
                  Image.BICUBIC)
    w, h = img.size
    off = canvas / 16.0
    lo, hi = canvas / 4.0 - off, 3.0 * canvas / 4.0 + off
    cx0 = lo if location in (0, 2) else hi
    cy0 = lo if location in (0, 1) else hi
    while True:
        cx = int(rng.normal() * canvas / 16.0 + cx0)
        cy = int(rng.normal() * canvas / 16.0 + cy0)
        ox, oy = w // 2 + 1, h // 2 + 1
        if cx + ox <= canvas and cx - ox >= 1 and cy + oy <= canvas and cy - oy >= 1:
            break
    out = Image.new("L", (canvas, canvas))
    out.paste(img, (cx - w // 2 - 1, cy - h // 2 - 1))
    return np.asarray(out, dtype=np.uint8), (theta, s, cx, cy)


def attribute_combinations(seed: int) -> list[tuple[int, int, int, int]]:
    """The 240 attribute combinations (digit, scale, orientation, location), shuffled by
    ``seed`` (the order the ``comp`` split partitions)."""
    combos = list(itertools.product(*(range(len(v)) for v in ATTRIBUTES.values())))
    order = np.random.default_rng(seed).permutation(len(combos))
    return [combos[i] for i in order]


def _comp_split_of(seed: int) -> dict[tuple[int, ...], int]:
    combos = attribute_combinations(seed)
    n = len(combos)
    cuts = np.floor(np.cumsum(_FRACTIONS) * n).astype(int)
    out = {}
    for i, c in enumerate(combos):
        out[c] = int(np.searchsorted(cuts, i, side="right"))
    return out


@functools.lru_cache(maxsize=4)
def _generate(source: bytes, shape: tuple[int, ...], labels: bytes, canvas: int,
              replication: int, split_type: str, binarize: bool, seed: int
              ) -> tuple[dict[str, np.ndarray], ...]:
    digits = np.frombuffer(source, dtype=np.uint8).reshape(shape)
    lab = np.frombuffer(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    comp = _comp_split_of(seed) if split_type == "comp" else None
    n = digits.shape[0] * replication
    images = np.zeros((n, canvas, canvas), dtype=np.uint8)
    attrs = np.zeros((n, 4), dtype=np.int64)
    latents = np.zeros((n, 4), dtype=np.float32)
    which = np.zeros(n, dtype=np.int64)
    row = 0
    for i in range(digits.shape[0]):
        for _ in range(replication):
            a = (int(lab[i]), int(rng.integers(2)), int(rng.integers(3)), int(rng.integers(4)))
            images[row], latents[row] = render_digit(digits[i], a[1], a[2], a[3], canvas, rng)
            attrs[row] = a
            if comp is None:
                u = rng.uniform()
                which[row] = 0 if u <= _FRACTIONS[0] else (1 if u <= sum(_FRACTIONS[:2]) else 2)
            else:
                which[row] = comp[a]
            row += 1
    pix = images.astype(np.float32) / 255.0
    if binarize:
        pix = (np.random.default_rng(seed + 1).uniform(size=pix.shape) < pix).astype(np.float32)
    return tuple({"images": pix[which == k], "attributes": attrs[which == k],
                  "latents": latents[which == k]} for k in range(3))


def make_mnist_a(digits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, split: str,
                 *, canvas: int = 64, replication: int = 1, split_type: str = "iid",
                 binarize: bool = True, seed: int = 0) -> dict[str, Any]:
    """MNIST-A ``split`` (train / valid / test) built from ``digits`` (uint8 ``[N, 28, 28]``,
    or float in [0, 1]) with ``labels`` ``[N]``: ``images`` float32 ``[M, 1, canvas, canvas]``,
    ``attributes`` int64 ``[M, 4]`` (columns: :data:`ATTRIBUTES`), ``latents`` float32
    ``[M, 4]`` (θ, s, x, y). All three splits are generated together (and cached) so that
    they partition the same draw."""
    if split not in _SPLITS:
        raise ValueError(f"split: expected one of {', '.join(_SPLITS)}, got {split!r}")
    if split_type not in SPLIT_TYPES:
        raise ValueError(f"split_type: expected one of {', '.join(SPLIT_TYPES)}, got "
                         f"{split_type!r}")
    if not isinstance(canvas, int) or not 28 <= canvas <= 256:
        raise ValueError(f"canvas must be an int in [28, 256], got {canvas!r}")
    if not isinstance(replication, int) or not 1 <= replication <= 100:
        raise ValueError(f"replication must be an int in [1, 100], got {replication!r}")
    d = torch.as_tensor(digits)
    if d.dtype != torch.uint8:
        d = (d.float().clamp(0, 1) * 255).round().to(torch.uint8)
    d = d.reshape(-1, 28, 28).contiguous().numpy()
    lab = torch.as_tensor(labels).to(torch.int64).reshape(-1).numpy()
    if lab.shape[0] != d.shape[0]:
        raise ValueError(f"labels: expected {d.shape[0]} labels, got {lab.shape[0]}")
    if lab.size and (lab.min() < 0 or lab.max() > 9):
        raise ValueError("labels must be digits 0..9")
    parts = _generate(d.tobytes(), d.shape, lab.tobytes(), canvas, replication, split_type,
                      bool(binarize), int(seed))
    p = parts[_SPLITS.index(split)]
    return {"images": torch.from_numpy(p["images"].copy()).unsqueeze(1),
            "attributes": torch.from_numpy(p["attributes"].copy()),
            "latents": torch.from_numpy(p["latents"].copy())}
