"""Checked values: the one place where arguments are validated.

Every ``check_*`` takes ``(value, name, ...)``, returns the value in its canonical type and
raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value) with a message that names the
argument, what was expected and what was got. Models, objectives, the Trainer, channels and the
CLI's option groups (:mod:`njscc.cli.options`) all call these, so a bad value gets the same
message whichever door it came through.

>>> check_positive_int(100, "m")
100
>>> check_number(float("nan"), "lr", min=0, min_open=True)
Traceback (most recent call last):
    ...
ValueError: lr: expected a finite number > 0, got nan
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "LIMITS", "check_bool", "check_choice", "check_choices", "check_data_shape", "check_device",
    "check_int", "check_int_tuple", "check_number", "check_positive_int", "check_probability",
    "jsonable",
]

#: sane upper bounds for sizes read from users, files and checkpoints (allocation guards)
LIMITS: dict[str, int] = {
    "code_bits": 1 << 16,        # m of a bit codec, bits per image in a bitstream
    "latent_dims": 1 << 16,      # d of a continuous latent
    "samples": 1 << 12,          # K samples per input
    "hidden": 1 << 15,           # width of one hidden layer
    "pixels": 1 << 24,           # values in one data item (C·H·W)
    "batch": 1 << 20,            # images per batch
    "seed": (1 << 63) - 1,       # torch.Generator.manual_seed accepts 64-bit; keep it signed
}


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def check_int(value: object, name: str, *, min: int | None = None,  # noqa: A002
              max: int | None = None) -> int:  # noqa: A002
    """``value`` as an ``int`` in ``[min, max]`` (bools and non-integral numbers rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {_describe(value)}")
    v = int(value)
    if (min is not None and v < min) or (max is not None and v > max):
        lo = "-inf" if min is None else str(min)
        hi = "inf" if max is None else str(max)
        raise ValueError(f"{name}: expected an integer in [{lo}, {hi}], got {v}")
    return v


def check_positive_int(value: object, name: str, *, max: int | None = None  # noqa: A002
                       ) -> int:
    """``value`` as an ``int`` ≥ 1 (and ≤ ``max`` if given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive integer, got {_describe(value)}")
    v = int(value)
    if v < 1:
        raise ValueError(f"{name}: expected a positive integer, got {v}")
    if max is not None and v > max:
        raise ValueError(f"{name}: expected a positive integer ≤ {max}, got {v}")
    return v


def check_number(value: object, name: str, *, min: float | None = None,  # noqa: A002
                 max: float | None = None, min_open: bool = False,  # noqa: A002
                 max_open: bool = False, finite: bool = True) -> float:
    """``value`` as a ``float`` within the given bounds (NaN always rejected; ±inf unless
    ``finite=False``). ``min_open``/``max_open`` make a bound strict."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {_describe(value)}")
    v = float(value)
    bad = math.isnan(v) or (finite and math.isinf(v))
    if min is not None:
        bad = bad or (v <= min if min_open else v < min)
    if max is not None:
        bad = bad or (v >= max if max_open else v > max)
    if bad:
        what = "a finite number" if finite else "a number"
        parts = []
        if min is not None:
            parts.append(f"{'>' if min_open else '>='} {min:g}")
        if max is not None:
            parts.append(f"{'<' if max_open else '<='} {max:g}")
        raise ValueError(f"{name}: expected {what}{' ' + ' and '.join(parts) if parts else ''}, "
                         f"got {v!r}")
    return v


def check_probability(value: object, name: str) -> float:
    """``value`` as a ``float`` in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a probability in [0, 1], got {_describe(value)}")
    v = float(value)
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{name}: expected a probability in [0, 1], got {v!r}")
    return v


def check_bool(value: object, name: str) -> bool:
    """``value`` must be a ``bool``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {_describe(value)}")
    return value


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """``value`` must be one of ``choices`` (strings)."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(options)}, got {value!r}")
    return value


def check_choices(values: Iterable[object], name: str, choices: Iterable[str]) -> list[str]:
    """A non-empty list whose every item is one of ``choices`` (strings) → ``list``."""
    options, vals = tuple(choices), list(values)
    if not vals or any(v not in options for v in vals):
        raise ValueError(f"{name}: expected some of {', '.join(options)}, got {vals}")
    return vals  # type: ignore[return-value]


def check_int_tuple(value: object, name: str, *, length: int | None = None,
                    allow_empty: bool = False, max: int | None = None  # noqa: A002
                    ) -> tuple[int, ...]:
    """A list/tuple of positive ints (JSON configs give lists) → ``tuple``."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(f"{name}: expected a list of positive integers, got "
                        f"{type(value).__name__}")
    out = tuple(check_positive_int(v, f"{name}[{i}]", max=max) for i, v in enumerate(value))
    if length is not None and len(out) != length:
        raise ValueError(f"{name}: expected {length} entries, got {len(out)}: {list(out)}")
    if not out and not allow_empty:
        raise ValueError(f"{name}: expected at least one entry, got []")
    return out


def check_data_shape(value: object, name: str = "data_shape", *, ndim: int = 3
                     ) -> tuple[int, ...]:
    """``(C, H, W)`` of one image (``ndim`` 3; ``(D,)`` features of a tabular example with
    ``ndim`` 1): positive ints whose product is at most ``LIMITS["pixels"]`` (so a crafted
    config cannot make a model allocate terabytes)."""
    shape = check_int_tuple(value, name, length=ndim)
    if math.prod(shape) > LIMITS["pixels"]:
        raise ValueError(f"{name}: {list(shape)} has {math.prod(shape)} values, more than the "
                         f"limit {LIMITS['pixels']}")
    return shape  # type: ignore[return-value]


def check_device(value: object, name: str = "device") -> Any:
    """``"auto"``/``None`` → ``cuda`` when available, else ``cpu``; ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` (or a ``torch.device`` of those) → that device, checked to exist.

    Other device types (``meta``, ``mps``, ...) are refused: njscc computes on CPU or CUDA.
    """
    import torch

    if value is None or value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(value, torch.device):
        dev = value
    elif isinstance(value, str):
        try:
            dev = torch.device(value)
        except RuntimeError:
            raise ValueError(f"{name}: expected auto, cpu, cuda or cuda:N, got {value!r}") from None
    else:
        raise TypeError(f"{name}: expected auto, cpu, cuda or cuda:N, got {_describe(value)}")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name}: expected auto, cpu, cuda or cuda:N, got {str(dev)!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name}: {str(dev)!r} requested but no CUDA device is available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}: {str(dev)!r} requested but only "
                             f"{torch.cuda.device_count()} CUDA device(s) exist")
    return dev


def jsonable(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON data: tuples → lists (recursively), dict keys → str.

    ``TypeError`` naming ``where`` if JSON cannot hold it (tensors, modules, generators, …),
    ``ValueError`` for NaN/inf floats (JSON has no spelling for them).
    """
    if isinstance(value, (tuple, list)):
        return [jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} cannot be stored in a JSON config")
    try:
        json.dumps(value)
    except TypeError:
        raise TypeError(f"{where}: must be JSON-serialisable (numbers, strings, lists, dicts), "
                        f"got {type(value).__name__}") from None
    return value
