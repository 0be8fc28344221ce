"""Decode/encode throughput (pytest-benchmark): NECST one-pass decoding vs the separation receiver.

The key measurements of ``njscc bench`` as benchmarks: received channel bits → pixels for the
NECST MLP decoder (``model.decompress`` and the fused decoder), the LDPC
decoders alone (Sionna 5G BP, the ``ldpc`` package's C++ min-sum, pyldpc) and the whole
separation receiver (LDPC + JPEG). ``extra_info`` records device, versions, threads, batch,
dtype and the median items/s. They record; they never assert speed.

Run: ``pytest bench/test_bench_throughput.py --benchmark-only [--benchmark-json out.json]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import channels
from njscc import models
from njscc.experiments import throughput as bench

EPS = 0.03


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return models.get("necst_mlp", m=100).eval()


def _received(n: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (n, 100), generator=g, dtype=torch.uint8)
    return channels.get("bsc", EPS)(bits, g).to(device)


def _run(benchmark: Any, fn: Callable[[], Any], sync: Callable[[], None], rounds: int) -> None:
    def call() -> None:
        fn()
        sync()

    benchmark.pedantic(call, rounds=rounds, warmup_rounds=1, iterations=1)


def _record(benchmark: Any, info: dict[str, Any], items: int, unit: str, **kw: Any) -> None:
    info.update(kw)
    info["threads"] = torch.get_num_threads()
    stats = getattr(benchmark, "stats", None)  # None under --benchmark-disable
    median = stats.stats.median if stats is not None else 0.0
    info[f"{unit}_per_s_median"] = items / median if median > 0 else None


@pytest.mark.parametrize("batch", [1, 256, 4096])
@pytest.mark.parametrize("path", ["eager", "fused"])
def test_necst_decode(benchmark: Any, bench_info: dict[str, Any], bench_device: torch.device,
                      sync: Callable[[], None], model: torch.nn.Module, path: str,
                      batch: int) -> None:
    benchmark.group = f"necst decode batch={batch}"
    m = model.to(bench_device)
    y = _received(batch, bench_device)
    if path == "eager":
        def fn() -> torch.Tensor:
            with torch.inference_mode():
                return m.decompress(y)
    else:
        fn = bench.FusedMLPDecoder(m, chunk=512 if bench_device.type == "cpu" else 1 << 20)
        fn = (lambda f=fn: f(y))  # noqa: E731
    _run(benchmark, fn, sync, rounds=20 if batch < 4096 else 7)
    _record(benchmark, bench_info, batch, "images", decoder=f"necst-{path}", batch=batch,
            dtype="float32", channel_bits_per_image=100)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_necst_decode_autocast_gpu(benchmark: Any, bench_info: dict[str, Any],
                                   sync: Callable[[], None], model: torch.nn.Module,
                                   dtype: torch.dtype) -> None:  # pragma: no cover - GPU only
    benchmark.group = "necst decode gpu autocast"
    m = model.to("cuda")
    y = _received(65536, torch.device("cuda"))

    def fn() -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cuda", dtype=dtype):
            return m.decompress(y)

    _run(benchmark, fn, sync, rounds=20)
    _record(benchmark, bench_info, 65536, "images", decoder="necst-autocast", batch=65536,
            dtype=str(dtype))


def test_necst_encode(benchmark: Any, bench_info: dict[str, Any], bench_device: torch.device,
                      sync: Callable[[], None], model: torch.nn.Module) -> None:
    benchmark.group = "encode"
    imgs, _ = bench.bench_images(256)
    x = torch.from_numpy(imgs).float().div(255).unsqueeze(1).to(bench_device)
    m = model.to(bench_device)

    def fn() -> torch.Tensor:
        with torch.inference_mode():
            return m.compress(x)

    _run(benchmark, fn, sync, rounds=20)
    _record(benchmark, bench_info, 256, "images", encoder="necst-compress", batch=256)


def _ldpc(name: str) -> Any:
    pytest.importorskip("sionna.phy")
    from baselines.codes import LDPC5G, get_code

    if name == "sionna-bp20-boxplus-phi":
        return LDPC5G(100, 200, num_iter=20, cn_update="boxplus-phi")
    if name == "sionna-bp20-minsum":
        return LDPC5G(100, 200, num_iter=20, cn_update="minsum")
    if name == "cpp-minsum":
        pytest.importorskip("ldpc")
        return bench.CppBpCode(LDPC5G(100, 200), max_iter=20)
    pytest.importorskip("pyldpc")
    return get_code("pyldpc", 0.5, 100, num_iter=20)


@pytest.mark.sionna
@pytest.mark.parametrize("name", ["sionna-bp20-boxplus-phi", "sionna-bp20-minsum", "cpp-minsum",
                                  "pyldpc"])
def test_ldpc_decode(benchmark: Any, bench_info: dict[str, Any], name: str) -> None:
    benchmark.group = "ldpc decode (100,200) x 200 codewords"
    code = _ldpc(name)
    bsc = channels.get("bsc", EPS)
    g = torch.Generator().manual_seed(0)
    u = torch.randint(0, 2, (200, code.k), generator=g)
    llr = bsc.llr(bsc(code.encode(u), g))
    _run(benchmark, lambda: code.decode(llr), lambda: None, rounds=5)
    _record(benchmark, bench_info, 200, "codewords", decoder=name, batch=200,
            code=[code.k, code.n], eps=EPS)


@pytest.mark.sionna
@pytest.mark.parametrize("name", ["sionna-bp20-boxplus-phi", "cpp-minsum"])
def test_separation_receive(benchmark: Any, bench_info: dict[str, Any], name: str) -> None:
    from baselines.source import JPEGCodec

    benchmark.group = "separation receiver (LDPC + JPEG) x 16 images"
    jpeg = JPEGCodec(50, header_known=True)
    rx = bench.SeparationReceiver(jpeg, _ldpc(name), channels.get("bsc", EPS))
    imgs, _ = bench.bench_images(16)
    batch = rx.transmit(imgs, torch.Generator().manual_seed(0))
    _run(benchmark, lambda: rx.receive(batch), lambda: None, rounds=5)
    _record(benchmark, bench_info, 16, "images", decoder=f"{name}+jpeg", batch=16,
            codewords_per_image=sum(batch.counts) / 16,
            channel_bits_per_image=sum(batch.counts) * rx.code.n / 16, eps=EPS)


def test_jpeg_decode(benchmark: Any, bench_info: dict[str, Any]) -> None:
    from baselines.source import JPEGCodec

    benchmark.group = "jpeg decode x 256 images"
    jpeg = JPEGCodec(50, header_known=True)
    imgs, _ = bench.bench_images(256)
    pays = [jpeg.encode(im) for im in imgs]
    _run(benchmark, lambda: [jpeg.decode(p, (28, 28)) for p in pays], lambda: None, rounds=10)
    _record(benchmark, bench_info, 256, "images", decoder="jpeg-decode", batch=256)
