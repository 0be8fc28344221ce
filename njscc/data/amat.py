"""Binarized MNIST (Larochelle & Murray, 2011): ``.amat`` text files and ``.npz`` archives.

An ``.amat`` file holds one image per line: ``row_length`` values ``0``/``1`` separated by single
spaces (784 = 28 x 28, row-major). The common exact layout is parsed by a vectorised fast path
(every other byte is a digit); anything else (CRLF line ends, several spaces, ``0.0`` / ``1.0``)
goes through a slower tokenising path. Both validate every value.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from njscc.data._io import compress_bytes, read_bytes

__all__ = ["NPZ_SPLIT_NAMES", "read_amat", "read_binarized_npz", "write_amat"]

#: accepted array names in a binarized-MNIST ``.npz``, per canonical split
NPZ_SPLIT_NAMES: dict[str, tuple[str, ...]] = {
    "train": ("train", "train_data", "x_train", "train_x", "trainx", "xtrain"),
    "valid": ("valid", "validation", "val", "valid_data", "x_valid", "x_val", "valid_x",
              "validx", "xvalid"),
    "test": ("test", "test_data", "x_test", "test_x", "testx", "xtest"),
}


def _fast_amat(data: bytes, row_length: int, path: Path) -> np.ndarray | None:
    """Exact layout ``d d d ... d\\n`` (single spaces, LF); ``None`` if the layout differs."""
    width = 2 * row_length
    if not data.endswith(b"\n"):
        data = data + b"\n"
    if len(data) % width:
        return None
    buf = np.frombuffer(data, dtype=np.uint8).reshape(-1, width)
    sep = np.full(row_length, ord(" "), dtype=np.uint8)
    sep[-1] = ord("\n")
    if not (buf[:, 1::2] == sep).all():
        return None
    values = buf[:, 0::2] - np.uint8(ord("0"))
    bad = values > 1
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{path}: value {chr(buf[r, 2 * c])!r} at line {r + 1}, column {c + 1} "
                         "is not binary (expected 0 or 1)")
    return values


def _slow_amat(data: bytes, row_length: int, path: Path) -> np.ndarray:
    """Any whitespace, CRLF, ``0.0``/``1.0``; parsed line by line (bounded memory)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not an .amat text file (non-ASCII byte at offset "
                         f"{e.start})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{path}: no data rows")
    out = np.empty((len(lines), row_length), dtype=np.uint8)
    for i, line in enumerate(lines):
        tokens = line.split()
        if len(tokens) != row_length:
            raise ValueError(f"{path}: line {i + 1} has {len(tokens)} values, expected "
                             f"{row_length}")
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError as e:
            raise ValueError(f"{path}: line {i + 1}: non-numeric value ({e})") from None
        bad = (values != 0) & (values != 1)
        if bad.any():
            c = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: value {tokens[c]!r} at line {i + 1}, column {c + 1} is "
                             "not binary (expected 0 or 1)")
        out[i] = values
    return out


def read_amat(path: str | os.PathLike[str], row_length: int = 784) -> np.ndarray:
    """Read a binary ``.amat`` file (raw, ``.gz`` or ``.xz``).

    Args:
        path: the file.
        row_length: values per line (784 for 28 x 28 images).

    Returns:
        uint8 array ``[N, row_length]`` with values in {0, 1}.

    Raises:
        ValueError: corrupt compression, empty file, a line with the wrong number of values,
            a non-numeric or non-binary value. The message names the file (and line).
    """
    path = Path(path)
    if row_length < 1:
        raise ValueError(f"read_amat: row_length must be >= 1, got {row_length}")
    data = read_bytes(path)
    if not data.strip():
        raise ValueError(f"{path}: empty .amat file")
    out = _fast_amat(data, row_length, path)
    return out if out is not None else _slow_amat(data, row_length, path)


def write_amat(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write a binary ``[N, D]`` array as ``.amat`` text (gzip/xz by suffix, deterministic)."""
    path = Path(path)
    arr = np.asarray(array)
    if arr.ndim != 2:
        raise ValueError(f"write_amat: expected a 2-d array [N, D], got shape {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("write_amat: values must be 0 or 1")
    buf = np.full((arr.shape[0], 2 * arr.shape[1]), ord(" "), dtype=np.uint8)
    buf[:, 0::2] = arr.astype(np.uint8) + ord("0")
    buf[:, -1] = ord("\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(compress_bytes(buf.tobytes(), path))
    return path


def read_binarized_npz(path: str | os.PathLike[str], row_length: int = 784
                       ) -> dict[str, np.ndarray]:
    """Read binarized MNIST splits from an ``.npz`` archive (never unpickles).

    Arrays are looked up under the names in :data:`NPZ_SPLIT_NAMES` (case-insensitive), e.g.
    ``train``/``valid``/``test`` or ``x_train``/``x_val``/``x_test``.

    Returns:
        ``{"train", "valid", "test"}`` (those present) -> uint8 ``[N, row_length]`` in {0, 1}.

    Raises:
        ValueError: not a zip/npz, pickled (object) arrays, no recognised split, wrong size
            per image, or non-binary values. The message names the file and array.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a valid .npz archive ({e})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected an .npz archive, got a single .npy array")
    out: dict[str, np.ndarray] = {}
    with loaded as npz:
        by_lower = {k.lower(): k for k in npz.files}
        for split, names in NPZ_SPLIT_NAMES.items():
            key = next((by_lower[n] for n in names if n in by_lower), None)
            if key is None:
                continue
            try:
                arr = npz[key]
            except ValueError as e:  # object arrays need pickle
                raise ValueError(f"{path}: array {key!r} cannot be loaded without pickle "
                                 f"({e})") from None
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
                raise ValueError(f"{path}: corrupt array {key!r} ({e})") from None
            if arr.ndim < 2 or int(np.prod(arr.shape[1:])) != row_length:
                raise ValueError(f"{path}: array {key!r} has shape {arr.shape}, expected "
                                 f"[N, {row_length}] (or [N, 28, 28])")
            arr = arr.reshape(arr.shape[0], row_length)
            if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
                raise ValueError(f"{path}: array {key!r} has values other than 0/1")
            out[split] = arr.astype(np.uint8)
    if not out:
        raise ValueError(f"{path}: no train/valid/test arrays (found {sorted(by_lower)}; "
                         f"accepted names: {NPZ_SPLIT_NAMES})")
    return out
