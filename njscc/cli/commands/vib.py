"""``njscc vib``: deep VIB classifiers (Alemi et al. 2017), β sweep, calibration and OOD
(:class:`njscc.experiments.vib.VIBStudy`).

Examples::

    njscc vib --data-dir DATA --betas 1e-3 --epochs 3 --out results/vib/paper
    njscc vib --data-dir DATA --betas 1e-4,1e-3,1e-2,1e-1,1 --hidden 512,512 --epochs 1 \\
        --no-baseline --out results/vib/sweep
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "deep VIB classifier on MNIST: error vs β, calibration (ECE), OOD AUROC vs baseline"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="folder with mnist/ (and kodak/ for OOD)")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "embedded"),
                   help="training/test digits ('embedded' needs no data dir)")
    p.add_argument("--betas", type=opt.float_list, default=[1e-3], help="comma-separated β values")
    p.add_argument("--m", type=opt.CODE_BITS, default=256, help="bottleneck size K")
    p.add_argument("--hidden", type=opt.width_list, default=[1024, 1024],
                   help="encoder hidden widths")
    p.add_argument("--epochs", type=opt.EPOCHS, default=1, help="epochs per model")
    p.add_argument("--batch-size", type=opt.BATCH, default=100)
    p.add_argument("--lr", type=opt.positive_float, default=1e-3)
    p.add_argument("--train-samples", type=opt.SAMPLES, default=1,
                   help="posterior samples per input in training")
    p.add_argument("--test-samples", type=opt.SAMPLES, default=12,
                   help="posterior samples averaged at test time (paper: 12)")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the deterministic baseline (same MLP, β = 0)")
    p.add_argument("--ood", default="kodak,shuffled,noise",
                   help="OOD sets among kodak, shuffled, noise ('none' to skip)")
    p.add_argument("--n-ood", type=opt.int_range(1, 1 << 20), default=2000,
                   help="images per OOD set")
    p.add_argument("--train-size", type=opt.positive_int, default=None,
                   help="first N training images")
    p.add_argument("--test-size", type=opt.positive_int, default=None, help="first N test images")
    p.add_argument("--max-minutes", type=opt.positive_float, default=None,
                   help="training budget per model")
    p.add_argument("--runs-dir", default="runs/vib", help="where the runs are kept (resumable)")
    opt.add_run(p, out="results/vib", out_help="results folder")


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._study import run_study

    ood = [] if args.ood.strip().lower() == "none" else [
        t.strip().lower() for t in args.ood.split(",") if t.strip()]
    fields = {"data_dir": args.data_dir, "dataset": args.dataset, "betas": args.betas,
              "m": args.m, "hidden": args.hidden, "epochs": args.epochs,
              "batch_size": args.batch_size, "lr": args.lr, "train_samples": args.train_samples,
              "test_samples": args.test_samples, "baseline": not args.no_baseline, "ood": ood,
              "n_ood": args.n_ood, "train_size": args.train_size, "test_size": args.test_size,
              "max_minutes": args.max_minutes, "runs_dir": args.runs_dir, "device": args.device,
              "seed": args.seed}
    run_study("vib", fields, args, args.out, quiet=args.quiet)
    return 0
