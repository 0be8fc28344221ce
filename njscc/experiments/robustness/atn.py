"""Adversarial transformation networks (Baluja & Fischer 2017) against an MNIST CNN: one
perturbation ATN and one adversarial-autoencoder ATN per target class
(:mod:`njscc.robustness.atn`). The victim is a CNN (:class:`~njscc.robustness.oracle.MnistOracle`
trained with seed ``seed + 1``); an independent oracle CNN (seed ``seed``) says how often the
transformed digit still looks like its true class. Reported per kind and target: success
rate (victim says the target, on test digits of other classes), mean L2 / L∞ of x' − x, and
the oracle's true-class rate. Result ``atn.json``; plots ``atn.png`` and ``atn_gallery.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study
from njscc.experiments.robustness._plots import as_u8 as _u8

__all__ = ["ATNStudy", "plot_atn"]


@EXPERIMENTS.register("atn")
@dataclass
class ATNStudy(Study):
    """Perturbation and autoencoder ATNs, one per target class, against an MNIST CNN."""

    dataset: str = "mnist"
    data_dir: str | None = None
    kinds: Sequence[str] = ("perturbation", "autoencoder")
    targets: Sequence[int] = tuple(range(10))
    beta: float = 0.01
    alpha: float = 1.5
    epochs: int = 2
    n_train: int = 20_000
    n_test: int = 2000
    classifier_epochs: int = 3
    classifier_train: int | None = None
    seed: int = 0

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.io.results import make_result
        from njscc.robustness.atn import KINDS, evaluate_atn, train_atn
        from njscc.robustness.oracle import accuracy, oracle
        from njscc.validation import check_positive_int

        bad = [k for k in self.kinds if k not in KINDS]
        if not self.kinds or bad:
            raise ValueError(f"kinds: expected some of {', '.join(KINDS)}, got "
                             f"{list(self.kinds)}")
        if not self.targets or any(not 0 <= int(t) <= 9 for t in self.targets):
            raise ValueError(f"targets: expected classes 0..9, got {list(self.targets)}")
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        for name in ("epochs", "n_train", "n_test", "classifier_epochs"):
            check_positive_int(getattr(self, name), name)
        out = Path(out)
        train = load_dataset(self.dataset, "train", self.data_dir)
        test = load_dataset(self.dataset, "test", self.data_dir)
        if train.labels is None or test.labels is None:
            raise ValueError(f"dataset {self.dataset!r} has no labels")
        ci, cl = train.images[:self.classifier_train], train.labels[:self.classifier_train]
        victim = oracle(ci, cl, cache=out / "victim_cnn.safetensors",
                        epochs=self.classifier_epochs, seed=self.seed + 1, progress=log)
        judge = oracle(ci, cl, cache=out / "oracle.safetensors",
                       epochs=self.classifier_epochs, seed=self.seed, progress=log)
        xte, yte = test.images[:self.n_test], test.labels[:self.n_test]
        acc = {"victim": accuracy(victim, xte, yte), "oracle": accuracy(judge, xte, yte)}
        if log:
            log(f"victim CNN {100 * acc['victim']:.2f}%, oracle CNN {100 * acc['oracle']:.2f}%")
        xtr = train.images[:self.n_train]
        rows = []
        gallery: dict[str, Any] = {"source": _u8(xte[:10]), "labels": yte[:10].tolist(),
                                   "rows": []}
        for kind in self.kinds:
            for t in self.targets:
                atn = train_atn(victim, xtr, int(t), kind=kind, beta=self.beta,
                                alpha=self.alpha, epochs=self.epochs, seed=self.seed + 10 * t)
                r = evaluate_atn(atn, victim, xte, yte, int(t), judge=judge)
                rows.append({"kind": kind, "target": int(t), **r})
                if log:
                    log(f"{kind} ATN → {t}: success {100 * r['success']:.1f}%, L2 "
                        f"{r['l2']:.2f}, oracle still sees the true class "
                        f"{100 * r['judge_true_class']:.1f}%")
                if int(t) == int(self.targets[0]):
                    with torch.no_grad():
                        xa = atn(xte[:10])
                        gallery["rows"].append({"kind": kind, "target": int(t),
                                                "images": _u8(xa),
                                                "victim": victim(xa).argmax(-1).tolist()})
        metrics = {"rows": rows, "accuracy": acc, "n_test": int(xte.shape[0])}
        cfg = {"study": self.config_dict()}
        return {"atn": make_result("atn", metrics, dataset=self.dataset, config=cfg),
                "atn_gallery": make_result("atn_gallery", gallery, dataset=self.dataset,
                                           config=cfg)}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        files = []
        if "atn" in results:
            files.append(plot_atn(results["atn"], Path(out) / "atn.png"))
        if "atn_gallery" in results:
            files.append(_plot_gallery(results["atn_gallery"], Path(out) / "atn_gallery.png"))
        return files

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("atn")
        if not r:
            return ""
        met = r["metrics"]
        lines = [f"victim CNN test accuracy {100 * met['accuracy']['victim']:.2f}%, oracle "
                 f"{100 * met['accuracy']['oracle']:.2f}%; {met['n_test']} test digits",
                 f"{'kind':<14}{'target':>7}{'success':>10}{'L2':>7}{'L∞':>7}"
                 f"{'oracle: true class':>20}"]
        for row in met["rows"]:
            lines.append(f"{row['kind']:<14}{row['target']:>7}{100 * row['success']:9.1f}%"
                         f"{row['l2']:7.2f}{row['linf']:7.2f}"
                         f"{100 * row.get('judge_true_class', float('nan')):19.1f}%")
        for kind in dict.fromkeys(row["kind"] for row in met["rows"]):
            rs = [row for row in met["rows"] if row["kind"] == kind]
            mean_s = 100 * sum(x["success"] for x in rs) / len(rs)
            lines.append(f"{kind:<14}{'mean':>7}{mean_s:9.1f}%"
                         f"{sum(x['l2'] for x in rs) / len(rs):7.2f}")
        return "\n".join(lines)


def plot_atn(result: Mapping[str, Any], out: str | Path) -> Path:
    """Success rate and mean L2 per target class, one series per ATN kind."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    rows = result["metrics"]["rows"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, kind in enumerate(dict.fromkeys(r["kind"] for r in rows)):
        rs = [r for r in rows if r["kind"] == kind]
        t = [r["target"] for r in rs]
        a.bar([v + 0.4 * i - 0.2 for v in t], [100 * r["success"] for r in rs], 0.4, label=kind)
        b.bar([v + 0.4 * i - 0.2 for v in t], [r["l2"] for r in rs], 0.4, label=kind)
    a.set_xlabel("target class")
    a.set_ylabel("success: victim says the target [%]")
    b.set_xlabel("target class")
    b.set_ylabel("mean ‖x' − x‖₂")
    for ax in (a, b):
        ax.set_xticks(range(10))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("adversarial transformation networks against an MNIST CNN", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def _plot_gallery(result: Mapping[str, Any], out: str | Path) -> Path:
    from njscc.experiments.robustness._plots import digit_grid

    met = result["metrics"]
    rows = [("test digits", met["source"], met["labels"])] + [
        (f"{r['kind']} → {r['target']}", r["images"], r["victim"]) for r in met["rows"]]
    return digit_grid(rows, out, "ATN outputs (numbers: true label / the victim CNN's label)")
