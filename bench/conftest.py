"""Shared benchmark fixtures (pytest-benchmark). Benchmarks record; they never assert speed.

* ``bench_device``: ``$NJSCC_BENCH_DEVICE`` or ``cuda`` when available, else ``cpu``.
* ``bench_info``: ``benchmark.extra_info`` pre-filled with versions, device, threads, git
  revision and time (``njscc.io.results.env_info``); tests add their own keys (batch, params).
* ``sync``: a no-argument callable that waits for the device (``torch.cuda.synchronize``
  on CUDA), to call at the end of each timed function.

Set ``$NJSCC_BENCH_THREADS`` to pin ``torch.set_num_threads`` for the session.
Run: ``pytest bench --benchmark-only [--benchmark-json out.json]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pytest
import torch

from njscc.io.results import env_info


@pytest.fixture(scope="session", autouse=True)
def _bench_threads() -> None:
    threads = os.environ.get("NJSCC_BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))


@pytest.fixture(scope="session")
def bench_device() -> torch.device:
    name = os.environ.get("NJSCC_BENCH_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture
def sync(bench_device: torch.device) -> Callable[[], None]:
    if bench_device.type == "cuda":
        return lambda: torch.cuda.synchronize(bench_device)
    return lambda: None


@pytest.fixture
def bench_info(benchmark: Any, bench_device: torch.device) -> dict[str, Any]:
    info = env_info(bench_device)
    for dist in ("sionna-no-rt", "sionna"):
        try:
            info["sionna"] = metadata.version(dist)
            break
        except metadata.PackageNotFoundError:
            continue
    benchmark.extra_info.update(info)
    return benchmark.extra_info
