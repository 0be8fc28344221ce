"""Deep VIB experiments: train (shared Trainer), test error, β sweep, calibration and OOD.

:func:`run_vib_experiment` trains one ``vib_mlp`` per β (objective ``vib``: CE + β·R) and,
optionally, the deterministic baseline (same MLP, z = μ(x), β = 0: TherML (0, 0, 1)), then
evaluates every model on the test set:

* test error with the posterior-averaged prediction (``n_test_samples`` draws, paper: 12) and
  with one draw; mean rate R (nats, bits) and cross-entropy;
* calibration (:func:`njscc.evaluation.uncertainty.calibration`, ECE over 15 bins);
* OOD detection AUROC against each OOD set, scored by the rate R(x), by E_z H(c(y|z)), by the
  predictive entropy and by the max probability (negated).

:class:`VIBStudy` (``njscc vib``) loads the data and the OOD sets and runs it all; results
``vib.json``, plots ``reliability.png`` and (several β) ``vib_beta.png``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from njscc.data.batch import Batch
from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm
from njscc.io.results import save_figure
from njscc.objectives.rate_distortion import LN2

__all__ = ["OOD_SETS", "VIBStudy", "evaluate_classifier", "format_table", "plot_vib",
           "run_vib_experiment"]

OOD_SETS = ("kodak", "shuffled", "noise")


@torch.no_grad()
def evaluate_classifier(model: Any, test_x: Tensor, test_y: Tensor,
                        ood: Mapping[str, Tensor], *, n_test_samples: int = 12,
                        seed: int = 0) -> dict[str, Any]:
    """Error, rate, calibration and OOD AUROCs of a ``vib_mlp`` (see the module docstring)."""
    from njscc.evaluation.uncertainty import auroc, calibration, vib_scores

    g = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    s_in = vib_scores(model, test_x, n_samples=n_test_samples, generator=g)
    s1 = vib_scores(model, test_x, n_samples=1, generator=g)
    cal = calibration(s_in["probs"], test_y)
    labels = test_y.to(s_in["probs"].device)
    out: dict[str, Any] = {
        "test_error": float((s_in["probs"].argmax(-1) != labels).double().mean()),
        "test_error_1sample": float((s1["probs"].argmax(-1) != labels).double().mean()),
        "rate_nats": float(s_in["rate"].double().mean()),
        "rate_bits": float(s_in["rate"].double().mean()) / LN2,
        "test_nll_nats": cal["nll"], "ece": cal["ece"], "calibration": cal,
        "n_test": int(test_x.shape[0]), "n_test_samples": n_test_samples, "auroc": {}}
    scores = {"rate": lambda s: s["rate"], "entropy": lambda s: s["entropy"],
              "pred_entropy": lambda s: s["pred_entropy"], "neg_max_prob": lambda s: -s["max_prob"]}
    for name, x in ood.items():
        s_out = vib_scores(model, x, n_samples=n_test_samples, generator=g)
        out["auroc"][name] = {k: auroc(f(s_in), f(s_out)) for k, f in scores.items()}
        out["auroc"][name]["mean_rate_nats"] = float(s_out["rate"].double().mean())
    return out


def run_vib_experiment(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *,
    betas: Sequence[float], m: int = 256, hidden: Sequence[int] = (1024, 1024),
    epochs: int = 1, baseline: bool = True, ood: Mapping[str, Tensor] | None = None,
    runs_dir: str | os.PathLike[str] = "runs/vib", batch_size: int = 100, lr: float = 1e-3,
    n_train_samples: int = 1, n_test_samples: int = 12, seed: int = 0,
    max_seconds: float | None = None, dataset: str = "mnist", device: str | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Train and evaluate the VIB models (and baseline); returns an ``njscc.result/1`` dict."""
    from njscc.io.results import make_result
    from njscc.training.runs import fit_codec, history_summary

    train = Batch(train_x, train_y)
    kw = {"m": m, "data_shape": list(train_x.shape[1:]), "enc_hidden": list(hidden)}
    specs: list[tuple[str, float | None, dict[str, Any], str, dict[str, Any]]] = [
        (f"vib_beta_{b:g}", b, {**kw, "stochastic": True}, "vib",
         {"beta": b, "n_samples": n_train_samples}) for b in betas]
    if baseline:
        specs.append(("deterministic", 0.0, {**kw, "stochastic": False}, "therml",
                      {"w_rate": 0.0, "w_distortion": 0.0, "w_class": 1.0}))
    models_out = []
    t_all = time.perf_counter()
    for label, beta, mkw, obj, okw in specs:
        if log:
            log(f"{label}: training {epochs} epoch(s)")
        res = fit_codec("vib_mlp", mkw, obj, okw, train, Path(runs_dir) / label,
                        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                        max_seconds=max_seconds, device=device,
                        run_info={"dataset": dataset, "experiment": "vib"},
                        quiet=log is None, log=log)
        t0 = time.perf_counter()
        ev = evaluate_classifier(res["model"], test_x, test_y, ood or {},
                                 n_test_samples=n_test_samples, seed=seed)
        row = {"label": label, "beta": beta, "stochastic": mkw["stochastic"],
               "objective": {"name": obj, "kwargs": okw}, "run": str(res["out"]),
               **history_summary(res["history"]), **ev,
               "eval_seconds": time.perf_counter() - t0}
        if log:
            log(f"  test error {100 * ev['test_error']:.2f}% (1 sample "
                f"{100 * ev['test_error_1sample']:.2f}%), R {ev['rate_nats']:.2f} nats, "
                f"ECE {100 * ev['ece']:.2f}%")
        models_out.append(row)
    metrics = {"models": models_out,
               "ood_sets": {k: int(v.shape[0]) for k, v in (ood or {}).items()},
               "wall_seconds": time.perf_counter() - t_all}
    return make_result("vib", metrics, dataset=dataset, m=m,
                       config={"model": "vib_mlp", "enc_hidden": list(hidden), "m": m,
                               "betas": list(betas), "epochs": epochs, "lr": lr,
                               "batch_size": batch_size, "n_train_samples": n_train_samples,
                               "n_test_samples": n_test_samples, "seed": seed,
                               "n_train": int(train_x.shape[0]),
                               "threads": torch.get_num_threads()})


@EXPERIMENTS.register("vib")
@dataclass
class VIBStudy(Study):
    """Deep VIB classifier on MNIST: error vs β, calibration (ECE), OOD AUROC vs baseline."""

    data_dir: str | None = None
    dataset: str = "mnist"
    betas: Sequence[float] = (1e-3,)
    m: int = 256
    hidden: Sequence[int] = (1024, 1024)
    epochs: int = 1
    batch_size: int = 100
    lr: float = 1e-3
    train_samples: int = 1
    test_samples: int = 12
    baseline: bool = True
    ood: Sequence[str] = OOD_SETS
    n_ood: int = 2000
    train_size: int | None = None
    test_size: int | None = None
    max_minutes: float | None = None
    runs_dir: str = "runs/vib"
    device: str | None = None
    seed: int = 0

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.evaluation.uncertainty import kodak_grey_crops, pixel_shuffled, uniform_noise
        from njscc.validation import check_number, check_positive_int

        if any(b < 0 for b in self.betas):
            raise ValueError(f"betas must be >= 0, got {list(self.betas)}")
        bad = [n for n in self.ood if n not in OOD_SETS]
        if bad:
            raise ValueError(f"ood: unknown set(s) {bad}; choose from {', '.join(OOD_SETS)}")
        for name in ("m", "epochs", "batch_size", "train_samples", "test_samples", "n_ood"):
            check_positive_int(getattr(self, name), name)
        if self.max_minutes is not None:
            check_number(self.max_minutes, "max_minutes", min=0, min_open=True)
        data_dir = None if self.dataset == "embedded" else self.data_dir
        train = load_dataset(self.dataset, "train", data_dir=data_dir)
        test = load_dataset(self.dataset, "test", data_dir=data_dir)
        if train.labels is None:
            raise ValueError(f"dataset {self.dataset!r} has no labels; VIB needs them")
        train_x, train_y = train.images[:self.train_size], train.labels[:self.train_size]
        test_x, test_y = test.images[:self.test_size], test.labels[:self.test_size]
        g = torch.Generator().manual_seed(self.seed + 1)
        ood: dict[str, Tensor] = {}
        for name in self.ood:
            if name == "kodak":
                ood["kodak_grey_crops"] = kodak_grey_crops(self.data_dir, self.n_ood, g)
            elif name == "shuffled":
                ood["pixel_shuffled_mnist"] = pixel_shuffled(test_x[:self.n_ood], g)
            else:
                ood["uniform_noise"] = uniform_noise(self.n_ood, test_x.shape[1:], g)
        result = run_vib_experiment(
            train_x, train_y, test_x, test_y, betas=self.betas, m=self.m, hidden=self.hidden,
            epochs=self.epochs, baseline=self.baseline, ood=ood, runs_dir=self.runs_dir,
            batch_size=self.batch_size, lr=self.lr, n_train_samples=self.train_samples,
            n_test_samples=self.test_samples, seed=self.seed,
            max_seconds=None if self.max_minutes is None else 60 * self.max_minutes,
            dataset=self.dataset, device=self.device, log=log)
        result["config"]["study"] = self.config_dict()
        return {"vib": result}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        from njscc.evaluation.uncertainty import plot_reliability

        result = results["vib"]
        rows = result["metrics"]["models"]
        plots = [plot_reliability({r["label"]: r["calibration"] for r in rows},
                                  Path(out) / "reliability.png")]
        if sum(bool(r["stochastic"]) for r in rows) > 1:
            plots.append(plot_vib(result, Path(out) / "vib_beta.png"))
        return plots

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        return format_table(results["vib"])




def plot_vib(result: Mapping[str, Any], out: str | os.PathLike[str]) -> Path:
    """Test error (%) and rate (nats) vs β for the stochastic models of a ``vib`` result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted((r for r in result["metrics"]["models"] if r["stochastic"]),
                  key=lambda r: r["beta"])
    fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=130)
    b = [r["beta"] for r in rows]
    ax.semilogx(b, [100 * r["test_error"] for r in rows], "o-", color="C0",
                label="test error (12 samples)")
    det = [r for r in result["metrics"]["models"] if not r["stochastic"]]
    if det:
        ax.axhline(100 * det[0]["test_error"], color="C0", ls=":", lw=1,
                   label="deterministic baseline")
    ax.set_xlabel("β")
    ax.set_ylabel("test error (%)", color="C0")
    ax2 = ax.twinx()
    ax2.semilogx(b, [r["rate_nats"] for r in rows], "s--", color="C3", label="rate R")
    ax2.set_ylabel("rate R (nats)", color="C3")
    ax2.set_yscale("log")
    ax.grid(alpha=0.3)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left")
    ax.set_title("VIB on MNIST: error and rate vs β", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out)


def format_table(result: Mapping[str, Any]) -> str:
    """Markdown tables: error/rate/ECE per model, then AUROC per OOD set and score (± σ over
    seeds where the result aggregates several)."""
    rows = result["metrics"]["models"]
    sds = (result.get("metrics_std") or {}).get("models") or [{} for _ in rows]
    lines = ["| model | β | epochs | test error (12 samples) | 1 sample | R (nats) | ECE |",
             "|---|---|---|---|---|---|---|"]
    for r, sd in zip(rows, sds, strict=True):
        rate = fmt_pm(r["rate_nats"], sd.get("rate_nats")) if r["stochastic"] else \
            "– (deterministic)"
        pct = {k: fmt_pm(100 * r[k], None if sd.get(k) is None else 100 * sd[k])
               for k in ("test_error", "test_error_1sample", "ece")}
        lines.append(f"| {r['label']} | {r['beta']:g} | {r['epochs']} | {pct['test_error']} % | "
                     f"{pct['test_error_1sample']} % | {rate} | {pct['ece']} % |")
    sets = list(result["metrics"]["ood_sets"])
    if sets:
        lines += ["", "| model | OOD set | AUROC rate R(x) | AUROC E H(y|z) | "
                  "AUROC pred. entropy | AUROC −max p |", "|---|---|---|---|---|---|"]
        for r in rows:
            for s in sets:
                a = r["auroc"][s]
                rate = f"{a['rate']:.3f}" if r["stochastic"] else "–"
                lines.append(f"| {r['label']} | {s} | {rate} | {a['entropy']:.3f} | "
                             f"{a['pred_entropy']:.3f} | {a['neg_max_prob']:.3f} |")
    return "\n".join(lines)
