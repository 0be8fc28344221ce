"""Linear ICA with bijective feature maps (Camuto, Willetts, Roberts, Holmes & Rainforth,
AISTATS 2021) on synthetic data with known sources (:func:`njscc.data.ica.make_bijective_ica`:
k logistic sources, a non-square linear mixing into D dimensions, a random bijective
non-linearity on top).

Methods, each scored by the MCC (|Pearson|, Hungarian-matched) between its recovered
components and the true sources on the test split:

* ``flow_ica`` — ``flow_ica`` (a zuko MAF feature map + non-square linear ICA with logistic
  sources, A kept near the Stiefel manifold), trained by exact maximum likelihood (``nll``);
* ``flow_alone`` — the same flow with a standard-normal base and k = D (a plain normalising
  flow): its D latents, the best-matched k of them;
* ``flow_then_fastica`` — scikit-learn's FastICA (k components) on the plain flow's latents;
* ``fastica`` — FastICA (k components) on x directly (linear ICA ignoring the non-linearity).

One data seed per study seed (``--seeds`` gives σ). Result ``bijective_ica.json``, plot
``bijective_ica.png``. MNIST factors are not part of this study yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm, rows_with_std

__all__ = ["METHODS", "BijectiveICAStudy"]

METHODS = ("flow_ica", "flow_alone", "flow_then_fastica", "fastica")


@EXPERIMENTS.register("bijective_ica")
@dataclass
class BijectiveICAStudy(Study):
    """Flow + non-square linear ICA vs FastICA vs the flow alone: MCC to the sources."""

    n_sources: int = 3
    dim: int = 6
    noise: float = 0.1
    n_layers: int = 2
    n_train: int = 10_000
    n_test: int = 5_000
    transforms: int = 3
    hidden: tuple[int, ...] = (64, 64)
    stiefel: float = 10.0
    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    runs_dir: str = "runs/bijective_ica"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from sklearn.decomposition import FastICA

        from njscc.data.datasets import TabularDataset
        from njscc.data.ica import make_bijective_ica
        from njscc.evaluation.identifiability import mean_corr_coef
        from njscc.io.results import make_result
        from njscc.training.runs import fit_codec, history_summary
        from njscc.validation import check_positive_int

        for name in ("n_sources", "dim", "n_train", "n_test", "epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        kw = {"n_sources": self.n_sources, "dim": self.dim, "noise": self.noise,
              "n_layers": self.n_layers, "seed": self.seed}
        tr = make_bijective_ica("train", self.n_train, **kw)
        te = make_bijective_ica("test", self.n_test, **kw)
        zeros = torch.zeros(self.n_train, dtype=torch.long)
        train = TabularDataset(tr["x"], zeros, zeros.clone(),
                               feature_names=[f"x{i}" for i in range(self.dim)],
                               sensitive_name="none", name="bijective_ica", split="train")
        s_true = te["sources"].numpy()
        rows = []
        models_ = {}
        for method, prior, k in (("flow_ica", "logistic", self.n_sources),
                                 ("flow_alone", "gaussian", self.dim)):
            kwargs = {"n_sources": k, "data_shape": [self.dim], "transforms": self.transforms,
                      "hidden": list(self.hidden), "source_prior": prior,
                      "stiefel": self.stiefel if k < self.dim else 0.0}
            if log:
                log(f"{method}: {self.epochs} epochs")
            res = fit_codec("flow_ica", kwargs, "nll", {}, train,
                            Path(self.runs_dir) / method, epochs=self.epochs,
                            batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                            device=self.device, quiet=self.quiet,
                            run_info={"experiment": "bijective_ica", "method": method})
            model = res["model"].eval()
            models_[method] = model
            with torch.no_grad():
                z = model.encode(te["x"].to(next(model.parameters()).device)).cpu().numpy()
                ll = float(model.log_likelihood(te["x"]).mean())
            a = model.mixing.detach()
            rows.append({"method": method, "mcc": mean_corr_coef(z, s_true)["mcc"],
                         "test_log_likelihood": ll,
                         "stiefel_error": float((a.T @ a - torch.eye(a.shape[1])).norm()),
                         "training": history_summary(res["history"])})
        with torch.no_grad():
            flat = models_["flow_alone"].encode(te["x"]).numpy()
        for method, data in (("flow_then_fastica", flat), ("fastica", te["x"].numpy())):
            ica = FastICA(self.n_sources, whiten="unit-variance", random_state=self.seed,
                          max_iter=1000)
            z = ica.fit_transform(data)
            rows.append({"method": method, "mcc": mean_corr_coef(z, s_true)["mcc"]})
        if log:
            log("  MCC to the sources: " + ", ".join(f"{r['method']} {r['mcc']:.3f}"
                                                     for r in rows))
        cfg = {"study": self.config_dict(), "threads": torch.get_num_threads(),
               "mcc": "mean |Pearson ρ| of the Hungarian-matched components, test split"}
        return {"bijective_ica": make_result("bijective_ica", {"rows": rows}, config=cfg)}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        if "bijective_ica" not in results:
            return []
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from njscc.io.results import save_figure

        pairs = rows_with_std(results["bijective_ica"])
        fig, ax = plt.subplots(figsize=(5.2, 3.2))
        xs = np.arange(len(pairs))
        ax.bar(xs, [r["mcc"] for r, _ in pairs], yerr=[s.get("mcc") or 0 for _, s in pairs],
               capsize=3)
        ax.set_xticks(xs, [r["method"] for r, _ in pairs], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("MCC to the true sources")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        return [save_figure(fig, Path(out) / "bijective_ica.png")]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("bijective_ica")
        if not r:
            return ""
        lines = [f"{'method':<20}{'MCC to sources':>18}{'test log p(x)':>16}"]
        for row, s in rows_with_std(r):
            ll = (fmt_pm(row["test_log_likelihood"], s.get("test_log_likelihood"), "{:.3f}")
                  if "test_log_likelihood" in row else "–")
            lines.append(f"{row['method']:<20}{fmt_pm(row['mcc'], s.get('mcc'), '{:.3f}'):>18}"
                         f"{ll:>16}")
        return "\n".join(lines)
