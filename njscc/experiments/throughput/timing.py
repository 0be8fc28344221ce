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
    """Seconds per call: median and quartiles over ``rounds`` rounds of ``calls`` calls each.

    ``cpu_median_s`` is the median *process CPU time* per call (all threads): on a shared
    machine, a one-thread workload's CPU time is close to what it would take alone.
    """

    median_s: float
    q1_s: float
    q3_s: float
    rounds: int
    calls: int
    min_s: float = float("nan")
    cpu_median_s: float = float("nan")

    def rates(self, items: float, name: str = "per_s") -> dict[str, float]:
        """``items`` per call → ``{name, name_q1, name_q3, name_cpu}`` (q1: the slow quartile;
        ``_cpu``: items per second of process CPU time)."""
        return {name: items / self.median_s, f"{name}_q1": items / self.q3_s,
                f"{name}_q3": items / self.q1_s,
                f"{name}_cpu": items / self.cpu_median_s if self.cpu_median_s > 0 else None}


def measure(fn: Callable[[], Any], *, sync: Callable[[], None] | None = None, warmup: int = 1,
            rounds: int = 7, min_round_s: float = 0.05, budget_s: float | None = None,
            min_rounds: int = 3, warm: bool = False) -> Timing:
    """Time ``fn()``: wall-clock and process CPU time per call.

    ``warmup`` untimed calls, then one calibration call (kept as the first round when one call
    already lasts ``min_round_s`` and either there was a warm-up or ``warm`` says ``fn`` is
    warm); each round repeats ``fn`` until it lasts about ``min_round_s`` (``sync`` after the
    last call of a round, so GPU work is counted). With ``budget_s`` the number of rounds is
    cut (to ``min_rounds`` at least) so the whole measurement takes about that long.
    """
    sync = sync or (lambda: None)
    for _ in range(max(0, warmup)):
        fn()
    sync()
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-9)
    one_cpu = time.process_time() - c0
    calls = max(1, math.ceil(min_round_s / one))
    if budget_s is not None:
        rounds = max(min_rounds, min(rounds, int(budget_s / (one * calls))))
    # a slow call (one call fills a round) is its own first round: saves one long call
    keep = calls == 1 and (warmup > 0 or warm)
    times, cpu = ([one], [one_cpu]) if keep else ([], [])
    for _ in range(rounds - len(times)):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / calls)
        cpu.append((time.process_time() - c0) / calls)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return Timing(float(med), float(q1), float(q3), len(times), calls, float(min(times)),
                  float(np.median(cpu)))


def matmul_peak(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                sizes: tuple[int, ...] | None = None, budget_s: float = 2.0) -> dict[str, Any]:
    """Attainable FLOP/s from square ``n × n`` matmuls (``2 n³`` FLOPs per call).

    Tries each ``n`` in ``sizes`` (default 1024 and 2048 on CPU, 4096 and 8192 on GPU) and
    reports the one with the best median: ``{"flops_per_s" (median), "flops_per_s_q1",
    "flops_per_s_q3", "flops_per_s_best" (fastest round), "flops_per_cpu_s" (per second of
    process CPU time, all threads), "n", "dtype", "threads", "by_size"}``.
    """
    dev = torch.device(device)
    sizes = sizes or ((4096, 8192) if dev.type == "cuda" else (1024, 2048))
    by_size = {}
    for n in sizes:
        g = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(n, n, generator=g).to(dev, dtype)
        b = torch.randn(n, n, generator=g).to(dev, dtype)
        c = torch.empty(n, n, device=dev, dtype=dtype)
        with torch.inference_mode():
            t = measure(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), sync=cuda_sync(dev),
                        warmup=2, rounds=7, min_round_s=0.1, budget_s=budget_s / len(sizes))
        flops = 2.0 * n ** 3
        by_size[n] = {"flops_per_s": flops / t.median_s, "flops_per_s_q1": flops / t.q3_s,
                      "flops_per_s_q3": flops / t.q1_s, "flops_per_s_best": flops / t.min_s,
                      "flops_per_cpu_s": flops / t.cpu_median_s if t.cpu_median_s > 0
                      else None}
        del a, b, c
    n_best = max(by_size, key=lambda n: by_size[n]["flops_per_s"])
    return {**by_size[n_best], "n": n_best, "dtype": str(dtype).replace("torch.", ""),
            "threads": torch.get_num_threads(),
            "by_size": {str(n): v["flops_per_s"] for n, v in by_size.items()}}


def rss_mb() -> float | None:
    """Current resident set size of this process in MiB (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return None


def maxrss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (``getrusage``)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2 ** 20 if sys.platform == "darwin" else r / 1024  # bytes on macOS, KiB on Linux


