"""``njscc demo``: train a small NECST on the bundled MNIST subset and show what it does
(:class:`njscc.experiments.demo.Demo`)."""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "train a small NECST on bundled MNIST digits (~1 min, CPU), evaluate over BSC/BEC"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=opt.EPOCHS, default=15,
                   help="training epochs (120 steps each)")
    p.add_argument("--max-seconds", type=opt.positive_float, default=55.0,
                   help="training time budget (stops after the step that passes it)")
    p.add_argument("--max-steps", type=opt.positive_int, default=None,
                   help="train exactly this many steps (with a large --max-seconds: a run "
                   "that does not depend on the machine's speed)")
    p.add_argument("--m", type=opt.CODE_BITS, default=100, help="code length in bits")
    opt.add_channel(p, multiple=True, default="bsc,bec", eps="0,0.05,0.1,0.2",
                    old_channels=True, train_eps=0.1, eps_help="test channel parameters",
                    train_help="BSC flip probability in training")
    opt.add_run(p, out="runs/demo", seed_help="seed for everything")


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from njscc.cli.commands._io import check_writable
    from njscc.experiments import EXPERIMENTS, execute

    t_start = time.perf_counter()
    check_writable(args.out, folder=True)
    study = EXPERIMENTS.get("demo", epochs=args.epochs, max_seconds=args.max_seconds,
                           max_steps=args.max_steps, m=args.m, train_eps=args.train_eps,
                           eps=list(args.eps), channels=list(args.channel), device=args.device,
                           seed=args.seed, quiet=args.quiet)
    out = Path(args.out)
    results, files = execute(study, out=out, seeds=args.seeds,
                             log=lambda msg: print(msg, flush=True))
    print()
    print(type(study).summary(results))
    names = ", ".join(p.name for p in files if p.parent == out)
    print(f"\nwrote {out}/: {names}, originals vs reconstructions reconstructions.png, model "
          f"checkpoint checkpoints/last (total {time.perf_counter() - t_start:.0f} s)",
          file=sys.stdout)
    print(f"try: njscc eval --checkpoint {out}    njscc encode IMAGE.png -o x.njs "
          f"--checkpoint {out}")
    return 0
