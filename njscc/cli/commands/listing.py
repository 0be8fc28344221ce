"""``njscc list [WHAT]``: what is registered — models, objectives, priors, channels, codes,
sources, datasets, experiments — with where each entry comes from (njscc or a plugin)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["HELP", "REGISTRIES", "add_arguments", "run"]

HELP = "list the registered models, objectives, datasets, experiments, ... (plugins included)"

REGISTRIES = ("models", "objectives", "priors", "channels", "analog_channels", "codes",
              "sources", "datasets", "experiments")  # the order of the listing


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", nargs="*", metavar="WHAT",
                   help=f"which registries (default all): {', '.join(REGISTRIES)}")


#: registry name → (module, attribute)
_WHERE = {"models": ("njscc.models", "MODELS"), "objectives": ("njscc.objectives", "OBJECTIVES"),
          "priors": ("njscc.priors", "PRIORS"), "channels": ("channels", "CHANNELS"),
          "analog_channels": ("channels", "ANALOG_CHANNELS"),
          "codes": ("baselines.codes", "CODES"), "sources": ("baselines.source", "SOURCES"),
          "datasets": ("njscc.data", "DATASETS"),
          "experiments": ("njscc.experiments", "EXPERIMENTS")}


def _registry(name: str) -> Any:
    import importlib

    module, attr = _WHERE[name]
    return getattr(importlib.import_module(module), attr)


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
