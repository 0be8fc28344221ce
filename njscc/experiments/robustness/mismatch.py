"""Channel mismatch: NECST trained at one channel parameter (or channel) and tested at others.

* **Heat-map**: per channel (BSC, BEC), NECST models trained at each ε in ``train_eps``
  (runs ``{dataset}_m{m}_{channel}_{ε}`` in ``runs_dir``) tested at every ε in ``test_eps``:
  mean SSE (most probable code, one seeded channel draw per image) — rows train ε, columns
  test ε; the diagonal is the matched design.
* **Cross-channel**: each model of a pair in ``cross`` (``"bsc>ge"``: BSC-trained, tested on
  Gilbert–Elliott bursts with the same mean error rate; ``"bec>bsc"``: BEC-trained, tested on
  a BSC with crossover = its erasure rate) on its own channel and on the other, at its
  training ε.

Result ``mismatch.json``; plot ``mismatch.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study
from njscc.experiments.robustness._models import eps_key as _key

__all__ = ["MismatchStudy", "plot_mismatch"]



@EXPERIMENTS.register("channel_mismatch")
@dataclass
class MismatchStudy(Study):
    """NECST train-ε × test-ε distortion heat-maps (BSC, BEC) and cross-channel tests."""

    runs_dir: str | None = "runs/conv"
    m: int = 100
    channels: Sequence[str] = ("bsc", "bec")
    train_eps: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3)
    test_eps: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
    cross: Sequence[str] = ("bsc>ge", "bec>bsc")
    dataset: str = "mnist"
    data_dir: str | None = None
    n_images: int = 2000
    seed: int = 0

    def _run(self, ch: str, e: float) -> str:
        from njscc.experiments.robustness._models import find_runs

        name = f"{self.dataset}_m{self.m}_{ch}_{_key(e)}"
        names = [name]
        if float(e) == 0 and ch != "bsc":  # noiseless training is the same for every channel
            names.append(f"{self.dataset}_m{self.m}_bsc_0")
        for n in names:
            try:
                return find_runs(self.runs_dir, [n])[0]
            except FileNotFoundError:
                continue
        raise FileNotFoundError(
            f"no run {Path(self.runs_dir or '.') / name}: train it with `njscc train "
            f"--preset {self.dataset} --m {self.m} --channel {ch} --train-eps {_key(e)} "
            f"--valid-size 10000 --patience 3 --epochs 60 --out "
            f"{Path(self.runs_dir or '.') / name}`")

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        import channels as C
        from njscc.data import load_dataset
        from njscc.evaluation.distortion import evaluate_codec
        from njscc.experiments.robustness._models import load_victim
        from njscc.io.results import make_result
        from njscc.validation import check_positive_int

        check_positive_int(self.n_images, "n_images")
        for ch in self.channels:
            for e in (*self.train_eps, *self.test_eps):
                C.get(ch, float(e))  # names and ranges before any work
        pairs = []
        for c in self.cross:
            a, sep, b = str(c).partition(">")
            if not sep or a not in C.available() or b not in C.available():
                raise ValueError(f"cross: expected 'trained>tested' channel names, got {c!r}")
            pairs.append((a, b))
        needed = {(ch, float(e)) for ch in self.channels for e in self.train_eps}
        needed |= {(a, float(e)) for a, _ in pairs for e in self.train_eps if e > 0}
        paths = {k: self._run(*k) for k in sorted(needed)}  # every run checked up front
        test = load_dataset(self.dataset, "test", self.data_dir).images[:self.n_images]
        victims = {k: load_victim(p) for k, p in paths.items()}

        def sse(key: tuple[str, float], ch: str, e: float) -> dict[str, float]:
            g = torch.Generator().manual_seed(self.seed)
            channel = None if e == 0 else C.get(ch, float(e))
            r = evaluate_codec(victims[key].model, test, channel, generator=g)
            return {"sse": r["sse"], "sse_se": r["sse_se"]}

        heat = {}
        for ch in self.channels:
            grid = []
            for e in self.train_eps:
                row = [sse((ch, float(e)), ch, float(t)) for t in self.test_eps]
                grid.append({"train_eps": float(e), "sse": [c["sse"] for c in row],
                             "sse_se": [c["sse_se"] for c in row]})
                if log:
                    log(f"{ch} trained at {e:g}: " + ", ".join(
                        f"{t:g}: {c['sse']:.2f}" for t, c in zip(self.test_eps, row,
                                                                  strict=True)))
            heat[ch] = grid
        cross = []
        for a, b in pairs:
            for e in self.train_eps:
                if e == 0:
                    continue
                own, other = sse((a, float(e)), a, float(e)), sse((a, float(e)), b, float(e))
                cross.append({"trained": a, "tested": b, "eps": float(e), "sse_own": own["sse"],
                              "sse_own_se": own["sse_se"], "sse_other": other["sse"],
                              "sse_other_se": other["sse_se"]})
                if log:
                    log(f"{a}-trained at {e:g}: on {a} {own['sse']:.2f}, on {b} "
                        f"{other['sse']:.2f}")
        metrics = {"heatmaps": heat, "test_eps": [float(t) for t in self.test_eps],
                   "cross": cross, "n_images": int(test.shape[0]),
                   "runs": {f"{k[0]}_{_key(k[1])}": p for k, p in paths.items()}}
        return {"mismatch": make_result("channel_mismatch", metrics, dataset=self.dataset,
                                        m=self.m, config={"study": self.config_dict()})}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_mismatch(r, Path(out) / f"{stem}.png") for stem, r in results.items()]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        lines = []
        for res in results.values():
            met = res["metrics"]
            for ch, grid in met["heatmaps"].items():
                lines.append(f"{ch.upper()} test SSE (rows: train ε, columns: test ε), "
                             f"{met['n_images']} test images")
                lines.append(f"{'train ε':>8}" + "".join(f"{t:>8g}" for t in met["test_eps"]))
                for row in grid:
                    lines.append(f"{row['train_eps']:8g}" + "".join(f"{v:8.2f}"
                                                                   for v in row["sse"]))
            if met["cross"]:
                lines.append("cross-channel (same ε): SSE on the training channel → on the other")
                for c in met["cross"]:
                    lines.append(f"  {c['trained']}-trained ε={c['eps']:g}: {c['sse_own']:.2f} "
                                 f"on {c['trained']} → {c['sse_other']:.2f} on {c['tested']}")
        return "\n".join(lines)


def plot_mismatch(result: Mapping[str, Any], out: str | Path) -> Path:
    """One heat-map per channel (annotated SSE) and a cross-channel panel."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from njscc.io.results import save_figure

    met = result["metrics"]
    chs = list(met["heatmaps"])
    n = len(chs) + (1 if met["cross"] else 0)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.9), squeeze=False)
    for ax, ch in zip(axes[0], chs, strict=False):
        grid = met["heatmaps"][ch]
        arr = np.array([r["sse"] for r in grid])
        im = ax.imshow(arr, cmap="viridis", aspect="auto", origin="lower")
        ax.set_xticks(range(len(met["test_eps"])), [f"{t:g}" for t in met["test_eps"]])
        ax.set_yticks(range(len(grid)), [f"{r['train_eps']:g}" for r in grid])
        for i in range(arr.shape[0]):
            for j in range(arr.shape[1]):
                ax.text(j, i, f"{arr[i, j]:.1f}", ha="center", va="center", fontsize=6,
                        color="w" if arr[i, j] > arr.mean() else "k")
        ax.set_xlabel("test ε")
        ax.set_ylabel("train ε")
        ax.set_title(f"{ch.upper()}: test SSE", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if met["cross"]:
        ax = axes[0][-1]
        labels = [f"{c['trained']}→{c['tested']}\nε={c['eps']:g}" for c in met["cross"]]
        x = np.arange(len(labels))
        ax.bar(x - 0.2, [c["sse_own"] for c in met["cross"]], 0.4, label="own channel")
        ax.bar(x + 0.2, [c["sse_other"] for c in met["cross"]], 0.4, label="other channel")
        ax.set_xticks(x, labels, fontsize=6)
        ax.set_ylabel("test SSE")
        ax.set_title("trained on one channel, tested on another", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{result['dataset']}: NECST m = {result['m']} under channel mismatch",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
