"""r-robustness margins of β-VAEs and NECST (Camuto et al. 2021), and the certified margins
of Lipschitz VAEs (Barrett et al. 2022) next to their empirical ones.

For ``n_images`` test images and each r in ``r``: P̂(‖g(x) − g(x)‖ ≤ r) at δ = 0 (two
independent reconstructions) and the empirical margin — the largest L2 radius at which the
max-damage attack leaves P̂ > ½ (:func:`njscc.robustness.rrobust.margin`). NECST's g samples
its code and sends it through its training channel. For codecs that declare Lipschitz
constants (``vae_lipschitz``) the certified radius of
:func:`njscc.robustness.certify.certified_radius` is reported per image beside it, with the
count of images whose empirical margin falls below it (a violation of the certificate: must be
0). Result ``r_robustness.json``; plot ``r_robustness.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study
from njscc.experiments.robustness._models import eps_key as _key

__all__ = ["RRobustnessStudy", "plot_rrobustness"]



@EXPERIMENTS.register("r_robustness")
@dataclass
class RRobustnessStudy(Study):
    """r-robustness margins (max-damage attack + bisection) of VAEs, β-VAEs and NECST."""

    runs_dir: str | None = "runs/conv"
    models: Sequence[str] = ()
    m: int = 100
    betas: Sequence[float] = (1.0, 4.0, 8.0)
    necst_eps: Sequence[float] = (0.0, 0.1, 0.2)
    channel: str = "bsc"
    dataset: str = "mnist"
    data_dir: str | None = None
    r: Sequence[float] = (5.0,)
    n_images: int = 100
    max_radius: float = 10.0
    n_bisect: int = 7
    steps: int = 40
    n_draws: int = 4
    n_samples: int = 64
    seed: int = 0

    def _paths(self) -> list[str]:
        from njscc.experiments.robustness._models import find_runs

        if self.models:
            return list(self.models)
        names = [f"{self.dataset}_vae{self.m}" if float(b) == 1.0 else
                 f"{self.dataset}_bvae{self.m}_b{_key(b)}" for b in self.betas]
        names += [f"{self.dataset}_m{self.m}_{self.channel}_{_key(e)}" for e in self.necst_eps]
        return find_runs(self.runs_dir, names)

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.experiments.robustness._models import load_victim
        from njscc.io.results import make_result
        from njscc.robustness.certify import certified_radius
        from njscc.robustness.rrobust import margin
        from njscc.validation import check_positive_int

        for name in ("n_images", "n_bisect", "steps", "n_draws", "n_samples"):
            check_positive_int(getattr(self, name), name)
        if not self.r or any(not (v > 0 and math.isfinite(v)) for v in self.r):
            raise ValueError(f"r: expected positive distances, got {list(self.r)}")
        if not (self.max_radius > 0 and math.isfinite(self.max_radius)):
            raise ValueError(f"max_radius must be positive, got {self.max_radius}")
        paths = self._paths()
        test = load_dataset(self.dataset, "test", self.data_dir)
        idx = torch.randperm(test.images.shape[0],
                             generator=torch.Generator().manual_seed(self.seed))[:self.n_images]
        x = test.images[idx]
        rows = []
        for path in paths:
            v = load_victim(path)
            ch = v.channel_at()
            cert_fn = getattr(v.model, "lipschitz_constants", None)
            for r in self.r:
                g = torch.Generator().manual_seed(self.seed + 3)
                res = margin(v.model, x, float(r), max_radius=self.max_radius,
                             n_bisect=self.n_bisect, steps=self.steps, n_draws=self.n_draws,
                             n_samples=self.n_samples, channel=ch, generator=g)
                mg = res["margin"]
                row = {"model": v.label, "checkpoint": str(path), "bits": v.bits,
                       "train_eps": v.train_eps, "beta": v.beta, "r": float(r),
                       "p0": float(res["p0"].mean()),
                       "margin_mean": float(mg.mean()),
                       "margin_se": float(mg.std() / math.sqrt(mg.numel())) if mg.numel() > 1
                       else None,
                       "margin_median": float(mg.median()),
                       "not_robust_at_0": float((res["p0"] <= 0.5).double().mean()),
                       "robust_at_max": float((mg >= self.max_radius).double().mean()),
                       "margins": mg.tolist()}
                if callable(cert_fn):
                    cert = certified_radius(v.model, x, float(r))
                    row["certified"] = cert.tolist()
                    row["certified_mean"] = float(cert.mean())
                    row["violations"] = int((mg < cert).sum())
                rows.append(row)
                if log:
                    extra = (f", certified {row['certified_mean']:.3f} ({row['violations']} "
                             "violations)" if "certified" in row else "")
                    log(f"{v.label} r={r:g}: P(δ=0) {row['p0']:.3f}, margin "
                        f"{row['margin_mean']:.2f} (median {row['margin_median']:.2f}){extra}")
        metrics = {"rows": rows, "n_images": int(x.shape[0]), "max_radius": self.max_radius,
                   "r": [float(v) for v in self.r]}
        result = make_result("r_robustness", metrics, dataset=self.dataset, m=self.m,
                             config={"study": self.config_dict()})
        return {"r_robustness": result}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_rrobustness(r, Path(out) / f"{stem}.png") for stem, r in results.items()]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        lines = []
        for res in results.values():
            met = res["metrics"]
            std = (res.get("metrics_std") or {}).get("rows")
            lines.append(f"r-robustness margins (L2), {met['n_images']} test images, attack "
                         f"radius ≤ {met['max_radius']:g}")
            lines.append(f"{'model':<24}{'r':>5}{'P(δ=0)':>9}{'margin mean':>20}{'median':>9}"
                         f"{'certified':>11}{'viol.':>7}")
            for i, row in enumerate(met["rows"]):
                sd = std[i].get("margin_mean") if std and std[i] else None
                mean = f"{row['margin_mean']:.2f}" + (f" ± {sd:.2f}σ" if sd is not None else
                                                      f" ± {row['margin_se'] or 0:.2f}se")
                cert = (f"{row['certified_mean']:11.3f}{row['violations']:7d}"
                        if "certified_mean" in row else f"{'–':>11}{'–':>7}")
                lines.append(f"{row['model']:<24}{row['r']:5g}{row['p0']:9.3f}{mean:>20}"
                             f"{row['margin_median']:9.2f}{cert}")
        return "\n".join(lines)


def plot_rrobustness(result: Mapping[str, Any], out: str | Path) -> Path:
    """Left: per model, the distribution of empirical margins (certified radii beside, red);
    right (when a model is certified): certified vs empirical margin per image, with y = x —
    every point must lie above the line."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    met = result["metrics"]
    rows = met["rows"]
    cert_rows = [r for r in rows if "certified" in r]
    ncol = 2 if cert_rows else 1
    fig, axes = plt.subplots(1, ncol, figsize=(max(5.0, 1.1 * len(rows) + 2) + 4.2 * (ncol - 1),
                                               4.2), squeeze=False)
    ax = axes[0][0]
    ax.boxplot([r["margins"] for r in rows], showmeans=True)
    for i, r in enumerate(rows, start=1):
        if "certified" in r:
            ax.scatter([i + 0.25] * len(r["certified"]), r["certified"], s=4, color="C3",
                       label="certified radius" if r is cert_rows[0] else None)
    ax.set_xticks(range(1, len(rows) + 1),
                  [f"{r['model']}\nr={r['r']:g}" for r in rows], fontsize=7, rotation=30,
                  ha="right")
    ax.set_ylabel("r-robustness margin ‖δ‖₂ (max-damage attack)")
    ax.set_title(f"{result['dataset']}: empirical margins of {met['n_images']} test images "
                 f"(radius searched up to {met['max_radius']:g})", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    if cert_rows:
        ax.legend(fontsize=7)
        ax2 = axes[0][1]
        top = 0.0
        for i, r in enumerate(cert_rows):
            ax2.scatter(r["certified"], r["margins"], s=6, color=f"C{i}",
                        label=f"{r['model']} r={r['r']:g} ({r['violations']} below)")
            top = max(top, max(r["certified"]), max(r["margins"]))
        ax2.plot([0, top], [0, top], "k--", lw=0.8, label="y = x")
        ax2.set_xlabel("certified radius (margin bound)")
        ax2.set_ylabel("empirical margin (attack)")
        ax2.set_title("certificates never exceed what the attack finds", fontsize=9)
        ax2.legend(fontsize=6)
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
