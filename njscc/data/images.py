"""Image folders (PNG / JPEG through Pillow, e.g. Kodak) and patch datasets cut from them."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from njscc.data.datasets import ImageDataset

__all__ = ["IMAGE_EXTENSIONS", "PatchDataset", "extract_patches", "list_image_files",
           "random_crops", "read_image", "read_image_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_MODES = ("RGB", "L")


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")


def list_image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """PNG/JPEG files directly in ``folder`` (by extension, case-insensitive), sorted by name."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"expected an image folder, got a file: {folder}")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def read_image(path: str | os.PathLike[str], mode: str = "RGB") -> np.ndarray:
    """Read one image file as uint8 ``[H, W, C]`` (C = 3 for ``"RGB"``, 1 for ``"L"``).

    Raises:
        ValueError: not a readable image (unknown format, truncated, corrupt), naming the file.
    """
    _check_mode(mode)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            arr = np.array(im.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as e:
        raise ValueError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def read_image_folder(folder: str | os.PathLike[str], mode: str = "RGB"
                      ) -> dict[str, np.ndarray]:
    """Read every PNG/JPEG in ``folder`` (sorted by file name; other files are ignored).

    Returns:
        ``{file name: uint8 [H, W, C]}`` in name order (sizes may differ between images).

    Raises:
        FileNotFoundError: missing folder, or no PNG/JPEG file in it.
        ValueError: a file with an image extension that is not a readable image.
    """
    _check_mode(mode)
    files = list_image_files(folder)
    if not files:
        raise FileNotFoundError(f"no {'/'.join(IMAGE_EXTENSIONS)} images in {folder}")
    return {p.name: read_image(p, mode) for p in files}


def _pair(size: int | tuple[int, int], what: str) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if not (isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0):
        raise ValueError(f"{what} must be a positive int or (height, width), got {size!r}")
    return h, w


def _as_chw(image: np.ndarray | Tensor, index: int) -> Tensor:
    """uint8 ``[H, W, C]`` array (as from :func:`read_image`) or ``[C, H, W]`` tensor -> float."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3:
            raise ValueError(f"image {index}: numpy images must be uint8 [H, W, C], got "
                             f"{image.dtype} {image.shape}")
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    if not isinstance(image, Tensor) or image.ndim != 3:
        raise ValueError(f"image {index}: expected a [C, H, W] tensor or [H, W, C] uint8 array")
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    return image.float()


def _resize(x: Tensor, resize: float | tuple[int, int] | None) -> Tensor:
    if resize is None:
        return x
    h, w = x.shape[-2:]
    if isinstance(resize, (int, float)) and not isinstance(resize, bool):
        if not resize > 0:
            raise ValueError(f"resize scale must be > 0, got {resize}")
        size = (max(1, round(h * resize)), max(1, round(w * resize)))
    else:
        size = _pair(resize, "resize")
    if size == (h, w):
        return x
    y = F.interpolate(x[None], size=size, mode="bicubic", align_corners=False, antialias=True)
    return y[0].clamp_(0.0, 1.0)


def extract_patches(image: Tensor, size: int | tuple[int, int],
                    stride: int | tuple[int, int] | None = None) -> tuple[Tensor, Tensor]:
    """Cut a regular grid of patches from one image (the border that does not fit is dropped).

    Args:
        image: ``[C, H, W]``.
        size: patch ``(h, w)`` or one int.
        stride: grid step; defaults to ``size`` (non-overlapping tiles).

    Returns:
        ``patches [P, C, h, w]`` in row-major grid order and ``positions`` int64 ``[P, 2]``
        (top, left) of each patch.
    """
    ph, pw = _pair(size, "patch size")
    sh, sw = _pair(stride if stride is not None else (ph, pw), "stride")
    if image.ndim != 3:
        raise ValueError(f"image must be [C, H, W], got shape {tuple(image.shape)}")
    _, h, w = image.shape
    if h < ph or w < pw:
        raise ValueError(f"image of size {h}x{w} is smaller than the patch size {ph}x{pw}")
    tiles = image.unfold(1, ph, sh).unfold(2, pw, sw)  # [C, nH, nW, ph, pw]
    nh, nw = tiles.shape[1:3]
    patches = tiles.permute(1, 2, 0, 3, 4).reshape(nh * nw, image.shape[0], ph, pw)
    top = torch.arange(nh, dtype=torch.int64).repeat_interleave(nw) * sh
    left = torch.arange(nw, dtype=torch.int64).repeat(nh) * sw
    return patches.contiguous(), torch.stack([top, left], dim=1)


def random_crops(images: Sequence[Tensor], size: int | tuple[int, int], n: int,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Draw ``n`` crops uniformly: an image uniformly, then a position uniformly inside it.

    Args:
        images: sequence of ``[C, H, W]`` tensors (same C; sizes may differ).
        size: crop ``(h, w)`` or one int.
        n: number of crops.
        generator: CPU ``torch.Generator`` (same seed => same crops).

    Returns:
        ``crops [n, C, h, w]``, ``source`` int64 ``[n]`` (image index), ``positions`` int64
        ``[n, 2]`` (top, left).
    """
    ph, pw = _pair(size, "crop size")
    if n < 1:
        raise ValueError(f"number of crops must be >= 1, got {n}")
    if not images:
        raise ValueError("random_crops: no images")
    for i, im in enumerate(images):
        if im.shape[-2] < ph or im.shape[-1] < pw:
            raise ValueError(f"image {i} of size {im.shape[-2]}x{im.shape[-1]} is smaller than "
                             f"the crop size {ph}x{pw}")
    source = torch.randint(len(images), (n,), generator=generator)
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    sizes = torch.tensor([[im.shape[-2] - ph + 1, im.shape[-1] - pw + 1] for im in images],
                         dtype=torch.float64)
    positions = (u * sizes[source]).floor().to(torch.int64)
    crops = torch.stack([images[int(s)][:, int(t):int(t) + ph, int(l):int(l) + pw]
                         for s, (t, l) in zip(source, positions, strict=True)])
    return crops, source, positions


class PatchDataset(ImageDataset):
    """Patches or random crops cut from a set of images (e.g. Kodak), held in memory.

    Grid mode (default, ``num_crops=None``) tiles every image with ``patch_size`` patches at
    step ``stride``; random mode draws ``num_crops`` crops with ``generator``. Each image can
    first be resized (``resize``: a scale factor or ``(height, width)``; bicubic, antialiased).

    ``labels`` holds the index of the source image of every patch (names in ``sources``),
    ``positions`` the (top, left) corner in the (resized) image.

    Args:
        images: ``{name: uint8 [H, W, C]}`` (as from :func:`read_image_folder`) or a sequence of
            uint8 ``[H, W, C]`` arrays / ``[C, H, W]`` tensors.
        patch_size: int or ``(h, w)``.
    """

    def __init__(self, images: Mapping[str, np.ndarray | Tensor] | Sequence[np.ndarray | Tensor],
                 patch_size: int | tuple[int, int], *,
                 stride: int | tuple[int, int] | None = None, num_crops: int | None = None,
                 generator: torch.Generator | None = None,
                 resize: float | tuple[int, int] | None = None,
                 name: str = "patches", split: str = "") -> None:
        if isinstance(images, Mapping):
            sources, items = list(images.keys()), list(images.values())
        else:
            items = list(images)
            sources = [str(i) for i in range(len(items))]
        if not items:
            raise ValueError("PatchDataset: no images")
        tensors = [_resize(_as_chw(im, i), resize) for i, im in enumerate(items)]
        if len({t.shape[0] for t in tensors}) != 1:
            raise ValueError("PatchDataset: images have different numbers of channels")
        if num_crops is None:
            if generator is not None:
                raise ValueError("generator is only used with num_crops (random crops)")
            parts = []
            for i, t in enumerate(tensors):
                try:
                    parts.append((i, *extract_patches(t, patch_size, stride)))
                except ValueError as e:
                    raise ValueError(f"image {sources[i]!r}: {e}") from None
            patches = torch.cat([p for _, p, _ in parts])
            positions = torch.cat([q for _, _, q in parts])
            labels = torch.cat([torch.full((p.shape[0],), i, dtype=torch.int64)
                                for i, p, _ in parts])
        else:
            if stride is not None:
                raise ValueError("stride is only used for grid patches (num_crops=None)")
            patches, labels, positions = random_crops(tensors, patch_size, num_crops, generator)
        super().__init__(patches.clamp_(0.0, 1.0).contiguous(), labels, name=name,
                         split=split, meta={"sources": sources}, validate=False)
        self.sources = sources
        self.positions = positions
