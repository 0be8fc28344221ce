"""Helpers shared by the bitstream commands: output checks, codec and stream loading."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from njscc.codec import LatentCodec

__all__ = ["check_output", "check_writable", "load_codec", "named_errors", "read_stream"]


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_writable(path: str | os.PathLike[str], *, folder: bool) -> Path:
    """Refuse, before any work, an output that cannot be written: a file where a folder is
    needed (or the reverse), a path under a file, or a nearest existing folder without write
    permission. Raises ``OSError`` carrying the path; creates nothing."""
    import errno

    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(p))
    if not folder and p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file name", str(p))
    probe = p if folder and p.exists() else p.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file, so nothing can be written below it",
                                 str(probe))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "Permission denied (cannot write there)", str(probe))
    return p


def check_output(out: str | os.PathLike[str], *inputs: tuple[str, str | os.PathLike[str] | None]
                 ) -> Path:
    """Refuse to write ``out`` over one of the ``(what, path)`` inputs or where it cannot be
    written (:func:`check_writable`); return ``Path(out)``."""
    out_p = Path(out)
    if out_p.is_dir():
        raise IsADirectoryError(f"-o {out_p}: is a directory, expected a file name")
    check_writable(out_p, folder=False)
    for what, p in inputs:
        if p is None:
            continue
        p = Path(p)
        inside = p.is_dir() and out_p.resolve().is_relative_to(p.resolve())
        if _same(out_p, p) or (inside and what == "--checkpoint"):
            raise ValueError(f"-o {out_p}: refusing to overwrite the {what} file {p}")
    return out_p


@contextmanager
def named_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Prefix :class:`~njscc.io.bitstream.BitstreamError` messages with the file they are about."""
    from njscc.io.bitstream import BitstreamError

    try:
        yield
    except BitstreamError as e:
        raise BitstreamError(f"{path}: {e}") from None


def read_stream(path: str | os.PathLike[str]) -> bytes:
    """Read a bitstream file (``FileNotFoundError``/``IsADirectoryError`` if it is not one)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"bitstream {p} does not exist")
    if p.is_dir():
        raise IsADirectoryError(f"bitstream {p} is a directory, expected a .njs file")
    return p.read_bytes()


def load_codec(path: str | os.PathLike[str], device: str = "cpu") -> LatentCodec:
    """Load a codec whose latent can go into a bitstream (eval mode, on ``device``).

    A model whose latent cannot (a VAE's real latent, say) is refused with a one-line
    ``ValueError`` naming it — its codes are not bits, so there is nothing to pack.
    """
    from njscc.training.checkpoint import load_model
    from njscc.validation import check_device

    model = load_model(path, map_location=check_device(device, "--device"))
    if not model.latent.sendable:
        raise ValueError(f"--checkpoint {path}: {model.config['name']} has a {model.latent} "
                         "latent, which a bitstream cannot carry (njscc encode/decode/"
                         "transmit need a model with bit codes, e.g. necst_mlp)")
    return model
