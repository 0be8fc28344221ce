"""MIFR and L-MIFR on UCI Adult (Song, Kalluri, Grover, Zhao & Ermon, AISTATS 2019): the
paper's five-column table, the MIFR grid search, and a sweep of fairness budgets.

Data: Adult in the reference code's 102-bit encoding (``load_dataset("adult", ...,
encoding="binary")``; u = sex, y = income), ``valid_size`` training rows held out (seeded)
for choosing among the MIFR grid and for checking constraints away from the training
batches; the test split is only measured. Model: ``fair_vae`` (z = 10, one hidden layer of
50 softplus units each side). Runs (``runs_dir/<name>``, resumable):

* ``lmifr`` — L-MIFR once, budgets ε1 (KL) and ε (DP, EO, EOpp);
* ``mifr_<λ_kl>_<λ_fair>`` — MIFR with fixed multipliers over the grid
  ``mifr_kl × mifr_fair`` (λ_fair for all three fairness terms); the reported MIFR is the
  grid point with the highest validation log-likelihood among those meeting every budget on
  the validation split (none meeting them all: the one with the smallest total violation);
* ``sweep_<ε>`` — L-MIFR at each fairness budget of ``sweep`` (ε1 fixed), for the
  trade-off plot.

Measured on the test split for every run (estimator names in the results):

* ``mi_xz_u`` — I(x; z | u) by the reference's KDE estimator (Silverman-bandwidth Gaussian
  KDE of the training split's z per group, evaluated at the test z);
* ``c1`` — E KL(q(z | x, u) ‖ p(z)) (closed form);
* ``dp`` / ``eo`` / ``eopp`` — the *training* adversaries' bounds on the test split (the
  reference's protocol) and ``fresh_*`` — new adversaries fitted on the training split's z
  and evaluated on the test z (a stronger, held-out check);
* ``logreg_*`` — a logistic regression on standardised z (scikit-learn): accuracy and the
  DP / EO / EOpp gaps of its predictions;
* ``holds`` — whether each constraint is met on the test split (training adversaries).

Results ``mifr.json``; plot ``mifr.png`` (expressiveness vs each constraint).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm, rows_with_std

__all__ = ["PAPER", "MIFRStudy", "plot_mifr"]

#: the paper's Adult table: I(x; z | u), C1, I_DP, I_EO, I_EOpp
PAPER: dict[str, dict[str, float]] = {
    "mifr": {"mi_xz_u": 9.34, "c1": 9.39, "dp": 0.09, "eo": 0.10, "eopp": 0.07},
    "lmifr": {"mi_xz_u": 9.94, "c1": 9.95, "dp": 0.08, "eo": 0.09, "eopp": 0.04},
}
COLUMNS = ("mi_xz_u", "c1", "dp", "eo", "eopp")
FAIR = ("dp", "eo", "eopp")


@EXPERIMENTS.register("mifr")
@dataclass
class MIFRStudy(Study):
    """MIFR (grid of fixed multipliers) and L-MIFR (one run) on Adult: the paper's table."""

    data_dir: str | None = None
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    m: int = 10
    hidden: Sequence[int] = (50,)
    eps_kl: float = 10.0
    eps_fair: float = 0.1
    dual_lr: float = 1e-3
    mifr_kl: Sequence[float] = (0.25, 0.5, 1.0)
    mifr_fair: Sequence[float] = (1.0, 4.0, 16.0, 64.0)
    sweep: Sequence[float] = (0.02, 0.05, 0.2, 0.5)
    valid_size: int = 3000
    adversary_epochs: int = 30
    runs_dir: str = "runs/mifr"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    # ------------------------------------------------------------------ data and runs
    @functools.cached_property
    def _splits(self) -> dict[str, Any]:
        from njscc.data import load_dataset

        kw = {"encoding": "binary", "valid_size": self.valid_size, "seed": self.seed}
        out = {s: load_dataset("adult", s, self.data_dir, **kw) for s in ("train", "valid")}
        out["test"] = load_dataset("adult", "test", self.data_dir, encoding="binary")
        return out

    def _fit(self, name: str, objective: str, kwargs: Mapping[str, Any], log: Log) -> Any:
        from njscc.training.runs import fit_codec

        run_dir = Path(self.runs_dir) / name
        if log:
            log(f"  {name}: {objective} {dict(kwargs)} ({self.epochs} epochs) -> {run_dir}")
        model_kw = {"m": self.m, "data_shape": [102], "enc_hidden": list(self.hidden),
                    "dec_hidden": list(self.hidden)}
        return fit_codec("fair_vae", model_kw, objective, dict(kwargs), self._splits["train"],
                         run_dir, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                         seed=self.seed, device=self.device,
                         run_info={"dataset": "adult", "experiment": "mifr"},
                         quiet=self.quiet, log=log)

    def _budgets(self, eps_fair: float) -> dict[str, float]:
        return {"kl": float(self.eps_kl), **{c: float(eps_fair) for c in FAIR}}

    # ------------------------------------------------------------------ measuring
    @torch.no_grad()
    def _encode(self, model: Any, ds: Any, draw: int) -> dict[str, torch.Tensor]:
        """One z ~ q(z | x, u) per example, log q(z | x, u), KL, the mean."""
        gen = torch.Generator().manual_seed(self.seed * 1000 + draw)
        h = model.encode(ds.features, ds.sensitive)
        z = model.sample_latent(h, 1, gen)
        return {"z": z[0], "log_q": model.log_q(z, h)[0], "kl": model.rate(h),
                "mean": model.split(h)[0], "log_p": model.log_prob(
                    ds.features, model.decode(z, ds.sensitive))[0]}

    @torch.no_grad()
    def _adversary_bounds(self, objective: Any, enc: Mapping[str, torch.Tensor], ds: Any
                          ) -> dict[str, float]:
        """The training adversaries' bounds on a split (the reference's evaluation)."""
        values, _ = objective.adversary_terms(enc["z"], ds.sensitive, ds.labels)
        return {k: float(v) for k, v in values.items()}

    def _measure(self, res: Mapping[str, Any], budgets: Mapping[str, float]) -> dict[str, Any]:
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        from njscc.evaluation.fairness import (
            fairness_gaps,
            fairness_information,
            kde_expressiveness,
        )
        from njscc.training.runs import history_summary

        model = res["model"].eval().cpu()
        objective = res["trainer"].objective.eval().cpu()
        data = self._splits
        tr, va, te = data["train"], data["valid"], data["test"]
        e_tr, e_va, e_te = (self._encode(model, d, i) for i, d in enumerate((tr, va, te)))
        row: dict[str, Any] = {
            "mi_xz_u": kde_expressiveness(e_tr["z"], tr.sensitive, e_te["z"], e_te["log_q"],
                                          te.sensitive),
            "c1": float(e_te["kl"].mean()), "log_px_z": float(e_te["log_p"].mean()),
            "valid_log_px_z": float(e_va["log_p"].mean()),
            "valid_c1": float(e_va["kl"].mean()),
        }
        row.update(self._adversary_bounds(objective, e_te, te))
        row.update({f"valid_{k}": v for k, v in
                    self._adversary_bounds(objective, e_va, va).items()})
        fresh = fairness_information(e_tr["z"], tr.sensitive, tr.labels, e_te["z"],
                                     te.sensitive, te.labels, epochs=self.adversary_epochs,
                                     seed=self.seed)
        row.update({f"fresh_{k}": v for k, v in fresh.items()})
        mu, sd = e_tr["mean"].mean(0), e_tr["mean"].std(0).clamp_min(1e-8)
        clf = LogisticRegression(max_iter=1000).fit(((e_tr["mean"] - mu) / sd).numpy(),
                                                    tr.labels.numpy())
        pred = torch.from_numpy(np.asarray(clf.predict(((e_te["mean"] - mu) / sd).numpy())))
        gaps = fairness_gaps(pred.long(), te.sensitive, te.labels)
        row.update({f"logreg_{k}": v for k, v in gaps.items()})
        measured = {"kl": row["c1"], **{c: row[c] for c in FAIR if c in row}}
        row["holds"] = {k: bool(measured[k] <= v) for k, v in budgets.items() if k in measured}
        row["valid_violation"] = sum(
            max(0.0, (row["valid_c1"] if k == "kl" else row.get(f"valid_{k}", 0.0)) - v)
            for k, v in budgets.items())
        row["multipliers"] = objective.multipliers()
        row["budgets"] = dict(budgets)
        row.update(history_summary(res["history"]))
        return row

    # ------------------------------------------------------------------ the study
    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.io.results import make_result
        from njscc.validation import check_number, check_positive_int

        for name in ("epochs", "batch_size", "m", "valid_size", "adversary_epochs"):
            check_positive_int(getattr(self, name), name)
        for name in ("eps_kl", "eps_fair", "dual_lr"):
            check_number(getattr(self, name), name, min=0)
        if not self.mifr_kl or not self.mifr_fair:
            raise ValueError("mifr_kl and mifr_fair need at least one multiplier each")
        budgets = self._budgets(self.eps_fair)
        rows: list[dict[str, Any]] = []
        if log:
            d = self._splits
            log(f"Adult (102 binary features): {len(d['train'])} train / {len(d['valid'])} "
                f"valid / {len(d['test'])} test")
        res = self._fit("lmifr", "lmifr", {"budgets": budgets, "dual_lr": self.dual_lr}, log)
        rows.append({"method": "lmifr", "run": "lmifr", **self._measure(res, budgets)})
        grid = []
        for lk, lf in itertools.product(self.mifr_kl, self.mifr_fair):
            mult = {"kl": float(lk), **{c: float(lf) for c in FAIR}}
            name = f"mifr_{lk:g}_{lf:g}"
            res = self._fit(name, "mifr", {"budgets": budgets, "multipliers": mult}, log)
            grid.append({"method": "mifr_grid", "run": name, **self._measure(res, budgets)})
        feasible = [g for g in grid if g["valid_violation"] == 0]
        best = (max(feasible, key=lambda g: g["valid_log_px_z"]) if feasible
                else min(grid, key=lambda g: g["valid_violation"]))
        rows.append({**best, "method": "mifr", "chosen_from": len(grid),
                     "feasible_on_valid": len(feasible)})
        rows += grid
        for eps in self.sweep:
            b = self._budgets(eps)
            res = self._fit(f"sweep_{eps:g}", "lmifr", {"budgets": b, "dual_lr": self.dual_lr},
                            log)
            rows.append({"method": "sweep", "run": f"sweep_{eps:g}", "eps_fair": float(eps),
                         **self._measure(res, b)})
        for r in rows:
            if r["method"] in ("lmifr", "mifr") and log:
                log(f"  {r['method']}: I(x;z|u) {r['mi_xz_u']:.2f}, C1 {r['c1']:.2f}, DP "
                    f"{r['dp']:.3f}, EO {r['eo']:.3f}, EOpp {r['eopp']:.3f} "
                    f"(holds: {r['holds']})")
        cfg = {"study": self.config_dict(),
               "estimators": {
                   "mi_xz_u": "E[log q(z|x,u) - log KDE_u(z)], scipy gaussian_kde "
                              "(silverman) of the training z per group, at the test z",
                   "c1": "closed-form KL(q(z|x,u) || N(0, I)), test mean",
                   "dp/eo/eopp": "training adversaries on the test split: E[log p(u|z) - "
                                 "log p(u)] (eo: mean over y of the per-label bounds; eopp: y=1)",
                   "fresh_*": "new adversaries (softplus 50, Adam) fitted on the training z, "
                              "evaluated on the test z",
                   "logreg_*": "scikit-learn LogisticRegression on standardised posterior "
                               "means; gaps of its test predictions"}}
        return {"mifr": make_result("mifr", {"rows": rows}, dataset="adult", config=cfg)}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_mifr(results["mifr"], Path(out) / "mifr.png")] if "mifr" in results else []

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("mifr")
        if not r:
            return ""
        lines = [f"{'method':<8}" + "".join(f"{c:>16}" for c in COLUMNS)
                 + f"{'fresh DP/EO/EOpp':>22}{'logreg acc':>12}  holds (test)"]
        for row, s in rows_with_std(r):
            if row["method"] not in PAPER:
                continue
            p = PAPER[row["method"]]
            fmt = "{:.2f}"
            lines.append(f"{row['method']:<8}" + "".join(
                f"{fmt_pm(row[c], s.get(c), '{:.3f}' if c in FAIR else fmt):>16}"
                for c in COLUMNS)
                + f"{row['fresh_dp']:>8.3f}/{row['fresh_eo']:.3f}/{row['fresh_eopp']:.3f}"
                + f"{row['logreg_accuracy']:>12.3f}  "
                + " ".join(f"{k}:{'yes' if v is True else v}" for k, v in
                           row["holds"].items()))
            lines.append(f"{'  paper':<8}" + "".join(f"{p[c]:>16.2f}" for c in COLUMNS))
        return "\n".join(lines)


def plot_mifr(result: Mapping[str, Any], out: str | Path) -> Path:
    """I(x; z | u) vs each fairness constraint (test split): the L-MIFR budget sweep, the MIFR
    grid, the chosen MIFR and L-MIFR, and the paper's two points."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    rows = result["metrics"]["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, c in zip(axes, FAIR, strict=True):
        sweep = sorted([r for r in rows if r["method"] in ("sweep", "lmifr")],
                       key=lambda r: r.get("eps_fair", r["budgets"][c]))
        ax.plot([r[c] for r in sweep], [r["mi_xz_u"] for r in sweep], "o-", color="C0",
                label="L-MIFR, budget sweep")
        for r in sweep:
            ax.annotate(f"ε={r['budgets'][c]:g}", (r[c], r["mi_xz_u"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
        grid = [r for r in rows if r["method"] == "mifr_grid"]
        ax.plot([r[c] for r in grid], [r["mi_xz_u"] for r in grid], "x", color="0.5",
                label="MIFR grid")
        for name, marker, color in (("mifr", "s", "C1"), ("lmifr", "*", "C3")):
            pick = [r for r in rows if r["method"] == name]
            if pick:
                ax.plot(pick[0][c], pick[0]["mi_xz_u"], marker, color=color, markersize=10,
                        label=f"{name} (ours)")
            ax.plot(PAPER[name][c], PAPER[name]["mi_xz_u"], marker, mfc="none", color=color,
                    markersize=10, label=f"{name} (paper)")
        budget = next((r["budgets"][c] for r in rows if r["method"] == "lmifr"), None)
        if budget is not None:
            ax.axvline(budget, color="k", ls=":", lw=1)
        ax.set_xlabel(f"I_{c.upper()} (adversarial bound, test, nats)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("I(x; z | u) (KDE, test, nats)")
    axes[-1].legend(fontsize=6, loc="lower right")
    fig.suptitle("Adult: expressiveness vs fairness (dotted: the table's budget)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
