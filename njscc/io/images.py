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

__all__ = ["IMAGE_SUFFIXES", "MAX_VALUES", "READ_SUFFIXES", "WRITE_SUFFIXES", "image_grid",
           "read_images", "write_images"]

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
    """One PNG/JPEG as ``[1, C, H, W]`` float32; the size is checked from the header, before
    any pixel is decoded (so a decompression bomb is refused without being inflated)."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    c, h, w = data_shape
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            if img.size != (w, h):
                raise ValueError(
                    f"{path}: image is {img.size[0]}×{img.size[1]} (W×H), the model expects "
                    f"{w}×{h} ({'grey' if c == 1 else 'RGB'}, data shape {_shape_str(data_shape)}"
                    f"); resize it to {w}×{h} (a grid of images is not split; pass an .npz or a "
                    "directory of single images)")
            n_frames = getattr(img, "n_frames", 1)
            if n_frames > 1:
                raise ValueError(f"{path}: animated image with {n_frames} frames is not "
                                 "supported")
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I") and c == 1:
                arr = np.asarray(img, dtype=np.float64)
                scale = 65535.0
            else:
                arr = np.asarray(img.convert("L" if c == 1 else "RGB"), dtype=np.float64)
                scale = 255.0
    except Image.DecompressionBombError as e:
        raise ValueError(f"{path}: refused, too many pixels ({e})") from None
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
    return arr[None].astype(np.float32)


_NPZ_DTYPES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.bool_): 1.0,
               np.dtype(np.float16): 1.0, np.dtype(np.float32): 1.0, np.dtype(np.float64): 1.0}


def _npz_layout(path: Path, shape: tuple[int, ...], data_shape: tuple[int, int, int]) -> str:
    """How an ``images`` array of ``shape`` maps to ``[N, C, H, W]`` (``"nhw"``, ``"nchw"``,
    ``"nhwc"``, or the same without N); ``ValueError`` naming the expected shapes otherwise."""
    c, h, w = data_shape
    layouts = {(h, w): "hw", (c, h, w): "chw", (h, w, c): "hwc"} if c == 1 else \
        {(c, h, w): "chw", (h, w, c): "hwc"}
    if len(shape) in (2, 3) and tuple(shape) in layouts:
        return layouts[tuple(shape)]
    if len(shape) == 3 and c == 1 and tuple(shape[1:]) == (h, w):
        return "nhw"
    if len(shape) == 4 and tuple(shape[1:]) == (c, h, w):
        return "nchw"
    if len(shape) == 4 and tuple(shape[1:]) == (h, w, c):
        return "nhwc"
    hint = f"[N, {h}, {w}], " if c == 1 else ""
    raise ValueError(f"{path}: 'images' has shape {list(shape)}; the model expects {hint}"
                     f"[N, {h}, {w}, {c}] or [N, {c}, {h}, {w}] "
                     f"(data shape {_shape_str(data_shape)})")


def _read_npz(path: Path, data_shape: tuple[int, int, int], max_values: int) -> np.ndarray:
    """The ``images`` array of an ``.npz`` as ``[N, C, H, W]`` float32. Its dtype and shape are
    read from the member's header first, so a wrong, huge or compressed-bomb array is refused
    before it is decompressed; no pickles."""
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as zf:
            names = sorted(n[:-4] for n in zf.namelist() if n.endswith(".npy"))
            if "images" not in names:
                raise ValueError(f"{path}: no 'images' array in the .npz (found "
                                 f"{names or 'nothing'})")
            with zf.open("images.npy") as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(f)
            if dtype not in _NPZ_DTYPES:
                raise ValueError(f"{path}: 'images' has dtype {dtype}; expected uint8, uint16, "
                                 "bool or float in [0, 1]")
            layout = _npz_layout(path, shape, data_shape)
            n_values = math.prod(shape)
            if n_values > max_values:
                raise ValueError(f"{path}: 'images' holds {n_values} values, more than the "
                                 f"limit of {max_values} (raise it with --max-pixels)")
            with zf.open("images.npy") as f:
                arr = np.lib.format.read_array(f, allow_pickle=False)
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({e})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError) as e:
        if isinstance(e, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    if arr.dtype.kind == "f":
        if arr.size and not np.isfinite(arr).all():
            raise ValueError(f"{path}: 'images' contains NaN or inf")
        if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise ValueError(f"{path}: float 'images' must lie in [0, 1], got range "
                             f"[{float(arr.min()):.4g}, {float(arr.max()):.4g}] (store uint8 "
                             "for 0..255)")
    scale = _NPZ_DTYPES[arr.dtype]
    x = arr.astype(np.float32)
    if scale != 1.0:
        x /= np.float32(scale)
    if layout in ("hw", "chw", "hwc"):
        x, layout = x[None], "n" + layout
    if layout == "nhw":
        return x[:, None]
    if layout == "nhwc":
        return x.transpose(0, 3, 1, 2)
    return x


#: default ceiling on the values (N·C·H·W) :func:`read_images` accepts (512 MB as float32)
MAX_VALUES = 1 << 27


def read_images(path: str | os.PathLike[str], data_shape: Sequence[int], *,
                max_values: int = MAX_VALUES) -> Tensor:
    """Read one image file, an ``.npz`` or a directory as float32 ``[B, C, H, W]`` in [0, 1].

    Args:
        path: ``.png``/``.jpg``/``.jpeg``/``.npz`` file, or a directory of them.
        data_shape: the model's ``(C, H, W)``; images must match it (no resizing).
        max_values: refuse inputs with more than this many values in all (``N·C·H·W``);
            sizes are checked from headers before anything is decoded.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unsupported suffix, wrong size/shape/dtype, out-of-range values,
            unreadable file, too large, or a directory without images.
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
        arrays, total = [], 0
        for f in files:
            arrays.append(_read_one(f, shape, max_values - total))
            total += arrays[-1].size
        x = np.concatenate(arrays)
    else:
        x = _read_one(path, shape, max_values)
    if x.shape[0] == 0:
        raise ValueError(f"{path}: no images")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _read_one(path: Path, shape: tuple[int, int, int], max_values: int) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        if math.prod(shape) > max_values:
            raise ValueError(f"{path}: more images than the limit of {max_values} values "
                             "(raise it with --max-pixels)")
        return _read_picture(path, shape)
    if suffix == ".npz":
        return _read_npz(path, shape, max_values)
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
