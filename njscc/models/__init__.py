"""Model registry: every architecture is a :class:`njscc.codec.LatentCodec` built by name.

    >>> from njscc import models
    >>> model = models.get("necst_mlp", m=100)
    >>> model.config
    {'name': 'necst_mlp', 'kwargs': {'m': 100, 'data_shape': [1, 28, 28], ...}}
    >>> same = models.get(model.config["name"], **model.config["kwargs"])

``config["kwargs"]`` holds *all* constructor arguments (defaults filled in) as JSON values
(tuples become lists), so a checkpoint rebuilds the same architecture even if defaults change.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from njscc.codec import LatentCodec
from njscc.models.necst.base import jsonable

__all__ = ["VAEMLP", "VIBMLP", "NecstConv", "NecstMLP", "available", "get", "register"]

_REGISTRY: dict[str, type[LatentCodec]] = {}

T = TypeVar("T", bound=type[LatentCodec])


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make a :class:`LatentCodec` subclass available as ``get(name)``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"model name must be a non-empty str, got {name!r}")

    def deco(cls: T) -> T:
        if not (isinstance(cls, type) and issubclass(cls, LatentCodec)):
            raise TypeError(f"register({name!r}) expects a LatentCodec subclass, got {cls!r}")
        old = _REGISTRY.get(name)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise ValueError(f"model name {name!r} is already registered to {old.__qualname__}")
        _REGISTRY[name] = cls
        return cls

    return deco


def available() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs: Any) -> LatentCodec:
    """Build the model registered as ``name`` with ``kwargs``; sets ``model.config``.

    Raises:
        ValueError: unknown ``name`` (the message lists the available ones) or a bad value.
        TypeError: an unknown keyword argument (named in the message) or a non-JSON value.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    cls = _REGISTRY[name]
    sig = inspect.signature(cls)
    unknown = sorted(k for k in kwargs if k not in sig.parameters)
    if unknown:
        raise TypeError(f"model {name!r} got unknown keyword argument(s) {unknown}; "
                        f"accepted: {list(sig.parameters)}")
    bound = sig.bind(**kwargs)
    bound.apply_defaults()
    config_kwargs = {k: jsonable(v, f"model {name!r} argument {k!r}")
                     for k, v in bound.arguments.items()}
    model = cls(**kwargs)
    model.config = {"name": name, "kwargs": config_kwargs}
    return model


# Registered architectures (imported for their @register side effect).
from njscc.models.necst.conv import NecstConv  # noqa: E402
from njscc.models.necst.mlp import NecstMLP  # noqa: E402
from njscc.models.vae.base import VAEMLP  # noqa: E402  (rate-distortion family)
from njscc.models.vib.mlp import VIBMLP  # noqa: E402
