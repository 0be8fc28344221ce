"""Identifiability of learned latents: the mean correlation coefficient (MCC) and its
CCA-aligned ("weak") form.

MCC (Hyvärinen & Morioka 2016; iVAE; Willetts & Paige 2021) compares two sets of latents
``a`` ``[N, d_a]`` and ``b`` ``[N, d_b]`` of the same N inputs: the absolute correlation of
every pair of dimensions, then the one-to-one matching of dimensions that maximises their
sum (the Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`), averaged over
the matched pairs. It is 1 when ``b`` is a permuted, rescaled, sign-flipped copy of ``a``
(component-wise monotone too, with ``method="spearman"``) and near 0 for independent latents
(of order 1/√N per pair, plus the selection bias of the matching).

* ``strong`` MCC (:func:`mean_corr_coef`): the raw dimensions — identifiability up to
  permutation and component-wise transforms.
* ``weak`` MCC (:func:`cca_mcc`): after a linear map — the mean canonical correlation of
  ``a`` and ``b`` (CCA fitted on one half, measured on the other), identifiability up to an
  affine map, as the reference code's representation study reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata

__all__ = ["cca_mcc", "correlation_matrix", "mean_corr_coef", "pairwise_mcc"]


def _as_2d(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be [N, d], got shape {list(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values")
    return arr


def correlation_matrix(a: Any, b: Any, method: str = "pearson") -> np.ndarray:
    """``[d_a, d_b]`` correlations of the columns of ``a`` with those of ``b`` (``pearson`` or
    ``spearman``); a constant column correlates 0 with everything."""
    x, y = _as_2d(a, "a"), _as_2d(b, "b")
    if x.shape[0] != y.shape[0] or x.shape[0] < 3:
        raise ValueError(f"a and b need the same number (≥ 3) of rows, got {x.shape[0]} and "
                         f"{y.shape[0]}")
    if method == "spearman":
        x, y = rankdata(x, axis=0), rankdata(y, axis=0)
    elif method != "pearson":
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    nx, ny = np.linalg.norm(x, axis=0), np.linalg.norm(y, axis=0)
    c = (x.T @ y) / np.maximum(np.outer(nx, ny), 1e-300)
    c[nx < 1e-12, :] = 0.0
    c[:, ny < 1e-12] = 0.0
    return np.clip(c, -1.0, 1.0)


def mean_corr_coef(a: Any, b: Any, method: str = "pearson") -> dict[str, Any]:
    """MCC of ``a`` ``[N, d_a]`` and ``b`` ``[N, d_b]`` (see the module docstring).

    With d_a ≠ d_b the min(d_a, d_b) best-matched pairs count. Returns ``mcc`` (float),
    ``pairs`` (list of ``(i, j)`` matched dimensions), ``corr`` (the matched |ρ|, list).
    """
    c = np.abs(correlation_matrix(a, b, method))
    rows, cols = linear_sum_assignment(-c)
    matched = c[rows, cols]
    return {"mcc": float(matched.mean()), "pairs": [(int(i), int(j)) for i, j in
                                                     zip(rows, cols, strict=True)],
            "corr": [float(v) for v in matched], "method": method}


def cca_mcc(a: Any, b: Any, n_components: int | None = None, seed: int = 0) -> float:
    """Weak MCC: the mean correlation of ``n_components`` canonical pairs of ``a`` and ``b``
    (scikit-learn CCA fitted on a random half of the rows, correlations on the other half)."""
    from sklearn.cross_decomposition import CCA

    x, y = _as_2d(a, "a"), _as_2d(b, "b")
    if x.shape[0] != y.shape[0] or x.shape[0] < 20:
        raise ValueError("a and b need the same number (≥ 20) of rows")
    k = min(x.shape[1], y.shape[1]) if n_components is None else int(n_components)
    if not 1 <= k <= min(x.shape[1], y.shape[1]):
        raise ValueError(f"n_components must be in 1…{min(x.shape[1], y.shape[1])}, got {k}")
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    fit, ev = perm[: x.shape[0] // 2], perm[x.shape[0] // 2:]
    cca = CCA(n_components=k, max_iter=2000).fit(x[fit], y[fit])
    u, v = cca.transform(x[ev], y[ev])
    c = correlation_matrix(u, v)
    return float(np.abs(np.diag(c)).mean())


def pairwise_mcc(latents: list[Any], method: str = "pearson") -> dict[str, Any]:
    """MCC of every pair of latent sets (e.g. the same model trained from different seeds):
    ``values`` (one per pair, in ``pairs`` order), ``mean``, ``std``."""
    if len(latents) < 2:
        raise ValueError("pairwise_mcc needs at least two latent sets")
    pairs, values = [], []
    for i in range(len(latents)):
        for j in range(i + 1, len(latents)):
            pairs.append((i, j))
            values.append(mean_corr_coef(latents[i], latents[j], method)["mcc"])
    return {"pairs": pairs, "values": values, "mean": float(np.mean(values)),
            "std": float(np.std(values))}
