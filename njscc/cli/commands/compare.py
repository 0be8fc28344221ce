"""``njscc compare``: NECST head-to-head against separation (JPEG/WebP + LDPC / ideal code)
(:class:`njscc.experiments.compare.CompareStudy`).

Examples::

    njscc compare --dataset mnist --data-dir DATA                     # runs/compare/mnist_m*
    njscc compare --dataset mnist --data-dir DATA --checkpoint runs/x --checkpoint runs/y
    njscc compare --dataset kodak --data-dir DATA --m 200 --train-missing --epochs 2
    njscc compare --plots-only --out results/compare                  # redraw from the JSON
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = ("NECST vs separation (JPEG/WebP + 5G LDPC or an ideal code): fixed-budget distortion, "
        "bits needed, the cliff; JSON + PNG + summary table")


def add_arguments(p: argparse.ArgumentParser) -> None:
    opt.add_data(p, default="mnist", help="mnist or kodak (32x32 RGB patches)")
    opt.add_channel(p, multiple=True, default="bsc,bec", eps="0,0.05,0.1,0.15,0.2",
                    old_channels=True, train_eps=0.1, eps_help="test channel parameters ε",
                    train_help="NECST training ε")
    p.add_argument("--n-images", type=opt.int_range(1, 1 << 20), default=None,
                   help="test images (default: 1000 for mnist, 500 kodak patches)")
    opt.add_checkpoint(p, required=False, multiple=True,
                       help="NECST run/checkpoint; its run info names the training channel. "
                       "Default: the runs named {dataset}_m{m}_{channel}_{train-eps} in --runs")
    p.add_argument("--runs", default="runs/compare", help="folder of the NECST runs")
    p.add_argument("--m", type=opt.CODE_BITS, default=None,
                   help="code length of the reference NECST (default: 100 mnist, 200 kodak)")
    p.add_argument("--m-sweep", type=_ints_or_none, default=None,
                   help="further NECST code lengths for the distortion-vs-bits curve (default "
                   "mnist: 50,200,400; missing ones are skipped unless --train-missing)")
    p.add_argument("--train-missing", action="store_true",
                   help="train NECST models that are not in --runs (otherwise an error)")
    p.add_argument("--epochs", type=opt.EPOCHS, default=3, help="epochs for --train-missing")
    p.add_argument("--patience", type=opt.positive_int, default=None,
                   help="--train-missing: early stopping after N epochs without a better SSE "
                   "on a 10%% held-out part of the training images (--epochs: the most)")
    p.add_argument("--train-size", type=opt.positive_int, default=None,
                   help="--train-missing: only the first N training images (quick runs)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=JSON",
                   help="model keyword for --train-missing, e.g. base_channels=16")
    p.add_argument("--budgets", type=_budgets, default=[],
                   help="fixed channel budgets (bits/image); default: --m and the largest NECST "
                   "m trained on the channel")
    p.add_argument("--experiments", type=opt.name_list, default=None,
                   help="which to run: budget, bits, cliff, short, matched (default: all; "
                   "short and matched need --learned-source)")
    p.add_argument("--decoder", default="cpp", choices=("cpp", "sionna"),
                   help="LDPC BP decoder: the ldpc package's C++ sum-product (fast) or Sionna's")
    p.add_argument("--ldpc-k", type=opt.int_range(12, 8448), default=400,
                   help="LDPC information block length")
    p.add_argument("--learned-source", action="append", default=[], metavar="RUN",
                   help="a trained bit codec (e.g. NECST trained at --train-eps 0) used as the "
                        "source code of a separation scheme, beside JPEG/WebP (repeat for "
                        "several code lengths: learned+ideal / +PPV / +LDPC rows)")
    p.add_argument("--learned-m", type=_code_lengths, default=[],
                   help="code lengths of noiseless-trained learned sources from --runs "
                   "({dataset}_m{M}_bsc_0; trained with --train-missing), e.g. 64,96,128")
    p.add_argument("--ppv-pe", type=opt.float_range(0, 1, lo_open=True, hi_open=True),
                   default=1e-3, help="block error probability of the finite-blocklength "
                                      "rows (JPEG/WebP+PPV; BSC and BEC)")
    p.add_argument("--ppv-bound", default="achievability",
                   choices=("achievability", "converse", "normal"),
                   help="which finite-blocklength bound the PPV rows charge "
                        "(channels.finite_blocklength)")
    p.add_argument("--rd-eps", type=opt.float_range(0, 0.5, hi_open=True), default=0.1,
                   help="ε of the distortion-vs-bits plot")
    p.add_argument("--cliff-design-eps", type=opt.float_list, default=[0.02, 0.05, 0.1],
                   help="ε the cliff schemes are built for (the matched cliff pairs each with "
                   "the NECST model trained there)")
    p.add_argument("--cliff-eps", type=opt.float_list,
                   default=[0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2], help="cliff test ε")
    p.add_argument("--cliff-quality", type=opt.int_range(1, 100), default=None,
                   help="JPEG quality of the cliff scheme (default: from the bits search)")
    p.add_argument("--check-eps", type=_floats_or_empty, default=[0.05, 0.1],
                   help="cliff points re-decoded with Sionna to check the C++ decoder ('' none)")
    p.add_argument("--short-eps", type=opt.float_list, default=[0.05, 0.1, 0.2],
                   help="ε of the short-code experiment (learned sources, one codeword each)")
    p.add_argument("--short-bler", type=opt.float_list, default=[0.1, 0.01],
                   help="target block error rates of the short-code tables and matched designs")
    p.add_argument("--short-words", type=opt.int_range(100, 1 << 22), default=4000,
                   help="random words per measured block error rate")
    p.add_argument("--no-block-rows", action="store_true",
                   help="short: leave out the per-BLER rows for --ldpc-k (the JPEG/WebP block "
                   "length; slow for polar)")
    opt.add_run(p, out="results/compare", seed_help="seed of every channel draw",
                threads_default=1)
    p.add_argument("--plots-only", action="store_true",
                   help="only redraw the PNGs and summary.md from the JSON files in --out")


_code_lengths = opt._list(opt.CODE_BITS, "code lengths in [1, 65536]")
_budgets = opt._list(opt.int_range(1, 1 << 24), "channel-bit budgets")


def _ints_or_none(text: str) -> list[int]:
    return _code_lengths(text) if text.strip() else []


def _floats_or_empty(text: str) -> list[float]:
    return opt.float_list(text) if text.strip() else []


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._study import run_study
    from njscc.experiments.compare import redraw

    if args.plots_only:
        files = redraw(args.out)
        print(f"plots: {len(files) - 1} PNGs in {args.out}; summary: {files[-1]}")
        return 0
    if args.device != "cpu":
        import torch

        if torch.device(args.device).type != "cpu":
            raise ValueError(f"--device {args.device}: compare runs on the CPU (its LDPC "
                             "and JPEG stages are CPU code); use --device cpu")
    fields = {"dataset": args.dataset, "data_dir": args.data_dir,
              "channels": list(args.channel), "eps": list(args.eps),
              "n_images": args.n_images, "checkpoints": list(args.checkpoint),
              "runs_dir": args.runs, "m": args.m, "m_sweep": args.m_sweep,
              "train_eps": args.train_eps, "train_missing": args.train_missing,
              "epochs": args.epochs, "patience": args.patience, "train_size": args.train_size,
              "model_args": opt.parse_kv(args.model_arg, "--model-arg"),
              "budgets": list(args.budgets),
              "experiments": None if args.experiments is None else list(args.experiments),
              "decoder": args.decoder, "ldpc_k": args.ldpc_k, "rd_eps": args.rd_eps,
              "ppv_pe": args.ppv_pe, "ppv_bound": args.ppv_bound,
              "learned_source": list(args.learned_source), "learned_m": list(args.learned_m),
              "cliff_design_eps": list(args.cliff_design_eps),
              "cliff_eps": list(args.cliff_eps), "cliff_quality": args.cliff_quality,
              "check_eps": list(args.check_eps), "short_eps": list(args.short_eps),
              "short_bler": list(args.short_bler), "short_words": args.short_words,
              "short_block_rows": not args.no_block_rows,
              "seed": args.seed, "quiet": args.quiet}
    run_study("compare", fields, args, args.out, quiet=args.quiet)
    return 0
