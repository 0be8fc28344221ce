"""Helpers shared by the commands: argument lists, codec/stream loading (no heavy imports)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from njscc.codec import LatentCodec

__all__ = ["check_output", "load_codec", "named_errors", "parse_floats", "parse_ints",
           "read_stream"]


def parse_floats(text: str, what: str) -> list[float]:
    """``"0,0.05,0.1"`` → ``[0.0, 0.05, 0.1]`` (``ValueError`` naming the option ``what``)."""
    try:
        vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise ValueError(f"{what}: no values in {text!r}")
    return vals


def parse_ints(text: str, what: str, allow_empty: bool = False) -> list[int]:
    """``"256,256"`` → ``[256, 256]``; every value ≥ 1 (``ValueError`` naming ``what``)."""
    try:
        vals = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated integers, got {text!r}") from None
    if not vals and not allow_empty:
        raise ValueError(f"{what}: no values in {text!r}")
    if any(v < 1 for v in vals):
        raise ValueError(f"{what}: values must be >= 1, got {vals}")
    return vals


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(out: str | os.PathLike[str], *inputs: tuple[str, str | os.PathLike[str] | None]
                 ) -> Path:
    """Refuse to write ``out`` over one of the ``(what, path)`` inputs; return ``Path(out)``."""
    out_p = Path(out)
    if out_p.is_dir():
        raise IsADirectoryError(f"-o {out_p}: is a directory, expected a file name")
    for what, p in inputs:
        if p is None:
            continue
        p = Path(p)
        inside = p.is_dir() and out_p.resolve().is_relative_to(p.resolve())
        if _same(out_p, p) or (inside and what == "--model"):
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
    """Load a :class:`~njscc.codec.LatentCodec` from a checkpoint (eval mode, on ``device``)."""
    import torch

    from njscc.codec import LatentCodec
    from njscc.training.checkpoint import load_model

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device: unknown device {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device available")
    model = load_model(path, map_location=dev)
    if not isinstance(model, LatentCodec) or not hasattr(model, "m"):
        raise ValueError(f"--model {path}: {type(model).__name__} is not a binary LatentCodec "
                         "(bitstreams need a model with m code bits)")
    return model
