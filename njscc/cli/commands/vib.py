"""``njscc vib``: deep VIB classifiers (Alemi et al. 2017), β sweep, calibration and OOD.

Trains one ``vib_mlp`` per ``--betas`` value (CE + β·R) with the shared Trainer, plus the
deterministic baseline (same MLP, no noise, β = 0) unless ``--no-baseline``; evaluates test
error (``--test-samples`` posterior draws averaged, paper: 12), rate, ECE and OOD AUROC
(scores: rate R(x), E_z H(y|z), predictive entropy, max probability) against Kodak grey
crops, pixel-shuffled MNIST and uniform noise. Writes ``<out>/vib.json`` (njscc.result/1),
``reliability.png`` and, with several β, ``vib_beta.png``.

Examples::

    njscc vib --data-dir DATA --betas 1e-3 --epochs 3 --out results/vib/paper
    njscc vib --data-dir DATA --betas 1e-4,1e-3,1e-2,1e-1,1 --hidden 512,512 --epochs 1 \\
        --no-baseline --out results/vib/sweep
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "OOD_SETS", "add_arguments", "run"]

HELP = "deep VIB classifier on MNIST: error vs β, calibration (ECE), OOD AUROC vs baseline"
OOD_SETS = ("kodak", "shuffled", "noise")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="folder with mnist/ (and kodak/ for OOD)")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "embedded"),
                   help="training/test digits ('embedded' needs no data dir)")
    p.add_argument("--betas", default="1e-3", help="comma-separated β values")
    p.add_argument("--m", type=int, default=256, help="bottleneck size K")
    p.add_argument("--hidden", default="1024,1024", help="encoder hidden widths")
    p.add_argument("--epochs", type=int, default=1, help="epochs per model")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--train-samples", type=int, default=1,
                   help="posterior samples per input in training")
    p.add_argument("--test-samples", type=int, default=12,
                   help="posterior samples averaged at test time (paper: 12)")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the deterministic baseline (same MLP, β = 0)")
    p.add_argument("--ood", default="kodak,shuffled,noise",
                   help=f"OOD sets among {', '.join(OOD_SETS)} ('none' to skip)")
    p.add_argument("--n-ood", type=int, default=2000, help="images per OOD set")
    p.add_argument("--train-size", type=int, default=None, help="first N training images")
    p.add_argument("--test-size", type=int, default=None, help="first N test images")
    p.add_argument("--max-minutes", type=float, default=None, help="training budget per model")
    p.add_argument("--runs-dir", default="runs/vib", help="where the runs are kept (resumable)")
    p.add_argument("--out", default="results/vib", help="results folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import torch

    from njscc.cli.commands._io import parse_floats, parse_ints
    from njscc.data import load_dataset
    from njscc.evaluation.uncertainty import (
        kodak_grey_crops,
        pixel_shuffled,
        plot_reliability,
        uniform_noise,
    )
    from njscc.experiments.vib import plot_vib, run_vib_experiment
    from njscc.io.results import write_result

    betas = parse_floats(args.betas, "--betas")
    if any(b < 0 for b in betas):
        raise ValueError(f"--betas must be >= 0, got {betas}")
    hidden = parse_ints(args.hidden, "--hidden", allow_empty=True)
    ood_names = [] if args.ood.strip().lower() == "none" else [
        t.strip().lower() for t in args.ood.split(",") if t.strip()]
    bad = [n for n in ood_names if n not in OOD_SETS]
    if bad:
        raise ValueError(f"--ood: unknown set(s) {bad}; choose from {', '.join(OOD_SETS)}")
    for name in ("m", "epochs", "batch_size", "train_samples", "test_samples", "n_ood"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    data_dir = None if args.dataset == "embedded" else args.data_dir
    train = load_dataset(args.dataset, "train", data_dir=data_dir)
    test = load_dataset(args.dataset, "test", data_dir=data_dir)
    train_x, train_y = train.images[:args.train_size], train.labels[:args.train_size]
    test_x, test_y = test.images[:args.test_size], test.labels[:args.test_size]
    g = torch.Generator().manual_seed(args.seed + 1)
    ood: dict[str, torch.Tensor] = {}
    for name in ood_names:
        if name == "kodak":
            ood["kodak_grey_crops"] = kodak_grey_crops(args.data_dir, args.n_ood, g)
        elif name == "shuffled":
            ood["pixel_shuffled_mnist"] = pixel_shuffled(test_x[:args.n_ood], g)
        else:
            ood["uniform_noise"] = uniform_noise(args.n_ood, test_x.shape[1:], g)

    result = run_vib_experiment(
        train_x, train_y, test_x, test_y, betas=betas, m=args.m, hidden=hidden,
        epochs=args.epochs, baseline=not args.no_baseline, ood=ood, runs_dir=args.runs_dir,
        batch_size=args.batch_size, lr=args.lr, n_train_samples=args.train_samples,
        n_test_samples=args.test_samples, seed=args.seed,
        max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
        dataset=args.dataset, log=log)
    out = Path(args.out)
    path = write_result(out / "vib.json", result)
    rows = result["metrics"]["models"]
    plots = [plot_reliability({r["label"]: r["calibration"] for r in rows},
                              out / "reliability.png")]
    if sum(r["stochastic"] for r in rows) > 1:
        plots.append(plot_vib(result, out / "vib_beta.png"))
    print(format_table(result))
    print(f"results: {path}\nplots: {', '.join(map(str, plots))}")
    return 0


def format_table(result: dict) -> str:
    """Markdown tables: error/rate/ECE per model, then AUROC per OOD set and score."""
    rows = result["metrics"]["models"]
    lines = ["| model | β | epochs | test error (12 samples) | 1 sample | R (nats) | ECE |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        rate = f"{r['rate_nats']:.2f}" if r["stochastic"] else "– (deterministic)"
        lines.append(f"| {r['label']} | {r['beta']:g} | {r['epochs']} | "
                     f"{100 * r['test_error']:.2f} % | {100 * r['test_error_1sample']:.2f} % | "
                     f"{rate} | {100 * r['ece']:.2f} % |")
    sets = list(result["metrics"]["ood_sets"])
    if sets:
        lines += ["", "| model | OOD set | AUROC rate R(x) | AUROC E H(y|z) | "
                  "AUROC pred. entropy | AUROC −max p |", "|---|---|---|---|---|---|"]
        for r in rows:
            for s in sets:
                a = r["auroc"][s]
                rate = f"{a['rate']:.3f}" if r["stochastic"] else "–"
                lines.append(f"| {r['label']} | {s} | {rate} | {a['entropy']:.3f} | "
                             f"{a['pred_entropy']:.3f} | {a['neg_max_prob']:.3f} |")
    return "\n".join(lines)
