"""The throughput suite behind ``njscc bench``: :class:`BenchConfig` and :func:`run_suite`
(NECST decode sweep, roofline, LDPC codewords/s, separation receiver images/s, encode,
stream-decode memory), plus :func:`stream_decode` and the inputs."""

from __future__ import annotations

import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from baselines import source as _source
from njscc.experiments.base import EXPERIMENTS, Study
from njscc.experiments.throughput.fused import FusedMLPDecoder, mlp_flops
from njscc.experiments.throughput.report import speedups
from njscc.experiments.throughput.separation import CppBpCode, SeparationReceiver
from njscc.experiments.throughput.timing import cuda_sync, matmul_peak, maxrss_mb, measure, rss_mb
from njscc.io.results import make_result

__all__ = ["DEFAULT_BATCHES", "QUICK_BATCHES", "BenchConfig", "bench_images", "run_suite",
           "stream_decode", "versions"]

#: default batch sizes of the NECST sweep (powers of 4, 1 … 65536)
DEFAULT_BATCHES = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)
QUICK_BATCHES = (1, 64, 4096)


def bench_images(n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """``n`` MNIST test digits (uint8 ``[n, 28, 28]``) from the embedded subset, tiled.

    Falls back to synthetic stroke images if the embedded data is not installed; returns
    ``(images, name)``.
    """
    try:
        from njscc.data.embedded import read_embedded

        imgs = read_embedded("test")[0]
        name = "mnist-embedded-test"
    except (ImportError, FileNotFoundError, ValueError):
        rng = np.random.default_rng(seed)
        imgs = np.zeros((256, 28, 28), np.uint8)
        yy, xx = np.mgrid[:28, :28]
        for img in imgs:
            for _ in range(3):
                cy, cx, r = rng.uniform(8, 20), rng.uniform(8, 20), rng.uniform(4, 9)
                ring = np.abs(np.hypot(yy - cy, xx - cx) - r) < 1.5
                img[ring] = 255
        name = "synthetic-strokes"
    reps = -(-n // len(imgs))
    return np.ascontiguousarray(np.tile(imgs, (reps, 1, 1))[:n]), name


def versions() -> dict[str, str | None]:
    """Versions of the libraries measured here (None when not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version(), "torch": torch.__version__,
                                  "numpy": np.__version__}
    for mod in ("sionna", "ldpc", "pyldpc", "PIL", "scipy"):
        try:
            out[mod] = getattr(__import__(mod), "__version__", "unknown")
        except ImportError:
            out[mod] = None
    return out


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> list[float] | None:
    """1/5/15-minute load averages (other jobs on a shared machine), None where unsupported."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{_cpu_name()} ({os.cpu_count()} logical CPUs)"


def stream_decode(decode: Callable[[Tensor], Tensor], n_images: int, m: int, *,
                  chunk: int = 16384, eps: float = 0.03, device: torch.device | str = "cpu",
                  seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Decode ``n_images`` received words in chunks and record memory, to show no growth.

    Each chunk: random code bits → BSC(``eps``) → ``decode`` → a checksum (so the output is
    used), output dropped. Records RSS (``/proc``) after the first chunk and at ~20 points,
    ``ru_maxrss`` before/after, and the Python-side peak from ``tracemalloc`` (tensor storage
    is not Python-allocated, so it shows only interpreter growth).
    """
    import channels

    dev = torch.device(device)
    ch = channels.get("bsc", eps)
    g = torch.Generator(device="cpu").manual_seed(seed)
    sync = cuda_sync(dev)
    n_chunks = -(-int(n_images) // chunk)
    every = max(1, n_chunks // 20)
    samples: list[tuple[int, float | None]] = []
    maxrss_before, rss_before = maxrss_mb(), rss_mb()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        cuda_before = torch.cuda.memory_allocated(dev)
    tracemalloc.start()
    done = 0
    checksum = 0.0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=int(n_images), unit="img", desc="stream decode", file=sys.stderr,
                   leave=False)
    t0 = time.perf_counter()
    rss_first = None
    for ci in range(n_chunks):
        b = min(chunk, int(n_images) - done)
        bits = (torch.rand(b, m, generator=g) < 0.5).to(torch.uint8)
        y = ch(bits, g).to(dev)
        out = decode(y)
        checksum += float(out.reshape(b, -1)[:, 0].sum())
        del out, y, bits
        done += b
        if ci == 0:
            sync()
            rss_first = rss_mb()
        if ci % every == 0 or ci == n_chunks - 1:
            samples.append((done, rss_mb()))
        if bar is not None:
            bar.update(b)
    sync()
    seconds = time.perf_counter() - t0
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if bar is not None:
        bar.close()
    rss_after = rss_mb()
    vals = [v for _, v in samples if v is not None]
    gpu = ({"cuda_allocated_before_mb": cuda_before / 2 ** 20,
            "cuda_allocated_after_mb": torch.cuda.memory_allocated(dev) / 2 ** 20,
            "cuda_peak_allocated_mb": torch.cuda.max_memory_allocated(dev) / 2 ** 20}
           if dev.type == "cuda" else {})
    return {**gpu,
        "images": done, "chunk": chunk, "seconds": seconds, "images_per_s": done / seconds,
        "rss_before_mb": rss_before, "rss_after_first_chunk_mb": rss_first,
        "rss_after_mb": rss_after,
        "rss_growth_after_first_chunk_mb": (rss_after - rss_first
                                            if rss_after is not None and rss_first is not None
                                            else None),
        "rss_min_mb": min(vals) if vals else None, "rss_max_mb": max(vals) if vals else None,
        "maxrss_before_mb": maxrss_before, "maxrss_after_mb": maxrss_mb(),
        "tracemalloc_peak_kb": py_peak / 1024, "rss_samples": samples, "checksum": checksum,
    }


@EXPERIMENTS.register("throughput", aliases=("bench",))
@dataclass
class BenchConfig(Study):
    """Decode/encode throughput: NECST vs LDPC+JPEG receivers (``njscc bench``)."""

    quick: bool = False
    device: str = "cpu"
    batches: tuple[int, ...] = DEFAULT_BATCHES
    threads: int | None = None            # torch intra-op threads (default: all cores, ≤ 16)
    eps: float = 0.03                      # BSC crossover probability
    m: int = 100
    jpeg_quality: int | None = None        # None: distortion-matched (see _matched_quality)
    ldpc_iter: int = 20
    ldpc_codes: tuple[tuple[int, int], ...] = ((100, 200), (400, 800))
    sep_batches: tuple[int, ...] = (1, 4, 16, 64)     # images per separation-receiver call
    cw_batches: tuple[int, ...] = (1, 10, 100, 1000)  # codewords per LDPC-only call
    compile: bool = True
    stream: int = 0
    stream_chunk: int = 16384
    checkpoint: str | None = None
    seed: int = 0
    budget_s: float = 2.0                  # time per measurement (rounds are cut to fit)
    chunk: int | None = None               # FusedMLPDecoder rows per block (CPU: 512 × threads)
    max_call_s: float = 15.0               # skip LDPC batches whose one call would take longer
    progress: bool = False
    notes: str = ""

    @classmethod
    def make_quick(cls, **kw: Any) -> BenchConfig:
        base = {"quick": True, "batches": QUICK_BATCHES, "sep_batches": (1, 4),
                "cw_batches": (1, 32), "ldpc_codes": ((100, 200),), "compile": False,
                "budget_s": 0.2}
        base.update({k: v for k, v in kw.items() if v is not None})
        return cls(**base)

    def run(self, out: Any = None, log: Any = None) -> dict[str, dict[str, Any]]:
        """:func:`run_suite` (one ``njscc.result/1`` per group)."""
        return run_suite(self)

    @classmethod
    def plot(cls, results: Any, out: Any) -> list[Any]:
        from njscc.experiments.throughput.report import plot_throughput

        return [plot_throughput(out)]

    @classmethod
    def summary(cls, results: Any) -> str:
        from njscc.experiments.throughput.report import format_table

        return format_table(dict(results))


def _load_model(cfg: BenchConfig, device: torch.device) -> tuple[nn.Module, str]:
    if cfg.checkpoint:
        from njscc.training.checkpoint import load_model

        model = load_model(cfg.checkpoint, map_location=device)
        src = f"checkpoint {cfg.checkpoint}"
    else:
        from njscc import models

        torch.manual_seed(cfg.seed)
        model = models.get("necst_mlp", m=cfg.m)
        src = "untrained necst_mlp (throughput does not depend on the weights)"
    return model.to(device).eval(), src


def _matched_quality(model: nn.Module, images: np.ndarray, cfg: BenchConfig, *,
                     trained: bool) -> dict[str, Any]:
    """The JPEG quality of the separation receiver: ``cfg.jpeg_quality`` if given, else the
    cheapest quality whose error-free distortion is at most NECST's at the bench ε (mean
    per-image SSE on the bench images, most probable code, seeded BSC draws) — the separation
    receiver that delivers NECST's distortion, not a better one. JPEG's lowest quality is
    already below every NECST distortion measured here (``results/compare``), so an
    untrained model (no checkpoint: no distortion to match) gets that lowest quality, 1."""
    import channels
    from njscc.evaluation.distortion import evaluate_codec

    if cfg.jpeg_quality is not None:
        return {"quality": int(cfg.jpeg_quality), "rule": "given (--jpeg-quality)"}
    if not trained:
        return {"quality": 1, "rule": "lowest JPEG quality (untrained model: no distortion to "
                "match; JPEG q1 is already below NECST's distortion, results/compare)"}
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    necst = evaluate_codec(model, x.to(dev), channels.get("bsc", cfg.eps).to(dev),
                           generator=g)["sse"]
    jpeg_sse = {}
    for q in (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 90):
        codec = _source.JPEGCodec(q, header_known=True)
        dec = np.stack([codec.decode(codec.encode(im), im.shape) for im in images])
        jpeg_sse[q] = float(((dec.astype(np.float64) - images) ** 2 / 255.0 ** 2)
                            .reshape(len(images), -1).sum(1).mean())
    ok = [q for q, v in jpeg_sse.items() if v <= necst]
    q = min(ok) if ok else max(jpeg_sse)
    return {"quality": q, "rule": "distortion-matched: cheapest quality with error-free SSE <= "
            "NECST's" + ("" if ok else " (none reaches it: the highest tried)"),
            "necst_sse": necst, "jpeg_sse": jpeg_sse[q], "floor": q == min(jpeg_sse)}


def _row(**kw: Any) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in kw.items()}


class _Progress:
    def __init__(self, enabled: bool, total: int) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="bench", file=sys.stderr, leave=False)

    def step(self, what: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(what[:40])
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class _Variant:
    name: str
    dtype: str
    fn: Callable[[Tensor], Tensor]
    max_batch: int | None = None   # slow paths are not run at the largest batches


def _necst_variants(model: nn.Module, cfg: BenchConfig, dev: torch.device,
                    info: dict[str, Any]) -> list[_Variant]:
    """Every NECST decode path measured on this device (eager fp32 first: the reference)."""

    def eager(y: Tensor) -> Tensor:
        with torch.inference_mode():
            return model.decompress(y)

    out = [_Variant("eager", "float32", eager)]
    if dev.type == "cpu":
        chunk = cfg.chunk or 512 * torch.get_num_threads()
        out.append(_Variant("fused", "float32", FusedMLPDecoder(model, chunk=chunk)))
        if not cfg.quick:
            def bf16(y: Tensor) -> Tensor:
                with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
                    return model.decompress(y)

            out.append(_Variant("autocast", "bfloat16", bf16, max_batch=4096))
    else:
        big = 1 << 20
        out.append(_Variant("fused", "float32", FusedMLPDecoder(model, chunk=big, device=dev)))
        for name, dt in (("bfloat16", torch.bfloat16), ("float16", torch.float16)):
            def amp(y: Tensor, dt: torch.dtype = dt) -> Tensor:
                with torch.inference_mode(), torch.autocast("cuda", dtype=dt):
                    return model.decompress(y)

            out.append(_Variant("autocast", name, amp))
            out.append(_Variant("fused", name, FusedMLPDecoder(model, chunk=big, dtype=dt,
                                                               device=dev)))
    if not cfg.compile:
        info["compile"] = {"ok": False, "error": "not run (--quick or --no-compile)"}
        return out
    t0 = time.perf_counter()
    try:
        compiled = torch.compile(model.decompress, dynamic=True)
        with torch.inference_mode():
            compiled(torch.zeros(8, model.m, dtype=torch.uint8, device=dev))
        cuda_sync(dev)()
        info["compile"] = {"ok": True, "first_call_s": time.perf_counter() - t0,
                           "mode": "torch.compile(model.decompress, dynamic=True)"}

        def comp(y: Tensor) -> Tensor:
            with torch.inference_mode():
                return compiled(y)

        out.append(_Variant("compiled", "float32", comp))
    except Exception as e:  # noqa: BLE001 - a compile failure is a result: recorded
        info["compile"] = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:500]}",
                           "seconds": time.perf_counter() - t0}
    return out


def _necst_inputs(model: nn.Module, images: np.ndarray, n: int, eps: float, seed: int,
                  dev: torch.device) -> Tensor:
    """Received words ``[n, m]`` uint8: real images → ``compress`` → BSC(eps), tiled to n."""
    import channels

    x = torch.from_numpy(images[:2048]).float().div(255).unsqueeze(1)
    with torch.inference_mode():
        bits = model.compress(x.to(dev)).cpu()
    g = torch.Generator().manual_seed(seed)
    reps = -(-n // bits.shape[0])
    y = channels.get("bsc", eps)(bits.repeat(reps, 1)[:n], g)
    return y.to(torch.uint8).contiguous().to(dev)


class _Suite:
    """One run of the suite: shared inputs, then one method per results group."""

    def __init__(self, cfg: BenchConfig, dev: torch.device, threads: int) -> None:
        import channels

        self.cfg, self.dev, self.threads = cfg, dev, threads
        self.sync = cuda_sync(dev)
        self.model, model_src = _load_model(cfg, dev)
        self.m = int(self.model.m)
        self.images, self.dataset = bench_images(max(256, max(cfg.sep_batches)), cfg.seed)
        self.channel = channels.get("bsc", cfg.eps)
        self.g = torch.Generator().manual_seed(cfg.seed)
        self.common = {"device_name": _device_name(dev), "threads": threads,
                       "versions": versions(), "quick": cfg.quick, "eps": cfg.eps,
                       "model": model_src, "model_config": getattr(self.model, "config", None),
                       "budget_s": cfg.budget_s,
                       "loadavg_at_start": _loadavg(),
                       "note": cfg.notes or "shared machine: other jobs may run concurrently"}
        if dev.type == "cuda":
            self.common["cuda_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
        self.codes: dict[tuple[str, int, int], Any] = {}
        #: LDPC decoders whose libraries are installed (the others are listed as unavailable)
        self.available, self.unavailable = _available_decoders()
        self.common["ldpc_unavailable"] = self.unavailable
        self.match = _matched_quality(self.model, self.images[:256], cfg, trained=model_src
                                      .startswith("checkpoint"))
        self.common["jpeg_quality"] = self.match
        self.jpeg = _source.JPEGCodec(self.match["quality"], header_known=True)
        n_steps = (len(cfg.batches) * 5 + len(cfg.sep_batches) * 4
                   + len(cfg.ldpc_codes) * len(cfg.cw_batches) * 4 + 6)
        self.prog = _Progress(cfg.progress, n_steps)

    def result(self, task: str, metrics: dict[str, Any], extra: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        return make_result(f"throughput/{task}", metrics, dataset=self.dataset,
                           channel={"name": "bsc", "param": self.cfg.eps}, m=self.m,
                           config={**self.common, **(extra or {})}, device=self.dev)

    def _time(self, fn: Callable[[], Any], **kw: Any) -> Any:
        kw.setdefault("budget_s", self.cfg.budget_s)
        kw.setdefault("min_round_s", 0.02 if self.cfg.quick else 0.05)
        return measure(fn, **kw)

    # -- NECST ---------------------------------------------------------------------------------
    def necst(self) -> dict[str, Any]:
        cfg, m = self.cfg, self.m
        info: dict[str, Any] = {}
        self.variants = _necst_variants(self.model, cfg, self.dev, info)
        y_all = _necst_inputs(self.model, self.images, max(cfg.batches), cfg.eps, cfg.seed,
                              self.dev)
        rows = []

        def row(v: _Variant, b: int, t: Any, threads: int) -> dict[str, Any]:
            return _row(decoder=f"necst-{v.name}", variant=v.name, dtype=v.dtype,
                        device=self.dev.type, threads=threads, batch=b, median_s=t.median_s,
                        rounds=t.rounds, calls_per_round=t.calls, **t.rates(b, "images_per_s"),
                        info_bits_per_s=b * m / t.median_s, info_bits_per_image=m,
                        channel_bits_per_image=m,
                        latency_ms=t.median_s * 1e3 if b == 1 else None)

        for v in self.variants:
            for b in cfg.batches:
                if v.max_batch is not None and b > v.max_batch:
                    continue
                y = y_all[:b]
                t = self._time(lambda y=y, fn=v.fn: fn(y), sync=self.sync)
                rows.append(row(v, b, t, self.threads))
                self.prog.step(f"necst {v.name} {v.dtype} b={b}")
        if self.dev.type == "cpu" and self.threads != 1:
            # one thread, for the per-core comparison with the one-thread C++ decoder
            fused = next(v for v in self.variants if v.name == "fused")
            torch.set_num_threads(1)
            try:
                for b in sorted({min(cfg.batches, key=lambda x: abs(x - 256)),
                                 max(cfg.batches)}):
                    y = y_all[:b]
                    rows.append(row(fused, b, self._time(lambda y=y: fused.fn(y)), 1))
            finally:
                torch.set_num_threads(self.threads)
        acc: dict[str, Any] = {}
        ycheck = y_all[:4096]
        ref = self.variants[0].fn(ycheck).float()
        for v in self.variants[1:]:
            d = (v.fn(ycheck).float() - ref).abs()
            acc[f"{v.name}-{v.dtype}"] = {"max_abs_pixel_diff": float(d.max()),
                                          "mean_abs_pixel_diff": float(d.mean()),
                                          "images": int(ycheck.shape[0])}
            if v.dtype == "float32" and float(d.max()) > 1e-4:  # timing a wrong function
                raise RuntimeError(f"bench: the {v.name} decoder does not compute "
                                   f"model.decompress (max |pixel diff| {float(d.max()):.3g} "
                                   "on 4096 images); its speed would mean nothing")
        self.necst_rows = rows
        return self.result("necst_decode", {"rows": rows, "accuracy_vs_eager_fp32": acc,
                                            "compile": info["compile"]},
                           {"fused_chunk": cfg.chunk or 512 * self.threads})

    def roofline(self) -> dict[str, Any]:
        flops = mlp_flops(self.model.decoder)
        budget = self.cfg.budget_s
        peaks = {"float32": matmul_peak(self.dev, torch.float32, budget_s=budget)}
        if self.dev.type == "cuda":
            peaks["bfloat16"] = matmul_peak(self.dev, torch.bfloat16, budget_s=budget)
            peaks["float16"] = matmul_peak(self.dev, torch.float16, budget_s=budget)
        elif self.threads != 1:
            torch.set_num_threads(1)
            try:
                peaks["float32_1thread"] = matmul_peak(self.dev, torch.float32, budget_s=budget)
            finally:
                torch.set_num_threads(self.threads)
        self.prog.step("matmul peak")
        roof = {}
        for key, pk in peaks.items():
            dtype, th = key.replace("_1thread", ""), (1 if key.endswith("_1thread")
                                                      else self.threads)
            cand = [r for r in self.necst_rows if r["dtype"] == dtype and r["threads"] == th]
            if not cand:
                continue
            best = max(cand, key=lambda r: r["images_per_s"])
            achieved = best["images_per_s"] * flops["total"]
            peak = max(pk["flops_per_s_best"], pk["flops_per_s"])  # the fastest round
            roof[key] = {"peak_flops_per_s": peak, "peak_flops_per_s_median": pk["flops_per_s"],
                         "matmul_n": pk["n"], "threads": th,
                         "attainable_images_per_s": peak / flops["total"],
                         "best_decoder": best["decoder"], "best_batch": best["batch"],
                         "best_images_per_s": best["images_per_s"],
                         "achieved_flops_per_s": achieved,
                         "fraction_of_peak": achieved / peak}
            cpu_rate, cpu_peak = best.get("images_per_s_cpu"), pk.get("flops_per_cpu_s")
            if th == 1 and cpu_rate and cpu_peak:  # CPU time: robust to other jobs
                roof[key]["fraction_of_peak_cpu_time"] = cpu_rate * flops["total"] / cpu_peak
        return self.result("roofline", {"flops_per_image": flops, "peaks": peaks,
                                        "roofline": roof})

    # -- LDPC ----------------------------------------------------------------------------------
    def _code(self, name: str, k: int, n: int) -> Any:
        from baselines import codes

        key = (name, k, n)
        if key not in self.codes:
            it = self.cfg.ldpc_iter
            sdev = str(self.dev) if self.dev.type == "cuda" else None
            if name == "sionna-bp20-boxplus-phi":
                code = codes.LDPC5G(k, n, num_iter=it, cn_update="boxplus-phi", device=sdev)
            elif name == "sionna-bp20-minsum":
                code = codes.LDPC5G(k, n, num_iter=it, cn_update="minsum", device=sdev)
            elif name == "cpp-minsum":
                code = CppBpCode(codes.LDPC5G(k, n), max_iter=it, bp_method="minimum_sum")
            elif name == "pyldpc":
                code = codes.get_code("pyldpc", k / n, k, num_iter=it)
            else:  # pragma: no cover
                raise ValueError(name)
            # warm-up: first calls build graphs / JIT-compile (numba)
            u = torch.zeros(2, code.k)
            code.decode(self.channel.llr(self.channel(code.encode(u), self.g)))
            self.codes[key] = code
        return self.codes[key]

    def ldpc(self) -> dict[str, Any]:
        cfg = self.cfg
        rows: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        for (k, n) in cfg.ldpc_codes:
            for name in self.available:
                code = self._code(name, k, n)
                cmax = max(cfg.cw_batches)
                u = (torch.rand(cmax, code.k, generator=self.g) < 0.5).to(torch.uint8)
                llr = self.channel.llr(self.channel(code.encode(u), self.g))
                per_cw = 0.0
                for b in sorted(cfg.cw_batches):
                    if per_cw * b > cfg.max_call_s:  # a slow decoder at a large batch
                        skipped.append({"decoder": name, "code": [code.k, code.n], "batch": b,
                                        "estimated_call_s": per_cw * b})
                        continue
                    t = self._time(lambda b=b, code=code, llr=llr: code.decode(llr[:b]),
                                   warmup=0, warm=True, rounds=5, min_round_s=0.02)
                    per_cw = t.median_s / b
                    fer = float((code.decode(llr[:b]) != u[:b]).any(1).float().mean())
                    rows.append(_row(decoder=name, code=f"({code.k},{code.n})", code_k=code.k,
                                     code_n=code.n, batch=b,
                                     threads=1 if name.startswith("cpp") else self.threads,
                                     median_s=t.median_s, rounds=t.rounds,
                                     **t.rates(b, "codewords_per_s"),
                                     info_bits_per_s=b * code.k / t.median_s, fer=fer,
                                     mean_iterations=getattr(code, "last_iterations", None)))
                    self.prog.step(f"{name} ({k},{n}) b={b}")
        return self.result("ldpc_codewords", {"rows": rows, "skipped": skipped},
                           {"num_iter": cfg.ldpc_iter, "max_call_s": cfg.max_call_s,
                            "schedule": "flooding (Sionna, pyldpc), parallel (C++)"})

    # -- separation receiver -------------------------------------------------------------------
    def separation(self) -> dict[str, Any]:
        cfg = self.cfg
        k0, n0 = cfg.ldpc_codes[0]
        jpeg, images = self.jpeg, self.images
        sizes = [jpeg.sizes(im) for im in images[:256]]
        rows = []
        for name in self.available:
            rx = SeparationReceiver(jpeg, self._code(name, k0, n0), self.channel)
            for b in cfg.sep_batches:
                batch = rx.transmit(images[:b], self.g)
                t = self._time(lambda batch=batch, rx=rx: rx.receive(batch), rounds=5,
                               min_round_s=0.02)
                rx.failures = 0
                x_hat = rx.receive(batch)
                x_ref = torch.from_numpy(images[:b]).float().div(255).unsqueeze(1)
                ncw = sum(batch.counts)
                rows.append(_row(
                    decoder=f"{name}+jpeg", batch=b, code=f"({rx.code.k},{rx.code.n})",
                    threads=1 if name.startswith("cpp") else self.threads,
                    median_s=t.median_s, rounds=t.rounds, **t.rates(b, "images_per_s"),
                    codewords_per_image=ncw / b, info_bits_per_image=sum(batch.lengths) / b,
                    channel_bits_per_image=ncw * rx.code.n / b,
                    info_bits_per_s=sum(batch.lengths) / t.median_s,
                    failed_images=rx.failures, mse=float(((x_hat - x_ref) ** 2).mean()),
                    latency_ms=t.median_s * 1e3 if b == 1 else None))
                self.prog.step(f"{name}+jpeg b={b}")
        pays = [jpeg.encode(im) for im in images[:256]]
        shape = tuple(images.shape[1:])
        t = self._time(lambda: [jpeg.decode(p, shape) for p in pays], rounds=5,
                       min_round_s=0.02)
        jpeg_only = _row(decoder="jpeg-decode-only", batch=len(pays), threads=1,
                         median_s=t.median_s, **t.rates(len(pays), "images_per_s"))
        jinfo = {**self.match, "header_known": True,
                 "mean_file_bytes": float(np.mean([s["file"] for s in sizes])),
                 "mean_payload_bytes": float(np.mean([s["payload"] for s in sizes]))}
        return self.result("separation_decode",
                           {"rows": rows, "jpeg_decode_only": jpeg_only, "jpeg": jinfo},
                           {"ldpc_code": [k0, n0], "num_iter": cfg.ldpc_iter})

    # -- encode --------------------------------------------------------------------------------
    def encode(self) -> dict[str, Any]:
        k0, n0 = self.cfg.ldpc_codes[0]
        jpeg = self.jpeg
        sender = (SeparationReceiver(jpeg, self._code(self.available[0], k0, n0), self.channel)
                  if self.available else None)
        xs = torch.from_numpy(self.images[:256]).float().div(255).unsqueeze(1).to(self.dev)
        rows = []
        for b in (1, min(256, len(xs))):
            xb, ib = xs[:b], self.images[:b]

            def necst_enc(xb: Tensor = xb) -> Tensor:
                with torch.inference_mode():
                    return self.model.compress(xb)

            todo = [("necst-compress", necst_enc, self.threads, self.sync),
                    ("jpeg-only", lambda ib=ib: [jpeg.encode(im) for im in ib], 1, None)]
            if sender is not None:
                enc_name = "pyldpc" if self.available[0] == "pyldpc" else "ldpc5g"
                todo.insert(1, (f"jpeg+{enc_name}({k0},{n0})",
                                lambda ib=ib: sender.encode(ib), self.threads, None))
            for name, fn, th, sync in todo:
                t = self._time(fn, sync=sync, rounds=5)
                rows.append(_row(encoder=name, batch=b, threads=th, median_s=t.median_s,
                                 **t.rates(b, "images_per_s"),
                                 latency_ms=t.median_s * 1e3 if b == 1 else None))
            self.prog.step(f"encode b={b}")
        return self.result("encode", {"rows": rows})

    def stream(self) -> dict[str, Any]:
        chunk = (self.cfg.chunk or 512 * self.threads) if self.dev.type == "cpu" else 1 << 20
        fused = FusedMLPDecoder(self.model, chunk=chunk, device=self.dev)
        mem = stream_decode(fused, self.cfg.stream, self.m, chunk=self.cfg.stream_chunk,
                            eps=self.cfg.eps, device=self.dev, seed=self.cfg.seed,
                            progress=self.cfg.progress)
        self.prog.step("stream")
        return self.result("stream_memory", mem, {"decoder": "necst-fused float32",
                                                  "includes": "BSC sampling per chunk"})


#: LDPC decoders of the separation pipeline (names used in results files)
LDPC_DECODERS = ("sionna-bp20-boxplus-phi", "sionna-bp20-minsum", "cpp-minsum", "pyldpc")
_NEEDS = {"sionna-bp20-boxplus-phi": ("sionna.phy",), "sionna-bp20-minsum": ("sionna.phy",),
          "cpp-minsum": ("sionna.phy", "ldpc"), "pyldpc": ("pyldpc",)}


def _available_decoders() -> tuple[list[str], dict[str, str]]:
    """(decoders whose libraries import, {decoder: reason} for the others)."""
    import importlib.util

    ok, missing = [], {}
    for name in LDPC_DECODERS:
        absent = [m for m in _NEEDS[name] if importlib.util.find_spec(m.split(".")[0]) is None]
        if absent:
            missing[name] = f"not installed: {', '.join(absent)} (pip install 'njscc[fec]')"
        else:
            ok.append(name)
    return ok, missing


def run_suite(cfg: BenchConfig) -> dict[str, dict[str, Any]]:
    """Run every measurement of ``cfg``; returns ``{group: njscc.result/1 dict}``.

    Groups: ``necst_decode``, ``roofline``, ``ldpc_codewords``, ``separation_decode``,
    ``encode``, ``stream_memory`` (when ``cfg.stream``) and ``summary`` (speed-ups).
    """
    dev = torch.device(cfg.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but no CUDA device is available (torch "
                         f"{torch.__version__}, CUDA build: {torch.version.cuda})")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {cfg.device!r}")
    for name in ("batches", "sep_batches", "cw_batches"):
        vals = getattr(cfg, name)
        if not vals or any(int(b) != b or b < 1 for b in vals):
            raise ValueError(f"{name}: expected positive integers, got {list(vals)}")
    if not 0 <= cfg.eps < 0.5:
        raise ValueError(f"eps: expected a BSC crossover probability in [0, 0.5), got {cfg.eps}")
    if cfg.threads is not None and cfg.threads < 1:
        raise ValueError(f"threads: expected ≥ 1, got {cfg.threads}")
    old_threads = torch.get_num_threads()
    threads = cfg.threads or min(os.cpu_count() or 1, 16)
    torch.set_num_threads(threads)
    try:
        suite = _Suite(cfg, dev, threads)
        results = {}
        if cfg.stream:  # first, so the process peak RSS it reports is its own
            results["stream_memory"] = suite.stream()
        results["necst_decode"] = suite.necst()
        results["roofline"] = suite.roofline()
        results["ldpc_codewords"] = suite.ldpc()
        results["separation_decode"] = suite.separation()
        results["encode"] = suite.encode()
        results["summary"] = suite.result("summary", {**speedups(results),
                                                      "loadavg_at_end": _loadavg()})
        suite.prog.close()
        return results
    finally:
        torch.set_num_threads(old_threads)
