"""Seeds: a platform-independent mixer, and the layout of multi-seed runs.

``mix_seed(seed, a, b, ...)`` derives the seed of every random stream in njscc (epoch
shuffles, per-step sampling, evaluation noise) from the user's seed and the stream's
coordinates, so no stream depends on how many numbers another one drew.

A multi-seed run (``njscc train --seeds 0,1,2 --out RUN``) keeps one ordinary run per seed in
``RUN/seed_<s>/``; :func:`seed_runs` finds them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["SEED_DIR", "mix_seed", "seed_dir", "seed_runs"]

SEED_DIR = "seed_{seed}"
_SEED_RE = re.compile(r"^seed_(\d+)$")


def mix_seed(*values: int) -> int:
    """Deterministic 63-bit seed from integers (splitmix64 chain); platform independent."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) & 0xFFFFFFFFFFFFFFFF
        h = (h + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = h
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        h = z ^ (z >> 31)
    return h & 0x7FFFFFFFFFFFFFFF


def seed_dir(root: str | os.PathLike[str], seed: int) -> Path:
    """``root/seed_<seed>``: where seed ``seed`` of a multi-seed run lives."""
    return Path(root) / SEED_DIR.format(seed=int(seed))


def seed_runs(root: str | os.PathLike[str]) -> dict[int, Path]:
    """``{seed: run dir}`` of a multi-seed run (empty if ``root`` is an ordinary run)."""
    root = Path(root)
    if not root.is_dir():
        return {}
    out = {}
    for p in root.iterdir():
        m = _SEED_RE.match(p.name)
        if m and p.is_dir():
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))
