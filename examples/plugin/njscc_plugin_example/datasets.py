"""``shapes``: seeded procedural images of squares, discs and crosses (labels 0, 1, 2)."""

from __future__ import annotations

import torch

from njscc.data import DatasetInfo, ImageDataset

__all__ = ["load_shapes", "make_shapes"]

SIZES = {"train": 3000, "valid": 300, "test": 600}


def make_shapes(n: int, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``[n, 1, size, size]`` in [0, 1] and labels ``[n]`` (0 square, 1 disc,
    2 cross) with random centre and radius, from a ``torch.Generator`` seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    r = torch.randint(2, size // 3, (n, 1, 1), generator=g).float()  # [n, 1, 1]
    cy = r + torch.rand(n, 1, 1, generator=g) * (size - 1 - 2 * r)
    cx = r + torch.rand(n, 1, 1, generator=g) * (size - 1 - 2 * r)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(),
                            indexing="ij")
    dy, dx = (yy - cy).abs(), (xx - cx).abs()  # [n, size, size]
    square = (dy <= r) & (dx <= r)
    disc = dy.square() + dx.square() <= r.square()
    cross = ((dy <= r) & (dx <= 1)) | ((dx <= r) & (dy <= 1))
    img = torch.where(labels.view(-1, 1, 1) == 0, square,
                      torch.where(labels.view(-1, 1, 1) == 1, disc, cross))
    return img.float().unsqueeze(1), labels


def load_shapes(split: str = "train", data_dir: str | None = None, *, valid_size: int = 0,
                seed: int = 0) -> ImageDataset:
    """Procedural shapes, 3000 / 300 / 600 images of 1×16×16 (generated, no data dir)."""
    if split not in SIZES:
        raise ValueError(f"shapes: split must be one of {tuple(SIZES)}, got {split!r}")
    x, y = make_shapes(SIZES[split], seed=1000 * seed + list(SIZES).index(split))
    return ImageDataset(x, y, name="shapes", split=split, meta={"generated": True})


load_shapes.info = DatasetInfo(  # type: ignore[attr-defined]
    "procedural 16x16 squares, discs and crosses (labelled, generated)",
    fields=("x", "labels"), splits=("train", "valid", "test"), needs_data_dir=False)
