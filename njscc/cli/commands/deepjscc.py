"""``njscc deepjscc``: DeepJSCC (trained at several SNRs), SNR-adaptive DeepJSCC, binary
DeepJSCC and NECST against JPEG/WebP + 5G LDPC + BPSK/QPSK/16-QAM and the capacity bound —
PSNR / SSIM vs channel SNR and PSNR vs bandwidth ratio
(:class:`njscc.experiments.deepjscc.DeepJSCCStudy`).

Examples::

    njscc deepjscc --dataset kodak --data-dir DATA --epochs 20 --max-minutes 4 \\
        --runs-dir runs/deepjscc/kodak --out results/deepjscc
    njscc deepjscc --dataset mnist --data-dir DATA --epochs 4 --channel rayleigh
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "DeepJSCC family vs separation with modulation: PSNR vs SNR and vs bandwidth ratio"


def _ratio(text: str) -> float:
    """``1/6`` or ``0.1667``."""
    try:
        if "/" in text:
            a, b = text.split("/", 1)
            v = float(a) / float(b)
        else:
            v = float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a ratio such as 1/6, got {text!r}") from None
    if not 0 < v <= 4:
        raise argparse.ArgumentTypeError(f"expected a ratio in (0, 4], got {text!r}")
    return v


def _ratio_list(text: str) -> list[float]:
    return [_ratio(t.strip()) for t in text.split(",") if t.strip()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="kodak", choices=("kodak", "mnist"),
                   help="Kodak (train: crops of kodim01-20, test: kodim21-24) or MNIST")
    p.add_argument("--data-dir", default=None, help="folder with kodak/ or mnist/")
    p.add_argument("--channel", default="awgn", choices=("awgn", "rayleigh"),
                   help="test channel: complex AWGN, or block Rayleigh fading with receiver CSI")
    p.add_argument("--train-channel", default=None, choices=("awgn", "rayleigh"),
                   help="channel the DeepJSCC models are trained over (default: --channel); "
                   "with --runs-dir of an earlier run, tests those models on another channel")
    p.add_argument("--ratio", type=_ratio, default=None,
                   help="main bandwidth ratio k/n (default: kodak 1/6, mnist 1/16)")
    p.add_argument("--ratios", type=_ratio_list, default=None,
                   help="ratio sweep (default: kodak 1/12,1/6,1/3; mnist 1/16,1/8,1/4)")
    p.add_argument("--train-snrs", type=opt.float_list, default=[0.0, 10.0, 20.0],
                   help="training SNRs of the DeepJSCC models [dB]")
    p.add_argument("--adaptive-range", type=opt.float_list, default=[0.0, 20.0],
                   help="LO,HI: SNR range of the SNR-adaptive model [dB]")
    p.add_argument("--ratio-snr", type=opt.finite_float, default=10.0,
                   help="SNR of the ratio sweep and of the binary/NECST models [dB]")
    p.add_argument("--test-snrs", type=opt.float_list, default=None,
                   help="test SNRs [dB] (default -5, -2.5, ..., 25)")
    p.add_argument("--epochs", type=opt.EPOCHS, default=10, help="epochs per model")
    p.add_argument("--batch-size", type=opt.BATCH, default=64)
    p.add_argument("--lr", type=opt.positive_float, default=1e-3)
    p.add_argument("--max-minutes", type=opt.positive_float, default=None,
                   help="training budget per model (resumable: rerun to continue)")
    p.add_argument("--n-crops", type=opt.positive_int, default=20000,
                   help="Kodak training crops")
    p.add_argument("--n-test", type=opt.positive_int, default=None,
                   help="test images (default: MNIST 1000, Kodak all 4)")
    p.add_argument("--train-size", type=opt.positive_int, default=None,
                   help="first N MNIST training images")
    p.add_argument("--no-binary", action="store_true", help="skip the binary DeepJSCC model")
    p.add_argument("--no-necst", action="store_true", help="skip the NECST model")
    p.add_argument("--learned-bits", type=opt.int_list, default=None,
                   help="code lengths of the learned (noiseless NECST) sources of the "
                   "learned-separation scheme, MNIST only (default 16,24,32,48,64,96)")
    p.add_argument("--sources", type=opt.name_list, default=["jpeg", "webp"])
    p.add_argument("--modulations", type=opt.name_list, default=["bpsk", "qpsk", "16qam"])
    p.add_argument("--code-rates", type=_ratio_list, default=None,
                   help="5G LDPC rates of the separation grid (default 1/3,1/2,2/3,3/4,5/6)")
    p.add_argument("--code-n", type=opt.positive_int, default=None,
                   help="LDPC codeword length (default: kodak 1024, mnist 256)")
    p.add_argument("--bler-words", type=opt.positive_int, default=200,
                   help="codewords per SNR point of the BLER curves")
    p.add_argument("--draws", type=opt.positive_int, default=10,
                   help="channel draws per test image")
    p.add_argument("--runs-dir", default="runs/deepjscc", help="where the models are kept")
    opt.add_run(p, out="results/deepjscc", out_help="results folder")


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._study import run_study

    if len(args.adaptive_range) != 2:
        raise ValueError(f"--adaptive-range: expected LO,HI, got {args.adaptive_range}")
    fields = {"dataset": args.dataset, "data_dir": args.data_dir, "runs_dir": args.runs_dir,
              "channel": args.channel, "train_channel": args.train_channel,
              "ratio": args.ratio,
              "ratios": tuple(args.ratios) if args.ratios else None,
              "train_snrs": tuple(args.train_snrs),
              "adaptive_range": tuple(args.adaptive_range), "ratio_snr": args.ratio_snr,
              "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
              "max_minutes": args.max_minutes, "n_crops": args.n_crops, "n_test": args.n_test,
              "train_size": args.train_size, "binary": not args.no_binary,
              "necst": not args.no_necst, "sources": tuple(args.sources),
              "modulations": tuple(args.modulations), "code_n": args.code_n,
              "bler_words": args.bler_words, "n_draws": args.draws, "device": args.device,
              "seed": args.seed}
    if args.test_snrs:
        fields["test_snrs"] = tuple(args.test_snrs)
    if args.learned_bits is not None:
        fields["learned_bits"] = tuple(args.learned_bits)
    if args.code_rates:
        fields["code_rates"] = tuple(args.code_rates)
    run_study("deepjscc", fields, args, args.out, quiet=args.quiet)
    return 0
