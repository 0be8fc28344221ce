"""``njscc train``: train a NECST codec from a preset (see docs/training.md).

Examples::

    njscc train --preset mnist --data-dir DATA --epochs 10 --out runs/mnist_bsc0.1
    njscc train --preset mnist --data-dir DATA --epochs 20 --out runs/mnist_bsc0.1 --resume
    torchrun --nproc_per_node 2 -m njscc.cli train --preset mnist --data-dir DATA ...
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["HELP", "PRESETS", "add_arguments", "build_and_train", "parse_model_args", "run"]

HELP = "train a NECST codec (progress bar, JSON/CSV logs, checkpoints, --resume, torchrun)"

#: preset → dataset and likelihood (the paper's MNIST setting uses the SSE distortion)
PRESETS: dict[str, dict[str, Any]] = {
    "mnist": {"dataset": "mnist", "likelihood": "sse", "needs_data_dir": True},
    "binarized_mnist": {"dataset": "binarized_mnist", "likelihood": "bernoulli",
                        "needs_data_dir": True},
    "embedded": {"dataset": "embedded", "likelihood": "sse", "needs_data_dir": False},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", required=True, metavar="NAME",
                   help=f"data + likelihood: {', '.join(PRESETS)}")
    p.add_argument("--data-dir", default=None,
                   help="folder with mnist/, binarized_mnist/ (not needed for 'embedded')")
    p.add_argument("--out", default=None, help="run directory (default runs/<preset>_<channel>"
                   "<train-eps>_<objective>)")
    p.add_argument("--model", default="necst_mlp", help="registry model name")
    p.add_argument("--m", "--bits", type=int, default=100, dest="m",
                   help="code length in bits (under torchrun spell it --bits: torchrun's own "
                   "parser rejects --m as an ambiguous abbreviation)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=JSON",
                   help="extra model keyword argument, e.g. dec_hidden=[256,256] (repeatable)")
    p.add_argument("--objective", default="vimco", help="vimco, nvil, reinforce or gumbel")
    p.add_argument("--objective-arg", action="append", default=[], metavar="KEY=JSON",
                   help='extra objective keyword argument, e.g. bound="upper" for the official '
                   "NECST code's VIMCO variant (repeatable)")
    p.add_argument("--K", type=int, default=5, dest="K", help="samples per input (VIMCO K)")
    p.add_argument("--channel", default="bsc", help="training/test channel: bsc, bec, z, awgn, ge")
    p.add_argument("--train-eps", type=float, default=0.1, help="training channel parameter")
    p.add_argument("--test-eps", type=float, default=None,
                   help="channel parameter for the per-epoch test distortion (default: train)")
    p.add_argument("--epochs", type=int, default=10, help="total epochs (also when resuming)")
    p.add_argument("--batch-size", type=int, default=100, help="global batch size")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (all optimisers)")
    p.add_argument("--l2", type=float, default=1e-4, help="L2 weight on the encoder weights")
    p.add_argument("--test-every", type=int, default=1,
                   help="evaluate test distortion every N epochs (0: never)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop after the epoch during which this much training time has passed")
    p.add_argument("--train-size", type=int, default=None,
                   help="use only the first N training images (quick runs)")
    p.add_argument("--test-size", type=int, default=None,
                   help="use only the first N test images for the per-epoch test distortion")
    p.add_argument("--seed", type=int, default=0, help="seed for init, shuffling and sampling")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last good checkpoint in --out")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    from njscc.cli.commands._rd_train import add_rd_train_arguments

    add_rd_train_arguments(p)  # --beta, --model vae (rate-distortion family)


def _check(args: argparse.Namespace) -> None:
    if args.preset not in PRESETS:
        raise ValueError(f"--preset: unknown preset {args.preset!r}; "
                         f"available: {', '.join(PRESETS)}")
    for name in ("m", "K", "epochs", "batch_size", "train_size", "test_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.test_every < 0:
        raise ValueError(f"--test-every must be >= 0, got {args.test_every}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be > 0, got {args.lr}")
    if args.l2 < 0:
        raise ValueError(f"--l2 must be >= 0, got {args.l2}")


def parse_model_args(items: list[str], option: str = "--model-arg") -> dict[str, Any]:
    """``["dec_hidden=[256,256]", "bias=true"]`` → ``{"dec_hidden": [256, 256], "bias": True}``.

    Values are JSON; anything that is not valid JSON is kept as a string.
    """
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option}: expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def build_and_train(args: argparse.Namespace, log: Any = print) -> dict[str, Any]:
    """Build data, model, objective and channels from ``args`` and run the trainer.

    Returns ``{"out", "history", "trainer", "interrupted"}``. ``log`` prints one-line messages.
    """
    import sys
    from pathlib import Path

    import torch

    from njscc import models, objectives
    from njscc.cli.commands._rd_train import adapt_rd_train_args
    from njscc.data import load_dataset
    from njscc.evaluation.distortion import make_channel
    from njscc.training.trainer import TrainConfig, Trainer, distributed_context, format_row

    rd_obj_kwargs = adapt_rd_train_args(args)  # continuous-latent models: objective, channel
    _check(args)
    preset = PRESETS[args.preset]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out or f"runs/{args.preset}_{args.channel}{args.train_eps:g}_{args.objective}")
    test_eps = args.train_eps if args.test_eps is None else args.test_eps
    train_channel = make_channel(args.channel, args.train_eps)
    test_channel = make_channel(args.channel, test_eps)
    obj_kwargs = {"n_samples": args.K, **rd_obj_kwargs,
                  **parse_model_args(getattr(args, "objective_arg", []), "--objective-arg")}
    objectives.get(args.objective, **obj_kwargs)  # fail early on a bad name/value
    if preset["needs_data_dir"] and args.data_dir is None:
        import os

        if not os.environ.get("NJSCC_DATA_DIR"):
            raise ValueError(f"--data-dir is required for --preset {args.preset} "
                             "(a folder containing mnist/ and binarized_mnist/)")
    if (out / "checkpoints").exists() and not args.resume:
        raise FileExistsError(f"--out {out}: already has checkpoints; pass --resume to continue "
                              "or choose another --out")

    model_kwargs = {"m": args.m, "likelihood": preset["likelihood"],
                    **parse_model_args(args.model_arg)}
    train_x = load_dataset(preset["dataset"], "train", data_dir=args.data_dir).images
    test_x = load_dataset(preset["dataset"], "test", data_dir=args.data_dir).images
    train_x, test_x = train_x[:args.train_size], test_x[:args.test_size]
    model_kwargs.setdefault("data_shape", list(train_x.shape[1:]))

    with distributed_context(args.device) as (dist_info, device):
        torch.manual_seed(args.seed)  # model initialisation
        model = models.get(args.model, **model_kwargs)
        objective = objectives.get(args.objective, **obj_kwargs)
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          encoder_l2=args.l2, seed=args.seed, test_every=args.test_every,
                          max_seconds=None if args.max_minutes is None else 60 * args.max_minutes)
        run_info = {"preset": args.preset, "dataset": preset["dataset"],
                    "channel": {"name": args.channel, "train_param": args.train_eps,
                                "test_param": test_eps},
                    "objective": {"name": args.objective, "kwargs": obj_kwargs},
                    "n_train": int(train_x.shape[0]), "n_test": int(test_x.shape[0])}
        quiet = args.quiet
        trainer = Trainer(
            model, objective, train_channel, train_x, cfg,
            test_x=test_x, test_channel=test_channel, out_dir=out, device=device,
            dist_info=dist_info, run_info=run_info, quiet=quiet,
            on_epoch=None if quiet else (lambda row: print(format_row(row, cfg.epochs),
                                                           file=sys.stderr, flush=True)))
        main = dist_info.is_main
        if args.resume and (out / "checkpoints").exists():
            used = trainer.resume()
            if main:
                log(f"resuming from {used} (epoch {trainer.epoch}, "
                    f"step {trainer.step_in_epoch}/{trainer.steps_per_epoch})")
        elif args.resume and main:
            log(f"--resume: no checkpoint in {out} yet, starting from scratch")
        if main and not quiet:
            log(f"training {args.model} m={args.m} on {preset['dataset']} "
                f"({trainer.train_x.shape[0]} images) with {args.objective}, "
                f"{args.channel} {args.train_eps:g}, {cfg.epochs} epochs, "
                f"{trainer.steps_per_epoch} steps/epoch, device {device}, "
                f"world size {dist_info.world}")
        history = trainer.fit()
        sig = trainer.stopped_by_signal
        if main:
            if trainer.stop_reason is not None:
                why = "interrupted" if sig is not None else "time budget reached"
                log(f"{why}: checkpoint saved at epoch {trainer.epoch} step "
                    f"{trainer.step_in_epoch}; continue with --resume --out {out}")
            else:
                log(f"done: {trainer.epoch} epochs; checkpoint {out / 'checkpoints' / 'last'}, "
                    f"logs {out / 'log.csv'}")
    return {"out": out, "history": history, "trainer": trainer, "interrupted": sig}


def run(args: argparse.Namespace) -> int:
    res = build_and_train(args)
    sig = res["interrupted"]
    return 128 + int(sig) if sig is not None else 0
