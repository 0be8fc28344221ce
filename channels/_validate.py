"""Validation helpers for channel parameters and inputs.

Every error names the argument, what was expected and what was got. Scalars are checked once
(at construction); tensors on the hot path are checked with a few fast reductions and no
full-size temporaries (see :func:`check_bits`).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

__all__ = ["BIT_DTYPES", "check_bits", "check_finite", "check_positive_int", "check_probability",
           "check_probs", "check_received"]

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
#: dtypes accepted for input bits
BIT_DTYPES = (torch.bool, *_INT_DTYPES, *_FLOAT_DTYPES)
# same-size integer dtype used to count nonzeros of a float tensor without a temporary
_INT_VIEW = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32,
             torch.float64: torch.int64}


def _real_scalar(value: object, name: str) -> float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: expected a scalar, got a tensor of shape "
                             f"{tuple(value.shape)}")
        if value.is_complex():
            raise TypeError(f"{name}: expected a real number, got complex {value.item()!r}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    return float(value)


def check_probability(value: object, name: str) -> float:
    """``value`` as a float in [0, 1]; ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    v = _real_scalar(value, name)
    if not (0.0 <= v <= 1.0):  # also rejects NaN
        raise ValueError(f"{name}: expected a probability in [0, 1], got {v!r}")
    return v


def check_finite(value: object, name: str) -> float:
    """``value`` as a finite float (rejects NaN and ±inf)."""
    v = _real_scalar(value, name)
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite real number, got {v!r}")
    return v


def check_positive_int(value: object, name: str) -> int:
    """``value`` as an int ≥ 1 (bools and non-integral floats rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive integer, got {type(value).__name__} "
                        f"{value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _check_tensor(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    return x


def check_bits(bits: object, name: str = "bits") -> Tensor:
    """Check that ``bits`` is a real tensor of 0/1 values and return it.

    Accepted dtypes: ``bool``, ``uint8``, signed integers and floats (complex → ``TypeError``).
    The check costs a few fast reductions and no full-size temporary:

    * ``bool``: nothing; ``uint8``: ``max() ≤ 1``; signed integers: ``aminmax`` in [0, 1].
    * floats: ``aminmax`` in [0, 1] (NaN fails), then ``sum == count_nonzero`` (a value in
      (0, 1) makes the sum fall short; the nonzeros are counted on a same-size integer view).

    Only when that fast test fails is an exact elementwise test run, to confirm and report an
    offending value (so e.g. ``-0.0`` is still accepted).
    """
    bits = _check_tensor(bits, name)
    dtype = bits.dtype
    if dtype not in BIT_DTYPES:
        raise TypeError(f"{name}: expected a real tensor of 0/1 bits (float, bool or integer "
                        f"dtype), got dtype {dtype}")
    if dtype == torch.bool or bits.numel() == 0:
        return bits
    if dtype == torch.uint8:
        ok = bits.max() <= 1
    elif dtype in _INT_DTYPES:
        lo, hi = torch.aminmax(bits)
        ok = (lo >= 0) & (hi <= 1)
    else:
        lo, hi = torch.aminmax(bits)
        nnz = torch.count_nonzero(bits.view(_INT_VIEW[dtype]))
        # float32 sums of 0/1 are exact integers up to 2**24 elements; beyond (or for half
        # dtypes) accumulate in float64, exact up to 2**53
        if dtype == torch.float64 or (dtype == torch.float32 and bits.numel() <= 2**24):
            total = bits.sum()
        else:
            total = bits.sum(dtype=torch.float64)
        ok = (lo >= 0) & (hi <= 1) & (total == nnz)
    if not bool(ok):
        bad = (bits != 0) & (bits != 1)
        if bool(bad.any()):
            value = bits[bad].flatten()[0].item()
            raise ValueError(f"{name}: expected only 0/1 values, got {value!r} "
                             f"(dtype {dtype}, shape {tuple(bits.shape)})")
    return bits


def check_probs(probs: object, name: str = "probs") -> Tensor:
    """``probs`` must be a floating-point tensor (no value check: it is on the gradient path)."""
    probs = _check_tensor(probs, name)
    if not probs.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor of probabilities, got dtype "
                        f"{probs.dtype}")
    return probs


def check_received(received: object, name: str = "received") -> Tensor:
    """``received`` must be a real (non-complex) tensor."""
    received = _check_tensor(received, name)
    if received.is_complex() or received.dtype not in BIT_DTYPES:
        raise TypeError(f"{name}: expected a real tensor, got dtype {received.dtype}")
    return received
