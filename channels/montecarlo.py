"""Monte-Carlo error/erasure statistics of a channel, with confidence intervals.

:func:`simulate_channel` sends uniform random bits through a channel in chunks and counts

* errors: received ≠ sent and not erased (for soft outputs: sign decisions, y < 0 → 1),
* erasures: received = ``ERASED``,

and attaches 95 % confidence intervals: Wilson score intervals for memoryless channels, and a
batch-means (cluster ratio) interval over independent rows for channels with memory
(Gilbert–Elliott), whose errors are correlated along a row so a binomial interval would be
too narrow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from channels._validate import check_positive_int
from channels.base import ERASED, BinaryChannel

__all__ = ["ratio_interval", "simulate_channel", "wilson_interval"]


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n``."""
    if n <= 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / den
    lo = 0.0 if k <= 0 else max(0.0, centre - half)
    hi = 1.0 if k >= n else min(1.0, centre + half)
    return (lo, hi)


def ratio_interval(counts: torch.Tensor, sizes: torch.Tensor,
                   confidence: float = 0.95) -> tuple[float, float]:
    """Batch-means interval for Σcounts / Σsizes over independent clusters (rows).

    Uses the ratio-estimator variance Σ(kᵢ − r·nᵢ)² / (R(R−1)·n̄²) and a Student-t quantile
    with R − 1 degrees of freedom. Needs R ≥ 2 rows (else returns [0, 1]).
    """
    counts = counts.double()
    sizes = sizes.double()
    r_count = counts.numel()
    if r_count < 2:
        return (0.0, 1.0)
    rate = float(counts.sum() / sizes.sum())
    nbar = float(sizes.mean())
    var = float(((counts - rate * sizes) ** 2).sum()) / (r_count * (r_count - 1) * nbar * nbar)
    from scipy import stats

    t = float(stats.t.ppf(0.5 + confidence / 2.0, r_count - 1))
    half = t * math.sqrt(var)
    return (max(0.0, rate - half), min(1.0, rate + half))


def simulate_channel(
    channel: BinaryChannel,
    n_bits: int,
    *,
    batch: int = 1_000_000,
    row: int = 10_000,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    confidence: float = 0.95,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Send ``n_bits`` uniform random bits through ``channel`` and count errors and erasures.

    Args:
        channel: any :class:`~channels.base.BinaryChannel`.
        n_bits: total number of bits.
        batch: bits per chunk (memory: a few bytes per bit).
        row: bits per row; a chunk is ``[batch // row, row]``. For channels with memory the
            last axis is time, and rows are the independent clusters of the batch-means CI.
        generator: ``torch.Generator`` on ``device`` for the input bits and the channel.
        device: where to sample.
        confidence: level of the intervals.
        progress: called with the number of bits done after each chunk (e.g. ``tqdm.update``).

    Returns:
        ``{"bits", "errors", "error_rate", "error_ci", "erasures", "erasure_rate",
        "erasure_ci", "expected_error_rate", "expected_erasure_rate", "capacity",
        "ci_method", "confidence", "seconds", "bits_per_s"}`` (plain Python numbers).
    """
    n_bits = check_positive_int(n_bits, "bits")
    batch = check_positive_int(batch, "batch")
    row = min(check_positive_int(row, "row"), batch)
    device = torch.device(device)
    memory = not getattr(channel, "memoryless", True)
    soft = len(channel.alphabet) == 0
    err_rows: list[torch.Tensor] = []
    era_rows: list[torch.Tensor] = []
    size_rows: list[torch.Tensor] = []
    done = 0
    t0 = time.perf_counter()
    while done < n_bits:
        c = min(batch, n_bits - done)
        shapes = [(c // row, row)] if c >= row else []
        if c % row:
            shapes.append((1, c % row))
        for shape in shapes:
            bits = torch.randint(0, 2, shape, dtype=torch.uint8, device=device,
                                 generator=generator)
            y = channel(bits, generator=generator)
            if soft:
                errors = (y < 0).to(torch.uint8) != bits
                erasures = None
            else:
                erased = y == ERASED
                errors = (y != bits) & ~erased
                erasures = erased
            err_rows.append(errors.sum(-1))
            era_rows.append(erasures.sum(-1) if erasures is not None
                            else torch.zeros(shape[0], dtype=torch.int64, device=device))
            size_rows.append(torch.full((shape[0],), shape[1], dtype=torch.int64,
                                        device=device))
        done += c
        if progress is not None:
            progress(c)
    seconds = time.perf_counter() - t0
    err = torch.cat(err_rows).cpu()
    era = torch.cat(era_rows).cpu()
    sizes = torch.cat(size_rows).cpu()
    k_err, k_era = int(err.sum()), int(era.sum())
    if memory:
        err_ci = ratio_interval(err, sizes, confidence)
        era_ci = ratio_interval(era, sizes, confidence)
        method = "batch-means"
    else:
        err_ci = wilson_interval(k_err, n_bits, confidence)
        era_ci = wilson_interval(k_era, n_bits, confidence)
        method = "wilson"
    return {
        "bits": n_bits,
        "errors": k_err,
        "error_rate": k_err / n_bits,
        "error_ci": list(err_ci),
        "erasures": k_era,
        "erasure_rate": k_era / n_bits,
        "erasure_ci": list(era_ci),
        "expected_error_rate": channel.error_probability,
        "expected_erasure_rate": channel.erasure_probability,
        "capacity": channel.capacity,
        "ci_method": method,
        "confidence": confidence,
        "seconds": seconds,
        "bits_per_s": n_bits / seconds if seconds > 0 else math.inf,
    }
