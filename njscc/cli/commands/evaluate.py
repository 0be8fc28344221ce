"""``njscc eval``: test-set evaluation of a trained model, chosen by what the model is.

* latents that cross a binary channel (NECST): distortion (SSE, PSNR, BCE) vs channel × noise,
  ``eval_<channel>.json`` + ``distortion.png`` + reconstruction grids;
* variational codecs with a real latent (VAE): rate, distortion, ELBO and IWAE,
  ``eval_rd.json``.

A multi-seed run (``njscc train --seeds ...``) is evaluated seed by seed (``--seeds`` picks
some), with per-seed files in ``<out>/seed_<s>/`` and the mean and σ over seeds in ``<out>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "evaluate a trained model: distortion vs channel noise (NECST) or R/D/ELBO/IWAE (VAE)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    opt.add_checkpoint(p)
    opt.add_data(p, help="test set (default: the one the run trained on); a name, idx:DIR or "
                 "images:DIR")
    opt.add_channel(p, multiple=True, default="bsc,bec", eps="0,0.05,0.1,0.15,0.2",
                    old_channels=True)
    p.add_argument("--draws", type=opt.int_range(1, 1000), default=1, action=opt.Tracked,
                   help="channel draws per test image")
    p.add_argument("--code", default="hard", choices=("hard", "sample"), action=opt.Tracked,
                   help="hard: most probable code (deployed encoder); sample: code drawn from "
                   "q(y|x) per draw (the official NECST test protocol; the default for runs "
                   "of --recipe official)")
    p.add_argument("--n-images", type=opt.int_range(1, 1024), default=8,
                   help="images in the reconstruction grid")
    p.add_argument("--iwae-k", type=opt.int_range(0, 100_000), default=100,
                   help="VAE checkpoints: IWAE samples K (0: skip)")
    p.add_argument("--iwae-images", type=opt.positive_int, default=None,
                   help="VAE checkpoints: IWAE on N test images, a seeded random subset "
                   "(default: all)")
    opt.add_run(p, out=None, out_help="output folder (default <checkpoint run>/eval)",
                seed_help="seed of the channel noise (and the IWAE samples)")


def _default_out(checkpoint: str, ck_path: Path) -> Path:
    root = Path(checkpoint)
    return (root if (root / "checkpoints").is_dir() else ck_path.parent) / "eval"


def _dataset(args: argparse.Namespace, run_info: dict[str, Any], ck_path: Path) -> str:
    trained = run_info.get("dataset")
    if args.dataset is None:
        if trained is None:
            raise ValueError(f"--dataset is required: {ck_path} does not say which data it was "
                             "trained on")
        return trained
    return args.dataset


def evaluate_one(args: argparse.Namespace, checkpoint: str, out: Path, seed: int
                 ) -> dict[str, dict[str, Any]]:
    """Evaluate one checkpoint into ``out``; returns ``{stem: result}`` (also written)."""
    from njscc.data import load_dataset
    from njscc.evaluation.distortion import (
        channel_for,
        evaluate_sweep,
        plot_results,
        save_reconstruction_grid,
        sweep_results,
    )
    from njscc.evaluation.rate_distortion import vae_point
    from njscc.io.results import make_result, write_result
    from njscc.training import find_checkpoint, load_checkpoint, load_model

    ck_path = find_checkpoint(checkpoint)
    run_info = load_checkpoint(ck_path).extra.get("run", {}) if ck_path.is_dir() else {}
    model = load_model(ck_path, map_location=args.device)
    name = model.config["name"]
    dataset = _dataset(args, run_info, ck_path)
    test = load_dataset(dataset, "test", data_dir=args.data_dir)
    if tuple(test.images.shape[1:]) != tuple(model.data_shape):
        raise ValueError(f"--dataset {dataset}: images are {tuple(test.images.shape[1:])}, "
                         f"the model expects {tuple(model.data_shape)}")
    trained = run_info.get("dataset")
    if trained is not None and dataset != trained:
        import sys

        print(f"njscc eval: warning: evaluating on {dataset!r}, the model was trained on "
              f"{trained!r}", file=sys.stderr)
    x = test.images.to(args.device)
    # the test protocol: --code if given, else the run's recipe's (official: sampled codes)
    code = args.code if opt.explicit(args, "code") else \
        (run_info.get("recipe") or {}).get("eval_code", "hard")
    cfg = {"checkpoint": str(ck_path), "seed": seed, "split": "test", "run": run_info}

    if model.latent.crosses_channel and model.reconstructs:
        sweep = evaluate_sweep(model, x, args.channel, args.eps, n_draws=args.draws, seed=seed,
                               code=code)
        results = sweep_results(sweep, model=model, dataset=dataset, device=args.device,
                                config={**cfg, "code": code})
        results = {f"eval_{c}": r for c, r in results.items()}
        for stem, r in results.items():
            write_result(out / f"{stem}.json", r)
        plot_results(list(results.values()), out / "distortion.png")
        for c in args.channel:
            rows = [(f"{c.upper()} {e:g}", channel_for(model, c, e)) for e in args.eps]
            save_reconstruction_grid(model, test.images[:args.n_images], rows,
                                     out / f"reconstructions_{c}.png", seed=seed)
        return results
    if model.variational and model.reconstructs:
        given = [f for f, d in (("--channel", "channel"), ("--eps", "eps"), ("--draws", "draws"),
                                ("--code", "code")) if opt.explicit(args, d)]
        if given:
            raise ValueError(f"{', '.join(given)}: {name} has a {model.latent} latent, which is "
                             "not sent over a channel")
        pt = vae_point(model, x, iwae_k=args.iwae_k, iwae_images=args.iwae_images, seed=seed)
        result = make_result("eval_rd", pt, dataset=dataset, m=model.m, device=args.device,
                             config={**cfg, "model": dict(model.config)})
        write_result(out / "eval_rd.json", result)
        return {"eval_rd": result}
    if model.classifies:
        raise ValueError(f"{checkpoint}: {name} is a classifier; evaluate it with `njscc vib`")
    raise ValueError(f"{checkpoint}: njscc eval has no evaluation for {name} ({model.latent}, "
                     f"reconstructs={model.reconstructs})")


def _print(results: dict[str, dict[str, Any]]) -> None:
    from njscc.experiments.base import fmt_pm

    if "eval_rd" in results:
        r = results["eval_rd"]
        pt, sd = r["metrics"], r.get("metrics_std") or {}
        unit = pt.get("distortion_units", "nats")
        for name in ("rate", "distortion", "nll_elbo"):
            spread = sd.get(f"{name}_nats")
            spread = spread if spread is not None else pt[f"{name}_nats_se"]
            bits = f" ({pt[f'{name}_bits']:.3f} bits)" if unit == "nats" or name == "rate" else ""
            shown = "nats" if unit == "nats" or name == "rate" else "(SSE units)"
            print(f"{name:>10}: {fmt_pm(pt[f'{name}_nats'], spread, '{:.3f}')} {shown}{bits}")
        if "iwae_nats" in pt:
            print(f"{'nll_iwae':>10}: {pt['nll_iwae_nats']:9.3f} ± {pt['iwae_nats_se']:.3f} nats "
                  f"({pt['nll_iwae_bits']:.3f} bits), K={pt['iwae_k']}, "
                  f"{pt['n_iwae_images']} images")
        return
    from njscc.evaluation.distortion import format_sweep

    print(format_sweep(results))


def run(args: argparse.Namespace) -> int:
    import channels
    from njscc.cli.commands._io import check_writable
    from njscc.experiments.base import aggregate_seeds
    from njscc.io.results import write_result
    from njscc.training import find_checkpoint, seed_runs

    for c in args.channel:  # names and values are checked before any loading
        for e in args.eps:  # (analog channels for DeepJSCC codecs: the value is the SNR in dB)
            (channels.get_analog if c in channels.available_analog() else channels.get)(c, e)
    runs = seed_runs(args.checkpoint)
    if not runs:
        if args.seeds:
            raise ValueError(f"--seeds: {args.checkpoint} is not a multi-seed run "
                             "(njscc train --seeds ... makes one)")
        ck_path = find_checkpoint(args.checkpoint)
        out = check_writable(Path(args.out) if args.out else
                             _default_out(args.checkpoint, ck_path), folder=True)
        results = evaluate_one(args, args.checkpoint, out, args.seed)
        _print(results)
        print(f"results: {', '.join(str(out / f'{s}.json') for s in results)}")
        return 0
    seeds = list(args.seeds) if args.seeds else list(runs)
    missing = [s for s in seeds if s not in runs]
    if missing:
        raise ValueError(f"--seeds: {args.checkpoint} has no run for seed(s) {missing} "
                         f"(it has {list(runs)})")
    out = check_writable(Path(args.out) if args.out else Path(args.checkpoint) / "eval",
                         folder=True)
    per_seed = [evaluate_one(args, str(runs[s]), out / f"seed_{s}", args.seed) for s in seeds]
    results = {stem: aggregate_seeds([r[stem] for r in per_seed], seeds) for stem in per_seed[0]}
    for stem, r in results.items():
        write_result(out / f"{stem}.json", r)
    if "eval_rd" not in results:
        from njscc.evaluation.distortion import plot_results

        plot_results(list(results.values()), out / "distortion.png")
    _print(results)
    print(f"{len(seeds)} seeds (mean ± σ over seeds); results: "
          f"{', '.join(str(out / f'{s}.json') for s in results)}")
    return 0
