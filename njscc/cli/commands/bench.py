"""``njscc bench``: decoding/encoding throughput of NECST vs the separation pipeline.

Runs the throughput suite (:class:`njscc.experiments.throughput.BenchConfig`), prints a table
with the speed-ups measured in the same run, writes one ``njscc.result/1`` JSON per group plus
``throughput.png`` (drawn from the JSON files) to ``--out``.
"""

from __future__ import annotations

import argparse
import sys

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "measure decode/encode throughput: NECST vs LDPC+JPEG (writes JSON + PNG)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="small sweep (< 60 s): batches 1,64,4096, one LDPC code, no compile")
    opt.add_device(p)
    p.add_argument("--batches", type=opt._list(opt.BATCH, "batch sizes in [1, 1048576]"),
                   default=None,
                   help="NECST batch sizes, e.g. 1,16,256,4096 (default 1,4,…,65536; "
                        "quick: 1,64,4096)")
    opt.add_threads(p)
    opt.add_quiet(p)
    p.add_argument("--eps", type=opt.probability, default=0.03, help="BSC crossover probability")
    p.add_argument("--jpeg-quality", type=opt.int_range(1, 100), default=None,
                   help="JPEG quality of the baseline (default: distortion-matched — the "
                   "cheapest quality whose distortion is at most the --checkpoint's at --eps; "
                   "without a checkpoint JPEG's lowest, 1)")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--stream", type=opt.int_range(0, 1 << 32), default=0, metavar="N",
                   help="also stream-decode N images in chunks and record memory (e.g. 1000000)")
    opt.add_checkpoint(p, required=False, help="NECST checkpoint to time (default: an untrained "
                       "necst_mlp, m=100; speed does not depend on the weights)")
    p.add_argument("--budget", type=opt.float_range(0, 3600, lo_open=True), default=None,
                   help="seconds per measurement (default 2; quick 0.2)")
    opt.add_out(p, "results/throughput", "folder for the JSON files and throughput.png")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    opt.add_seed(p, "seed of inputs and channel noise")
    p.add_argument("--note", default="",
                   help="free text stored in every results file (e.g. machine load)")


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._io import check_writable
    from njscc.experiments import execute
    from njscc.experiments.throughput import BenchConfig

    check_writable(args.out, folder=True)
    kw = {"device": args.device, "batches": tuple(args.batches) if args.batches else None,
          "threads": args.threads, "eps": args.eps, "jpeg_quality": args.jpeg_quality,
          "stream": args.stream, "checkpoint": args.checkpoint, "budget_s": args.budget,
          "seed": args.seed, "progress": sys.stderr.isatty() and not args.quiet,
          "notes": args.note or None}
    if args.quick:
        cfg = BenchConfig.make_quick(**kw)
    else:
        cfg = BenchConfig(**{k: v for k, v in kw.items() if v is not None})
    if args.no_compile:
        cfg.compile = False
    results, files = execute(cfg, out=args.out, plot=not args.no_plot)
    print(BenchConfig.summary(results))
    print(f"\nwrote {len(files)} files to {args.out}/: " + ", ".join(p.name for p in files))
    return 0
