"""``njscc robust STUDY``: the robustness studies of :mod:`njscc.experiments.robustness` on
trained runs (found by name in ``--runs-dir``, or given with ``--model``). Any other field of
the study is set with ``--set FIELD=JSON``; ``--seeds`` reads ``<runs-dir>/seed_<s>/``.

Examples::

    njscc robust table --data-dir DATA --runs-dir runs/conv --seeds 0,1,2 --out results/robust
    njscc robust table --data-dir DATA --runs-dir runs/conv/seed_0 \\
        --set 'noise=["none","test","both"]' --set 'codes=["mode","sample"]' --out results/t
    njscc robust attacks --data-dir DATA --runs-dir runs/conv/seed_0 --set 'budgets=[1,2,4]'
    njscc robust rrobust --data-dir DATA --model runs/conv/seed_0/mnist_lvae10_L4 --set 'r=[8]'
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "STUDIES", "add_arguments", "run"]

HELP = ("robustness of codecs: the NECST downstream table, attacks on codecs, r-robustness "
        "margins and Lipschitz-VAE certificates")

#: CLI name → (registered experiment, field that takes --model paths or None, description)
STUDIES: dict[str, tuple[str, str | None, str]] = {
    "table": ("downstream_table", "necst", "eight scikit-learn classifiers on NECST/VAE codes "
              "(NECST paper, Table 3); --model gives the NECST runs, one per --set train_eps"),
    "attacks": ("codec_attacks", "models", "Kos et al. (2017) attacks on VAE and NECST codecs"),
    "rrobust": ("r_robustness", "models", "r-robustness margins (max-damage attack) and "
                "certified radii of Lipschitz VAEs"),
    "gni": ("gni", None, "MLP classifiers with Gaussian noise injections vs the explicit "
            "regulariser (trains its own models in --runs-dir)"),
    "atn": ("atn", None, "perturbation and autoencoder ATNs (Baluja & Fischer 2017), one per "
            "target class, against an MNIST CNN"),
    "mismatch": ("channel_mismatch", None, "NECST train-ε × test-ε distortion heat-maps "
                 "(BSC, BEC) and cross-channel tests (BSC→Gilbert–Elliott, BEC→BSC)"),
    "smoothness": ("vae_smoothness", None, "VAEs with a fixed encoder variance sweep: decoder "
                   "Lipschitz estimate and high-frequency content (trains in --runs-dir)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", choices=tuple(STUDIES),
                   help="; ".join(f"{k}: {v[2]}" for k, v in STUDIES.items()))
    opt.add_data(p, default="mnist", help="labelled digits (mnist, or embedded: no data dir)")
    p.add_argument("--runs-dir", default=None,
                   help="folder of the trained runs, found by name (default runs/conv; gni "
                   "and smoothness train theirs in runs/gni, runs/smoothness)")
    p.add_argument("--model", action="append", default=[], metavar="RUN",
                   help="a trained run to study instead of the named ones (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", dest="fields",
                   help="any other field of the study, e.g. n_pairs=100 (repeatable)")
    p.add_argument("--plots-only", action="store_true",
                   help="only redraw the plots from the results JSON files in --out")
    opt.add_run(p, out=None, out_help="results folder (default results/robust/<study>)")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from njscc.cli.commands._study import run_study
    from njscc.experiments import EXPERIMENTS, load_results

    name, model_field, _ = STUDIES[args.study]
    entry = EXPERIMENTS.entry(name)
    out = Path(args.out or f"results/robust/{args.study}")
    if args.plots_only:
        files = entry.factory.plot(load_results(out), out)
        print(f"redrew {len(files)} files in {out}/: {', '.join(p.name for p in files)}")
        return 0
    fields = opt.parse_kv(args.fields, "--set")
    known = {f.name for f in dataclasses.fields(entry.factory)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"--set: {args.study} has no field(s) {', '.join(unknown)}; its "
                         f"fields: {', '.join(sorted(known))}")
    own = {"gni": "runs/gni", "smoothness": "runs/smoothness"}
    runs = args.runs_dir if args.runs_dir is not None else own.get(args.study, "runs/conv")
    common = {"dataset": args.dataset, "data_dir": args.data_dir, "runs_dir": runs,
              "seed": args.seed}
    if args.runs_dir is not None and "runs_dir" not in known:
        raise ValueError(f"--runs-dir: {args.study} keeps no runs")
    fields.update({k: v for k, v in common.items() if k in known})
    if args.model:
        if model_field is None:
            raise ValueError(f"--model: {args.study} trains its own models (see --runs-dir)")
        fields[model_field] = list(args.model)
    run_study(name, fields, args, out, quiet=args.quiet)
    return 0
