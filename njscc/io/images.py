"""Image files for the CLI: read PNG/JPEG/NPZ/folders into ``[B, C, H, W]`` floats, write PNG/NPZ.

Reading (:func:`read_images`) is matched to a model's ``data_shape`` ``(C, H, W)``:

* ``.png``/``.jpg``/``.jpeg``: exactly one image of size ``W×H``; converted to grey (``L``)
  for ``C = 1`` or ``RGB`` for ``C = 3``; 8-bit values / 255, 16-bit / 65535. A grid of
  several images is *not* split: a wrong size is an error that names the expected size.
* ``.npz``: an ``images`` array (no pickles), one of ``[N, H, W]`` (``C = 1``),
  ``[N, H, W, C]``, ``[N, C, H, W]``, or one image without ``N``; ``uint8`` (/255),
  ``uint16`` (/65535), ``bool`` or float already in [0, 1].
* a directory: every ``.png``/``.jpg``/``.jpeg``/``.npz`` inside (not recursive), in name
  order, concatenated.

Writing (:func:`write_images`) is atomic (:func:`njscc.io.results.atomic_write_bytes`):
``.png`` holds one image or, for ``N > 1``, a grid (2-pixel black gutters, ``ceil(sqrt N)``
columns); ``.npz`` holds every image as ``images`` float32 ``[N, C, H, W]`` in [0, 1]
(readable again by :func:`read_images`).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from njscc.io.results import atomic_write_bytes

__all__ = ["IMAGE_SUFFIXES", "READ_SUFFIXES", "WRITE_SUFFIXES", "image_grid", "read_images",
           "write_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
READ_SUFFIXES = (*IMAGE_SUFFIXES, ".npz")
WRITE_SUFFIXES = (".png", ".npz")


def _shape_str(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


def _check_data_shape(data_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in data_shape)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ValueError(f"image files need a model with data shape (C, H, W), C in {{1, 3}}; "
                         f"got {shape}")
    return shape  # type: ignore[return-value]


def _read_picture(path: Path, data_shape: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    c, h, w = data_shape
    try:
        with Image.open(path) as img:
            img.load()
            n_frames = getattr(img, "n_frames", 1)
            if n_frames > 1:
                raise ValueError(f"{path}: animated image with {n_frames} frames is not "
                                 "supported")
            if img.size != (w, h):
                raise ValueError(
                    f"{path}: image is {img.size[0]}×{img.size[1]} (W×H), the model expects "
                    f"{w}×{h} ({'grey' if c == 1 else 'RGB'}, data shape {_shape_str(data_shape)}"
                    f"); resize it to {w}×{h} (a grid of images is not split; pass an .npz or a "
                    "directory of single images)")
            if img.mode in ("I;16", "I;16B", "I;16L", "I") and c == 1:
                arr = np.asarray(img, dtype=np.float64)
                scale = 65535.0
            else:
                arr = np.asarray(img.convert("L" if c == 1 else "RGB"), dtype=np.float64)
                scale = 255.0
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not a readable image file") from None
    except OSError as e:  # truncated / corrupt image data
        if isinstance(e, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise ValueError(f"{path}: cannot decode image ({e})") from None
    arr = arr / scale
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{path}: pixel values outside the 8/16-bit range")
    arr = arr.reshape(h, w, -1).transpose(2, 0, 1)  # [C, H, W]
    return arr[None]


def _read_npz(path: Path, data_shape: tuple[int, int, int]) -> np.ndarray:
    c, h, w = data_shape
    try:
        z = np.load(path, allow_pickle=False)
        if not hasattr(z, "files"):
            raise ValueError("a single .npy array, not an .npz archive")
        with z:
            names = sorted(z.files)
            arr = z["images"] if "images" in names else None
    except (OSError, EOFError, ValueError) as e:  # not a zip / truncated / pickled object
        if isinstance(e, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    if arr is None:
        raise ValueError(f"{path}: no 'images' array in the .npz (found {names or 'nothing'})")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float64) / 255.0
    elif arr.dtype == np.uint16:
        x = arr.astype(np.float64) / 65535.0
    elif arr.dtype == np.bool_:
        x = arr.astype(np.float64)
    elif np.issubdtype(arr.dtype, np.floating):
        x = arr.astype(np.float64)
        if x.size and not np.isfinite(x).all():
            raise ValueError(f"{path}: 'images' contains NaN or inf")
        if x.size and (x.min() < 0.0 or x.max() > 1.0):
            raise ValueError(f"{path}: float 'images' must lie in [0, 1], got range "
                             f"[{x.min():.4g}, {x.max():.4g}] (store uint8 for 0..255)")
    else:
        raise ValueError(f"{path}: 'images' has dtype {arr.dtype}; expected uint8, uint16, "
                         "bool or float in [0, 1]")
    s = x.shape
    if s in ((h, w), (c, h, w), (h, w, c)):
        x, s = x[None], (1, *s)
    if len(s) == 3 and c == 1 and s[1:] == (h, w):
        return x[:, None]
    if len(s) == 4 and s[1:] == (c, h, w):
        return x
    if len(s) == 4 and s[1:] == (h, w, c):
        return x.transpose(0, 3, 1, 2)
    hint = f"[N, {h}, {w}], " if c == 1 else ""
    raise ValueError(f"{path}: 'images' has shape {list(s)}; the model expects {hint}"
                     f"[N, {h}, {w}, {c}] or [N, {c}, {h}, {w}] "
                     f"(data shape {_shape_str(data_shape)})")


def read_images(path: str | os.PathLike[str], data_shape: Sequence[int]) -> Tensor:
    """Read one image file, an ``.npz`` or a directory as float32 ``[B, C, H, W]`` in [0, 1].

    Args:
        path: ``.png``/``.jpg``/``.jpeg``/``.npz`` file, or a directory of them.
        data_shape: the model's ``(C, H, W)``; images must match it (no resizing).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unsupported suffix, wrong size/shape/dtype, out-of-range values,
            unreadable file, or a directory without images.
    """
    shape = _check_data_shape(data_shape)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input {path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in READ_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: directory has no {'/'.join(READ_SUFFIXES)} files")
        arrays = [_read_one(f, shape) for f in files]
        x = np.concatenate(arrays)
    else:
        x = _read_one(path, shape)
    if x.shape[0] == 0:
        raise ValueError(f"{path}: no images")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _read_one(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return _read_picture(path, shape)
    if suffix == ".npz":
        return _read_npz(path, shape)
    raise ValueError(f"{path}: unsupported input type {suffix or '(no suffix)'!r}; expected "
                     f"{', '.join(READ_SUFFIXES)} or a directory")


def image_grid(images: Tensor, ncol: int | None = None, padding: int = 2,
               pad_value: float = 0.0) -> Tensor:
    """Tile ``[N, C, H, W]`` images into one ``[C, H', W']`` grid (``ceil(sqrt N)`` columns)."""
    n, c, h, w = images.shape
    ncol = ncol or max(1, math.ceil(math.sqrt(n)))
    nrow = math.ceil(n / ncol)
    grid = images.new_full((c, nrow * (h + padding) + padding, ncol * (w + padding) + padding),
                           pad_value)
    for i in range(n):
        r, k = divmod(i, ncol)
        y0, x0 = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, y0:y0 + h, x0:x0 + w] = images[i]
    return grid


def _png_bytes(img: Tensor) -> bytes:
    from PIL import Image

    arr = (img.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    pic = Image.fromarray(arr[..., 0], "L") if arr.shape[2] == 1 else Image.fromarray(arr, "RGB")
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    return buf.getvalue()


def write_images(path: str | os.PathLike[str], images: Tensor) -> dict[str, object]:
    """Write ``[N, C, H, W]`` images in [0, 1] atomically as ``.png`` (one image or a grid)
    or ``.npz`` (``images`` float32 ``[N, C, H, W]``).

    Returns a small summary: ``{"path", "n", "grid": (rows, cols) or None}``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise ValueError(f"output {path}: unsupported type {suffix or '(no suffix)'!r}; "
                         f"expected {' or '.join(WRITE_SUFFIXES)}")
    if images.dim() != 4:
        raise ValueError(f"images: expected [N, C, H, W], got {list(images.shape)}")
    x = images.detach().to("cpu", torch.float32)
    n, c = int(x.shape[0]), int(x.shape[1])
    grid = None
    if suffix == ".npz":
        buf = io.BytesIO()
        np.savez_compressed(buf, images=x.numpy())
        data = buf.getvalue()
    else:
        if c not in (1, 3):
            raise ValueError(f"output {path}: PNG needs 1 or 3 channels, got {c}; use .npz")
        if n == 0:
            raise ValueError(f"output {path}: no images to write")
        if n == 1:
            img = x[0]
        else:
            ncol = max(1, math.ceil(math.sqrt(n)))
            grid = (math.ceil(n / ncol), ncol)
            img = image_grid(x, ncol)
        data = _png_bytes(img)
    atomic_write_bytes(path, data)
    return {"path": str(path), "n": n, "grid": grid}
