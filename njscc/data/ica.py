"""Synthetic data for non-linear ICA with known sources, generated in code (seeded).

The setup of iVAE (Khemakhem, Kingma, Monti & Hyvärinen, AISTATS 2020) that Willetts & Paige
(2021, "I don't need u") reuse: n sources that are *conditionally* independent given a
discrete segment (cluster) u, mixed by a random invertible MLP.

* u ~ Uniform{0, …, K − 1} (``n_segments`` = K);
* s_i | u ~ N(μ_{u,i}, σ²_{u,i}) independently over the ``n_sources`` dimensions, with
  μ_{u,i} ~ U(−``mean_range``, ``mean_range``) and σ_{u,i} ~ U(``std_range``) drawn once per
  dataset seed — so s is a mixture of K axis-aligned Gaussians: clustered, non-Gaussian,
  and its marginal is *not* a product of independent factors (only s | u is);
* x = f(s): ``n_layers`` layers of ``x ← leaky_relu(A_l x)`` (slope ``slope``, none after the
  last) with A_l random, column-normalised and re-drawn until its condition number is below
  ``max_condition`` (the first is ``n_obs × n_sources``, full column rank, so f is injective
  for ``n_obs ≥ n_sources``); x is then standardised per dimension with the statistics of
  the mixing seed's own draw (the same for every split).

The segment parameters and the mixing depend on ``seed`` only; ``split`` changes the draw of
(u, s): ``train`` / ``valid`` / ``test`` are independent samples of the same distribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from njscc.validation import check_number, check_positive_int

__all__ = ["SPLIT_OFFSET", "make_bijective_ica", "make_nonlinear_ica", "mixing_mlp"]

#: offsets of each split's draw in the seeded stream
SPLIT_OFFSET = {"train": 1, "valid": 2, "test": 3, "stats": 4}


def _well_conditioned(rng: np.random.Generator, rows: int, cols: int, max_condition: float,
                      tries: int = 10_000) -> np.ndarray:
    for _ in range(tries):
        a = rng.uniform(-1, 1, size=(rows, cols))
        a /= np.linalg.norm(a, axis=0, keepdims=True)
        if np.linalg.cond(a) < max_condition:
            return a
    raise RuntimeError(f"no {rows}x{cols} matrix with condition number < {max_condition} in "
                       f"{tries} draws; raise max_condition")


def mixing_mlp(n_sources: int, n_obs: int, n_layers: int, seed: int,
               max_condition: float | None = None) -> list[np.ndarray]:
    """The weights of the mixing MLP (``n_layers`` matrices; see the module docstring)."""
    rng = np.random.default_rng([int(seed), 0])
    if max_condition is None:
        # the 25th percentile of the condition numbers of such random matrices (iVAE's rule)
        draws = [np.linalg.cond(_col_normed(rng, n_obs, n_obs)) for _ in range(2000)]
        max_condition = float(np.percentile(draws, 25))
    mats = [_well_conditioned(rng, n_obs, n_sources, max_condition)]
    mats += [_well_conditioned(rng, n_obs, n_obs, max_condition) for _ in range(n_layers - 1)]
    return mats


def _col_normed(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    a = rng.uniform(-1, 1, size=(rows, cols))
    return a / np.linalg.norm(a, axis=0, keepdims=True)


def _mix(s: np.ndarray, mats: list[np.ndarray], slope: float) -> np.ndarray:
    h = s
    for i, a in enumerate(mats):
        h = h @ a.T
        if i < len(mats) - 1:
            h = np.where(h > 0, h, slope * h)
    return h


def make_nonlinear_ica(split: str = "train", n: int = 10_000, *, n_sources: int = 5,
                       n_obs: int | None = None, n_segments: int = 10, n_layers: int = 3,
                       mean_range: float = 4.0, std_range: tuple[float, float] = (0.5, 2.0),
                       slope: float = 0.2, seed: int = 0) -> dict[str, Any]:
    """One split of the synthetic non-linear ICA data (see the module docstring).

    Returns a dict with ``x`` float32 ``[n, n_obs]`` (standardised observations), ``sources``
    float32 ``[n, n_sources]``, ``segments`` int64 ``[n]`` (u), ``means`` / ``stds``
    ``[n_segments, n_sources]`` (the segment parameters) and ``config``.
    """
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be train, valid or test, got {split!r}")
    n = check_positive_int(n, "n", max=10_000_000)
    n_sources = check_positive_int(n_sources, "n_sources", max=1000)
    n_obs = n_sources if n_obs is None else check_positive_int(n_obs, "n_obs", max=10_000)
    if n_obs < n_sources:
        raise ValueError(f"n_obs ({n_obs}) must be ≥ n_sources ({n_sources}) for an "
                         f"injective mixing")
    n_segments = check_positive_int(n_segments, "n_segments", max=10_000)
    n_layers = check_positive_int(n_layers, "n_layers", max=20)
    mean_range = check_number(mean_range, "mean_range", min=0)
    lo, hi = (float(v) for v in std_range)
    if not 0 < lo <= hi:
        raise ValueError(f"std_range must be 0 < low ≤ high, got {std_range}")
    slope = check_number(slope, "slope", min=0, max=1)
    if slope == 0 and n_layers > 1:
        raise ValueError("slope 0 (ReLU) makes the mixing non-invertible")
    prm = np.random.default_rng([int(seed), 1])
    means = prm.uniform(-mean_range, mean_range, size=(n_segments, n_sources))
    stds = prm.uniform(lo, hi, size=(n_segments, n_sources))
    mats = mixing_mlp(n_sources, n_obs, n_layers, seed)

    def draw(which: str, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([int(seed), 2, SPLIT_OFFSET[which]])
        u = rng.integers(0, n_segments, size=count)
        s = means[u] + stds[u] * rng.standard_normal((count, n_sources))
        return u, s, _mix(s, mats, slope)

    _, _, x_ref = draw("stats", 20_000)
    mu, sd = x_ref.mean(0), x_ref.std(0)
    u, s, x = draw(split, n)
    x = (x - mu) / sd
    config = {"n_sources": n_sources, "n_obs": n_obs, "n_segments": n_segments,
              "n_layers": n_layers, "mean_range": mean_range, "std_range": [lo, hi],
              "slope": slope, "seed": int(seed), "split": split, "n": n}
    return {"x": torch.from_numpy(x.astype(np.float32)),
            "sources": torch.from_numpy(s.astype(np.float32)),
            "segments": torch.from_numpy(u.astype(np.int64)),
            "means": torch.from_numpy(means.astype(np.float32)),
            "stds": torch.from_numpy(stds.astype(np.float32)), "config": config}


def make_bijective_ica(split: str = "train", n: int = 10_000, *, n_sources: int = 3,
                       dim: int = 6, noise: float = 0.1, n_layers: int = 2,
                       seed: int = 0) -> dict[str, Any]:
    """Data of the bijective-feature-map linear ICA model (Camuto et al. 2021), seeded:

    s ~ standard logistic, k = ``n_sources`` independent sources; y = A s + σ·A_⊥ n with A a
    random ``dim × k`` matrix with orthonormal columns (A_⊥ its complement, n ~ N(0, I)); then
    x = h(Q_L … h(Q_1 y)) with random rotations Q_l and the monotone h(t) = t + 0.8 tanh(t),
    so x is a bijective, non-linear image of y. The mixing depends on ``seed`` only, the draw
    on ``split``. Returns ``x`` float32 ``[n, dim]``, ``sources`` ``[n, k]``, ``features``
    (y) ``[n, dim]``, ``mixing`` (A) and ``config``.
    """
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be train, valid or test, got {split!r}")
    n = check_positive_int(n, "n", max=10_000_000)
    k = check_positive_int(n_sources, "n_sources", max=1000)
    dim = check_positive_int(dim, "dim", max=10_000)
    if k > dim:
        raise ValueError(f"n_sources ({k}) must be ≤ dim ({dim})")
    noise = check_number(noise, "noise", min=0)
    n_layers = check_positive_int(n_layers, "n_layers", max=20)
    prm = np.random.default_rng([int(seed), 5])
    basis, _ = np.linalg.qr(prm.standard_normal((dim, dim)))
    a, a_perp = basis[:, :k], basis[:, k:]
    rots = [np.linalg.qr(prm.standard_normal((dim, dim)))[0] for _ in range(n_layers)]
    rng = np.random.default_rng([int(seed), 6, SPLIT_OFFSET[split]])
    s = rng.logistic(size=(n, k))
    y = s @ a.T + noise * rng.standard_normal((n, dim - k)) @ a_perp.T
    x = y
    for q in rots:
        t = x @ q.T
        x = t + 0.8 * np.tanh(t)
    config = {"n_sources": k, "dim": dim, "noise": noise, "n_layers": n_layers,
              "seed": int(seed), "split": split, "n": n}
    return {"x": torch.from_numpy(x.astype(np.float32)),
            "sources": torch.from_numpy(s.astype(np.float32)),
            "features": torch.from_numpy(y.astype(np.float32)),
            "mixing": torch.from_numpy(a.astype(np.float32)), "config": config}
