"""IDX files (MNIST, Fashion-MNIST, EMNIST, ...): reader and writer.

Format (big-endian): two zero bytes, a dtype code, the number of dimensions ``d``, then ``d``
uint32 sizes, then the values in C order. Files may be gzip- or xz-compressed (detected from the
content).
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np

from njscc.data._io import compress_bytes, decompress, read_bytes

__all__ = ["IDX_DTYPES", "parse_idx", "read_idx", "write_idx"]

#: IDX type code -> big-endian numpy dtype
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_MAX_DIMS = 16


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw, ``.gz`` or ``.xz``) into a native-endian numpy array.

    Args:
        path: the file.

    Returns:
        A writable array with the header's shape and dtype (uint8, int8, int16, int32, float32
        or float64).

    Raises:
        ValueError: bad magic number / unknown dtype code, no dimensions, a payload whose size
            does not match the header (truncated or trailing bytes), or a corrupt gzip/xz
            stream. The message names the file.
        FileNotFoundError: missing file.
    """
    path = Path(path)
    return _parse(read_bytes(path), path)


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """:func:`read_idx` on in-memory content (raw, gzip or xz); ``source`` names it in errors."""
    return _parse(decompress(data, source), source)


def _parse(data: bytes, path: str | os.PathLike[str]) -> np.ndarray:
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file ({len(data)} bytes, shorter than the header)")
    zero, code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES:
        raise ValueError(f"{path}: bad IDX magic number 0x{data[:4].hex()} (expected "
                         "00 00 <type 08/09/0B/0C/0D/0E> <ndim>)")
    if not 1 <= ndim <= _MAX_DIMS:
        raise ValueError(f"{path}: IDX header gives {ndim} dimensions (expected 1..{_MAX_DIMS})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, need {header})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "trailing bytes after the data"
        raise ValueError(f"{path}: IDX size mismatch ({what}): header shape {tuple(shape)} of "
                         f"{dtype.newbyteorder('=').name} needs {expected} bytes, file has {got}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file; compressed if ``path`` ends in ``.gz`` or ``.xz``.

    Output is deterministic (no timestamps). Returns the path.

    Raises:
        TypeError: dtype not representable in IDX.
        ValueError: 0-d array or a dimension >= 2**32.
    """
    path = Path(path)
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(f"write_idx: dtype {arr.dtype} has no IDX code (use uint8, int8, "
                        "int16, int32, float32 or float64)")
    if arr.ndim == 0 or arr.ndim > _MAX_DIMS:
        raise ValueError(f"write_idx: array must have 1..{_MAX_DIMS} dimensions, got {arr.ndim}")
    if any(s >= 2**32 for s in arr.shape):
        raise ValueError(f"write_idx: dimension too large for IDX: {arr.shape}")
    code = _CODES[native]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(compress_bytes(header + payload, path))
    return path
