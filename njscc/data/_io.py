"""Reading whole files, transparently decompressing gzip / xz, with errors that name the file."""

from __future__ import annotations

import gzip
import lzma
import os
import zlib
from pathlib import Path

__all__ = ["GZIP_MAGIC", "XZ_MAGIC", "compress_bytes", "decompress", "read_bytes"]

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the (decompressed) content of ``path``.

    The compression is detected from the content (gzip and xz magic numbers), not the name;
    a file named ``*.gz`` / ``*.xz`` that is not compressed that way is an error.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        IsADirectoryError: ``path`` is a folder.
        ValueError: corrupt or truncated gzip/xz stream, or a compression suffix that does not
            match the content. The message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"expected a file, got a folder: {path}")
    return decompress(path.read_bytes(), path)


def decompress(raw: bytes, source: str | os.PathLike[str]) -> bytes:
    """Decompress gzip / xz content (detected from the magic number); other data is returned as is.

    ``source`` names the data in error messages; its suffix ``.gz`` / ``.xz`` must match the
    content.

    Raises:
        ValueError: corrupt or truncated stream, or a suffix that does not match the content.
    """
    suffix = Path(source).suffix.lower()
    try:
        if raw.startswith(GZIP_MAGIC):
            return gzip.decompress(raw)
        if raw.startswith(XZ_MAGIC):
            return lzma.decompress(raw, format=lzma.FORMAT_XZ)
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        kind = "gzip" if raw.startswith(GZIP_MAGIC) else "xz"
        raise ValueError(f"{source}: corrupt or truncated {kind} data ({e})") from None
    if suffix in (".gz", ".gzip"):
        raise ValueError(f"{source}: not a gzip file (no gzip magic number 1f 8b)")
    if suffix == ".xz":
        raise ValueError(f"{source}: not an xz file (no xz magic number)")
    return raw


def compress_bytes(data: bytes, path: str | os.PathLike[str]) -> bytes:
    """Compress ``data`` according to the suffix of ``path`` (``.gz``, ``.xz``, else raw).

    Deterministic: gzip without a file name and with mtime 0; xz at preset 9e with a CRC32 check.
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".gz", ".gzip"):
        return gzip.compress(data, compresslevel=9, mtime=0)
    if suffix == ".xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                             preset=9 | lzma.PRESET_EXTREME)
    return data
