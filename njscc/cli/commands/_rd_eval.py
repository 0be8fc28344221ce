"""``njscc eval`` on continuous-latent checkpoints (vae_mlp): rate, distortion, ELBO, IWAE.

Called by :mod:`njscc.cli.commands.evaluate` when the checkpoint holds a continuous-latent codec
(these are not sent over binary channels, so the channel sweep does not apply). Writes
``<out>/eval_rd.json`` (njscc.result/1) and prints one line per quantity, nats and bits.
"""

from __future__ import annotations

import argparse

__all__ = ["add_rd_arguments", "run_continuous"]


def add_rd_arguments(p: argparse.ArgumentParser) -> None:
    """Extra ``njscc eval`` options for VAE checkpoints."""
    p.add_argument("--iwae-k", type=int, default=100,
                   help="VAE checkpoints: IWAE samples K (0: skip)")
    p.add_argument("--iwae-images", type=int, default=None,
                   help="VAE checkpoints: IWAE on N test images, a seeded random subset "
                   "(default: all)")


def run_continuous(args: argparse.Namespace) -> int:
    from pathlib import Path

    from njscc.data import load_dataset
    from njscc.experiments.rd_sweep import vae_point
    from njscc.io.results import make_result, write_result
    from njscc.training.checkpoint import find_checkpoint, load_checkpoint, load_model
    from njscc.training.trainer import pick_device

    device = pick_device(getattr(args, "device", None))
    path = find_checkpoint(args.checkpoint)
    run_info = load_checkpoint(path).extra.get("run", {}) if path.is_dir() else {}
    dataset = args.dataset or run_info.get("dataset")
    if dataset is None:
        raise ValueError(f"--dataset is required: {path} does not say which data it was "
                         "trained on")
    model = load_model(path, map_location=device)
    if not model.has_reconstruction:
        raise ValueError(f"{path}: {model.config['name']} is a classifier; evaluate it with "
                         "`njscc vib`")
    k = getattr(args, "iwae_k", 100)
    if k < 0:
        raise ValueError(f"--iwae-k must be >= 0, got {k}")
    test = load_dataset(dataset, "test", data_dir=args.data_dir).images
    if tuple(test.shape[1:]) != tuple(model.data_shape):
        raise ValueError(f"--dataset {dataset}: images are {tuple(test.shape[1:])}, the model "
                         f"expects {tuple(model.data_shape)}")
    pt = vae_point(model, test.to(device), iwae_k=k, iwae_images=getattr(args, "iwae_images",
                                                                          None), seed=args.seed)
    root = Path(args.checkpoint)
    out = Path(args.out) if args.out else (
        (root if (root / "checkpoints").is_dir() else path.parent) / "eval")
    result = make_result("eval_rd", pt, dataset=dataset, m=model.m, device=device,
                         config={"checkpoint": str(path), "model": dict(model.config),
                                 "run": run_info, "split": "test", "seed": args.seed})
    p = write_result(out / "eval_rd.json", result)
    for name in ("rate", "distortion", "nll_elbo"):
        print(f"{name:>10}: {pt[f'{name}_nats']:9.3f} ± {pt[f'{name}_nats_se']:.3f} nats "
              f"({pt[f'{name}_bits']:.3f} bits)")
    if "iwae_nats" in pt:
        print(f"{'nll_iwae':>10}: {pt['nll_iwae_nats']:9.3f} ± {pt['iwae_nats_se']:.3f} nats "
              f"({pt['nll_iwae_bits']:.3f} bits), K={pt['iwae_k']}, "
              f"{pt['n_iwae_images']} images")
    print(f"results: {p}")
    return 0
