"""Throughput measurement: NECST one-pass decoding vs the separation pipeline.

Everything here measures the code users run, from received channel bits to pixels:

* **NECST**: ``model.decompress(y)`` (eager, the public API), :class:`FusedMLPDecoder` (the
  same numbers, computed faster: the bipolar map ``2y − 1`` folded into the first layer,
  chunked so activations stay in cache, in-place activations), ``torch.compile`` of
  ``model.decompress``, and autocast bf16/fp16 (CPU bf16 for the record, GPU when present).
* **Separation**: channel LLRs → LDPC decoder (:class:`baselines.codes.LDPC5G` through
  Sionna, :class:`baselines.codes.PyLDPC`, or :class:`CppBpCode`, the ``ldpc`` package's C++
  ``BpDecoder`` on the *same* 5G code) → bytes → :class:`baselines.source.JPEGCodec` decode,
  exactly as :class:`baselines.scheme.SeparationScheme` does it.

Timing (:func:`measure`): warm-up, ``torch.cuda.synchronize()`` on GPU, calls repeated until a
round lasts ``min_round_s``, median and quartiles over rounds. :func:`run_suite` runs it all
and returns ``njscc.result/1`` dicts; :func:`write_suite` stores them (one JSON per group) and
:func:`plot_throughput` draws the PNG *from those files*.

Units: images/s counts whole decoded images; *info bits* are the bits each scheme carries
per image (NECST: its m code bits; separation: the JPEG payload bits), *channel bits* the
channel uses per image (NECST: m; separation: codewords × n).

Modules: :mod:`~njscc.experiments.throughput.timing`, :mod:`~njscc.experiments.throughput.fused`,
``separation``, ``suite``, ``report``.
"""

from njscc.experiments.throughput.fused import FusedMLPDecoder, mlp_flops, mlp_layers
from njscc.experiments.throughput.report import (
    format_table,
    load_suite,
    plot_throughput,
    speedups,
    write_suite,
)
from njscc.experiments.throughput.separation import (
    CppBpCode,
    SeparationBatch,
    SeparationReceiver,
    five_g_layout,
)
from njscc.experiments.throughput.suite import (
    DEFAULT_BATCHES,
    QUICK_BATCHES,
    BenchConfig,
    bench_images,
    run_suite,
    stream_decode,
    versions,
)
from njscc.experiments.throughput.timing import (
    Timing,
    cuda_sync,
    matmul_peak,
    maxrss_mb,
    measure,
    rss_mb,
)

__all__ = [
    "DEFAULT_BATCHES", "QUICK_BATCHES", "BenchConfig", "CppBpCode", "FusedMLPDecoder",
    "SeparationBatch", "SeparationReceiver", "Timing", "bench_images", "cuda_sync",
    "five_g_layout", "format_table", "load_suite", "matmul_peak", "maxrss_mb", "measure",
    "mlp_flops", "mlp_layers", "plot_throughput", "rss_mb", "run_suite", "speedups",
    "stream_decode", "versions", "write_suite",
]
