"""``njscc compare``: NECST head-to-head against separation (JPEG/WebP + LDPC / ideal code).

Examples::

    njscc compare --dataset mnist --data-dir DATA                     # runs/compare/mnist_m*
    njscc compare --dataset mnist --data-dir DATA --checkpoint runs/x --checkpoint runs/y
    njscc compare --dataset kodak --data-dir DATA --m 200 --train-missing --epochs 2
    njscc compare --plots-only --out results/compare                  # redraw from the JSON
"""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = ("NECST vs separation (JPEG/WebP + 5G LDPC or an ideal code): fixed-budget distortion, "
        "bits needed, the cliff; JSON + PNG + summary table")

#: per-dataset defaults: NECST architecture, main code length, sweep, test images
DATASET_DEFAULTS = {
    "mnist": {"model": "necst_mlp", "m": 100, "m_sweep": "50,200,400", "n_images": 1000},
    "kodak": {"model": "necst_conv", "m": 200, "m_sweep": "", "n_images": 500},
}
EXPERIMENTS = ("budget", "bits", "cliff")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist", help="mnist or kodak (32x32 RGB patches)")
    p.add_argument("--data-dir", default=None, help="folder with mnist/, kodak/ (or "
                   "$NJSCC_DATA_DIR)")
    p.add_argument("--channels", default="bsc,bec", help="comma-separated: bsc, bec")
    p.add_argument("--eps", default="0,0.05,0.1,0.15,0.2", help="channel parameters ε")
    p.add_argument("--n-images", type=int, default=None,
                   help="test images (default: 1000 for mnist, 500 kodak patches)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="PATH",
                   help="NECST run/checkpoint (repeatable); its run info names the training "
                   "channel. Default: the runs named {dataset}_m{m}_{channel}_{train-eps} in "
                   "--runs")
    p.add_argument("--runs", default="runs/compare", help="folder of the NECST runs")
    p.add_argument("--m", type=int, default=None, help="code length of the reference NECST "
                   "(default: 100 mnist, 200 kodak)")
    p.add_argument("--m-sweep", default=None, help="further NECST code lengths for the "
                   "distortion-vs-bits curve (default mnist: 50,200,400; missing ones are "
                   "skipped unless --train-missing)")
    p.add_argument("--train-eps", type=float, default=0.1, help="NECST training ε")
    p.add_argument("--train-missing", action="store_true",
                   help="train NECST models that are not in --runs (otherwise an error)")
    p.add_argument("--epochs", type=int, default=3, help="epochs for --train-missing")
    p.add_argument("--train-size", type=int, default=None,
                   help="--train-missing: only the first N training images (quick runs)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=JSON",
                   help="model keyword for --train-missing, e.g. base_channels=16")
    p.add_argument("--budgets", default=None,
                   help="fixed channel budgets (bits/image); default: --m and the largest NECST m "
                   "trained on the channel")
    p.add_argument("--experiments", default="budget,bits,cliff", help="which to run")
    p.add_argument("--decoder", default="cpp", choices=("cpp", "sionna"),
                   help="LDPC BP decoder: the ldpc package's C++ sum-product (fast) or Sionna's")
    p.add_argument("--ldpc-k", type=int, default=400, help="LDPC information block length")
    p.add_argument("--rd-eps", type=float, default=0.1, help="ε of the distortion-vs-bits plot")
    p.add_argument("--cliff-design-eps", default="0.05", help="ε the cliff schemes are built for")
    p.add_argument("--cliff-eps", default="0,0.02,0.05,0.08,0.1,0.15,0.2", help="cliff test ε")
    p.add_argument("--cliff-quality", type=int, default=None,
                   help="JPEG quality of the cliff scheme (default: from the bits search)")
    p.add_argument("--check-eps", default="0.05,0.1",
                   help="cliff points re-decoded with Sionna to check the C++ decoder ('' none)")
    p.add_argument("--out", default="results/compare", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of every channel draw")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--plots-only", action="store_true",
                   help="only redraw the PNGs and summary.md from the JSON files in --out")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _ints(text: str | None, what: str) -> list[int]:
    from njscc.cli.commands.evaluate import parse_floats

    if not text:
        return []
    vals = parse_floats(text, what)
    if any(v != int(v) or v < 1 for v in vals):
        raise ValueError(f"{what}: expected positive integers, got {text!r}")
    return [int(v) for v in vals]


def _finish(out: object, quiet: bool) -> list:
    """Redraw every plot and summary.md from the JSON files in ``out``."""
    from pathlib import Path

    from njscc.experiments.compare.plots import plot_all, summary_markdown
    from njscc.io.results import atomic_write_text

    out = Path(str(out))
    paths = sorted(p for p in out.glob("*.json") if p.stem.rsplit("_", 1)[-1] in EXPERIMENTS)
    if not paths:
        raise FileNotFoundError(f"--out {out}: no compare results (*_budget/bits/cliff.json)")
    pngs = plot_all(paths)
    order = {"bits": 0, "budget": 1, "cliff": 2, "bsc": 0, "bec": 1}

    def key(p: Path) -> tuple:
        parts = p.stem.rsplit("_", 2)  # dataset, channel, experiment
        return (-len(parts), parts[0] != "mnist", parts[0], order.get(parts[1], 2),
                parts[1], order[parts[2]]) if len(parts) == 3 else (0, p.stem)

    ordered = sorted(paths, key=key)
    text = summary_markdown(ordered)
    atomic_write_text(out / "summary.md", text + "\n")
    if not quiet:
        print(text)
    return pngs


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from njscc.cli.commands.evaluate import parse_floats, parse_names

    if args.plots_only:
        pngs = _finish(args.out, args.quiet)
        print(f"plots: {len(pngs)} PNGs in {args.out}; summary: {Path(args.out) / 'summary.md'}")
        return 0

    import torch

    from njscc.cli.commands.train import parse_model_args
    from njscc.evaluation.distortion import make_channel
    from njscc.experiments.compare.comparison import (
        CompareConfig,
        Comparison,
        load_compare_data,
        load_necst,
        necst_run_name,
        train_necst,
    )
    from njscc.io.results import write_result

    if args.dataset not in DATASET_DEFAULTS:
        raise ValueError(f"--dataset: expected one of {', '.join(DATASET_DEFAULTS)}, "
                         f"got {args.dataset!r}")
    dflt = DATASET_DEFAULTS[args.dataset]
    chans = parse_names(args.channels, "--channels")
    eps = parse_floats(args.eps, "--eps")
    for c in chans:
        if c not in ("bsc", "bec", "z"):
            raise ValueError(f"--channels: expected bsc, bec or z, got {c!r}")
        for e in eps:
            make_channel(c, e)
    experiments = parse_names(args.experiments, "--experiments")
    for x in experiments:
        if x not in EXPERIMENTS:
            raise ValueError(f"--experiments: expected {', '.join(EXPERIMENTS)}, got {x!r}")
    m_main = args.m or dflt["m"]
    m_sweep = _ints(dflt["m_sweep"] if args.m_sweep is None else args.m_sweep, "--m-sweep")
    budgets = _ints(args.budgets, "--budgets")
    n_images = args.n_images or dflt["n_images"]
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    if args.train_size is not None and args.train_size < 100:
        raise ValueError(f"--train-size must be >= 100 (one batch), got {args.train_size}")
    for pth in args.checkpoint:
        if not Path(pth).exists():
            raise FileNotFoundError(f"--checkpoint {pth} does not exist")
    cfg = CompareConfig(
        eps=tuple(eps), budgets=tuple(budgets), ldpc_k=args.ldpc_k, decoder=args.decoder,
        rd_eps=args.rd_eps, cliff_design_eps=tuple(parse_floats(args.cliff_design_eps,
                                                                "--cliff-design-eps")),
        cliff_eps=tuple(parse_floats(args.cliff_eps, "--cliff-eps")),
        cliff_quality=args.cliff_quality,
        check_eps=tuple(parse_floats(args.check_eps, "--check-eps")) if args.check_eps else (),
        seed=args.seed)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t_start:6.0f} s] {msg}", file=sys.stderr, flush=True)

    data = load_compare_data(args.dataset, args.data_dir, n_images, seed=args.seed)
    log(data["description"])

    # NECST models: explicit checkpoints, else the default-named runs (trained on request)
    models = [load_necst(p) for p in args.checkpoint]
    if not args.checkpoint:
        model_kwargs = parse_model_args(args.model_arg)
        for ch in chans:
            for m in [m_main, *[x for x in m_sweep if x != m_main]]:
                path = Path(args.runs) / necst_run_name(args.dataset, m, ch, args.train_eps)
                if (path / "checkpoints").exists() and not args.train_missing:
                    models.append(load_necst(path))
                    continue
                if args.train_missing:
                    log(f"training {dflt['model']} m={m} on {ch} {args.train_eps:g} "
                        f"({args.epochs} epochs) -> {path}")
                    models.append(train_necst(
                        data["train"][:args.train_size], data["test"], dataset=args.dataset,
                        model_name=dflt["model"], m=m, channel=ch, train_eps=args.train_eps,
                        epochs=args.epochs, out=path, seed=args.seed, model_kwargs=model_kwargs,
                        quiet=args.quiet))
                elif m == m_main:
                    raise FileNotFoundError(
                        f"no NECST run {path}: train it with `njscc train --preset "
                        f"{args.dataset} --data-dir DATA --m {m} --channel {ch} --train-eps "
                        f"{args.train_eps:g} --epochs 3 --out {path}`, pass --checkpoint, or "
                        "add --train-missing")
                else:
                    log(f"note: no run {path}; m = {m} left out of the NECST curve")
    for nm in models:
        if tuple(nm.model.data_shape) != tuple(data["test"].shape[1:]):
            raise ValueError(f"--checkpoint {nm.path}: the model expects images "
                             f"{tuple(nm.model.data_shape)}, {args.dataset} has "
                             f"{tuple(data['test'].shape[1:])}")
        log(f"NECST m={nm.m} trained on {nm.channel} {nm.train_eps:g} ({nm.epochs} epochs): "
            f"{nm.path}")

    out = Path(args.out)
    for ch in chans:
        cmp = Comparison(data["test"], data["fallback"], ch, models, cfg, dataset=args.dataset,
                         main_m=m_main, log=log, data_description=data["description"])
        for x in ("bits", "budget", "cliff"):  # bits first: the cliff reuses its searches
            if x not in experiments:
                continue
            log(f"{args.dataset} {ch}: {x}")
            res = {"bits": cmp.run_bits, "budget": cmp.run_budget, "cliff": cmp.run_cliff}[x]()
            path = write_result(out / f"{args.dataset}_{ch}_{x}.json", res)
            log(f"wrote {path}")
    pngs = _finish(out, args.quiet)
    print(f"results: {out}/ ({len(pngs)} PNGs, summary.md); {time.perf_counter() - t_start:.0f} s")
    return 0
