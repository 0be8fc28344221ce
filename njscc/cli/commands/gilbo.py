"""``njscc gilbo``: the generative information lower bound of a trained decoder.

Fits a fresh encoder e(z|x) to samples (z ∼ p(z), x = g(z)) of the checkpoint's decoder and
reports E[log e(z|x) − log p(z)] ≤ I(X; Z) in nats and bits (Alemi & Fischer 2018). VAE
checkpoints use their prior and a Gaussian encoder; NECST checkpoints use z uniform on m bits
and a Bernoulli encoder (the value is at most m·ln 2 nats). Writes ``<out>/gilbo.json``.

Example::

    njscc gilbo --checkpoint runs/rd/beta_1 --steps 2000 --out results/rd/gilbo_beta_1
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "GILBO of a checkpoint's decoder (VAE or NECST): lower bound on I(X;Z), nats and bits"


def add_arguments(p: argparse.ArgumentParser) -> None:
    opt.add_checkpoint(p)
    p.add_argument("--x-mode", default="mean", choices=("mean", "sample"),
                   help="generator output: decoder mean, or x ~ p(x|z) (Bernoulli decoders)")
    p.add_argument("--steps", type=opt.int_range(0, 10_000_000), default=2000,
                   help="encoder training steps")
    p.add_argument("--batch-size", type=opt.BATCH, default=256,
                   help="fresh samples per step")
    p.add_argument("--lr", type=opt.positive_float, default=1e-3, help="encoder Adam learning rate")
    p.add_argument("--hidden", type=opt.width_list, default=[256, 256],
                   help="encoder hidden widths")
    p.add_argument("--n-eval", type=opt.int_range(2, 10_000_000), default=10000,
                   help="fresh samples for the estimate")
    opt.add_run(p, out=None, out_help="results folder for gilbo.json (default: print only)",
                seeds=False)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    import torch

    from njscc.evaluation.gilbo import codec_gilbo
    from njscc.io.results import make_result, write_result
    from njscc.training import find_checkpoint, load_model

    target = None
    if args.out:
        out = Path(args.out)
        if out.suffix.lower() == ".json":  # the old meaning of --out: a file
            print(f"njscc gilbo: warning: --out {out} names a file; --out is now a folder "
                  f"(writing {out} this time)", file=sys.stderr)
            target = out
        else:
            target = out / "gilbo.json"
    if target is not None:
        from njscc.cli.commands._io import check_writable

        check_writable(target, folder=False)
    path = find_checkpoint(args.checkpoint)
    model = load_model(path, map_location=args.device)
    torch.manual_seed(args.seed)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    res = codec_gilbo(model, x_mode=args.x_mode, hidden=args.hidden, steps=args.steps,
                      batch_size=args.batch_size, lr=args.lr, n_eval=args.n_eval, generator=g,
                      progress=sys.stderr.isatty() and not args.quiet)
    line = (f"GILBO {res['gilbo_nats']:.3f} ± {res['gilbo_nats_se']:.3f} nats "
            f"({res['gilbo_bits']:.3f} bits), {res['latent']} latent m={res['m']}")
    if "upper_bound_nats" in res:
        line += f", bound m·ln2 = {res['upper_bound_nats']:.3f} nats"
    print(line)
    if target is not None:
        result = make_result("gilbo", res, m=res["m"], device=args.device,
                             config={"checkpoint": str(path), "model": dict(model.config),
                                     "args": {k: v for k, v in vars(args).items()
                                              if not k.startswith("_")}})
        print(f"results: {write_result(target, result)}")
    else:
        print(json.dumps(res, indent=2))
    return 0
