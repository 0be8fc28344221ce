"""Checkpoints: ``safetensors`` weights + the JSON config that rebuilds the model.

A checkpoint is one directory, written atomically::

    <ckpt>/model.safetensors   model weights; the model config {"name", "kwargs"} (and the
                               format tag and torch version) in the header metadata
    <ckpt>/state.safetensors   training state tensors (optimiser moments, RNG states), optional
    <ckpt>/state.json          training state scalars/structure (epoch, step, lr, ...), optional
    <ckpt>/MANIFEST.json       size + sha256 of every file above; written last

Nothing is ever unpickled: optimiser ``state_dict``\\ s and other nested training state are split
into tensors (stored in ``state.safetensors`` under path-like keys) and a JSON skeleton that
points at them (``{"__tensor__": key}``), so loading a checkpoint cannot run code.

The safetensors headers are written canonically (sorted keys, compact JSON), so the same
weights and config give the same bytes. Loading checks the config against sane limits and the
weights' shapes on PyTorch's ``meta`` device *before* a model is allocated, so a crafted or
mismatched checkpoint is refused in one line without building anything.

Atomicity: files go into a temporary sibling directory which is renamed into place; with
``previous=`` the old checkpoint is kept (``last`` → ``prev``) instead of deleted. Every file is
checked against the manifest on load, so a truncated or modified checkpoint raises a
``ValueError`` naming the file instead of loading garbage; :func:`find_checkpoint` then falls back
to the previous good one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save
from torch import Tensor, nn

__all__ = ["FORMAT", "Checkpoint", "find_checkpoint", "load_checkpoint", "load_model",
           "save_checkpoint", "verify_checkpoint"]

FORMAT = "njscc.checkpoint/1"
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
STATE_JSON = "state.json"
MANIFEST = "MANIFEST.json"
#: names tried, in order, inside a run's ``checkpoints/`` folder
CANDIDATES = ("last", "prev")


@dataclass
class Checkpoint:
    """A loaded (verified) checkpoint.

    ``state`` holds whatever training state was saved (``optimizers``: name → optimiser
    ``state_dict``; ``extra``: epoch, step, RNG states, ...), with tensors restored in place.
    """

    path: Path
    model_config: dict[str, Any]
    state_dict: dict[str, Tensor]
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def optimizer_states(self) -> dict[str, Any]:
        return self.state.get("optimizers", {})

    @property
    def extra(self) -> dict[str, Any]:
        return self.state.get("extra", {})


# --------------------------------------------------------------------------- JSON <-> tensors
def _split(obj: Any, key: str, tensors: dict[str, Tensor]) -> Any:
    """Nested state → JSON skeleton; every tensor moves to ``tensors[key]``."""
    if isinstance(obj, Tensor):
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, Mapping):
        keys = list(obj.keys())
        if keys and all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
            return {"__int_keys__": {str(k): _split(v, f"{key}/{k}", tensors)
                                     for k, v in obj.items()}}
        if not all(isinstance(k, str) for k in keys):
            raise TypeError(f"checkpoint state at {key!r}: dict keys must be all str or all int")
        return {k: _split(v, f"{key}/{k}", tensors) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {"__tuple__": [_split(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_split(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint state at {key!r}: cannot store {type(obj).__name__} "
                    "(use tensors, numbers, strings, lists, tuples, dicts)")


def _join(obj: Any, tensors: Mapping[str, Tensor]) -> Any:
    """Inverse of :func:`_split`."""
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            try:
                return tensors[obj["__tensor__"]]
            except KeyError:
                name = obj["__tensor__"]
                raise ValueError(f"checkpoint state: tensor {name!r} missing") from None
        if set(obj) == {"__int_keys__"}:
            return {int(k): _join(v, tensors) for k, v in obj["__int_keys__"].items()}
        if set(obj) == {"__tuple__"}:
            return tuple(_join(v, tensors) for v in obj["__tuple__"])
        return {k: _join(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    return obj


# --------------------------------------------------------------------------- writing
def _canonical(blob: bytes) -> bytes:
    """A safetensors file with its JSON header rewritten with sorted keys (safetensors writes
    the metadata in hash order, so the same content could give different bytes)."""
    n = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8:8 + n]), sort_keys=True, separators=(",", ":"))
    head = header.encode()
    head += b" " * (-len(head) % 8)  # the format pads the header to a multiple of 8
    return len(head).to_bytes(8, "little") + head + blob[8 + n:]


def _st_bytes(tensors: dict[str, Tensor], metadata: dict[str, str]) -> bytes:
    return _canonical(_st_save(tensors, metadata=metadata))


def _write(path: Path, data: bytes) -> dict[str, Any]:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    optimizer_states: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    previous: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``model`` (+ optional training state) as the checkpoint directory ``path``.

    Args:
        path: the checkpoint directory to create or replace (e.g. ``runs/x/checkpoints/last``).
        model: a module with a ``config`` dict ``{"name", "kwargs"}`` (a registry model).
        optimizer_states: name → ``optimizer.state_dict()`` (or the optimiser itself).
        extra: other training state (epoch, step, RNG state tensors, ...): nested dicts, lists,
            tuples, numbers, strings and tensors.
        previous: if given and ``path`` exists, the old checkpoint is moved there (replacing
            what was there) instead of deleted, so one good checkpoint survives any crash.

    Returns:
        ``Path(path)``.
    """
    path = Path(path)
    config = getattr(model, "config", None)
    if not (isinstance(config, Mapping) and isinstance(config.get("name"), str)):
        raise TypeError("save_checkpoint: model must have a config dict {'name', 'kwargs'} "
                        f"(a registry model), got {type(model).__name__} with config={config!r}")
    model_config = {"name": config["name"], "kwargs": dict(config.get("kwargs", {}))}
    json.dumps(model_config)  # fail early (TypeError) if the kwargs are not JSON

    sd = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    files: dict[str, bytes] = {
        MODEL_FILE: _st_bytes(sd, {"format": FORMAT, "torch": torch.__version__,
                                   "model_config": json.dumps(model_config, sort_keys=True)}),
    }
    if optimizer_states is not None or extra is not None:
        opt = {name: (o.state_dict() if hasattr(o, "state_dict") else o)
               for name, o in (optimizer_states or {}).items()}
        tensors: dict[str, Tensor] = {}
        skeleton = _split({"optimizers": opt, "extra": dict(extra or {})}, "state", tensors)
        files[STATE_FILE] = _st_bytes(tensors, {"format": FORMAT})
        files[STATE_JSON] = (json.dumps(skeleton, sort_keys=True) + "\n").encode()

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        manifest = {"format": FORMAT, "files": {n: _write(tmp / n, d) for n, d in files.items()}}
        _write(tmp / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        _fsync_dir(tmp)
        if path.exists():
            if previous is not None:
                prev = Path(previous)
                if prev.exists():
                    shutil.rmtree(prev)
                os.replace(path, prev)
            else:
                old = path.with_name(f".{path.name}.old")
                if old.exists():
                    shutil.rmtree(old)
                os.replace(path, old)
                shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


# --------------------------------------------------------------------------- reading
def _read_verified(ckpt: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read every file listed in the manifest, checking sizes and hashes. → (manifest, data)."""
    mpath = ckpt / MANIFEST
    if not mpath.is_file():
        raise ValueError(f"{ckpt}: incomplete checkpoint (no {MANIFEST}; interrupted write?)")
    try:
        manifest = json.loads(mpath.read_text())
        listed = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(listed, dict):
            raise KeyError("format")
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise ValueError(f"{ckpt}: corrupt checkpoint ({MANIFEST} unreadable)") from None
    data: dict[str, bytes] = {}
    for name, meta in listed.items():
        if (not isinstance(name, str) or "/" in name or name.startswith(".")
                or not isinstance(meta, dict) or not isinstance(meta.get("size"), int)
                or not isinstance(meta.get("sha256"), str)):
            raise ValueError(f"{ckpt}: corrupt checkpoint ({MANIFEST} entry {name!r} is not "
                             "{'size': int, 'sha256': str})")
        f = ckpt / name
        if not f.is_file():
            raise ValueError(f"{ckpt}: corrupt checkpoint ({name} missing)")
        blob = f.read_bytes()
        if len(blob) != meta.get("size"):
            raise ValueError(f"{ckpt}: corrupt checkpoint ({name} is {len(blob)} bytes, "
                             f"expected {meta.get('size')}: truncated?)")
        if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
            raise ValueError(f"{ckpt}: corrupt checkpoint ({name} sha256 mismatch: modified?)")
        data[name] = blob
    if MODEL_FILE not in data:
        raise ValueError(f"{ckpt}: corrupt checkpoint ({MODEL_FILE} not in manifest)")
    return manifest, data


def _parse_model_file(blob: bytes, where: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    try:
        sd = _st_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise ValueError(f"{where}: corrupt weights file ({e})") from None
    # the config lives in the header metadata; parse it without touching the tensors again
    try:
        n = int.from_bytes(blob[:8], "little")
        meta = json.loads(blob[8:8 + n]).get("__metadata__", {})
        cfg = json.loads(meta["model_config"])
        if not isinstance(cfg.get("name"), str):
            raise KeyError("name")
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{where}: not an njscc model file (no model_config metadata)") from None
    return cfg, sd


def verify_checkpoint(path: str | os.PathLike[str]) -> Path:
    """Check a checkpoint directory against its manifest; ``ValueError`` if it is not intact."""
    path = Path(path)
    _read_verified(path)
    return path


def find_checkpoint(path: str | os.PathLike[str], *, best: bool = True) -> Path:
    """Resolve ``path`` to an intact checkpoint.

    ``path`` may be a checkpoint directory, a ``model.safetensors`` file, a run directory (its
    ``checkpoints/best`` — the early-stopping choice, written only by runs with validation
    data — then ``checkpoints/last``, falling back to ``checkpoints/prev``) or a
    ``checkpoints/`` folder. ``best=False`` skips ``best`` (resuming continues from ``last``).
    Raises ``FileNotFoundError`` if nothing is there, ``ValueError`` if all candidates are corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint: {path} does not exist")
    if path.is_file():
        return path
    if (path / MANIFEST).exists() or (path / MODEL_FILE).exists():
        verify_checkpoint(path)
        return path
    root = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    errors = []
    for name in (("best",) if best else ()) + CANDIDATES:
        cand = root / name
        if not cand.exists():
            continue
        try:
            return verify_checkpoint(cand)
        except ValueError as e:
            errors.append(str(e))
    if errors:
        raise ValueError("no intact checkpoint: " + "; ".join(errors))
    raise FileNotFoundError(f"checkpoint: no checkpoint found in {path} "
                            f"(expected {MODEL_FILE} or checkpoints/{{last,prev}})")


def load_checkpoint(path: str | os.PathLike[str],
                    map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load and verify a checkpoint (see :func:`find_checkpoint` for accepted paths).

    Tensors (weights and training state) are moved to ``map_location``.
    """
    ckpt = find_checkpoint(path)
    if ckpt.is_file():  # a lone weights file: no manifest, the safetensors header is the check
        cfg, sd = _parse_model_file(ckpt.read_bytes(), ckpt)
        state: dict[str, Any] = {}
    else:
        _, data = _read_verified(ckpt)
        cfg, sd = _parse_model_file(data[MODEL_FILE], ckpt / MODEL_FILE)
        state = {}
        if STATE_JSON in data:
            try:
                tensors = _st_load(data.get(STATE_FILE, b""))
                skeleton = json.loads(data[STATE_JSON])
            except (SafetensorError, ValueError, RuntimeError) as e:
                raise ValueError(f"{ckpt}: corrupt training state ({e})") from None
            state = _join(skeleton, tensors)
    dev = torch.device(map_location)
    if dev.type != "cpu":
        sd = {k: v.to(dev) for k, v in sd.items()}
    return Checkpoint(path=ckpt, model_config=cfg, state_dict=sd, state=state)


def _shape_mismatch(expected: dict[str, tuple[int, ...]], got: dict[str, tuple[int, ...]]
                    ) -> str | None:
    """One line describing how two state-dict shape maps differ (``None`` if they do not)."""
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = [k for k in sorted(set(expected) & set(got)) if expected[k] != got[k]]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing[:3])}" + (" …" if len(missing) > 3 else ""))
    if extra:
        parts.append(f"unexpected {', '.join(extra[:3])}" + (" …" if len(extra) > 3 else ""))
    if wrong:
        k = wrong[0]
        parts.append(f"{k} is {list(got[k])} in the file, the config builds {list(expected[k])}"
                     + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
    return "; ".join(parts) or None


def load_model(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model from a checkpoint via the registry (``njscc.models.get``) and load weights.

    The config is first built on PyTorch's ``meta`` device — the model's own argument checks
    and limits run, and the parameter shapes are compared with the weights — so a bad or
    mismatched checkpoint is refused (``ValueError``, one line) before anything is allocated.
    Returns the model in eval mode on ``map_location``. Exported as ``njscc.load_model``.
    """
    from njscc import models

    ck = load_checkpoint(path, map_location="cpu")
    cfg = ck.model_config
    name, kwargs = cfg.get("name"), cfg.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise ValueError(f"{ck.path}: model config kwargs must be a JSON object, got "
                         f"{type(kwargs).__name__}")
    try:
        with torch.device("meta"):
            skeleton = models.get(name, **kwargs)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{ck.path}: cannot rebuild model {name!r}: {e}") from None
    except (NotImplementedError, RuntimeError):
        skeleton = None  # a model that cannot be built on the meta device: no pre-check
    if skeleton is not None:
        expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
        diff = _shape_mismatch(expected, {k: tuple(v.shape) for k, v in ck.state_dict.items()})
        if diff:
            raise ValueError(f"{ck.path}: weights do not match model {name!r}: {diff}")
    model = models.get(name, **kwargs)
    try:
        model.load_state_dict(ck.state_dict, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{ck.path}: weights do not match model {name!r}: "
                         f"{' '.join(str(e).split())}") from None
    return model.to(map_location).eval()
