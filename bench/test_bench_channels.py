"""Channel sampling throughput: njscc's channels vs ``sionna.phy``'s on the same batch.

Each benchmark samples a ``[1000, 10000]`` float32 batch (1e7 bits) once per round, after a
warm-up round; ``extra_info`` records the device, versions, batch shape, ε and the median
bits/s. Compare ``ours`` with ``sionna`` at the same ε (docs/channels.md has measured numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import channels

SHAPE = (1000, 10000)
NBITS = SHAPE[0] * SHAPE[1]


def _bits(device: torch.device) -> torch.Tensor:
    g = torch.Generator(device=device).manual_seed(0)
    return torch.randint(0, 2, SHAPE, generator=g, device=device).float()


def _record(benchmark: Any, info: dict[str, Any], **kw: Any) -> None:
    info.update(kw)
    info["batch_shape"] = list(SHAPE)
    info["bits"] = NBITS
    info["dtype"] = "float32"
    stats = benchmark.stats  # None under --benchmark-disable (a smoke run)
    median = stats.stats.median if stats is not None else 0.0
    info["bits_per_s_median"] = NBITS / median if median > 0 else None


def _bench(benchmark: Any, fn: Callable[[], Any], sync: Callable[[], None], rounds: int) -> None:
    def run() -> None:
        fn()
        sync()

    benchmark.pedantic(run, rounds=rounds, warmup_rounds=1, iterations=1)


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.3])
@pytest.mark.parametrize("name", ["bsc", "bec", "z"])
def test_ours(benchmark: Any, bench_info: dict[str, Any], bench_device: torch.device,
              sync: Callable[[], None], name: str, eps: float) -> None:
    benchmark.group = f"{name} eps={eps}"
    bits = _bits(bench_device)
    ch = channels.get(name, eps)
    g = torch.Generator(device=bench_device).manual_seed(1)
    _bench(benchmark, lambda: ch(bits, g), sync, rounds=7)
    _record(benchmark, bench_info, impl="njscc", channel=name, eps=eps)


@pytest.mark.parametrize("name, param, kw", [("awgn", 0.0, {"output": "soft"}),
                                              ("awgn", 0.0, {"output": "hard"}),
                                              ("ge", 0.05, {})])
def test_ours_other(benchmark: Any, bench_info: dict[str, Any], bench_device: torch.device,
                    sync: Callable[[], None], name: str, param: float,
                    kw: dict[str, Any]) -> None:
    benchmark.group = f"{name} {param} {kw}"
    bits = _bits(bench_device)
    ch = channels.get(name, param, **kw)
    g = torch.Generator(device=bench_device).manual_seed(1)
    _bench(benchmark, lambda: ch(bits, g), sync, rounds=5)
    _record(benchmark, bench_info, impl="njscc", channel=name, param=param, **kw)


# Sionna's cost does not depend on ε (dense Gumbel-softmax sampling): one ε is enough
@pytest.mark.parametrize("eps", [0.1])
@pytest.mark.parametrize("name", ["bsc", "bec", "z"])
def test_sionna(benchmark: Any, bench_info: dict[str, Any], bench_device: torch.device,
                sync: Callable[[], None], name: str, eps: float) -> None:
    pytest.importorskip("sionna.phy")
    from sionna.phy import channel as sch

    cls = {"bsc": sch.BinarySymmetricChannel, "bec": sch.BinaryErasureChannel,
           "z": sch.BinaryZChannel}[name]
    benchmark.group = f"{name} eps={eps}"
    bits = _bits(bench_device)
    ch = cls(device=str(bench_device))
    _bench(benchmark, lambda: ch(bits, eps), sync, rounds=3)
    _record(benchmark, bench_info, impl="sionna", channel=name, eps=eps)
