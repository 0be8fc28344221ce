"""Timing and device measurements: :func:`measure` (median/IQR of repeated rounds, GPU sync),
:func:`matmul_peak` (attainable FLOP/s) and process memory (:func:`rss_mb`)."""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["Timing", "cuda_sync", "matmul_peak", "maxrss_mb", "measure", "rss_mb"]


def cuda_sync(device: torch.device | str) -> Callable[[], None]:
    """A no-op on CPU, ``torch.cuda.synchronize(device)`` on a CUDA device."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and quartiles over ``rounds`` rounds of ``calls`` calls each."""

    median_s: float
    q1_s: float
    q3_s: float
    rounds: int
    calls: int

    def rates(self, items: float, name: str = "per_s") -> dict[str, float]:
        """``items`` per call → ``{name, name_q1, name_q3}`` (q1 from the slow quartile)."""
        return {name: items / self.median_s, f"{name}_q1": items / self.q3_s,
                f"{name}_q3": items / self.q1_s}


def measure(fn: Callable[[], Any], *, sync: Callable[[], None] | None = None, warmup: int = 1,
            rounds: int = 7, min_round_s: float = 0.05, budget_s: float | None = None,
            min_rounds: int = 3) -> Timing:
    """Time ``fn()``.

    ``warmup`` untimed calls, then one calibration call; each round repeats ``fn`` until it
    lasts about ``min_round_s`` (``sync`` after the last call of a round, so GPU work is
    counted). With ``budget_s`` the number of rounds is cut (to ``min_rounds`` at least) so
    the whole measurement takes about that long.
    """
    sync = sync or (lambda: None)
    for _ in range(max(0, warmup)):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-9)
    calls = max(1, math.ceil(min_round_s / one))
    if budget_s is not None:
        rounds = max(min_rounds, min(rounds, int(budget_s / (one * calls))))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / calls)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return Timing(float(med), float(q1), float(q3), rounds, calls)




# device peaks and memory
def matmul_peak(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                n: int | None = None, budget_s: float = 2.0) -> dict[str, float]:
    """Attainable FLOP/s from a square ``n × n`` matmul (``2 n³`` FLOPs per call).

    ``n`` defaults to 1024 on CPU and 8192 on GPU. Returns ``{"flops_per_s", "n", ...}``.
    """
    dev = torch.device(device)
    n = n or (8192 if dev.type == "cuda" else 1024)
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dev, dtype)
    b = torch.randn(n, n, generator=g).to(dev, dtype)
    c = torch.empty(n, n, device=dev, dtype=dtype)
    with torch.inference_mode():
        t = measure(lambda: torch.mm(a, b, out=c), sync=cuda_sync(dev), warmup=2, rounds=7,
                    min_round_s=0.1, budget_s=budget_s)
    flops = 2.0 * n ** 3
    return {"flops_per_s": flops / t.median_s, "flops_per_s_q1": flops / t.q3_s,
            "flops_per_s_q3": flops / t.q1_s, "n": n, "dtype": str(dtype).replace("torch.", ""),
            "threads": torch.get_num_threads()}


def rss_mb() -> float | None:
    """Current resident set size of this process in MiB (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return None


def maxrss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2 ** 20 if sys.platform == "darwin" else r / 1024  # bytes on macOS, KiB on Linux


