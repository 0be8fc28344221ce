"""Mean ± standard error (over images) and mean ± σ (over seeds): the one place for both."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["mean_se", "mean_std"]


def _as_array(values: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().to("cpu", torch.float64).reshape(-1).numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


def mean_se(values: Tensor | np.ndarray | Sequence[float]) -> tuple[float, float]:
    """``(mean, standard error of the mean)`` = ``(x̄, s / √n)`` with the sample std ``s``
    (ddof 1); the error is 0 for one value, both are NaN for none."""
    a = _as_array(values)
    if a.size == 0:
        return math.nan, math.nan
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
    return float(a.mean()), se


def mean_std(values: Tensor | np.ndarray | Sequence[float]) -> tuple[float, float]:
    """``(mean, σ)`` with the sample standard deviation σ (ddof 1; 0 for one value, NaN for
    none) — the spread *over seeds* reported next to every multi-seed result."""
    a = _as_array(values)
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0
