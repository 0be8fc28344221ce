"""Figure helpers shared by the robustness studies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["as_u8", "digit_grid"]


def as_u8(images: Any) -> list[Any]:
    """Images (a tensor in [0, 1]) as nested lists of 8-bit grey levels: what the galleries
    keep in their JSON (a tenth of the floats' size)."""
    import torch

    return (images.clamp(0, 1) * 255).round().to(torch.uint8).tolist()


def digit_grid(rows: Sequence[tuple[str, Sequence[Any], Sequence[Any] | None]],
               out: str | Path, title: str, *, side: int = 28) -> Path:
    """One row of ``side``×``side`` grey images per ``(label, images, numbers or None)``;
    the numbers (labels) go above the images. Images are in [0, 1] or 8-bit levels (any
    value above 1 means 0…255). Returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from njscc.io.results import save_figure

    n = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), n, figsize=(1.05 * n + 1.6, 1.08 * len(rows)),
                             squeeze=False)
    for i, (lab, imgs, labels) in enumerate(rows):
        for j in range(n):
            ax = axes[i][j]
            img = np.asarray(imgs[j], dtype=float).reshape(side, side)
            ax.imshow(img / 255.0 if img.max() > 1 else img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if labels is not None:
                ax.set_title(str(labels[j]), fontsize=6, pad=1)
        axes[i][0].set_ylabel(lab, fontsize=5, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / len(rows)))
    return save_figure(fig, out, dpi=100)
