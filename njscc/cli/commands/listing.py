"""``njscc list [WHAT]``: what is registered — models, objectives, priors, channels, codes,
sources, datasets, experiments — with where each entry comes from (njscc or a plugin)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["HELP", "REGISTRIES", "add_arguments", "run"]

HELP = "list the registered models, objectives, datasets, experiments, ... (plugins included)"

REGISTRIES = ("models", "objectives", "priors", "channels", "codes", "sources", "datasets",
              "experiments")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", nargs="*", metavar="WHAT",
                   help=f"which registries (default all): {', '.join(REGISTRIES)}")


def _registry(name: str) -> Any:
    if name == "models":
        from njscc.models import MODELS
        return MODELS
    if name == "objectives":
        from njscc.objectives import OBJECTIVES
        return OBJECTIVES
    if name == "priors":
        from njscc.priors import PRIORS
        return PRIORS
    if name == "channels":
        from channels import CHANNELS
        return CHANNELS
    if name == "codes":
        from baselines.codes import CODES
        return CODES
    if name == "sources":
        from baselines.source import SOURCES
        return SOURCES
    if name == "datasets":
        from njscc.data import DATASETS
        return DATASETS
    from njscc.experiments import EXPERIMENTS
    return EXPERIMENTS


def run(args: argparse.Namespace) -> int:
    bad = [w for w in args.what if w not in REGISTRIES]
    if bad:
        raise ValueError(f"unknown registry {bad[0]!r}; choose from {', '.join(REGISTRIES)}")
    for what in args.what or REGISTRIES:
        reg = _registry(what)
        print(f"{what} ({reg.group}):")
        for entry in reg:
            alias = f" (also {', '.join(entry.aliases)})" if entry.aliases else ""
            src = "" if entry.source in ("njscc", "channels", "baselines") else \
                f" [plugin: {entry.source}]"
            print(f"  {entry.name:<18}{entry.summary}{alias}{src}")
        if what == "datasets":
            print(f"  {'idx:DIR':<18}any folder of MNIST-style IDX files (labels optional)")
            print(f"  {'images:DIR':<18}a folder of PNG/JPEG images of one size")
    return 0
