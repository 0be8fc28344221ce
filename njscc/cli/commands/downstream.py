"""``njscc downstream``: classify images from their *received* NECST codes
(:class:`njscc.experiments.downstream.DownstreamStudy`). Example::

    njscc downstream --checkpoint runs/mnist_bsc0.1 --checkpoint runs/mnist_bsc0 \\
        --data-dir DATA --train-eps 0,0.1 --out results/downstream
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "train a classifier on received NECST codes, accuracy vs channel noise (JSON + PNG)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    opt.add_checkpoint(p, multiple=True, help="NECST run/checkpoint directory")
    p.add_argument("--data-dir", default=None, help="folder with mnist/ (not for 'embedded')")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "embedded"),
                   help="labelled digits to classify")
    opt.add_channel(p, default="bsc", eps="0,0.05,0.1,0.15,0.2,0.3", eps_list=True,
                    train_eps="0,0.1", old_train="--probe-eps", eps_help="test channel parameters",
                    train_help="channel parameters the probe is trained at (one probe each)")
    p.add_argument("--hidden", type=opt._list(opt.WIDTH, "layer widths in [1, 32768]",
                                               allow_empty=True),
                   default=[], help="probe hidden widths, e.g. 256 "
                   "(default: softmax regression)")
    p.add_argument("--epochs", type=opt.EPOCHS, default=10, help="probe training epochs")
    p.add_argument("--lr", type=opt.positive_float, default=1e-2, help="probe Adam learning rate")
    p.add_argument("--draws", type=opt.int_range(1, 1000), default=3,
                   help="channel draws per test image")
    p.add_argument("--train-size", type=opt.positive_int, default=None,
                   help="first N training images")
    p.add_argument("--test-size", type=opt.positive_int, default=None, help="first N test images")
    opt.add_run(p, out="runs/downstream", out_help="results folder")


def run(args: argparse.Namespace) -> int:
    import channels
    from njscc.cli.commands._study import run_study

    for flag, values in (("--train-eps", args.train_eps), ("--eps", args.eps)):
        for v in values:  # the channel and every parameter, before any work
            try:
                channels.get(args.channel, v)
            except ValueError as e:
                raise ValueError(f"{flag}: {e}") from None

    fields = {"checkpoints": list(args.checkpoint), "data_dir": args.data_dir,
              "dataset": args.dataset, "channel": args.channel, "train_eps": args.train_eps,
              "eps": list(args.eps), "hidden": list(args.hidden), "epochs": args.epochs,
              "lr": args.lr, "draws": args.draws, "train_size": args.train_size,
              "test_size": args.test_size, "device": args.device, "seed": args.seed}
    run_study("downstream", fields, args, args.out, quiet=args.quiet)
    return 0
