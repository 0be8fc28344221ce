"""Channel registry: build a channel from a CLI name and one scalar parameter.

>>> import channels
>>> channels.available()
('awgn', 'bec', 'bsc', 'ge', 'z')
>>> channels.get("bsc", 0.1)            # crossover probability
BinarySymmetricChannel(eps=0.1)
>>> channels.get("awgn", 0.0, output="soft").param   # Es/N0 in dB
0.0

``param`` means: ε for ``bsc``/``bec``/``z``, Es/N0 in dB for ``awgn``, the mean error rate for
``ge`` (with ``p_bg``, ``eps_good``, ``eps_bad`` from :data:`channels.gilbert_elliott.GE_DEFAULTS`
unless given). Extra keyword arguments go to the channel's ``from_param``.
"""

from __future__ import annotations

from typing import Any

from channels.awgn import AWGNChannel
from channels.base import BinaryChannel
from channels.discrete import BinaryErasureChannel, BinarySymmetricChannel, ZChannel
from channels.gilbert_elliott import GilbertElliottChannel

__all__ = ["PARAM_DOC", "available", "get"]

_REGISTRY: dict[str, type[BinaryChannel]] = {
    cls.name: cls
    for cls in (BinarySymmetricChannel, BinaryErasureChannel, ZChannel, AWGNChannel,
                GilbertElliottChannel)
}

#: what ``param`` means for each channel (for help texts and plots)
PARAM_DOC: dict[str, str] = {
    "bsc": "crossover probability eps",
    "bec": "erasure probability eps",
    "z": "1->0 probability eps",
    "awgn": "Es/N0 [dB]",
    "ge": "mean error rate",
}


def available() -> tuple[str, ...]:
    """Names accepted by :func:`get`, sorted."""
    return tuple(sorted(_REGISTRY))


def get(name: str, param: float, **kwargs: Any) -> BinaryChannel:
    """Build the channel ``name`` with its scalar ``param`` (see the module docstring)."""
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"channel: expected one of {', '.join(available())}, got {name!r}")
    cls = _REGISTRY[name.lower()]
    try:
        return cls.from_param(param, **kwargs)  # type: ignore[attr-defined]
    except TypeError as e:
        if "unexpected keyword argument" in str(e):
            raise TypeError(f"channel {name!r}: {e}") from None
        raise
