"""``njscc experiment NAME``: run any registered study (plugins' too) with its fields set by
``--set key=value``; ``--seeds`` repeats it per seed and reports mean ± σ over seeds.

Examples::

    njscc list experiments
    njscc experiment demo --set epochs=2 --set max_seconds=20 --out runs/demo2
    njscc experiment rd_sweep --set betas=[0.5,1] --set epochs=1 --seeds 0,1,2 --out results/rd3
    njscc experiment compare --plots-only --out results/compare
"""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "run a registered experiment by name: --set FIELD=JSON ..., --seeds, --out"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="registered experiment (njscc list experiments)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", dest="fields",
                   help="a field of the study, e.g. epochs=3 or betas=[0.5,1] (repeatable)")
    opt.add_run(p, out=None, out_help="results folder (default runs/experiments/<name>)")
    p.add_argument("--plots-only", action="store_true",
                   help="only redraw the plots from the results JSON files in --out")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from njscc.cli.commands._study import run_study
    from njscc.cli.options import parse_kv
    from njscc.experiments import EXPERIMENTS, load_results

    entry = EXPERIMENTS.entry(args.name)
    out = Path(args.out or f"runs/experiments/{entry.name}")
    if args.plots_only:
        results = load_results(out)
        files = entry.factory.plot(results, out)
        table = entry.factory.summary(results)
        if table:
            print(table)
        print(f"redrew {len(files)} files in {out}/: {', '.join(p.name for p in files)}")
        return 0
    fields = parse_kv(args.fields, "--set")
    names = {f.name for f in dataclasses.fields(entry.factory)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"--set: experiment {entry.name!r} has no field(s) {', '.join(unknown)}; "
                         f"its fields: {', '.join(sorted(names))}")
    if "seed" in names and opt.explicit(args, "seed"):
        fields["seed"] = args.seed
    if "quiet" in names and args.quiet:
        fields["quiet"] = True
    if "device" in names and opt.explicit(args, "device"):
        fields["device"] = args.device
    run_study(entry.name, fields, args, out, quiet=args.quiet)
    return 0
