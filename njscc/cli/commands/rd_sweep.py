"""``njscc rd-sweep``: the broken-ELBO experiment (Alemi et al. 2018) on binarized MNIST
(:class:`njscc.experiments.rd_sweep.RateDistortionSweep`).

Example::

    njscc rd-sweep --data-dir DATA --betas 0.1,0.25,0.5,1,2,4,10 --epochs 5 \\
        --checkpoint runs/necst_bin_bsc0.1 --out results/rd
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "β-VAE sweep on binarized MNIST: R–D plane, IWAE, GILBO, NECST placed on it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="folder with binarized_mnist/")
    p.add_argument("--betas", type=opt.float_list, default=[0.1, 0.25, 0.5, 1, 2, 4, 10],
                   help="comma-separated β values")
    p.add_argument("--m", type=opt.CODE_BITS, default=32, help="latent dimensions")
    p.add_argument("--hidden", type=opt.width_list, default=[256, 256],
                   help="hidden widths of encoder and decoder")
    p.add_argument("--prior", default="normal", help="a registered prior: normal, mog or vamp")
    p.add_argument("--epochs", type=opt.EPOCHS, default=5, help="epochs per model")
    p.add_argument("--batch-size", type=opt.BATCH, default=100)
    p.add_argument("--lr", type=opt.positive_float, default=1e-3)
    p.add_argument("--train-size", type=opt.positive_int, default=None,
                   help="first N training images")
    p.add_argument("--iwae-k", type=opt.int_range(0, 100_000), default=100,
                   help="IWAE samples K (0: skip)")
    p.add_argument("--iwae-images", type=opt.positive_int, default=2000,
                   help="test images (seeded random subset) for the IWAE bound; R and D use "
                   "the whole test set")
    p.add_argument("--gilbo-steps", type=opt.int_range(0, 10_000_000), default=1000,
                   help="training steps of the GILBO encoder per model (0: skip)")
    p.add_argument("--gilbo-x-mode", default="mean", choices=("mean", "sample"),
                   help="generator output for the GILBO: decoder mean or a Bernoulli sample")
    opt.add_checkpoint(p, required=False, multiple=True, old=("--necst",),
                       help="NECST run/checkpoint to place on the plane")
    p.add_argument("--necst-samples", type=opt.SAMPLES, default=10,
                   help="channel-marginal samples per image for NECST's distortion")
    p.add_argument("--runs-dir", default="runs/rd", help="where the β-VAE runs are kept")
    opt.add_run(p, out="results/rd", out_help="results folder")


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._study import run_study

    if any(b < 0 for b in args.betas):
        raise ValueError(f"--betas must be >= 0, got {args.betas}")
    fields = {"data_dir": args.data_dir, "betas": args.betas, "m": args.m,
              "hidden": args.hidden, "prior": args.prior, "epochs": args.epochs,
              "batch_size": args.batch_size, "lr": args.lr, "train_size": args.train_size,
              "iwae_k": args.iwae_k, "iwae_images": args.iwae_images,
              "gilbo_steps": args.gilbo_steps, "gilbo_x_mode": args.gilbo_x_mode,
              "necst": list(args.checkpoint), "necst_samples": args.necst_samples,
              "runs_dir": args.runs_dir, "device": args.device, "seed": args.seed,
              "quiet": args.quiet}
    run_study("rd_sweep", fields, args, args.out, quiet=args.quiet)
    return 0
