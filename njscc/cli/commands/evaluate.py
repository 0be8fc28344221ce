"""``njscc eval``: test-set distortion of a trained codec over channels × noise levels."""

from __future__ import annotations

import argparse

from njscc.cli.commands._io import parse_floats  # re-exported: demo and compare import it from here

__all__ = ["HELP", "add_arguments", "parse_floats", "parse_names", "run"]

HELP = "evaluate a checkpoint: test distortion (SSE, PSNR, BCE) vs channel noise, plots"


def parse_names(text: str, what: str) -> list[str]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError(f"{what}: no names in {text!r}")
    return names


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True,
                   help="run directory, checkpoint directory or model.safetensors")
    p.add_argument("--data-dir", default=None, help="folder with mnist/, binarized_mnist/")
    p.add_argument("--dataset", default=None,
                   help="test set (default: the one the run trained on; mnist, binarized_mnist, "
                   "embedded)")
    p.add_argument("--channels", default="bsc,bec", help="comma-separated channel names")
    p.add_argument("--eps", default="0,0.05,0.1,0.15,0.2",
                   help="comma-separated channel parameters")
    p.add_argument("--draws", type=int, default=1, help="channel draws per test image")
    p.add_argument("--code", default="hard", choices=("hard", "sample"),
                   help="hard: most probable code (deployed encoder); sample: code drawn from "
                   "q(y|x) per draw (the official NECST test protocol)")
    p.add_argument("--out", default=None, help="output folder (default <checkpoint run>/eval)")
    p.add_argument("--seed", type=int, default=0, help="seed of the channel noise")
    p.add_argument("--n-images", type=int, default=8, help="images in the reconstruction grid")
    p.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    from njscc.cli.commands._rd_eval import add_rd_arguments

    add_rd_arguments(p)  # --iwae-k, --iwae-images for VAE checkpoints


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from njscc.data import load_dataset
    from njscc.evaluation.distortion import (
        evaluate_sweep,
        make_channel,
        plot_results,
        save_reconstruction_grid,
        sweep_results,
        write_sweep,
    )
    from njscc.experiments.rd_sweep import is_continuous_checkpoint
    from njscc.training.checkpoint import find_checkpoint, load_checkpoint, load_model
    from njscc.training.trainer import pick_device

    if is_continuous_checkpoint(args.checkpoint):  # VAE: rate, distortion, ELBO, IWAE
        from njscc.cli.commands._rd_eval import run_continuous

        return run_continuous(args)
    chans = parse_names(args.channels, "--channels")
    eps = parse_floats(args.eps, "--eps")
    if args.draws < 1:
        raise ValueError(f"--draws must be >= 1, got {args.draws}")
    if args.n_images < 1:
        raise ValueError(f"--n-images must be >= 1, got {args.n_images}")
    for c in chans:  # validate names and values before the slow part
        for e in eps:
            make_channel(c, e)
    device = pick_device(args.device)

    ck_path = find_checkpoint(args.checkpoint)
    run_info = load_checkpoint(ck_path).extra.get("run", {}) if ck_path.is_dir() else {}
    dataset = args.dataset or run_info.get("dataset")
    if dataset is None:
        raise ValueError(f"--dataset is required: {ck_path} does not say which data it was "
                         "trained on")
    model = load_model(ck_path, map_location=device)
    test = load_dataset(dataset, "test", data_dir=args.data_dir)
    if tuple(test.images.shape[1:]) != tuple(model.data_shape):
        raise ValueError(f"--dataset {dataset}: images are {tuple(test.images.shape[1:])}, "
                         f"the model expects {tuple(model.data_shape)}")
    if args.out is not None:
        out = Path(args.out)
    else:
        root = Path(args.checkpoint)
        out = (root if (root / "checkpoints").is_dir() else ck_path.parent) / "eval"

    sweep = evaluate_sweep(model, test.images.to(device), chans, eps, n_draws=args.draws,
                           seed=args.seed, code=args.code)
    results = sweep_results(sweep, model=model, dataset=dataset, device=device,
                            config={"checkpoint": str(ck_path), "seed": args.seed,
                                    "split": "test", "code": args.code,
                                    "run": run_info})
    paths = write_sweep(results, out)
    plot = plot_results(paths, out / "distortion.png")
    grids = []
    for c in chans:
        rows = [(f"{c.upper()} {e:g}", make_channel(c, e)) for e in eps]
        grids.append(save_reconstruction_grid(model, test.images[:args.n_images], rows,
                                              out / f"reconstructions_{c}.png", seed=args.seed))

    print(format_table(sweep))
    print(f"results: {', '.join(map(str, paths))}")
    print(f"plots: {plot}, {', '.join(map(str, grids))}")
    return 0


def format_table(sweep: dict) -> str:
    """Plain-text table: one row per channel parameter, SSE ± s.e. (and PSNR) per channel."""
    chans = list(sweep)
    head = f"{'eps':>6}" + "".join(f"  {c.upper() + ' SSE':>16}  {'PSNR':>6}" for c in chans)
    lines = [head]
    for i, row in enumerate(sweep[chans[0]]):
        line = f"{row['param']:>6g}"
        for c in chans:
            r = sweep[c][i]
            line += f"  {r['sse']:>9.2f} ± {r['sse_se']:<4.2f}  {r['psnr']:>6.2f}"
        lines.append(line)
    return "\n".join(lines)
