"""Training objectives (gradient estimators) for codecs with discrete channel inputs.

    >>> from njscc import objectives
    >>> obj = objectives.get("vimco", n_samples=5)
    >>> obj.prepare(model)                      # creates objective parameters, if any
    >>> loss, stats = obj(model, x, channel, generator=g)
    >>> loss.backward()                         # stats: {"loss", "bound", "distortion", ...}

Names: ``"vimco"`` (:class:`VIMCO`), ``"nvil"`` (:class:`NVIL`), ``"reinforce"``
(:class:`Reinforce`), ``"gumbel"`` (:class:`GumbelST`); for continuous-latent codecs
``"elbo"``, ``"beta_vae"``, ``"vib"``, ``"therml"`` (:mod:`njscc.objectives.rate_distortion`).
"""

from __future__ import annotations

import inspect
from typing import Any

from njscc.objectives.base import Objective
from njscc.objectives.gumbel import GumbelST
from njscc.objectives.nvil import NVIL
from njscc.objectives.rate_distortion import ELBO, VIB, BetaVAE, TherML
from njscc.objectives.reinforce import Reinforce
from njscc.objectives.vimco import VIMCO

__all__ = ["ELBO", "NVIL", "VIB", "VIMCO", "BetaVAE", "GumbelST", "Objective", "Reinforce",
           "TherML", "available", "get"]

_REGISTRY: dict[str, type[Objective]] = {
    "vimco": VIMCO,
    "nvil": NVIL,
    "reinforce": Reinforce,
    "gumbel": GumbelST,
    # rate-distortion family (continuous-latent codecs, njscc.objectives.rate_distortion)
    "elbo": ELBO,
    "beta_vae": BetaVAE,
    "vib": VIB,
    "therml": TherML,
}


def available() -> list[str]:
    """Registered objective names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs: Any) -> Objective:
    """Build the objective registered as ``name``.

    Raises:
        ValueError: unknown ``name`` (the message lists the available ones) or a bad value.
        TypeError: an unknown keyword argument (named in the message).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown objective {name!r}; available: {', '.join(available())}")
    cls = _REGISTRY[name]
    params = inspect.signature(cls).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        raise TypeError(f"objective {name!r} got unknown keyword argument(s) {unknown}; "
                        f"accepted: {list(params)}")
    return cls(**kwargs)
