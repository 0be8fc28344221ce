"""DSpritesUnfair-like data: dSprites shapes rendered in code, with binary attributes made
correlated by sampling (Creager et al., ICML 2019, "Flexibly fair representation learning by
disentanglement", built their DSpritesUnfair by subsampling dSprites; its exact recipe is not
public, this is ours).

Factors, as in dSprites (Matthey et al. 2017): ``shape`` ∈ {square, ellipse, heart},
``scale`` 6 values in [0.5, 1], ``orientation`` 40 values in [0, 2π), ``x`` and ``y`` 32
positions each. Each binarises to one attribute bit:

==============  =================================================  ===================
attribute       1 when                                             P(1) before tilting
==============  =================================================  ===================
``shape``       the shape is not a square (ellipse or heart)       2/3
``scale``       scale index ≥ 3 (the three larger scales)          1/2
``rotation``    θ mod 90° ≥ 45° (orientation index mod 10 ≥ 5)      1/2
``x_pos``       x index ≥ 16 (the right half)                      1/2
``y_pos``       y index ≥ 16 (the lower half of the image)         1/2
==============  =================================================  ===================

(``rotation`` is defined modulo 90° so that it is a function of the image for all three
shapes: a square looks the same after a quarter turn.) **Correlations** are asked as
agreement probabilities P(a_i = a_j) = c for disjoint pairs of attributes (default
``shape``–``x_pos`` 0.9 and ``scale``–``y_pos`` 0.8): the attribute vector is drawn from the
exact distribution p(a) ∝ Π_j p_j(a_j) · Π_pairs w^[a_i = a_j], enumerated over the 32
patterns, with each pair's tilt w solved in closed form so that the pair agrees with
probability c exactly; every other pair of attributes stays independent. Given the bits,
each factor index is drawn uniformly among the indices with that bit.

Rendering (Pillow, written anew): the shape's outline, centred on its area centroid, of
radius 0.2 · size · scale, rotated by θ and placed at (0.2 + 0.6 · index / 31) · size on a
4× supersampled canvas, box-filtered down to ``size`` × ``size`` and thresholded at 1/2 —
binary images like dSprites'. Everything is drawn from ``numpy.random.Generator`` seeded by
(seed, split): same arguments ⇒ same images.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["ATTRIBUTES", "DEFAULT_CORRELATIONS", "FACTORS", "attribute_distribution",
           "make_dsprites_unfair", "render_sprite"]

#: the five binary attributes, in the column order of ``extra["attributes"]``
ATTRIBUTES = ("shape", "scale", "rotation", "x_pos", "y_pos")
#: the factor names and their numbers of values (columns of ``extra["factors"]``)
FACTORS: dict[str, int] = {"shape": 3, "scale": 6, "orientation": 40, "x": 32, "y": 32}
SHAPES = ("square", "ellipse", "heart")
#: (attribute, attribute, P(equal)) pairs of the default dataset
DEFAULT_CORRELATIONS: tuple[tuple[str, str, float], ...] = (("shape", "x_pos", 0.9),
                                                            ("scale", "y_pos", 0.8))
_SPLIT_INDEX = {"train": 0, "valid": 1, "test": 2}
_SUPERSAMPLE = 4


def _outline(shape: int) -> np.ndarray:
    """Unit outline ``[P, 2]`` (x right, y down) of a shape, centred on its area centroid."""
    if shape == 0:
        pts = np.array([[-0.7, -0.7], [0.7, -0.7], [0.7, 0.7], [-0.7, 0.7]])
    elif shape == 1:
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        pts = np.stack([np.cos(t), 0.5 * np.sin(t)], 1)
    else:
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        pts = np.stack([x, y], 1) / 17.0
    # area centroid of the polygon (shoelace)
    x, y = pts[:, 0], pts[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    c = np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6 * area)
    return pts - c


_OUTLINES = tuple(_outline(s) for s in range(3))


def _position(index: int, size: int) -> float:
    return (0.2 + 0.6 * index / (FACTORS["x"] - 1)) * size


def render_sprite(shape: int, scale: int, orientation: int, x: int, y: int, size: int = 32
                  ) -> np.ndarray:
    """One binary image uint8 ``[size, size]`` (0/1) for factor indices (see the module
    docstring). The shape's area centroid lands at ``(0.2 + 0.6 · index / 31) · size``."""
    from PIL import Image, ImageDraw

    s = _SUPERSAMPLE
    theta = 2 * np.pi * orientation / FACTORS["orientation"]
    radius = 0.2 * size * (0.5 + 0.5 * scale / (FACTORS["scale"] - 1))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pts = (_OUTLINES[shape] @ rot.T) * radius
    pts = (pts + [_position(x, size), _position(y, size)]) * s
    canvas = Image.new("L", (size * s, size * s))
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in pts.tolist()], fill=255)
    small = canvas.resize((size, size), Image.BOX)
    return (np.asarray(small, dtype=np.uint8) >= 128).astype(np.uint8)


def _check_correlations(correlations: Any) -> tuple[tuple[str, str, float], ...]:
    try:
        pairs = tuple((str(a), str(b), float(c)) for a, b, c in correlations)
    except (TypeError, ValueError):
        raise ValueError("correlations: expected (attribute, attribute, P(equal)) triples, "
                         f"got {correlations!r}") from None
    seen: set[str] = set()
    for a, b, c in pairs:
        for name in (a, b):
            if name not in ATTRIBUTES:
                raise ValueError(f"correlations: unknown attribute {name!r}; choose from "
                                 f"{', '.join(ATTRIBUTES)}")
            if name in seen:
                raise ValueError(f"correlations: {name!r} is in two pairs; the pairs must be "
                                 "disjoint (each attribute correlated with at most one other)")
            seen.add(name)
        if a == b:
            raise ValueError(f"correlations: a pair needs two attributes, got {a!r} twice")
        if not 0.0 < c < 1.0:
            raise ValueError(f"correlations: P({a} = {b}) must be in (0, 1), got {c}")
    return pairs


def _base_marginals() -> np.ndarray:
    return np.array([2 / 3, 1 / 2, 1 / 2, 1 / 2, 1 / 2])


def attribute_distribution(correlations: Sequence[Sequence[Any]] = DEFAULT_CORRELATIONS
                           ) -> tuple[np.ndarray, np.ndarray]:
    """The exact distribution of the attribute vector: (patterns int64 ``[32, 5]``,
    probabilities float64 ``[32]``), columns as :data:`ATTRIBUTES`."""
    pairs = _check_correlations(correlations)
    p = _base_marginals()
    patterns = np.array(list(itertools.product((0, 1), repeat=len(ATTRIBUTES))), np.int64)
    prob = np.prod(np.where(patterns == 1, p, 1 - p), axis=1)
    for a, b, c in pairs:
        i, j = ATTRIBUTES.index(a), ATTRIBUTES.index(b)
        same = p[i] * p[j] + (1 - p[i]) * (1 - p[j])
        w = c * (1 - same) / ((1 - c) * same)   # makes P(a_i = a_j) = c exactly
        prob = prob * np.where(patterns[:, i] == patterns[:, j], w, 1.0)
    return patterns, prob / prob.sum()


def _factors_for(bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Factor indices ``[N, 5]`` uniform among those with the given attribute bits."""
    n = bits.shape[0]
    shape = np.where(bits[:, 0] == 1, rng.integers(1, 3, n), 0)
    scale = rng.integers(0, 3, n) + 3 * bits[:, 1]
    # orientation k has bit (k mod 10 >= 5): k = 10 q + r, r in 0..4 or 5..9
    orient = 10 * rng.integers(0, 4, n) + rng.integers(0, 5, n) + 5 * bits[:, 2]
    x = rng.integers(0, 16, n) + 16 * bits[:, 3]
    y = rng.integers(0, 16, n) + 16 * bits[:, 4]
    return np.stack([shape, scale, orient, x, y], 1).astype(np.int64)


@functools.lru_cache(maxsize=6)
def _generate(n: int, size: int, correlations: tuple[tuple[str, str, float], ...], seed: int,
              split: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng([int(seed), split])
    patterns, prob = attribute_distribution(correlations)
    bits = patterns[rng.choice(len(prob), size=n, p=prob)]
    factors = _factors_for(bits, rng)
    images = np.stack([render_sprite(*map(int, f), size=size) for f in factors]) if n else (
        np.zeros((0, size, size), np.uint8))
    return images, bits, factors


def make_dsprites_unfair(split: str = "train", n: int = 20000, *, size: int = 32,
                         correlations: Sequence[Sequence[Any]] = DEFAULT_CORRELATIONS,
                         seed: int = 0) -> dict[str, torch.Tensor]:
    """One split (``"train"`` / ``"valid"`` / ``"test"``, each its own random stream) of ``n``
    images: ``images`` float32 ``[n, 1, size, size]`` (0/1), ``attributes`` int64 ``[n, 5]``
    (:data:`ATTRIBUTES`), ``factors`` int64 ``[n, 5]`` (:data:`FACTORS` indices)."""
    from njscc.validation import check_positive_int

    if split not in _SPLIT_INDEX:
        raise ValueError(f"dsprites_unfair: split must be one of {', '.join(_SPLIT_INDEX)}, "
                         f"got {split!r}")
    n = check_positive_int(n, "n", max=1_000_000)
    size = check_positive_int(size, "size", max=256)
    if size < 8:
        raise ValueError(f"size: at least 8 pixels, got {size}")
    pairs = _check_correlations(correlations)
    images, bits, factors = _generate(n, size, pairs, int(seed), _SPLIT_INDEX[split])
    return {"images": torch.from_numpy(images.astype(np.float32))[:, None],
            "attributes": torch.from_numpy(bits.copy()),
            "factors": torch.from_numpy(factors.copy())}
