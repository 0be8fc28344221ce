"""``njscc downstream``: classify images from their *received* NECST codes.

For each checkpoint, the test and training images are sent as most probable codes; a probe
(softmax regression by default) is trained on codes received at each ``--probe-eps`` and tested
at every ``--eps``. Writes ``downstream_<channel>.json`` (``njscc.result/1``) and a PNG drawn
from it. Example::

    njscc downstream --checkpoint runs/mnist_bsc0.1 --checkpoint runs/mnist_bsc0 \\
        --data-dir DATA --probe-eps 0,0.1 --out results/downstream
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "train a classifier on received NECST codes, accuracy vs channel noise (JSON + PNG)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", action="append", required=True,
                   help="NECST run/checkpoint directory (repeatable)")
    p.add_argument("--data-dir", default=None, help="folder with mnist/ (not for 'embedded')")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "embedded"),
                   help="labelled digits to classify")
    p.add_argument("--channel", default="bsc", help="channel: bsc, bec, z, ge, awgn (hard)")
    p.add_argument("--probe-eps", default="0,0.1",
                   help="channel parameters the probe is trained at (one probe each)")
    p.add_argument("--eps", default="0,0.05,0.1,0.15,0.2,0.3", help="test channel parameters")
    p.add_argument("--hidden", default="",
                   help="probe hidden widths, e.g. 256 (default: softmax regression)")
    p.add_argument("--epochs", type=int, default=10, help="probe training epochs")
    p.add_argument("--lr", type=float, default=1e-2, help="probe Adam learning rate")
    p.add_argument("--draws", type=int, default=3, help="channel draws per test image")
    p.add_argument("--train-size", type=int, default=None, help="first N training images")
    p.add_argument("--test-size", type=int, default=None, help="first N test images")
    p.add_argument("--out", default="runs/downstream", help="results folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")


def _label(name: str, m: int, trained_on: dict | None) -> str:
    """``"NECST m=100, trained bsc 0.1 (runs/x)"``; ``name`` is the path the user gave."""
    if trained_on:
        return f"NECST m={m}, trained {trained_on['name']} {trained_on['param']:g} ({name})"
    return f"NECST m={m} ({name})"


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import torch

    from njscc.cli.commands._io import parse_floats, parse_ints
    from njscc.data import load_dataset
    from njscc.evaluation.distortion import make_channel
    from njscc.experiments.downstream import (
        accuracy_sweep,
        chance_accuracy,
        encode_codes,
        plot_downstream,
        summary_rows,
        train_probe,
    )
    from njscc.io.results import make_result, write_result
    from njscc.training.checkpoint import find_checkpoint, load_checkpoint, load_model

    probe_eps = parse_floats(args.probe_eps, "--probe-eps")
    eps = parse_floats(args.eps, "--eps")
    hidden = parse_ints(args.hidden, "--hidden", allow_empty=True)
    for what, vals in (("--probe-eps", probe_eps), ("--eps", eps)):
        for v in vals:  # validate the channel name and every parameter before any work
            try:
                make_channel(args.channel, v)
            except ValueError as e:
                raise ValueError(f"{what}: {e}") from None
    if args.epochs < 1 or args.draws < 1:
        raise ValueError("--epochs and --draws must be >= 1")
    for what, n in (("--train-size", args.train_size), ("--test-size", args.test_size)):
        if n is not None and n < 10:
            raise ValueError(f"{what} must be >= 10, got {n}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data_dir = None if args.dataset == "embedded" else args.data_dir
    train = load_dataset(args.dataset, "train", data_dir)
    test = load_dataset(args.dataset, "test", data_dir)
    xtr, ytr = train.images[:args.train_size], train.labels[:args.train_size]
    xte, yte = test.images[:args.test_size], test.labels[:args.test_size]

    curves = []
    for ck_arg in args.checkpoint:
        path = find_checkpoint(ck_arg)
        model = load_model(path)
        if not hasattr(model, "compress") or getattr(model, "m", None) is None:
            raise ValueError(f"{ck_arg}: not a NECST codec")
        if tuple(model.data_shape) != tuple(xtr.shape[1:]):
            raise ValueError(f"{ck_arg}: model images are {list(model.data_shape)}, the dataset's "
                             f"{list(xtr.shape[1:])}")
        extra = load_checkpoint(path).extra if path.is_dir() else {}
        ch = extra.get("run", {}).get("channel", {})
        trained_on = ({"name": ch["name"], "param": float(ch["train_param"])}
                      if "name" in ch and "train_param" in ch else None)  # Trainer's run info
        codes_tr, codes_te = encode_codes(model, xtr), encode_codes(model, xte)
        for pe in probe_eps:
            g = torch.Generator().manual_seed(args.seed)
            channel = None if pe == 0 else make_channel(args.channel, pe)
            probe = train_probe(codes_tr, ytr, channel, hidden=hidden, epochs=args.epochs,
                                lr=args.lr, generator=g)
            res = accuracy_sweep(probe, codes_te, yte, args.channel, eps, draws=args.draws,
                                 generator=torch.Generator().manual_seed(args.seed + 1))
            label = (f"{_label(ck_arg, int(model.m), trained_on)}; "
                     f"probe trained at {pe:g}")
            curves.append({"label": label, "checkpoint": str(path), "m": int(model.m),
                           "trained_on": trained_on, "probe_param": pe,
                           "accuracy": res["accuracy"], "accuracy_se": res["accuracy_se"]})
            print(f"{label}: " + ", ".join(f"{p:g}: {100 * a:.2f}%"
                                           for p, a in zip(eps, res["accuracy"], strict=True)),
                  file=sys.stderr, flush=True)
    probe_name = f"MLP {hidden}" if hidden else "softmax regression"
    metrics = {"param": eps, "curves": curves, "chance": chance_accuracy(yte),
               "probe": probe_name, "n_train": int(xtr.shape[0]), "n_test": int(xte.shape[0]),
               "draws": args.draws}
    out = Path(args.out)
    result = make_result(
        "downstream", metrics, dataset=args.dataset, channel={"name": args.channel, "param": eps},
        m=curves[0]["m"] if len({c["m"] for c in curves}) == 1 else None,
        config={"args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
                "probe_epochs": args.epochs, "probe_hidden": hidden})
    json_path = write_result(out / f"downstream_{args.channel}.json", result)
    png = plot_downstream(json_path, out / f"downstream_{args.channel}.png")
    print(summary_rows(eps, curves))
    print(f"chance {100 * metrics['chance']:.2f}%; results: {json_path}; plot: {png}")
    return 0
