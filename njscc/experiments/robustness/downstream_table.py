"""The NECST paper's downstream table: eight scikit-learn classifiers on learned codes.

Choi et al. (2019, Table 3) train NECST (m = 100 bits) at BSC ε = 0, 0.1, 0.2 and a VAE with
100 latent dimensions on MNIST and report the test accuracy of KNN, decision tree, random
forest, MLP, AdaBoost, naive Bayes, QDA and SVM classifiers trained on their codes. The paper
does not say how the codes were fed, so every choice is an axis here, and the table reports
each configuration's distance to the paper:

* ``codes``: ``mode`` (most probable code / posterior mean) or ``sample``;
* ``values``: bit features ``01`` or ``pm1`` (±1);
* ``noise``: ``none`` (clean codes), ``test`` (test codes through the model's training
  channel) or ``both`` (train and test codes through it);
* ``setting`` (classifier hyper-parameters, :data:`njscc.evaluation.classifiers.SETTINGS`) and
  ``svm`` variants.

Models are found by name in ``runs_dir`` (``{dataset}_m{m}_{channel}_{ε}`` for NECST,
``{dataset}_vae{m}`` for the VAE) or given as paths; with ``--seeds`` each seed reads
``runs_dir/seed_<s>/`` and draws its own classifier training subset. Result
``downstream_table.json``; plot ``downstream_table.png``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.evaluation.classifiers import CLASSIFIERS, SETTINGS, SVM_VARIANTS
from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm
from njscc.experiments.robustness._models import eps_key as _key

__all__ = ["PAPER", "DownstreamTableStudy", "closest_configs", "plot_table"]

#: Choi et al. (2019), Table 3: accuracy per training ε, classifier → (NECST, VAE)
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "0": {"knn": (.95, .86), "dt": (.65, .54), "rf": (.71, .59), "mlp": (.93, .87),
          "adaboost": (.72, .65), "nb": (.75, .65), "qda": (.56, .28), "svm": (.88, .81)},
    "0.1": {"knn": (.95, .86), "dt": (.65, .59), "rf": (.74, .65), "mlp": (.934, .88),
            "adaboost": (.74, .72), "nb": (.83, .77), "qda": (.94, .90), "svm": (.92, .84)},
    "0.2": {"knn": (.94, .86), "dt": (.78, .69), "rf": (.81, .76), "mlp": (.93, .89),
            "adaboost": (.78, .80), "nb": (.87, .81), "qda": (.93, .90), "svm": (.93, .86)},
}
CODES = ("mode", "sample")
VALUES = ("01", "pm1")
NOISE = ("none", "test", "both")



def _config_label(c: Mapping[str, Any]) -> str:
    if c["model"] == "vae":
        return f"{c['code']}"
    return f"{c['code']}, {c['values']}, noise {c['noise']}"


def _paper_of(cell: Mapping[str, Any], eps: str) -> dict[str, float]:
    col = 0 if cell["model"] == "necst" else 1
    return {k: v[col] for k, v in PAPER[eps].items()}


def closest_configs(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every configuration with its mean |ours − paper| over the classifiers it was measured
    on (a VAE configuration against all three paper columns), best first."""
    rows = []
    for c in cells:
        cols = [_key(c["eps"])] if c["model"] == "necst" else list(PAPER)
        cols = [e for e in cols if e in PAPER]  # a training ε the paper does not have: no diff
        diffs = [abs(c["accuracy"][k] - _paper_of(c, e)[k]) for e in cols for k in c["accuracy"]
                 if k in PAPER[e] and c["accuracy"][k] is not None]
        rows.append({**c, "mean_abs_diff": sum(diffs) / len(diffs) if diffs else math.nan})
    return sorted(rows, key=lambda r: (r["model"], r["eps"] if r["eps"] is not None else -1,
                                       r["mean_abs_diff"]))


@EXPERIMENTS.register("downstream_table")
@dataclass
class DownstreamTableStudy(Study):
    """NECST paper Table 3: eight scikit-learn classifiers on NECST and VAE codes."""

    runs_dir: str | None = "runs/conv"
    necst: Sequence[str] = ()
    vae: str | None = None
    m: int = 100
    channel: str = "bsc"
    train_eps: Sequence[float] = (0.0, 0.1, 0.2)
    dataset: str = "mnist"
    data_dir: str | None = None
    n_train: int = 10_000
    n_test: int | None = None
    classifiers: Sequence[str] = tuple(CLASSIFIERS)
    setting: str = "comparison"
    svm: Sequence[str] = ("rbf_auto",)
    codes: Sequence[str] = ("mode",)
    values: Sequence[str] = ("01",)
    noise: Sequence[str] = ("none",)
    include_vae: bool = True
    seed: int = 0

    def _check(self) -> None:
        from njscc.validation import check_positive_int

        for what, vals, allowed in (("classifiers", self.classifiers, tuple(CLASSIFIERS)),
                                    ("svm", self.svm, SVM_VARIANTS), ("codes", self.codes, CODES),
                                    ("values", self.values, VALUES), ("noise", self.noise, NOISE)):
            if not vals:
                raise ValueError(f"{what}: give at least one of {', '.join(allowed)}")
            bad = [v for v in vals if v not in allowed]
            if bad:
                raise ValueError(f"{what}: unknown {', '.join(map(str, bad))}; expected "
                                 f"{', '.join(allowed)}")
        if self.setting not in SETTINGS:
            raise ValueError(f"setting: expected one of {', '.join(SETTINGS)}")
        check_positive_int(self.n_train, "n_train")
        if self.n_train < 50:
            raise ValueError(f"n_train must be >= 50, got {self.n_train}")
        if self.necst and len(self.necst) != len(self.train_eps):
            raise ValueError(f"necst: {len(self.necst)} checkpoints for {len(self.train_eps)} "
                             "train_eps; give one per ε (same order)")

    def _models(self) -> list[tuple[str, float | None, str]]:
        """(family, ε, checkpoint) for every model of the table."""
        def named(name: str) -> str:
            if not self.runs_dir:
                raise ValueError(f"runs_dir: needed to find {name!r} (or give the paths)")
            path = Path(self.runs_dir) / name
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such run; train it (see docs/robustness.md) "
                                        "or give its path")
            return str(path)

        out: list[tuple[str, float | None, str]] = []
        for i, e in enumerate(self.train_eps):
            path = (self.necst[i] if self.necst else
                    named(f"{self.dataset}_m{self.m}_{self.channel}_{_key(e)}"))
            out.append(("necst", float(e), path))
        if self.include_vae:
            out.append(("vae", None, self.vae or named(f"{self.dataset}_vae{self.m}")))
        return out

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        import channels
        from njscc.data import load_dataset
        from njscc.evaluation.classifiers import fit_score, make_classifier
        from njscc.io.results import make_result
        from njscc.robustness.latents import latent_features, latent_support
        from njscc.training import find_checkpoint, load_model

        self._check()
        models = self._models()
        train = load_dataset(self.dataset, "train", self.data_dir)
        test = load_dataset(self.dataset, "test", self.data_dir)
        if train.labels is None or test.labels is None:
            raise ValueError(f"dataset {self.dataset!r} has no labels to classify")
        n_train = min(self.n_train, train.images.shape[0])
        sub = torch.randperm(train.images.shape[0],
                             generator=torch.Generator().manual_seed(self.seed))[:n_train]
        xtr, ytr = train.images[sub], train.labels[sub]
        xte, yte = test.images[:self.n_test], test.labels[:self.n_test]
        names = list(self.classifiers)
        clf_cols = [(k, None) for k in names if k != "svm"]
        if "svm" in names:
            clf_cols += [("svm" if i == 0 else f"svm_{v}", v) for i, v in enumerate(self.svm)]

        cells: list[dict[str, Any]] = []
        for family, eps, ck in models:
            model = load_model(find_checkpoint(ck))
            ok = latent_support(model)
            if not ok:
                raise ValueError(f"{ck}: {ok.reason}")
            if tuple(model.data_shape) != tuple(xtr.shape[1:]):
                raise ValueError(f"{ck}: model images are {list(model.data_shape)}, the "
                                 f"dataset's {list(xtr.shape[1:])}")
            bits = model.latent.kind == "bits"
            if family == "necst" and not bits:
                raise ValueError(f"{ck}: expected a bit codec (NECST), got a "
                                 f"{model.latent.kind} latent")
            if family == "vae" and bits:
                raise ValueError(f"{ck}: expected a Gaussian-latent VAE, got bits")
            grid = (itertools.product(self.codes, self.values, self.noise) if bits else
                    ((c, None, "none") for c in self.codes))
            for code, values, noise in grid:
                g = torch.Generator().manual_seed(self.seed * 1000 + 17)
                ch = channels.get(self.channel, eps) if bits and eps and noise != "none" else None
                kw = {"sample": code == "sample", "values": values or "01", "generator": g}
                ftr = latent_features(model, xtr, channel=ch if noise == "both" else None, **kw)
                fte = latent_features(model, xte, channel=ch, **kw)
                acc: dict[str, float] = {}
                notes: list[str] = []
                for col, svm in clf_cols:
                    clf = make_classifier(col if svm is None else "svm", self.setting,
                                          seed=self.seed, svm=svm or "rbf_auto")
                    acc[col] = fit_score(clf, ftr, ytr, fte, yte)
                    if getattr(clf, "fallback_reg_", None):
                        notes.append(f"qda: singular class covariance, refit with reg_param "
                                     f"{clf.fallback_reg_:g}")
                cell = {"model": family, "eps": eps, "checkpoint": str(ck), "code": code,
                        "values": values, "noise": noise, "accuracy": acc, "notes": notes}
                cells.append(cell)
                if log:
                    log(f"{family} ε={eps}, {_config_label(cell)}: " + ", ".join(
                        f"{k} {100 * a:.1f}" for k, a in acc.items()))
        metrics = {"cells": cells, "paper": {e: {k: list(v) for k, v in row.items()}
                                             for e, row in PAPER.items()},
                   "n_train": int(n_train), "n_test": int(xte.shape[0]),
                   "classifier_columns": [c for c, _ in clf_cols]}
        from sklearn import __version__ as skv

        result = make_result(
            "downstream_table", metrics, dataset=self.dataset,
            channel={"name": self.channel, "param": list(self.train_eps)}, m=self.m,
            config={"study": self.config_dict(), "sklearn": skv,
                    "svm_variants": list(self.svm),
                    "adaboost": "SAMME (scikit-learn >= 1.6; the paper's 2018 default was "
                                "SAMME.R)"})
        return {"downstream_table": result}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_table(r, Path(out) / f"{stem}.png") for stem, r in results.items()]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        parts = []
        for r in results.values():
            met = r["metrics"]
            std_cells = (r.get("metrics_std") or {}).get("cells")
            ranked = closest_configs(met["cells"])
            parts.append(_table(met, std_cells, ranked))
        return "\n\n".join(parts)


def _best_cells(cells: Sequence[Mapping[str, Any]],
                ranked: Sequence[Mapping[str, Any]]) -> list[int]:
    """Index (into ``cells``) of the closest configuration of each model."""
    best: dict[tuple[str, Any], Mapping[str, Any]] = {}
    for r in ranked:
        best.setdefault((r["model"], r["eps"]), r)
    idx = []
    for b in best.values():
        for i, c in enumerate(cells):
            if (c["model"], c["eps"], c["code"], c["values"], c["noise"]) == (
                    b["model"], b["eps"], b["code"], b["values"], b["noise"]):
                idx.append(i)
    return idx


def _table(met: Mapping[str, Any], std_cells: Any, ranked: Sequence[Mapping[str, Any]]) -> str:
    cells = met["cells"]
    chosen = _best_cells(cells, ranked)
    necst = {_key(cells[i]["eps"]): i for i in chosen if cells[i]["model"] == "necst"}
    vae = next((i for i in chosen if cells[i]["model"] == "vae"), None)
    cols = met["classifier_columns"]
    lines = ["Downstream accuracy (%), ours [σ over seeds] (paper, ours − paper); NECST / VAE "
             f"codes, {int(met['n_train'])} training / {int(met['n_test'])} test images"]
    header = f"{'classifier':<14}"
    eps_cols = sorted(necst, key=float)
    for e in eps_cols:
        header += f" | {'NECST ε=' + e:<27} | {'VAE (col ε=' + e + ')':<27}"
    lines.append(header)

    def cell(i: int | None, k: str, paper: float | None) -> str:
        if i is None or k not in cells[i]["accuracy"]:
            return f"{'–':<27}"
        a = cells[i]["accuracy"][k]
        sd = None
        if std_cells and std_cells[i] and std_cells[i].get("accuracy"):
            sd = std_cells[i]["accuracy"].get(k)
        txt = fmt_pm(100 * a, None if sd is None else 100 * sd, "{:.1f}")
        if paper is not None:
            txt += f" ({100 * paper:.1f}, {100 * (a - paper):+.1f})"
        return f"{txt:<27}"

    for k in cols:
        base = k.split("_")[0]
        row = f"{k:<14}"
        for e in eps_cols:
            p = PAPER.get(e, {}).get(base)
            row += (f" | {cell(necst[e], k, p[0] if p else None)}"
                    f" | {cell(vae, k, p[1] if p else None)}")
        lines.append(row)
    lines.append("")
    lines.append("configurations, mean |ours − paper| (percentage points), closest first:")
    for r in ranked:
        who = "VAE" if r["model"] == "vae" else f"NECST ε={_key(r['eps'])}"
        d = r["mean_abs_diff"]
        lines.append(f"  {who:<12} {_config_label(r):<30} "
                     + (f"{100 * d:5.1f}" if math.isfinite(d) else "  (no paper column)"))
    return "\n".join(lines)


def plot_table(result: Mapping[str, Any] | str, out: str | Path) -> Path:
    """Grouped bars: per training ε, ours (closest configuration) vs the paper for NECST and
    the VAE, per classifier; returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from njscc.io.results import load_result, save_figure

    res = result if isinstance(result, Mapping) else load_result(result)
    met = res["metrics"]
    cells = met["cells"]
    chosen = _best_cells(cells, closest_configs(cells))
    necst = {_key(cells[i]["eps"]): cells[i] for i in chosen if cells[i]["model"] == "necst"}
    vae = next((cells[i] for i in chosen if cells[i]["model"] == "vae"), None)
    eps_cols = sorted(necst, key=float)
    names = list(CLASSIFIERS)
    fig, axes = plt.subplots(1, max(len(eps_cols), 1), figsize=(4.2 * max(len(eps_cols), 1), 3.8),
                             sharey=True, squeeze=False)
    x = np.arange(len(names))
    w = 0.2
    for ax, e in zip(axes[0], eps_cols, strict=False):
        series = [("NECST ours", necst[e], 0, "C0", None), ("NECST paper", None, 0, "C0", "//"),
                  ("VAE ours", vae, 1, "C1", None), ("VAE paper", None, 1, "C1", "//")]
        for j, (lab, c, col, color, hatch) in enumerate(series):
            if c is None and "ours" in lab:
                continue
            if c is None and e not in PAPER:
                continue
            vals = [(c["accuracy"].get(k, np.nan) if c else PAPER[e][k][col]) for k in names]
            ax.bar(x + (j - 1.5) * w, [100 * v for v in vals], w, label=lab, color=color,
                   alpha=1.0 if hatch is None else 0.45, hatch=hatch, edgecolor="k", lw=0.3)
        ax.set_xticks(x, [CLASSIFIERS[k] for k in names], rotation=45, ha="right", fontsize=7)
        ax.set_title(f"NECST trained at BSC ε = {e}", fontsize=9)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("test accuracy [%]")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{res['dataset']}: classifiers on m = {res['m']} codes (closest configuration "
                 "to the paper's; hatched = Choi et al. 2019, Table 3)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
