"""Unsupervised clustering accuracy: cluster indices matched to class labels.

``cluster_accuracy(labels, clusters)``: with as many clusters as classes (or fewer), the
one-to-one matching of clusters to classes that maximises the agreement (the Hungarian
algorithm, :func:`scipy.optimize.linear_sum_assignment`) — the metric of VaDE, MFCVAE and
Willetts & Paige; with more clusters than classes, each cluster takes its majority class
(many-to-one, as their reference code does then).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["cluster_accuracy", "contingency"]


def _ints(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array, got {arr.dtype} {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be ≥ 0")
    return arr.astype(np.int64)


def contingency(labels: Any, clusters: Any) -> np.ndarray:
    """``[n_clusters, n_classes]`` counts of (cluster, class) pairs."""
    y, c = _ints(labels, "labels"), _ints(clusters, "clusters")
    if y.shape != c.shape or not y.size:
        raise ValueError(f"labels and clusters must have the same non-zero length, got "
                         f"{y.size} and {c.size}")
    w = np.zeros((int(c.max()) + 1, int(y.max()) + 1), dtype=np.int64)
    np.add.at(w, (c, y), 1)
    return w


def cluster_accuracy(labels: Any, clusters: Any) -> dict[str, Any]:
    """Accuracy of ``clusters`` against ``labels`` (module docstring): ``accuracy``,
    ``mapping`` (cluster → class, list), ``matching`` (``"hungarian"`` or ``"majority"``)."""
    w = contingency(labels, clusters)
    n = int(w.sum())
    if w.shape[0] <= w.shape[1]:
        rows, cols = linear_sum_assignment(-w)
        mapping = np.full(w.shape[0], -1, dtype=np.int64)
        mapping[rows] = cols
        return {"accuracy": float(w[rows, cols].sum() / n), "mapping": mapping.tolist(),
                "matching": "hungarian"}
    mapping = w.argmax(1)
    return {"accuracy": float(w.max(1).sum() / n), "mapping": mapping.tolist(),
            "matching": "majority"}
