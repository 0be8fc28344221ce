"""``njscc rd-sweep``: the broken-ELBO experiment (Alemi et al. 2018) on binarized MNIST.

Trains one β-VAE per β with the shared Trainer (runs under ``--runs-dir``, resumable), then
measures each model's test rate R, distortion D, ELBO, IWAE bound and GILBO; places NECST
checkpoints (``--necst RUN``, trained with ``njscc train --preset binarized_mnist``) on the
same plane; writes ``<out>/rd_sweep.json`` (njscc.result/1), ``rd_plane.png`` and
``rd_table.md``.

Example::

    njscc rd-sweep --data-dir DATA --betas 0.1,0.25,0.5,1,2,4,10 --epochs 5 \\
        --necst runs/necst_bin_bsc0.1 --out results/rd
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "β-VAE sweep on binarized MNIST: R–D plane, IWAE, GILBO, NECST placed on it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="folder with binarized_mnist/")
    p.add_argument("--betas", default="0.1,0.25,0.5,1,2,4,10", help="comma-separated β values")
    p.add_argument("--m", type=int, default=32, help="latent dimensions")
    p.add_argument("--hidden", default="256,256", help="hidden widths of encoder and decoder")
    p.add_argument("--prior", default="normal", help="normal, mog or vamp")
    p.add_argument("--epochs", type=int, default=5, help="epochs per model")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--train-size", type=int, default=None, help="first N training images")
    p.add_argument("--iwae-k", type=int, default=100, help="IWAE samples K (0: skip)")
    p.add_argument("--iwae-images", type=int, default=2000,
                   help="test images (seeded random subset) for the IWAE bound; R and D use "
                   "the whole test set")
    p.add_argument("--gilbo-steps", type=int, default=1000,
                   help="training steps of the GILBO encoder per model (0: skip)")
    p.add_argument("--gilbo-x-mode", default="mean", choices=("mean", "sample"),
                   help="generator output for the GILBO: decoder mean or a Bernoulli sample")
    p.add_argument("--necst", action="append", default=[], metavar="RUN",
                   help="NECST run/checkpoint to place on the plane (repeatable)")
    p.add_argument("--necst-samples", type=int, default=10,
                   help="channel-marginal samples per image for NECST's distortion")
    p.add_argument("--runs-dir", default="runs/rd", help="where the β-VAE runs are kept")
    p.add_argument("--out", default="results/rd", help="results folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    import torch

    from njscc.cli.commands._io import parse_floats, parse_ints
    from njscc.data import load_dataset
    from njscc.evaluation.distortion import make_channel
    from njscc.evaluation.gilbo import codec_gilbo
    from njscc.experiments.rd_sweep import (
        history_summary,
        markdown_table,
        necst_point,
        plot_rd_plane,
        train_codec,
        vae_point,
    )
    from njscc.io.results import atomic_write_text, make_result, write_result
    from njscc.training.checkpoint import find_checkpoint, load_checkpoint, load_model

    betas = parse_floats(args.betas, "--betas")
    if any(b < 0 for b in betas):
        raise ValueError(f"--betas must be >= 0, got {betas}")
    hidden = parse_ints(args.hidden, "--hidden", allow_empty=True)
    for name in ("m", "epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    necst_paths = [find_checkpoint(p) for p in args.necst]  # fail early on a bad path
    t_all = time.perf_counter()

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    train_x = load_dataset("binarized_mnist", "train", data_dir=args.data_dir).images
    test_x = load_dataset("binarized_mnist", "test", data_dir=args.data_dir).images
    train_x = train_x[:args.train_size]
    model_kwargs = {"m": args.m, "enc_hidden": hidden, "dec_hidden": hidden,
                    "likelihood": "bernoulli", "prior": args.prior}
    points = []
    for beta in betas:
        run_dir = Path(args.runs_dir) / f"beta_{beta:g}"
        log(f"β = {beta:g}: training {args.epochs} epochs -> {run_dir}")
        res = train_codec("vae_mlp", model_kwargs, "beta_vae", {"beta": beta}, train_x, run_dir,
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          seed=args.seed, run_info={"dataset": "binarized_mnist",
                                                    "experiment": "rd-sweep"},
                          quiet=args.quiet, log=None if args.quiet else log)
        model = res["model"]
        t0 = time.perf_counter()
        pt = {"beta": beta, "prior": args.prior, "run": str(run_dir),
              **history_summary(res["history"]),
              **vae_point(model, test_x, iwae_k=args.iwae_k, iwae_images=args.iwae_images,
                          seed=args.seed)}
        if args.gilbo_steps:
            g = torch.Generator().manual_seed(args.seed)
            torch.manual_seed(args.seed)
            gb = codec_gilbo(model, x_mode=args.gilbo_x_mode, steps=args.gilbo_steps,
                             generator=g)
            pt.update(gilbo_nats=gb["gilbo_nats"], gilbo_nats_se=gb["gilbo_nats_se"],
                      gilbo_bits=gb["gilbo_bits"], gilbo_x_mode=args.gilbo_x_mode,
                      gilbo_steps=args.gilbo_steps)
        pt["eval_seconds"] = time.perf_counter() - t0
        log(f"  R {pt['rate_nats']:.2f}  D {pt['distortion_nats']:.2f}  "
            f"-ELBO {pt['nll_elbo_nats']:.2f}  -IWAE {pt.get('nll_iwae_nats', float('nan')):.2f}"
            f"  GILBO {pt.get('gilbo_nats', float('nan')):.2f} nats")
        points.append(pt)

    necst = []
    for path in necst_paths:
        ck = load_checkpoint(path)
        run_info = ck.extra.get("run", {})
        ch = run_info.get("channel", {})
        name, param = ch.get("name", "bsc"), float(ch.get("train_param", 0.0))
        model = load_model(path)
        if model.likelihood != "bernoulli":
            raise ValueError(f"--necst {path}: needs a Bernoulli-likelihood NECST "
                             f"(njscc train --preset binarized_mnist), got {model.likelihood!r}")
        log(f"NECST {path}: {name} {param:g}")
        pt = {"run": str(path), "channel": name, "param": param,
              **history_summary(ck.extra.get("history", [])),
              **necst_point(model, test_x, make_channel(name, param),
                            n_samples=args.necst_samples, seed=args.seed)}
        if args.gilbo_steps:
            g = torch.Generator().manual_seed(args.seed)
            torch.manual_seed(args.seed)
            gb = codec_gilbo(model, x_mode=args.gilbo_x_mode, steps=args.gilbo_steps,
                             generator=g)
            pt.update(gilbo_nats=gb["gilbo_nats"], gilbo_nats_se=gb["gilbo_nats_se"],
                      gilbo_bits=gb["gilbo_bits"])
        necst.append(pt)

    iw = [p["nll_iwae_nats"] for p in points if "nll_iwae_nats" in p]
    metrics = {"vae": points, "necst": necst,
               "entropy_proxy_nats": min(iw) if iw else None,
               "entropy_proxy": "min over the β-VAEs of the IWAE estimate of −log p(x) on the "
                                "--iwae-images random test images (an upper bound on H)",
               "wall_seconds": time.perf_counter() - t_all}
    result = make_result("rd_sweep", metrics, dataset="binarized_mnist", m=args.m,
                         config={"args": {k: v for k, v in vars(args).items()
                                          if not k.startswith("_")},
                                 "model": {"name": "vae_mlp", "kwargs": model_kwargs},
                                 "objective": "beta_vae", "threads": torch.get_num_threads()})
    out = Path(args.out)
    path = write_result(out / "rd_sweep.json", result)
    png = plot_rd_plane(result, out / "rd_plane.png")
    table = markdown_table(result)
    atomic_write_text(out / "rd_table.md", table + "\n")
    print(table)
    print(f"results: {path}\nplot: {png}")
    return 0
