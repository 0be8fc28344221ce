"""Reproduce the MNIST head-to-head of NECST against separation (results/compare/mnist_bsc_*).

1. trains what is not in ``--runs`` yet with ``njscc train`` (the default recipe, early
   stopping on a 10 000-image validation split, patience 3, at most ``--epochs`` epochs):
   NECST at BSC ε = 0.1 for every ``--necst-m``, NECST m = 100 at each ``--design-eps`` (the
   matched cliff), and noiseless learned sources for every ``--source-m``;
   runs are named as ``njscc compare`` looks for them (``mnist_m{m}_bsc_{ε}``, sources
   ``mnist_m{m}_bsc_0``), under ``seed_<s>/`` for the seeds after the first;
2. runs ``njscc compare`` on the BSC (budget, bits, cliff, short, matched) with seed 0's
   models, and the short-code experiment at ε = 0.1 over every seed's models (mean ± σ).

Usage::

    python examples/compare_mnist.py --data-dir DATA             # ≈ 3 h training + 40 min
    python examples/compare_mnist.py --data-dir DATA --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from njscc.cli import main
from njscc.experiments.compare.comparison import necst_run_name


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True, help="folder with mnist/")
    p.add_argument("--runs", default="runs/compare", help="run folders")
    p.add_argument("--out", default="results/compare", help="results folder")
    p.add_argument("--epochs", type=int, default=30, help="at most this many epochs")
    p.add_argument("--seeds", default="0", help="model seeds; the first one is the main run")
    p.add_argument("--necst-m", default="25,50,100,200", help="NECST code lengths (ε = 0.1)")
    p.add_argument("--design-eps", default="0.02,0.05", help="more training ε for m = 100")
    p.add_argument("--source-m", default="24,32,40,48,56,64,72",
                   help="code lengths of the noiseless learned sources")
    p.add_argument("--seed-source-m", default="48", help="source lengths trained for every seed")
    p.add_argument("--n-images", type=int, default=1000, help="MNIST test images")
    return p.parse_args(argv)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _train(a: argparse.Namespace, root: Path, m: int, eps: float, seed: int) -> int:
    out = root / necst_run_name("mnist", m, "bsc", eps)
    # --resume finishes an interrupted run; on a finished one it is a no-op
    argv_resume = ["--resume"] if (out / "checkpoints").exists() else []
    print(f"training {out}", file=sys.stderr)
    return main(["train", "--preset", "mnist", "--data-dir", a.data_dir, "--m", str(m),
                 "--channel", "bsc", "--train-eps", f"{eps:g}", "--epochs", str(a.epochs),
                 "--valid-size", "10000", "--patience", "3", "--test-size", "2000",
                 "--seed", str(seed), "--threads", "1", "--quiet", "--out", str(out),
                 *argv_resume])


def run(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    seeds = _ints(a.seeds)
    for i, s in enumerate(seeds):
        root = Path(a.runs) if i == 0 else Path(a.runs) / f"seed_{s}"
        design = [float(e) for e in a.design_eps.split(",") if e]
        jobs = [(100, 0.1)] if i else \
            [*((m, 0.1) for m in _ints(a.necst_m)), *((100, e) for e in design)]
        sources = _ints(a.seed_source_m if i else a.source_m)
        for m, eps in jobs + [(m, 0.0) for m in sources]:
            rc = _train(a, root, m, eps, s)
            if rc:
                return rc
    sweep = ",".join(str(m) for m in _ints(a.necst_m) if m != 100)
    common = ["--dataset", "mnist", "--data-dir", a.data_dir, "--channel", "bsc",
              "--n-images", str(a.n_images), "--threads", "1"]
    rc = main(["compare", *common, "--runs", a.runs, "--m-sweep", sweep, "--learned-m",
               a.source_m, "--out", a.out])
    if rc or len(seeds) < 2:
        return rc
    # mean ± σ over the models' seeds: seed s reads its runs from <runs>/seed_<s>/ (seed 0's
    # are linked there from the main folder)
    for name in [necst_run_name("mnist", 100, "bsc", 0.1)] + [
            necst_run_name("mnist", m, "bsc", 0.0) for m in _ints(a.seed_source_m)]:
        link = Path(a.runs) / f"seed_{seeds[0]}" / name
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to((Path(a.runs) / name).resolve(), target_is_directory=True)
    return main(["compare", *common, "--runs", a.runs, "--seeds", a.seeds, "--m-sweep", "",
                 "--learned-m", a.seed_source_m, "--experiments", "short", "--short-eps", "0.1",
                 "--out", f"{a.out}/seeds"])


if __name__ == "__main__":
    sys.exit(run())
