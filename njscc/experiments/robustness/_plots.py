"""Figure helpers shared by the robustness studies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["as_u8", "digit_grid", "u8_image"]


def as_u8(images: Any) -> list[str]:
    """Images (a tensor ``(n, ...)`` in [0, 1]) as one base64 string of 8-bit grey levels
    each: what the galleries keep in their JSON (≈ 1.3 bytes per pixel; nested lists of
    levels, the older form, are still read by :func:`u8_image`)."""
    import base64

    import torch

    u8 = (images.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return [base64.b64encode(x.numpy().tobytes()).decode("ascii") for x in u8]


def u8_image(img: Any, side: int) -> Any:
    """One gallery image as a ``side``×``side`` float array in [0, 1] — from the base64 form
    of :func:`as_u8`, nested lists of 8-bit levels, or values already in [0, 1]."""
    import base64

    import numpy as np

    if isinstance(img, str):
        arr = np.frombuffer(base64.b64decode(img), dtype=np.uint8).astype(float) / 255.0
    else:
        arr = np.asarray(img, dtype=float)
        arr = arr / 255.0 if arr.max() > 1 else arr
    if arr.size != side * side:
        raise ValueError(f"gallery image has {arr.size} pixels, expected {side}×{side}")
    return arr.reshape(side, side)


def digit_grid(rows: Sequence[tuple[str, Sequence[Any], Sequence[Any] | None]],
               out: str | Path, title: str, *, side: int = 28) -> Path:
    """One row of ``side``×``side`` grey images per ``(label, images, numbers or None)``;
    the numbers (labels) go above the images; images in any form :func:`u8_image` reads.
    Returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    n = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), n, figsize=(1.05 * n + 1.6, 1.08 * len(rows)),
                             squeeze=False)
    for i, (lab, imgs, labels) in enumerate(rows):
        for j in range(n):
            ax = axes[i][j]
            ax.imshow(u8_image(imgs[j], side), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if labels is not None:
                ax.set_title(str(labels[j]), fontsize=6, pad=1)
        axes[i][0].set_ylabel(lab, fontsize=5, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / len(rows)))
    return save_figure(fig, out, dpi=100)
