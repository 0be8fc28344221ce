"""``njscc demo``: train a small NECST on the bundled MNIST subset and show what it does.

Nothing is downloaded: the embedded subset (12 000 train / 2 300 test MNIST digits) ships with the
package. Trains ``necst_mlp`` (m = 100 bits) with VIMCO over a BSC with ε = 0.1 for about a
minute, then sends the test digits' most probable codes through BSC and BEC at several noise
levels and decodes them.
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "train a small NECST on bundled MNIST digits (~1 min, CPU), evaluate over BSC/BEC"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder")
    p.add_argument("--epochs", type=int, default=15, help="training epochs (120 steps each)")
    p.add_argument("--max-seconds", type=float, default=55.0,
                   help="training time budget (stops after the step that passes it)")
    p.add_argument("--m", type=int, default=100, help="code length in bits")
    p.add_argument("--train-eps", type=float, default=0.1, help="BSC flip probability in training")
    p.add_argument("--eps", default="0,0.05,0.1,0.2", help="test channel parameters")
    p.add_argument("--channels", default="bsc,bec", help="test channels")
    p.add_argument("--seed", type=int, default=0, help="seed for everything")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import time
    from pathlib import Path

    import torch

    from njscc import models, objectives
    from njscc.cli.commands.evaluate import format_table, parse_floats, parse_names
    from njscc.data import load_dataset
    from njscc.evaluation.distortion import (
        evaluate_sweep,
        make_channel,
        plot_results,
        save_reconstruction_grid,
        sweep_results,
        write_sweep,
    )
    from njscc.io.results import atomic_write_text
    from njscc.training.checkpoint import save_checkpoint
    from njscc.training.trainer import TrainConfig, Trainer, format_row, pick_device

    t_start = time.perf_counter()
    eps = parse_floats(args.eps, "--eps")
    chans = parse_names(args.channels, "--channels")
    for c in chans:
        for e in eps:
            make_channel(c, e)
    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    out = Path(args.out)

    train = load_dataset("embedded", "train")
    test = load_dataset("embedded", "test")
    torch.manual_seed(args.seed)
    model = models.get("necst_mlp", m=args.m, likelihood="sse")
    objective = objectives.get("vimco", n_samples=5)
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, test_every=0,
                      max_seconds=args.max_seconds)
    print(f"njscc demo: training necst_mlp (m={args.m}) with VIMCO (K=5) over BSC "
          f"ε={args.train_eps:g} on {train.images.shape[0]} bundled MNIST digits "
          f"(≤{args.epochs} epochs / ~{args.max_seconds:g} s, {device}) ...", flush=True)
    trainer = Trainer(model, objective, make_channel("bsc", args.train_eps), train.images, cfg,
                      device=device, quiet=args.quiet,
                      on_epoch=None if args.quiet else
                      (lambda r: print(format_row(r, cfg.epochs), file=sys.stderr, flush=True)))
    t_fit = time.perf_counter()
    history = trainer.fit()
    t_train = time.perf_counter() - t_fit
    if trainer.stopped_by_signal is not None:
        print("njscc demo: interrupted", file=sys.stderr)
        return 128 + int(trainer.stopped_by_signal)

    ckpts = out / "checkpoints"
    save_checkpoint(ckpts / "last", model, previous=ckpts / "prev", extra={
        "run": {"preset": "embedded", "dataset": "embedded",
                "channel": {"name": "bsc", "train_param": args.train_eps},
                "objective": {"name": "vimco", "kwargs": {"n_samples": 5}}},
        "history": history, "global_step": trainer.global_step})
    rows = history + [r for r in [trainer.partial_epoch()] if r is not None]
    atomic_write_text(out / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    steps = trainer.global_step
    sweep = evaluate_sweep(model, test.images.to(device), chans, eps, seed=args.seed)
    results = sweep_results(sweep, model=model, dataset="embedded", task="demo", device=device,
                            config={"train": {"channel": "bsc", "param": args.train_eps,
                                              "steps": steps,
                                              "epochs": round(steps / trainer.steps_per_epoch, 2),
                                              "seconds": t_train,
                                              "objective": "vimco", "K": 5},
                                    "seed": args.seed, "split": "test",
                                    "code": "hard"})
    paths = write_sweep(results, out, prefix="demo")
    plot = plot_results(paths, out / "distortion.png")
    # first channel at every ε, the others without their ε = 0 row (identical: no noise)
    rows = [(f"{c.upper()} {e:g}", make_channel(c, e))
            for i, c in enumerate(chans) for e in eps if i == 0 or e > 0]
    grid = save_reconstruction_grid(model, _one_per_class(test), rows,
                                    out / "reconstructions.png", seed=args.seed)

    print(f"\ntest distortion on {test.images.shape[0]} held-out digits (per-image SSE ± s.e., "
          f"PSNR dB), after {steps} steps ({steps / trainer.steps_per_epoch:.1f} epochs, "
          f"{t_train:.0f} s) of training:")
    print(format_table(sweep))
    print(f"\nwrote {out}/: results {', '.join(p.name for p in paths)}, plot {plot.name}, "
          f"originals vs reconstructions {grid.name}, model checkpoint checkpoints/last "
          f"(total {time.perf_counter() - t_start:.0f} s)")
    print(f"try: njscc eval --checkpoint {out}    njscc encode IMAGE.png -o x.njs --model {out}")
    return 0


def _one_per_class(ds, n: int = 10):  # noqa: ANN001, ANN202
    """The first test image of each label 0..n-1 (or the first n images if unlabelled)."""
    import torch

    labels = getattr(ds, "labels", None)
    if labels is None:
        return ds.images[:n]
    idx = [int(torch.nonzero(labels == c)[0]) for c in range(n) if bool((labels == c).any())]
    return ds.images[idx]
