"""NECST parity: our recipes trained and evaluated side by side with the official code's numbers.

Trains each (dataset, variant, seed) through ``njscc train`` (the same split the official code
uses: the first N training images held out, the rest in order), keeps the checkpoints of the
``--eval-epochs``, evaluates them through ``njscc eval`` on the full test set at BSC ε = 0 /
0.1 / 0.2, records seconds per epoch, and writes ``<out>/runs.jsonl`` (one line per run, resumable:
finished runs are skipped) and ``<out>/parity.md`` / ``parity.json`` (mean ± σ over seeds, side
by side with the official code's results when ``--official DIR`` holds them).

The official side (ermongroup/necst, TensorFlow) is not part of this project; run it yourself
(see docs/necst_parity.md for the edits it needs under TF 2.15) and drop one JSON per run into
``--official DIR`` named ``<dataset>_s<seed>.json``::

    {"dataset": "mnist", "seed": 0, "rows": [{"epoch": 5, "epoch_seconds": 14.2,
      "test_sse_0": 19.4, "test_sse_0.1": 22.0, "test_sse_0.2": 27.1}, ...]}

Usage (the table in docs/necst_parity.md)::

    python bench/necst_parity.py --datasets mnist omniglot kodak_grey binarized_mnist \
        --variants official default --seeds 0 1 2 --official results/parity/official \
        --out results/parity

Not part of the test run (hours of CPU); ``--epochs 1 --eval-epochs 1`` is a smoke test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# name -> (what it is, `njscc train` arguments, test protocol, run shared with another variant)
VARIANTS: dict[str, tuple[str, list[str], str, str | None]] = {
    "official": ("--recipe official: the official code as it is",
                 ["--recipe", "official"], "sample", None),
    "official@hard": ("the official recipe's models, tested with the most probable code",
                      [], "hard", "official"),
    "default": ("njscc's default recipe", ["--recipe", "default"], "hard", None),
    "default@sample": ("the default recipe's models, tested with sampled codes",
                       [], "sample", "default"),
    # ablations: the official recipe with one difference switched to ours
    "official-bipolar": ("official, decoder input ±1",
                         ["--recipe", "official", "--model-arg", "decoder_input=\"bipolar\""],
                         "sample", None),
    "official-no-enc-bias": ("official, no encoder bias",
                             ["--recipe", "official", "--model-arg", "enc_bias=false"],
                             "sample", None),
    "official-examples": ("official, a fresh permutation of the examples every epoch",
                          ["--recipe", "official", "--shuffle", "examples"], "sample", None),
    "official-lower": ("official, the K-sample lower bound",
                       ["--recipe", "official", "--objective-arg", "bound=\"lower\""],
                       "sample", None),
    "official-mlp": ("official objective and data pipeline, njscc's necst_mlp",
                     ["--recipe", "official", "--model", "necst_mlp"], "sample", None),
    # candidate defaults: njscc's model, the bound tempered towards the expected distortion
    # (f = ±β·log p; the encoder L2 scaled by β too, keeping its balance with the data term)
    "upper": ("default recipe, the official objective (bound=upper)",
              ["--objective-arg", "bound=\"upper\""], "hard", None),
    "lower-0.25": ("default recipe, lower bound at β = 0.25",
                   ["--objective-arg", "loglik_scale=0.25", "--l2", "2.5e-5"], "hard", None),
    "lower-0.05": ("default recipe, lower bound at β = 0.05 (≈ the expected distortion)",
                   ["--objective-arg", "loglik_scale=0.05", "--l2", "5e-6"], "hard", None),
    "upper-0.25": ("default recipe, upper bound at β = 0.25",
                   ["--objective-arg", "bound=\"upper\"", "--objective-arg",
                    "loglik_scale=0.25", "--l2", "2.5e-5"], "hard", None),
    # candidate defaults on the official layout (encoder bias, {0, 1} decoder input), sent
    # with the most probable code
    "tf-dec-bias": ("official recipe + decoder biases, most probable code",
                    ["--recipe", "official", "--model-arg", "dec_bias=true"], "hard", None),
    "tf-mean": ("official recipe, lower bound at β = 0.05 (≈ expected distortion), most "
                "probable code", ["--recipe", "official", "--objective-arg", "bound=\"lower\"",
                                  "--objective-arg", "loglik_scale=0.05", "--l2", "5e-6"],
                "hard", None),
    "tf-upper-0.25": ("official recipe, upper bound at β = 0.25, most probable code",
                      ["--recipe", "official", "--objective-arg", "loglik_scale=0.25",
                       "--l2", "2.5e-5"], "hard", None),
    "tf-lr-2e-3": ("official recipe at lr 2e-3, most probable code",
                   ["--recipe", "official", "--lr", "2e-3"], "hard", None),
    "tf-enc-2x500": ("official recipe, encoder 784-500-500-m, most probable code",
                     ["--recipe", "official", "--model-arg", "enc_hidden=[500,500]"], "hard",
                     None),
    "tf-enc-1000": ("official recipe, encoder 784-1000-m, most probable code",
                    ["--recipe", "official", "--model-arg", "enc_hidden=[1000]"], "hard", None),
    "tf-upper-2": ("official recipe, upper bound at β = 2, most probable code",
                   ["--recipe", "official", "--objective-arg", "loglik_scale=2",
                    "--l2", "2e-4"], "hard", None),
}

#: held-out validation images per dataset (the official converter's 10 000; Omniglot's training
#: set has 19 280 images, so 2 000); binarized MNIST has its own validation file
VALID = {"omniglot": 2000, "binarized_mnist": 0}
EPS = (0.0, 0.1, 0.2)


def njscc(*args: str, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "njscc.cli", *args, "--threads", str(threads), "--quiet"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)}\n{done.stderr.strip()}")


def train_and_eval(dataset: str, variant: str, seed: int, a: argparse.Namespace) -> dict[str, Any]:
    _, train_args, code, shared = VARIANTS[variant]
    run = a.out / "runs" / f"{dataset}_{shared or variant}_s{seed}"
    epochs = sorted(a.eval_epochs)
    if not (run / "checkpoints" / f"epoch_{epochs[-1]}").exists():
        if shared:
            raise RuntimeError(f"{variant} evaluates the runs of {shared}: run that first")
        valid = VALID.get(dataset, 10000)
        split = ["--valid-size", str(valid), "--valid-split", "first"] if valid else []
        njscc("train", "--dataset", dataset, *split, "--channel", "bsc",
              "--train-eps", "0.1", "--m", "100", "--K", "5", "--batch-size", "100",
              "--lr", "1e-3", "--epochs", str(a.epochs), "--keep-epochs",
              ",".join(map(str, epochs)), "--test-every", "0", "--seed", str(seed),
              "--out", str(run), *(["--resume"] if (run / "checkpoints").exists() else []),
              *train_args, threads=a.threads)  # the variant's flags last: they win
    log = [json.loads(s) for s in (run / "log.jsonl").read_text().splitlines() if s.strip()]
    secs = [r["epoch_seconds"] for r in log if not r.get("partial")]
    rows = []
    for e in epochs:
        out = a.out / "evals" / f"{dataset}_{variant}_s{seed}_e{e}"
        if not (out / "eval_bsc.json").exists():
            njscc("eval", "--checkpoint", str(run / "checkpoints" / f"epoch_{e}"), "--channel",
                  "bsc", "--eps", ",".join(map(str, EPS)), "--code", code, "--draws", "1",
                  "--seed", str(seed), "--n-images", "8", "--out", str(out), threads=a.threads)
        sse = json.loads((out / "eval_bsc.json").read_text())["metrics"]["sse"]
        rows.append({"epoch": e, **{f"test_sse_{p:g}": s for p, s in zip(EPS, sse, strict=True)}})
    return {"dataset": dataset, "variant": variant, "seed": seed, "code": code, "rows": rows,
            "epoch_seconds": secs}


def mean_std(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, (math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0)


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2


def load_official(folder: Path | None, dataset: str) -> list[dict[str, Any]]:
    if folder is None:
        return []
    out = []
    for f in sorted(folder.glob(f"{dataset}_s*.json")):
        r = json.loads(f.read_text())
        out.append({"dataset": dataset, "variant": "official code (TF)", "seed": r["seed"],
                    "rows": r["rows"], "epoch_seconds": [x["epoch_seconds"] for x in r["rows"]]})
    return out


def summarise(records: list[dict[str, Any]], epochs: list[int]) -> dict[str, Any]:
    """mean ± σ over seeds per (dataset, variant, epoch, ε); median seconds per epoch."""
    table: dict[str, Any] = {}
    for r in records:
        table.setdefault(r["dataset"], {}).setdefault(r["variant"], []).append(r)
    summary: dict[str, Any] = {}
    for ds, variants in table.items():
        for v, runs in variants.items():
            cell: dict[str, Any] = {"seeds": sorted(r["seed"] for r in runs),
                                    "epoch_seconds_median": median(
                                        [s for r in runs for s in r["epoch_seconds"][1:]] or
                                        [s for r in runs for s in r["epoch_seconds"]])}
            for e in epochs:
                for p in EPS:
                    xs = [row[f"test_sse_{p:g}"] for r in runs for row in r["rows"]
                          if row["epoch"] == e and f"test_sse_{p:g}" in row]
                    if xs:
                        m, s = mean_std(xs)
                        cell[f"e{e}_eps{p:g}"] = {"mean": m, "std": s, "n": len(xs)}
            summary.setdefault(ds, {})[v] = cell
    return summary


def markdown(summary: dict[str, Any], epochs: list[int]) -> str:
    lines = []
    for ds, variants in summary.items():
        lines += [f"### {ds}", "", "| variant | s/epoch | " + " | ".join(
            f"epoch {e}: ε 0 / 0.1 / 0.2" for e in epochs) + " |",
            "|---|---|" + "---|" * len(epochs)]
        ref = variants.get("official code (TF)")
        for v, cell in variants.items():
            parts = []
            for e in epochs:
                vals = []
                for p in EPS:
                    c = cell.get(f"e{e}_eps{p:g}")
                    if c is None:
                        vals.append("–")
                        continue
                    txt = f"{c['mean']:.2f} ± {c['std']:.2f}"
                    r = ref and ref.get(f"e{e}_eps{p:g}")
                    if r and v != "official code (TF)":
                        txt += f" ({c['mean'] / r['mean']:.2f}×)"
                    vals.append(txt)
                parts.append(" / ".join(vals))
            lines.append(f"| {v} | {cell['epoch_seconds_median']:.1f} | " + " | ".join(parts)
                         + " |")
        lines.append("")
    return "\n".join(lines)


def compact(summary: dict[str, Any], epoch: int, variants: list[str]) -> str:
    """One row per dataset: each variant's mean SSE at ε 0 / 0.1 / 0.2 at ``epoch`` (ratio to
    the official code in brackets)."""
    ref = "official code (TF)"
    lines = [f"| dataset (epoch {epoch}) | " + " | ".join([ref, *variants]) + " |",
             "|---|" + "---|" * (1 + len(variants))]
    for ds, cells in summary.items():
        row = []
        for v in [ref, *variants]:
            c = cells.get(v, {})
            vals = [c.get(f"e{epoch}_eps{p:g}") for p in EPS]
            if any(x is None for x in vals):
                row.append("–")
                continue
            txt = " / ".join(f"{x['mean']:.2f}" for x in vals)
            r = [cells.get(ref, {}).get(f"e{epoch}_eps{p:g}") for p in EPS]
            if v != ref and all(r):
                txt += " (" + " / ".join(f"{x['mean'] / y['mean']:.2f}" for x, y in
                                         zip(vals, r, strict=True)) + "×)"
            row.append(txt)
        lines.append(f"| {ds} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def agreement(summary: dict[str, Any], epochs: list[int], variant: str = "official") -> str:
    """``variant`` minus the official code per cell: Δ of the seed means and the pooled σ
    √((σ₁² + σ₂²)/2) of the two seed distributions (Δ/σ in brackets)."""
    ref = "official code (TF)"
    lines = ["| dataset | " + " | ".join(f"epoch {e}: Δ (Δ/σ) at ε 0 / 0.1 / 0.2" for e in epochs)
             + " |", "|---|" + "---|" * len(epochs)]
    for ds, cells in summary.items():
        if ref not in cells or variant not in cells:
            continue
        row = []
        for e in epochs:
            parts = []
            for q in EPS:
                a, b = cells[ref].get(f"e{e}_eps{q:g}"), cells[variant].get(f"e{e}_eps{q:g}")
                if not (a and b):
                    parts.append("–")
                    continue
                d = b["mean"] - a["mean"]
                sd = math.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2)
                parts.append(f"{d:+.2f} ({d / sd:+.1f})" if sd > 0 else f"{d:+.2f}")
            row.append(" / ".join(parts))
        lines.append(f"| {ds} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "omniglot", "kodak_grey",
                                                     "binarized_mnist"])
    p.add_argument("--variants", nargs="+", default=["official", "default"],
                   choices=sorted(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--eval-epochs", nargs="+", type=int, default=[5, 10, 20])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--official", type=Path, default=None,
                   help="folder of the official code's results (<dataset>_s<seed>.json)")
    p.add_argument("--out", type=Path, default=Path("results/parity"))
    p.add_argument("--report-only", action="store_true", help="only rebuild the tables")
    a = p.parse_args(argv)
    if max(a.eval_epochs) > a.epochs:
        p.error("--eval-epochs beyond --epochs")
    a.out.mkdir(parents=True, exist_ok=True)
    log = a.out / "runs.jsonl"
    done = {(r["dataset"], r["variant"], r["seed"]): r for r in
            (json.loads(s) for s in (log.read_text().splitlines() if log.exists() else []))}
    if not a.report_only:
        for ds in a.datasets:
            for seed in a.seeds:
                for v in a.variants:
                    if (ds, v, seed) in done:
                        continue
                    t0 = time.perf_counter()
                    r = train_and_eval(ds, v, seed, a)
                    r["wall_seconds"] = time.perf_counter() - t0
                    done[(ds, v, seed)] = r
                    with log.open("a") as f:
                        f.write(json.dumps(r) + "\n")
                    print(f"{ds} {v} seed {seed}: " + "; ".join(
                        f"e{row['epoch']} " + "/".join(f"{row[f'test_sse_{q:g}']:.2f}" for q in EPS)
                        for row in r["rows"]), flush=True)
    records = [r for r in done.values() if r["dataset"] in a.datasets and r["variant"] in
               a.variants]
    for ds in a.datasets:
        records = load_official(a.official, ds) + records
    records.sort(key=lambda r: (r["dataset"], r["variant"] != "official code (TF)"))
    summary = summarise(records, sorted(a.eval_epochs))
    from njscc.io.results import atomic_write_text

    atomic_write_text(a.out / "parity.json", json.dumps(summary, indent=1) + "\n")
    text = markdown(summary, sorted(a.eval_epochs)) + "\n" + "\n".join(
        compact(summary, e, [v for v in a.variants if "@" not in v]) for e in sorted(a.eval_epochs))
    if "official" in a.variants:
        text += "\n" + agreement(summary, sorted(a.eval_epochs))
    atomic_write_text(a.out / "parity.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
