"""njscc: neural joint source-channel coding (NECST) and separation baselines.

Public API (imported lazily so ``import njscc`` stays light)::

    njscc.encode(model, images) -> bytes      # bitstream with header + CRC
    njscc.decode(model, data) -> images
    njscc.transmit(data, channel, generator) -> (received bytes, stats)   # simulated channel
    njscc.models.get("necst_mlp", m=100)      # registry
"""

from __future__ import annotations

import importlib
from typing import Any

from njscc._omp import apply_wait_policy

# OpenMP reads OMP_WAIT_POLICY when torch loads: decide it now, before any torch import, so
# the Python API gets the CLI's behaviour on a busy machine (see njscc._omp)
apply_wait_policy()

__version__ = "0.1.0"

__all__ = ["LatentCodec", "__version__", "decode", "encode", "load_model", "models", "transmit"]

_LAZY = {
    "LatentCodec": ("njscc.codec", "LatentCodec"),
    "encode": ("njscc.io.bitstream", "encode"),
    "decode": ("njscc.io.bitstream", "decode"),
    "transmit": ("njscc.io.bitstream", "transmit"),
    "load_model": ("njscc.training.checkpoint", "load_model"),
    "models": ("njscc.models", None),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod_name, attr = _LAZY[name]
        mod = importlib.import_module(mod_name)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'njscc' has no attribute {name!r}")
