"""Results files (schema ``njscc.result/1``) and atomic writes.

Every evaluation and benchmark writes one JSON object::

    {"schema": "njscc.result/1", "task", "dataset", "channel": {"name", "param"}, "m",
     "metrics": {...}, "config": {...}, "env": {"torch", "device", "git", "time", ...}}

Plots are made from these files, not from live objects.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["SCHEMA", "atomic_write_bytes", "atomic_write_text", "env_info", "load_result",
           "make_result", "save_figure", "write_result"]

SCHEMA = "njscc.result/1"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder + ``os.replace``.

    A reader never sees a half-written file, and an interrupted write leaves the old file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_figure(fig: Any, path: str | os.PathLike[str], **savefig_kwargs: Any) -> Path:
    """Render a matplotlib figure (format from the suffix, e.g. ``.png``), write it atomically
    with :func:`atomic_write_bytes` (a reader never sees half a PNG), close it; returns the path.
    ``savefig_kwargs`` go to ``fig.savefig`` (``dpi=...``)."""
    import io

    import matplotlib.pyplot as plt

    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower() or "png", **savefig_kwargs)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _git_rev() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def env_info(device: torch.device | str | None = None) -> dict[str, Any]:
    """Versions, device name and time, for the ``env`` block of a result."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
    else:
        name = platform.processor() or platform.machine()
    import numpy

    return {
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "device": f"{dev.type}:{name}",
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "git": _git_rev(),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def make_result(
    task: str,
    metrics: dict[str, Any],
    *,
    dataset: str | None = None,
    channel: dict[str, Any] | None = None,
    m: int | None = None,
    config: dict[str, Any] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """Assemble a result dict in the ``njscc.result/1`` schema."""
    return {
        "schema": SCHEMA,
        "task": task,
        "dataset": dataset,
        "channel": channel or {"name": None, "param": None},
        "m": m,
        "metrics": metrics,
        "config": config or {},
        "env": env_info(device),
    }


def write_result(path: str | os.PathLike[str], result: dict[str, Any]) -> Path:
    """Validate the schema tag and write ``result`` as indented JSON, atomically."""
    if result.get("schema") != SCHEMA:
        raise ValueError(f"result: expected schema {SCHEMA!r}, got {result.get('schema')!r}")
    return atomic_write_text(path, json.dumps(result, indent=2, sort_keys=False) + "\n")


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a results JSON, checking it is one of ours."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(obj, dict) or obj.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not an {SCHEMA} results file")
    return obj
