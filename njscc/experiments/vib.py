"""Deep VIB experiments: train (shared Trainer), test error, β sweep, calibration and OOD.

:func:`run_vib_experiment` trains one ``vib_mlp`` per β (objective ``vib``: CE + β·R) and,
optionally, the deterministic baseline (same MLP, z = μ(x), β = 0: TherML (0, 0, 1)), then
evaluates every model on the test set:

* test error with the posterior-averaged prediction (``n_test_samples`` draws, paper: 12) and
  with one draw; mean rate R (nats, bits) and cross-entropy;
* calibration (:func:`njscc.evaluation.uncertainty.calibration`, ECE over 15 bins);
* OOD detection AUROC against each OOD set, scored by the rate R(x), by E_z H(c(y|z)), by the
  predictive entropy and by the max probability (negated).

Returns an ``njscc.result/1`` dict; :func:`plot_vib` draws error/rate vs β.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from njscc.io.results import save_figure
from njscc.objectives.rate_distortion import LN2, pack_labelled

__all__ = ["evaluate_classifier", "plot_vib", "run_vib_experiment"]


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
    max_seconds: float | None = None, dataset: str = "mnist", log: Any = None,
) -> dict[str, Any]:
    """Train and evaluate the VIB models (and baseline); returns an ``njscc.result/1`` dict."""
    from njscc.experiments.rd_sweep import history_summary, train_codec
    from njscc.io.results import make_result

    packed = pack_labelled(train_x, train_y)
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
        res = train_codec("vib_mlp", mkw, obj, okw, packed, Path(runs_dir) / label,
                          epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                          max_seconds=max_seconds,
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
