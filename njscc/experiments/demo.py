"""The demo: train a small NECST on the bundled MNIST subset and show what it does.

Nothing is downloaded: the embedded subset (12 000 train / 2 300 test MNIST digits) ships with
the package. Trains the default recipe's NECST (m = 100 bits) with VIMCO over a BSC with
ε = 0.1 for about a minute (``epochs`` or ``max_seconds``, whichever comes first;
``max_steps`` fixes the number of steps instead, for runs that must reproduce to the digit),
then sends the test digits' most probable codes through BSC and BEC at several noise levels
and decodes them.

Artifacts in ``out``: ``checkpoints/last``, ``train_log.jsonl``, ``reconstructions.png``;
results ``demo_<channel>.json``; plot ``distortion.png``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from njscc.experiments.base import EXPERIMENTS, Log, Study

__all__ = ["Demo"]


@EXPERIMENTS.register("demo")
@dataclass
class Demo(Study):
    """Train a small NECST on bundled MNIST digits (~1 min, CPU), evaluate over BSC/BEC."""

    epochs: int = 15
    max_seconds: float | None = 55.0
    max_steps: int | None = None
    m: int = 100
    train_eps: float = 0.1
    eps: Sequence[float] = (0.0, 0.05, 0.1, 0.2)
    channels: Sequence[str] = ("bsc", "bec")
    device: str | None = None
    seed: int = 0
    quiet: bool = False

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        import torch

        import channels
        from njscc.data import load_dataset
        from njscc.evaluation.distortion import (
            evaluate_sweep,
            save_reconstruction_grid,
            sweep_results,
        )
        from njscc.io.results import atomic_write_text
        from njscc.training import TrainConfig, Trainer, format_row, save_checkpoint
        from njscc.training.recipes import RECIPES
        from njscc.validation import check_device

        for c in self.channels:
            for e in self.eps:
                channels.get(c, e)
        train_channel = channels.get("bsc", self.train_eps)
        device = check_device(self.device)
        out = Path(out)

        train = load_dataset("embedded", "train")
        test = load_dataset("embedded", "test")
        torch.manual_seed(self.seed)
        model, objective, recipe_train = RECIPES.get("default").build(m=self.m, likelihood="sse")
        cfg = TrainConfig(epochs=self.epochs, seed=self.seed, test_every=0,
                          max_seconds=self.max_seconds, max_steps=self.max_steps, **recipe_train)
        budget = (f"≤{self.epochs} epochs" + (f" / {self.max_steps} steps" if self.max_steps
                                               else "")
                  + (f" / ~{self.max_seconds:g} s" if self.max_seconds else ""))
        if log:
            log(f"njscc demo: training {model.config['name']} (m={self.m}) with VIMCO (K=5) over "
                f"BSC ε={self.train_eps:g} on {train.images.shape[0]} bundled MNIST digits "
                f"({budget}, {device}) ...")
        trainer = Trainer(model, objective, train_channel, train, cfg, device=device,
                          quiet=self.quiet,
                          on_epoch=None if self.quiet else
                          (lambda r: print(format_row(r, cfg.epochs), file=sys.stderr,
                                           flush=True)))
        t_fit = time.perf_counter()
        history = trainer.fit()
        t_train = time.perf_counter() - t_fit
        if trainer.stopped_by_signal is not None:
            raise KeyboardInterrupt  # the CLI prints "interrupted"

        ckpts = out / "checkpoints"
        save_checkpoint(ckpts / "last", model, previous=ckpts / "prev", extra={
            "run": {"preset": "embedded", "dataset": "embedded",
                    "channel": {"name": "bsc", "train_param": self.train_eps},
                    "objective": dict(objective.config)},
            "history": history, "global_step": trainer.global_step})
        rows = history + [r for r in [trainer.partial_epoch()] if r is not None]
        atomic_write_text(out / "train_log.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

        steps = trainer.global_step
        sweep = evaluate_sweep(model, test.images.to(device), list(self.channels),
                               list(self.eps), seed=self.seed)
        results = sweep_results(
            sweep, model=model, dataset="embedded", task="demo", device=device,
            config={"study": self.config_dict(),
                    "train": {"channel": "bsc", "param": self.train_eps, "steps": steps,
                              "epochs": round(steps / trainer.steps_per_epoch, 2),
                              "seconds": t_train, "objective": dict(objective.config),
                              "recipe": "default"},
                    "seed": self.seed, "split": "test", "code": "hard"})
        # first channel at every ε, the others without their ε = 0 row (identical: no noise)
        grid_rows = [(f"{c.upper()} {e:g}", channels.get(c, e))
                     for i, c in enumerate(self.channels) for e in self.eps if i == 0 or e > 0]
        save_reconstruction_grid(model, _one_per_class(test), grid_rows,
                                 out / "reconstructions.png", seed=self.seed)
        return {f"demo_{name}": r for name, r in results.items()}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        from njscc.evaluation.distortion import plot_results

        return [plot_results(list(results.values()), Path(out) / "distortion.png")]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        from njscc.evaluation.distortion import format_sweep

        first = next(iter(results.values()))
        t = first["config"]["train"]
        n = first["metrics"]["n_images"]
        return (f"test distortion on {n} held-out digits (per-image SSE ± s.e., PSNR dB), "
                f"after {t['steps']} steps ({t['epochs']:.1f} epochs, {t['seconds']:.0f} s) of "
                f"training:\n" + format_sweep(results))


def _one_per_class(ds: Any, n: int = 10) -> Any:
    """The first test image of each label 0..n-1 (or the first n images if unlabelled)."""
    import torch

    labels = getattr(ds, "labels", None)
    if labels is None:
        return ds.images[:n]
    idx = [int(torch.nonzero(labels == c)[0]) for c in range(n) if bool((labels == c).any())]
    return ds.images[idx]
