"""Gaussian noise injections vs their explicit regulariser (Camuto et al. 2020).

Three MLP classifiers (``mlp_classifier``) are trained on MNIST by the Trainer with the same
seed: plain cross-entropy (σ = 0), cross-entropy with N(0, σ²) injected on the activations
(``gni``), and clean cross-entropy plus the explicit regulariser in its place
(``gni_explicit``), for each σ in ``sigmas``. Reported per model: test accuracy, expected
calibration error (15 bins), NLL, and the classification margin — the first-order input-space
distance to the decision boundary, (z_y − z_j)/‖∇ₓ(z_y − z_j)‖₂ for the runner-up class j, on
correctly classified test images. The check: on each model and for each σ in
``check_sigmas``, the explicit regulariser R(σ) beside the Monte-Carlo (noisy − clean) test
loss over ``check_draws`` noise draws (± its standard error); they must agree to second order
in σ. Result ``gni.json``; plot ``gni.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study

__all__ = ["GNIStudy", "input_margin", "plot_gni", "regulariser_check"]


def input_margin(model: Any, x: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 500) -> torch.Tensor:
    """First-order input-space margin per correctly classified image (others are dropped)."""
    out = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i:i + batch_size].detach().clone().requires_grad_(True)
        yb = labels[i:i + batch_size]
        z = model.classify(xb)
        top2 = z.topk(2, -1).indices
        ok = top2[:, 0] == yb
        other = top2[:, 1]
        gap = z.gather(1, yb[:, None]).squeeze(1) - z.gather(1, other[:, None]).squeeze(1)
        (g,) = torch.autograd.grad(gap.sum(), xb)
        m = gap.detach() / g.reshape(g.shape[0], -1).norm(dim=1).clamp_min(1e-12)
        out.append(m[ok])
    return torch.cat(out)


def regulariser_check(model: Any, x: torch.Tensor, labels: torch.Tensor, sigma: float, *,
                      layers: str = "all", draws: int = 200,
                      generator: torch.Generator | None = None) -> dict[str, float]:
    """``{"explicit": mean R(σ), "mc": mean (noisy − clean) loss, "mc_se": its s.e.}``."""
    from njscc.objectives.noise_injection import explicit_regulariser, noisy_loss

    reg, _ = explicit_regulariser(model, x, sigma, layers=layers, create_graph=False)
    with torch.no_grad():
        clean = noisy_loss(model, x, labels, 0.0)
        d = torch.stack([(noisy_loss(model, x, labels, sigma, layers=layers,
                                     generator=generator) - clean).mean()
                         for _ in range(draws)])
    return {"sigma": float(sigma), "explicit": float(reg.detach().mean()), "mc": float(d.mean()),
            "mc_se": float(d.std() / math.sqrt(draws)) if draws > 1 else float("nan")}


@EXPERIMENTS.register("gni")
@dataclass
class GNIStudy(Study):
    """Gaussian noise injections vs the explicit regulariser: accuracy, ECE, margin, check."""

    dataset: str = "mnist"
    data_dir: str | None = None
    runs_dir: str | None = "runs/gni"
    hidden: Sequence[int] = (256, 256)
    sigmas: Sequence[float] = (0.1,)
    layers: str = "all"
    epochs: int = 5
    batch_size: int = 100
    lr: float = 1e-3
    n_test: int | None = None
    check_sigmas: Sequence[float] = (0.01, 0.03, 0.1)
    check_draws: int = 200
    check_images: int = 1000
    seed: int = 0

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.evaluation.uncertainty import calibration
        from njscc.io.results import make_result
        from njscc.objectives.noise_injection import LAYERS
        from njscc.training.runs import fit_codec
        from njscc.validation import check_positive_int

        if self.layers not in LAYERS:
            raise ValueError(f"layers: expected one of {', '.join(LAYERS)}")
        if not self.sigmas or any(not (s > 0 and math.isfinite(s)) for s in self.sigmas):
            raise ValueError(f"sigmas: expected positive noise levels, got {list(self.sigmas)}")
        if any(not (s > 0) for s in self.check_sigmas):
            raise ValueError("check_sigmas must be positive")
        for name in ("epochs", "batch_size", "check_draws", "check_images"):
            check_positive_int(getattr(self, name), name)
        train = load_dataset(self.dataset, "train", self.data_dir)
        test = load_dataset(self.dataset, "test", self.data_dir)
        if train.labels is None or test.labels is None:
            raise ValueError(f"dataset {self.dataset!r} has no labels")
        xte, yte = test.images[:self.n_test], test.labels[:self.n_test]
        runs = Path(self.runs_dir or out / "runs")
        jobs = [("cross-entropy", "gni", 0.0)]
        for s in self.sigmas:
            jobs += [(f"GNI σ={s:g}", "gni", float(s)), (f"explicit σ={s:g}", "gni_explicit",
                                                         float(s))]
        rows = []
        for label, obj, s in jobs:
            name = f"{self.dataset}_{obj}_s{s:g}_{self.layers}"
            res = fit_codec("mlp_classifier", {"hidden": list(self.hidden),
                                               "data_shape": list(train.images.shape[1:])},
                            obj, {"sigma": s, "layers": self.layers}, train, runs / name,
                            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                            seed=self.seed, log=log)
            model = res["model"].eval()
            for p in model.parameters():
                p.requires_grad_(False)
            with torch.no_grad():
                probs = torch.cat([torch.softmax(model.classify(xte[i:i + 2000]), -1)
                                   for i in range(0, xte.shape[0], 2000)])
            cal = calibration(probs, yte)
            mg = input_margin(model, xte, yte)
            xc, yc = xte[:self.check_images], yte[:self.check_images]
            checks = [regulariser_check(model, xc, yc, cs, layers=self.layers,
                                        draws=self.check_draws,
                                        generator=torch.Generator().manual_seed(self.seed + 5))
                      for cs in self.check_sigmas]
            row = {"model": label, "objective": obj, "sigma": s, "run": str(runs / name),
                   "accuracy": 1 - cal["error"], "ece": cal["ece"], "nll": cal["nll"],
                   "margin_mean": float(mg.mean()), "margin_median": float(mg.median()),
                   "checks": checks}
            rows.append(row)
            if log:
                log(f"{label}: accuracy {100 * row['accuracy']:.2f}%, ECE {row['ece']:.4f}, "
                    f"margin {row['margin_mean']:.3f}; " + ", ".join(
                        f"σ={c['sigma']:g}: R {c['explicit']:.2e} vs MC {c['mc']:.2e}"
                        for c in checks))
        metrics = {"rows": rows, "n_test": int(xte.shape[0]), "layers": self.layers}
        result = make_result("gni", metrics, dataset=self.dataset,
                             config={"study": self.config_dict()})
        return {"gni": result}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_gni(r, Path(out) / f"{stem}.png") for stem, r in results.items()]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        lines = []
        for res in results.values():
            met = res["metrics"]
            lines.append(f"{'model':<18}{'accuracy':>10}{'ECE':>9}{'NLL':>9}{'margin':>9}"
                         "   explicit R vs Monte-Carlo (noisy − clean) at σ")
            for row in met["rows"]:
                chk = "; ".join(f"{c['sigma']:g}: {c['explicit']:.2e} vs {c['mc']:.2e} ± "
                                f"{c['mc_se']:.1e}" for c in row["checks"])
                lines.append(f"{row['model']:<18}{100 * row['accuracy']:9.2f}%"
                             f"{row['ece']:9.4f}{row['nll']:9.4f}{row['margin_mean']:9.3f}   "
                             f"{chk}")
        return "\n".join(lines)


def plot_gni(result: Mapping[str, Any], out: str | Path) -> Path:
    """Left: explicit regulariser vs Monte-Carlo noisy − clean loss over σ, per model;
    right: accuracy, ECE and margin per model."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    rows = result["metrics"]["rows"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for i, row in enumerate(rows):
        s = [c["sigma"] for c in row["checks"]]
        a.plot(s, [c["explicit"] for c in row["checks"]], "-", color=f"C{i}",
               label=f"{row['model']}: explicit R")
        a.errorbar(s, [c["mc"] for c in row["checks"]], yerr=[2 * c["mc_se"]
                                                              for c in row["checks"]],
                   fmt="o", color=f"C{i}", ms=4, capsize=2, label="  Monte Carlo ± 2 s.e.")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("injected σ")
    a.set_ylabel("E[noisy loss] − clean loss (nats)")
    a.legend(fontsize=6)
    a.grid(alpha=0.3)
    names = [r["model"] for r in rows]
    x = range(len(rows))
    b.bar([v - 0.25 for v in x], [100 * r["ece"] for r in rows], 0.25, label="ECE ×100")
    b.bar(x, [r["margin_mean"] for r in rows], 0.25, label="margin (L2)")
    b.bar([v + 0.25 for v in x], [100 * (1 - r["accuracy"]) for r in rows], 0.25,
          label="error %")
    b.set_xticks(list(x), names, fontsize=7, rotation=20)
    b.legend(fontsize=7)
    b.grid(axis="y", alpha=0.3)
    where = "all" if result["metrics"]["layers"] == "all" else "the hidden"
    fig.suptitle(f"{result['dataset']}: Gaussian noise injections on {where} activations",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
