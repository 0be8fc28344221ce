"""``njscc gilbo``: the generative information lower bound of a trained decoder.

Fits a fresh encoder e(z|x) to samples (z ∼ p(z), x = g(z)) of the checkpoint's decoder and
reports E[log e(z|x) − log p(z)] ≤ I(X; Z) in nats and bits (Alemi & Fischer 2018). VAE
checkpoints use their prior and a Gaussian encoder; NECST checkpoints use z uniform on m bits
and a Bernoulli encoder (the value is at most m·ln 2 nats).

Example::

    njscc gilbo --checkpoint runs/rd/beta_1 --steps 2000 --out results/rd/gilbo_beta_1.json
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "GILBO of a checkpoint's decoder (VAE or NECST): lower bound on I(X;Z), nats and bits"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True,
                   help="run directory, checkpoint directory or model.safetensors")
    p.add_argument("--x-mode", default="mean", choices=("mean", "sample"),
                   help="generator output: decoder mean, or x ~ p(x|z) (Bernoulli decoders)")
    p.add_argument("--steps", type=int, default=2000, help="encoder training steps")
    p.add_argument("--batch-size", type=int, default=256, help="fresh samples per step")
    p.add_argument("--lr", type=float, default=1e-3, help="encoder Adam learning rate")
    p.add_argument("--hidden", default="256,256", help="encoder hidden widths")
    p.add_argument("--n-eval", type=int, default=10000, help="fresh samples for the estimate")
    p.add_argument("--out", default=None, help="results JSON (default: print only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import torch

    from njscc.cli.commands._io import parse_ints
    from njscc.evaluation.gilbo import codec_gilbo
    from njscc.io.results import make_result, write_result
    from njscc.training.checkpoint import find_checkpoint, load_model
    from njscc.training.trainer import pick_device

    hidden = parse_ints(args.hidden, "--hidden", allow_empty=True)
    if args.steps < 0 or args.batch_size < 1 or args.n_eval < 2:
        raise ValueError("--steps must be >= 0, --batch-size >= 1 and --n-eval >= 2")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    path = find_checkpoint(args.checkpoint)
    model = load_model(path, map_location=device)
    torch.manual_seed(args.seed)
    g = torch.Generator(device=device).manual_seed(args.seed)
    res = codec_gilbo(model, x_mode=args.x_mode, hidden=hidden, steps=args.steps,
                      batch_size=args.batch_size, lr=args.lr, n_eval=args.n_eval, generator=g,
                      progress=sys.stderr.isatty())
    line = (f"GILBO {res['gilbo_nats']:.3f} ± {res['gilbo_nats_se']:.3f} nats "
            f"({res['gilbo_bits']:.3f} bits), {res['latent']} latent m={res['m']}")
    if "upper_bound_nats" in res:
        line += f", bound m·ln2 = {res['upper_bound_nats']:.3f} nats"
    print(line)
    if args.out:
        result = make_result("gilbo", res, m=res["m"], device=device,
                             config={"checkpoint": str(path), "model": dict(model.config),
                                     "args": {k: v for k, v in vars(args).items()
                                              if not k.startswith("_")}})
        print(f"results: {write_result(args.out, result)}")
    else:
        print(json.dumps(res, indent=2))
    return 0
