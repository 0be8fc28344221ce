"""Adversarial transformation networks (Baluja & Fischer 2017) against an MNIST CNN: one
perturbation ATN and one adversarial-autoencoder ATN per target class
(:mod:`njscc.robustness.atn`). The victim is a CNN (:class:`~njscc.robustness.oracle.MnistOracle`
trained with seed ``seed + 1``); an independent oracle CNN (seed ``seed``) says how often the
transformed digit still looks like its true class. Reported per kind and target: success
rate (victim says the target, on test digits of other classes), mean L2 / L∞ of x' − x, and
the oracle's true-class rate, and ``fooled`` (the victim says the target while the oracle
still sees the true class). ``betas`` sweeps the closeness weight β. Beside the ATNs, the
reference optimisation attack: torchattacks' targeted L2 PGD on the same victim at L2 budgets
``pgd_eps`` (:mod:`njscc.robustness.classifier_attacks`; ``pgd_eps=[]`` leaves it out).
Result ``atn.json``; plots ``atn.png`` (success and ``fooled`` vs mean L2) and
``atn_gallery.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study
from njscc.experiments.robustness._plots import as_u8 as _u8

__all__ = ["ATNStudy", "plot_atn"]


@EXPERIMENTS.register("atn")
@dataclass
class ATNStudy(Study):
    """Perturbation and autoencoder ATNs, one per target class, against an MNIST CNN."""

    illustrations: ClassVar[tuple[str, ...]] = ("atn_gallery",)

    dataset: str = "mnist"
    data_dir: str | None = None
    kinds: Sequence[str] = ("perturbation", "autoencoder")
    targets: Sequence[int] = tuple(range(10))
    betas: Sequence[float] = (0.005, 0.01, 0.05)
    alpha: float = 1.5
    epochs: int = 2
    n_train: int = 20_000
    n_test: int = 2000
    classifier_epochs: int = 3
    classifier_train: int | None = None
    pgd_eps: Sequence[float] = (1.0, 2.0, 3.0, 4.0, 5.0)
    pgd_steps: int = 40
    pgd_n: int = 500
    seed: int = 0

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.io.results import make_result
        from njscc.robustness.atn import KINDS, evaluate_atn, targeted_metrics, train_atn
        from njscc.robustness.classifier_attacks import targeted_pgd_l2
        from njscc.robustness.oracle import accuracy, oracle
        from njscc.validation import check_choices, check_positive_int

        check_choices(self.kinds, "kinds", KINDS)
        if not self.targets or any(not 0 <= int(t) <= 9 for t in self.targets):
            raise ValueError(f"targets: expected classes 0..9, got {list(self.targets)}")
        if not self.betas or any(not float(b) >= 0 for b in self.betas):
            raise ValueError(f"betas: expected weights >= 0, got {list(self.betas)}")
        if any(not float(e) > 0 for e in self.pgd_eps):
            raise ValueError(f"pgd_eps: expected L2 budgets > 0, got {list(self.pgd_eps)}")
        for name in ("epochs", "n_train", "n_test", "classifier_epochs", "pgd_steps", "pgd_n"):
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
        show = float(self.betas[len(self.betas) // 2])
        for kind in self.kinds:
            for beta in map(float, self.betas):
                for t in map(int, self.targets):
                    atn = train_atn(victim, xtr, t, kind=kind, beta=beta, alpha=self.alpha,
                                    epochs=self.epochs, seed=self.seed + 10 * t)
                    r = evaluate_atn(atn, victim, xte, yte, t, judge=judge)
                    rows.append({"kind": kind, "beta": beta, "target": t, **r})
                    if log:
                        log(f"{kind} ATN β={beta:g} → {t}: success {100 * r['success']:.1f}%, "
                            f"L2 {r['l2']:.2f}, fooled (oracle still sees the true class) "
                            f"{100 * r['fooled']:.1f}%")
                    if beta == show and t == int(self.targets[0]):
                        with torch.no_grad():
                            xa = atn(xte[:10])
                            gallery["rows"].append({"kind": kind, "beta": beta, "target": t,
                                                    "images": _u8(xa),
                                                    "victim": victim(xa).argmax(-1).tolist()})
        xp, yp = xte[:self.pgd_n], yte[:self.pgd_n]
        for eps in map(float, self.pgd_eps):
            for t in map(int, self.targets):
                keep = yp != t
                xa = targeted_pgd_l2(victim, xp[keep], t, eps, steps=self.pgd_steps,
                                     seed=self.seed + 10 * t)
                r = targeted_metrics(xp[keep], xa, yp[keep], victim, t, judge)
                rows.append({"kind": "pgd_l2", "eps": eps, "target": t, **r})
            if log:
                rs = rows[-len(self.targets):]
                log(f"torchattacks PGD-L2 ‖δ‖ ≤ {eps:g}: success "
                    f"{100 * sum(x['success'] for x in rs) / len(rs):.1f}%, fooled "
                    f"{100 * sum(x['fooled'] for x in rs) / len(rs):.1f}%")
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
                 f"{'attack':<26}{'success':>9}{'fooled':>9}{'L2':>7}{'L∞':>7}  per target "
                 "success %"]
        for name, rs in _groups(met["rows"]).items():
            lines.append(f"{name:<26}{100 * _mean(rs, 'success'):8.1f}%"
                         f"{100 * _mean(rs, 'fooled'):8.1f}%{_mean(rs, 'l2'):7.2f}"
                         f"{_mean(rs, 'linf'):7.2f}  "
                         + " ".join(f"{100 * r['success']:.0f}" for r in rs))
        return "\n".join(lines)


def _groups(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Rows grouped by attack: ``perturbation β=0.01``, ``pgd_l2 ε=2`` (old results: no β)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if r["kind"] == "pgd_l2":
            name = f"PGD-L2 ‖δ‖≤{r['eps']:g}"
        else:
            name = r["kind"] + (f" β={r['beta']:g}" if "beta" in r else "")
        out.setdefault(name, []).append(r)
    return out


def _mean(rows: Sequence[Mapping[str, Any]], key: str) -> float:
    return sum(float(r.get(key, float("nan"))) for r in rows) / max(len(rows), 1)


def plot_atn(result: Mapping[str, Any], out: str | Path) -> Path:
    """Success and ``fooled`` rates vs mean L2, mean over targets: the PGD curve and one
    point per ATN kind and β."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    groups = _groups(result["metrics"]["rows"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharex=True)
    for ax, key, label in ((axes[0], "success", "success: the victim says the target [%]"),
                           (axes[1], "fooled", "fooled: victim says the target, oracle the "
                                               "true class [%]")):
        pgd = [(_mean(rs, "l2"), 100 * _mean(rs, key)) for n, rs in groups.items()
               if n.startswith("PGD")]
        if pgd:
            pgd.sort()
            ax.plot([p[0] for p in pgd], [p[1] for p in pgd], "k.-",
                    label="torchattacks PGD-L2 (per budget)")
        for kind, marker in (("perturbation", "o"), ("autoencoder", "s")):
            pts = [(n, _mean(rs, "l2"), 100 * _mean(rs, key)) for n, rs in groups.items()
                   if n.startswith(kind)]
            if pts:
                ax.plot([p[1] for p in pts], [p[2] for p in pts], marker + "-",
                        label=f"{kind} ATN (β sweep)")
                for n, x, y in pts:
                    ax.annotate(n.split(" ", 1)[-1], (x, y), fontsize=6,
                                xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("mean ‖x' − x‖₂")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("targeted attacks on an MNIST CNN, mean over target classes", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def _plot_gallery(result: Mapping[str, Any], out: str | Path) -> Path:
    from njscc.experiments.robustness._plots import digit_grid

    met = result["metrics"]
    rows = [("test digits", met["source"], met["labels"])] + [
        (f"{r['kind']}" + (f" β={r['beta']:g}" if "beta" in r else "") + f" → {r['target']}",
         r["images"], r["victim"]) for r in met["rows"]]
    return digit_grid(rows, out, "ATN outputs (numbers: true label / the victim CNN's label)")
