"""``njscc bench``: decoding/encoding throughput of NECST vs the separation pipeline.

Runs the throughput suite (:mod:`njscc.experiments.throughput`), prints a table with the
speed-ups measured in the same run, writes one ``njscc.result/1`` JSON per group plus
``throughput.png`` (drawn from the JSON files) to ``--out``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["HELP", "add_arguments", "run"]

HELP = "measure decode/encode throughput: NECST vs LDPC+JPEG (writes JSON + PNG)"


def _int_list(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 1,16,256, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="small sweep (< 60 s): batches 1,64,4096, one LDPC code, no compile")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="device of the NECST decoder (LDPC/JPEG run on the CPU; Sionna "
                        "follows --device)")
    p.add_argument("--batches", type=_int_list, default=None,
                   help="NECST batch sizes, e.g. 1,16,256,4096 (default 1,4,…,65536; "
                        "quick: 1,64,4096)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: all cores)")
    p.add_argument("--eps", type=float, default=0.03, help="BSC crossover probability")
    p.add_argument("--jpeg-quality", type=int, default=50, help="JPEG quality of the baseline")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--stream", type=int, default=0, metavar="N",
                   help="also stream-decode N images in chunks and record memory (e.g. 1000000)")
    p.add_argument("--checkpoint", default=None,
                   help="NECST checkpoint to time (default: an untrained necst_mlp, m=100; "
                        "speed does not depend on the weights)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds per measurement (default 2; quick 0.2)")
    p.add_argument("--out", default="results/throughput",
                   help="folder for the JSON files and throughput.png")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--seed", type=int, default=0, help="seed of inputs and channel noise")
    p.add_argument("--note", default="",
                   help="free text stored in every results file (e.g. machine load)")


def run(args: argparse.Namespace) -> int:
    from njscc.experiments.throughput import (
        BenchConfig,
        format_table,
        plot_throughput,
        run_suite,
        write_suite,
    )

    kw = {"device": args.device, "batches": args.batches, "threads": args.threads,
          "eps": args.eps, "jpeg_quality": args.jpeg_quality, "stream": args.stream,
          "checkpoint": args.checkpoint, "budget_s": args.budget, "seed": args.seed,
          "progress": sys.stderr.isatty(), "notes": args.note or None}
    if args.quick:
        cfg = BenchConfig.make_quick(**kw)
    else:
        cfg = BenchConfig(**{k: v for k, v in kw.items() if v is not None})
    if args.no_compile:
        cfg.compile = False
    if args.stream < 0:
        raise ValueError(f"--stream: expected N ≥ 0, got {args.stream}")
    results = run_suite(cfg)
    paths = write_suite(results, args.out)
    print(format_table(results))
    if not args.no_plot:
        paths.append(plot_throughput(args.out))
    print(f"\nwrote {len(paths)} files to {args.out}/: " + ", ".join(p.name for p in paths))
    return 0
