"""The one way a command runs a study: build it by name, execute (seeds), print its table."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["run_study"]


def run_study(name: str, fields: dict[str, Any], args: argparse.Namespace,
              out: str | Path, *, quiet: bool = False) -> dict[str, dict[str, Any]]:
    """``EXPERIMENTS.get(name, **fields)`` → :func:`~njscc.experiments.execute` into ``out``
    (once per ``--seeds`` value if given) → the study's summary and the files written."""
    from njscc.cli.commands._io import check_writable
    from njscc.experiments import EXPERIMENTS, execute

    t0 = time.perf_counter()
    check_writable(out, folder=True)
    study = EXPERIMENTS.get(name, **fields)

    def log(msg: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - t0:6.0f} s] {msg}", file=sys.stderr, flush=True)

    results, files = execute(study, out=out, seeds=getattr(args, "seeds", None), log=log)
    text = type(study).summary(results)
    if text:
        print(text)
    seeds = getattr(args, "seeds", None)
    note = f"; mean ± σ over seeds {','.join(map(str, seeds))}" if seeds and len(seeds) > 1 else ""
    top = [p for p in files if p.parent == Path(out)]
    print(f"wrote {len(top)} files to {out}/: {', '.join(p.name for p in top)}{note} "
          f"({time.perf_counter() - t0:.0f} s)")
    return results
