"""FFVAE against FactorVAE and a conditional VAE: accuracy vs subgroup demographic parity
(Creager, Madras, Jacobsen, Weis, Swersky, Pitassi & Zemel, ICML 2019, "Flexibly fair
representation learning by disentanglement").

Data (each with its binary sensitive attributes and downstream targets):

* ``dsprites_unfair`` — our DSpritesUnfair-like images (:mod:`njscc.data.dsprites`, 32 × 32,
  drawn once with ``data_seed``): sensitive ``shape``, ``scale``, ``rotation``; targets
  ``x_pos`` (correlated with ``shape``, P(equal) = 0.9) and ``y_pos`` (with ``scale``, 0.8);
* ``adult`` — Adult in the 102-bit encoding: sensitive ``sex`` and ``age`` (age above the
  training median, 37); target income.

Models, one grid each (``runs_dir/<dataset>/<run>``, resumable); ``m`` = z dimensions + one
per sensitive attribute for FFVAE and FactorVAE:

* ``ffvae`` (codec ``ffvae``, objective ``ffvae``) over ``ffvae_alpha × ffvae_gamma``;
* ``factorvae`` (``vae_mlp`` + ``factorvae``) over ``factorvae_gamma``;
* ``cvae`` — a VAE conditioned on every sensitive attribute (``fair_vae`` with u the joint
  code of the attributes, trained by ``mifr`` with the KL term alone: −log p(x | z, a) + β KL)
  over ``cvae_beta``; its z needs a at test time and is one representation for every
  subgroup.

Tasks: every target × every subgroup S of the sensitive attributes up to
``max_conjunction`` of them (single attributes and conjunctions a_i ∧ a_j …). For each model
and task the test representation is: FFVAE's posterior mean without b_S (``ffvae``) and with
all of it (``ffvae_keep``, the unfair reference); FactorVAE's mean without the dimension
most correlated with each attribute of S (chosen on the training split); the CVAE's mean.
An MLP classifier (one hidden layer of 50 softplus units, ``clf_epochs``) is fitted on the
training split's representation and target, and measured on the test split: accuracy and
ΔDP = |P(ŷ = 1 | s = 1) − P(ŷ = 1 | s = 0)| with s = ∧_{j ∈ S} a_j (also EO / EOpp gaps).

Results ``ffvae.json``: ``rows`` (model × variant × task), ``models`` (per model: test ELBO
terms, b's attribute accuracy, the training discriminator's last TC and a *fresh* one's —
fitted after training on the training split's samples, read on the test split — and
``leak_accuracy``: each attribute predicted by the same MLP from the representation meant
to hide it, beside ``attribute_majority``), ``frontier`` (per method and task: the best accuracy at
ΔDP ≤ ``tau``, the smallest ΔDP reached and the accuracy there). Plots ``ffvae_<dataset>.png``
(accuracy vs ΔDP per task, each method's points and Pareto front).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm, rows_with_std

__all__ = ["SETUPS", "FFVAEStudy", "plot_ffvae"]

#: per dataset: sensitive attributes, targets (batch fields), target display names, nets
SETUPS: dict[str, dict[str, Any]] = {
    "dsprites_unfair": {"sensitive": ("shape", "scale", "rotation"),
                        "targets": ("x_pos", "y_pos"), "names": {},
                        "hidden": (256, 256), "activation": "relu", "m_z": 10},
    "adult": {"sensitive": ("sex", "age"), "targets": ("labels",),
              "names": {"labels": "income"}, "hidden": (50,), "activation": "softplus",
              "m_z": 10},
}
METHODS = ("ffvae", "ffvae_keep", "factorvae", "cvae")
_COLORS = {"ffvae": "C3", "ffvae_keep": "0.6", "factorvae": "C0", "cvae": "C2"}


def _field(ds: Any, name: str) -> torch.Tensor:
    batch = ds.batch()
    return batch.labels if name == "labels" else batch.extra[name]


def _task_name(target: str, subgroup: Sequence[str], names: Mapping[str, str]) -> str:
    return f"{names.get(target, target)} | {'∧'.join(subgroup)}"


@EXPERIMENTS.register("ffvae")
@dataclass
class FFVAEStudy(Study):
    """FFVAE vs FactorVAE vs a conditional VAE: accuracy vs subgroup ΔDP (Pareto fronts)."""

    datasets: Sequence[str] = ("dsprites_unfair", "adult")
    data_dir: str | None = None
    data_seed: int = 0
    dsprites_size: int = 32
    dsprites_n: int = 20000
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    ffvae_alpha: Sequence[float] = (10.0, 100.0)
    ffvae_gamma: Sequence[float] = (10.0, 50.0)
    factorvae_gamma: Sequence[float] = (10.0, 50.0, 100.0)
    cvae_beta: Sequence[float] = (1.0, 2.0, 4.0)
    max_conjunction: int = 3
    clf_epochs: int = 10
    tau: float = 0.05
    runs_dir: str = "runs/ffvae"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    # ------------------------------------------------------------------ data
    def _splits(self, name: str) -> dict[str, Any]:
        cache = self.__dict__.setdefault("_data_cache", {})
        if name not in cache:
            cache[name] = self._load(name)
        return cache[name]

    def _load(self, name: str) -> dict[str, Any]:
        from njscc.data import load_dataset

        if name == "dsprites_unfair":
            n = {"train": self.dsprites_n, "test": max(self.dsprites_n // 4, 100)}
            return {s: load_dataset(name, s, n=n[s], size=self.dsprites_size,
                                    seed=self.data_seed) for s in ("train", "test")}
        if name == "adult":
            return {s: load_dataset("adult", s, self.data_dir, encoding="binary")
                    for s in ("train", "test")}
        raise ValueError(f"ffvae: datasets are {', '.join(SETUPS)}; got {name!r}")

    def _grid(self, name: str, data_shape: list[int]) -> list[dict[str, Any]]:
        setup = SETUPS[name]
        k = len(setup["sensitive"])
        net = {"data_shape": data_shape, "enc_hidden": list(setup["hidden"]),
               "dec_hidden": list(setup["hidden"]), "activation": setup["activation"]}
        m = setup["m_z"] + k
        runs = []
        for a, g in itertools.product(self.ffvae_alpha, self.ffvae_gamma):
            runs.append({"method": "ffvae", "run": f"ffvae_a{a:g}_g{g:g}",
                         "hparams": {"alpha": float(a), "gamma": float(g)},
                         "model": ("ffvae", {"m": m, "n_sensitive": k, **net}),
                         "objective": ("ffvae", {"attributes": list(setup["sensitive"]),
                                                 "alpha": float(a), "gamma": float(g)})})
        for g in self.factorvae_gamma:
            runs.append({"method": "factorvae", "run": f"factorvae_g{g:g}",
                         "hparams": {"gamma": float(g)},
                         "model": ("vae_mlp", {"m": m, **net}),
                         "objective": ("factorvae", {"gamma": float(g)})})
        for b in self.cvae_beta:
            runs.append({"method": "cvae", "run": f"cvae_b{b:g}", "hparams": {"beta": float(b)},
                         "model": ("fair_vae", {"m": setup["m_z"], "n_groups": 2 ** k, **net}),
                         "objective": ("mifr", {"budgets": {"kl": 0.0},
                                                "multipliers": {"kl": float(b)}})})
        return runs

    def _tasks(self, name: str) -> list[tuple[str, tuple[str, ...]]]:
        setup = SETUPS[name]
        sens = setup["sensitive"]
        subgroups = [c for r in range(1, min(self.max_conjunction, len(sens)) + 1)
                     for c in itertools.combinations(sens, r)]
        return [(t, s) for t in setup["targets"] for s in subgroups]

    # ------------------------------------------------------------------ measuring
    @torch.no_grad()
    def _means(self, model: Any, ds: Any, conditional: bool) -> torch.Tensor:
        if conditional:
            return model.compress(ds.inputs, sensitive=ds.sensitive)
        return model.split(model.encode(ds.inputs))[0]

    def _model_row(self, spec: Mapping[str, Any], res: Mapping[str, Any], data: Mapping[str, Any],
                   sensitive: Sequence[str]) -> dict[str, Any]:
        from njscc.training.runs import history_summary

        model = res["model"]
        te = data["test"]
        gen = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            kw = {"sensitive": te.sensitive} if spec["method"] == "cvae" else {}
            out = model(te.inputs, n_samples=1, generator=gen, **kw)
        row: dict[str, Any] = {
            "method": spec["method"], "run": spec["run"], "hparams": spec["hparams"],
            "test_log_px_z": float(out["log_p"][0].mean()), "test_kl": float(out["rate"].mean()),
            "test_elbo": float((out["log_p"][0] - out["rate"]).mean())}
        if spec["method"] == "ffvae":
            with torch.no_grad():
                mu = model.split(model.encode(te.inputs))[0]
                logits = model.attribute_logits(mu)
            row["b_accuracy"] = {a: float(((logits[:, j] > 0).long() == _field(te, a))
                                          .double().mean()) for j, a in enumerate(sensitive)}
        row["fresh_tc"] = self._fresh_tc(spec, model, data)
        hist = history_summary(res["history"])
        row.update({k: v for k, v in hist.items() if k in ("epochs", "train_seconds")})
        last = res["history"][-1] if res["history"] else {}
        for k in ("tc", "disc_acc"):
            if k in last:
                row[f"final_{k}"] = float(last[k])
        return row

    def _fresh_tc(self, spec: Mapping[str, Any], model: Any, data: Mapping[str, Any]) -> float:
        """TC of one posterior sample per example over the blocks the method penalises
        (FFVAE: each b_j and z; the others: every dimension), by a discriminator fitted on
        the training split after training and read on the test split."""
        from njscc.evaluation.fairness import fresh_total_correlation

        gen = torch.Generator().manual_seed(self.seed)
        zs = []
        with torch.no_grad():
            for split in ("train", "test"):
                ds = data[split]
                kw = {"sensitive": ds.sensitive} if spec["method"] == "cvae" else {}
                zs.append(model(ds.inputs, n_samples=1, generator=gen, **kw)["z"][0])
        d = zs[0].shape[1]
        k = int(getattr(model, "n_sensitive", 0))
        blocks = ([[j] for j in range(k)] + [list(range(k, d))] if k
                  else [[i] for i in range(d)])
        return fresh_total_correlation(zs[0], zs[1], blocks, epochs=self.clf_epochs,
                                       seed=self.seed)

    def _evaluate(self, name: str, spec: Mapping[str, Any], model: Any, data: Mapping[str, Any]
                  ) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
        from njscc.evaluation.fairness import (
            conjunction,
            downstream_fairness,
            fit_predict,
            most_correlated_dims,
        )

        setup = SETUPS[name]
        sens = list(setup["sensitive"])
        tr, te = data["train"], data["test"]
        cond = spec["method"] == "cvae"
        model = model.eval().cpu()
        mu_tr, mu_te = self._means(model, tr, cond), self._means(model, te, cond)
        variants: list[tuple[str, Any]]
        if spec["method"] == "ffvae":
            variants = [("ffvae", lambda mu, s: model.fair_representation(
                mu, [sens.index(a) for a in s])), ("ffvae_keep", lambda mu, s: mu)]
        elif spec["method"] == "factorvae":
            dims = most_correlated_dims(mu_tr, [_field(tr, a) for a in sens])
            carry = dict(zip(sens, dims, strict=True))

            def hide(mu: torch.Tensor, s: Sequence[str]) -> torch.Tensor:
                drop = {carry[a] for a in s}
                return mu[:, [i for i in range(mu.shape[1]) if i not in drop]]

            variants = [("factorvae", hide)]
        else:
            variants = [("cvae", lambda mu, s: mu)]
        rows = []
        leakage: dict[str, dict[str, float]] = {}
        for method, rep in variants:
            # each attribute read back from the representation that should hide it
            leakage[method] = {a: float((fit_predict(
                rep(mu_tr, [a]), _field(tr, a), rep(mu_te, [a]), epochs=self.clf_epochs,
                seed=self.seed) == _field(te, a)).double().mean()) for a in sens}
            for target, subgroup in self._tasks(name):
                s_te = conjunction([_field(te, a) for a in subgroup])
                gaps = downstream_fairness(rep(mu_tr, subgroup), _field(tr, target),
                                           rep(mu_te, subgroup), _field(te, target), s_te,
                                           epochs=self.clf_epochs, seed=self.seed)
                y_te = _field(te, target).double()
                rows.append({"dataset": name, "method": method, "run": spec["run"],
                             "hparams": spec["hparams"], "target": target,
                             "subgroup": list(subgroup),
                             "task": _task_name(target, subgroup, setup["names"]),
                             "subgroup_rate": float(s_te.double().mean()),
                             "majority": float(max(y_te.mean(), 1 - y_te.mean())), **gaps})
        return rows, leakage

    def _frontier(self, name: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for target, subgroup in self._tasks(name):
            task = _task_name(target, subgroup, SETUPS[name]["names"])
            for method in METHODS:
                pts = [r for r in rows if r["task"] == task and r["method"] == method]
                if not pts:
                    continue
                ok = [r["accuracy"] for r in pts if r["dp"] <= self.tau]
                best = min(pts, key=lambda r: (r["dp"], -r["accuracy"]))
                out.append({"dataset": name, "method": method, "task": task,
                            "tau": float(self.tau), "acc_at_tau": max(ok) if ok else None,
                            "min_dp": best["dp"], "acc_at_min_dp": best["accuracy"],
                            "max_accuracy": max(r["accuracy"] for r in pts),
                            "majority": pts[0]["majority"]})
        return out

    # ------------------------------------------------------------------ the study
    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.io.results import make_result
        from njscc.training.runs import fit_codec
        from njscc.validation import check_number, check_positive_int

        for f in ("epochs", "batch_size", "clf_epochs", "max_conjunction", "dsprites_n",
                  "dsprites_size"):
            check_positive_int(getattr(self, f), f)
        check_number(self.tau, "tau", min=0)
        unknown = [d for d in self.datasets if d not in SETUPS]
        if unknown or not self.datasets:
            raise ValueError(f"datasets: choose from {', '.join(SETUPS)}; got "
                             f"{list(self.datasets)}")
        rows: list[dict[str, Any]] = []
        models: list[dict[str, Any]] = []
        frontier: list[dict[str, Any]] = []
        for name in self.datasets:
            data = self._splits(name)
            sens = SETUPS[name]["sensitive"]
            shape = list(data["train"].inputs.shape[1:])
            cond = {s: d.with_sensitive(list(sens)) for s, d in data.items()}
            if log:
                log(f"{name}: {len(data['train'])} train / {len(data['test'])} test, sensitive "
                    f"{', '.join(sens)}, {len(self._tasks(name))} tasks")
            here: list[dict[str, Any]] = []
            for spec in self._grid(name, shape):
                use = cond if spec["method"] == "cvae" else data
                (mname, mkw), (oname, okw) = spec["model"], spec["objective"]
                run_dir = Path(self.runs_dir) / name / spec["run"]
                if log:
                    log(f"  {spec['run']}: {mname} + {oname} {spec['hparams']} -> {run_dir}")
                res = fit_codec(mname, mkw, oname, okw, use["train"], run_dir,
                                epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                                seed=self.seed, device=self.device,
                                run_info={"dataset": name, "experiment": "ffvae"},
                                quiet=self.quiet, log=log)
                res["model"].eval().cpu()
                row = {"dataset": name, **self._model_row(spec, res, use, sens)}
                task_rows, row["leak_accuracy"] = self._evaluate(name, spec, res["model"], use)
                row["attribute_majority"] = {
                    a: float(max(m, 1 - m)) for a in sens
                    for m in [_field(use["test"], a).double().mean()]}
                models.append(row)
                here += task_rows
            rows += here
            frontier += self._frontier(name, here)
        cfg = {"study": self.config_dict(),
               "protocol": {
                   "representation": "posterior means; ffvae drops b_S, factorvae the "
                                     "most-correlated dim per attribute of S (training "
                                     "split), cvae uses z of q(z|x,a)",
                   "classifier": "MLP 50 softplus (fit_adversary), standardised inputs, "
                                 "trained on the training split, measured on test",
                   "dp": "|P(yhat=1|s=1) - P(yhat=1|s=0)|, s = AND of the subgroup's bits",
                   "fresh_tc": "density-ratio discriminator (256-256 leaky ReLU) fitted "
                               "after training on one sample per training example, "
                               "clf_epochs epochs, lr decayed to 0; read on the test split",
                   "leak_accuracy": "the same classifier predicting each attribute from "
                                    "the representation that hides it"}}
        return {"ffvae": make_result("ffvae", {"rows": rows, "models": models,
                                               "frontier": frontier},
                                     dataset=",".join(self.datasets), config=cfg)}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        r = results.get("ffvae")
        if not r:
            return []
        names = sorted({row["dataset"] for row in r["metrics"]["rows"]})
        return [plot_ffvae(r, d, Path(out) / f"ffvae_{d}.png") for d in names]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("ffvae")
        if not r:
            return ""
        lines = []
        pairs = rows_with_std(r, "frontier")
        tau = pairs[0][0]["tau"] if pairs else 0.05
        for d in dict.fromkeys(p[0]["dataset"] for p in pairs):
            lines.append(f"{d}: best test accuracy with ΔDP ≤ {tau:g} (– : no model gets "
                         "there) | smallest ΔDP; the last column is the majority class")
            lines.append(f"  {'task':<28}" + "".join(f"{m:>26}" for m in METHODS)
                         + f"{'majority':>10}")
            tasks = list(dict.fromkeys(p[0]["task"] for p in pairs if p[0]["dataset"] == d))
            for t in tasks:
                cells = []
                for m in METHODS:
                    hit = [(p, s) for p, s in pairs if p["dataset"] == d and p["task"] == t
                           and p["method"] == m]
                    if not hit:
                        cells.append(f"{'':>26}")
                        continue
                    p, s = hit[0]
                    cells.append(f"{fmt_pm(p['acc_at_tau'], s.get('acc_at_tau'), '{:.3f}')}"
                                 f" | {p['min_dp']:.3f}".rjust(26))
                maj = next(p["majority"] for p, _ in pairs if p["task"] == t and
                           p["dataset"] == d)
                lines.append(f"  {t:<28}" + "".join(cells) + f"{maj:>10.3f}")
        for d in dict.fromkeys(p[0]["dataset"] for p in pairs):
            lines.append(f"{d} models: test ELBO, TC (training discriminator → fresh one), "
                         "each attribute read from the representation hiding it")
            for m, s in rows_with_std(r, "models"):
                if m["dataset"] != d:
                    continue
                leak = "  ".join(
                    f"{meth}[" + " ".join(f"{a}={acc:.2f}" for a, acc in lk.items()) + "]"
                    for meth, lk in m["leak_accuracy"].items())
                elbo = fmt_pm(m["test_elbo"], s.get("test_elbo"), "{:.1f}")
                lines.append(f"  {m['run']:<18} ELBO {elbo:>13}  TC "
                             f"{m.get('final_tc', float('nan')):.3f} → {m['fresh_tc']:.3f}  {leak}")
        return "\n".join(lines)


def plot_ffvae(result: Mapping[str, Any], dataset: str, out: str | Path) -> Path:
    """Test accuracy vs ΔDP for every task of ``dataset``: each method's models (seed means
    when aggregated; σ as error bars) and its Pareto front."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.evaluation.fairness import pareto_front
    from njscc.io.results import save_figure

    pairs = [(row, s) for row, s in rows_with_std(result) if row["dataset"] == dataset]
    tasks = list(dict.fromkeys(row["task"] for row, _ in pairs))
    cols = min(len(tasks), 4 if len(tasks) > 3 else len(tasks)) or 1
    nrows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.3 * cols, 2.9 * nrows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for method in METHODS:
            pts = [(row, s) for row, s in pairs if row["task"] == task and row["method"] == method]
            if not pts:
                continue
            xy = [(row["dp"], row["accuracy"]) for row, _ in pts]
            ax.errorbar([p[0] for p in xy], [p[1] for p in xy],
                        xerr=[s.get("dp") or 0 for _, s in pts],
                        yerr=[s.get("accuracy") or 0 for _, s in pts], fmt="o", ms=3.5,
                        color=_COLORS[method], alpha=0.8, lw=0.7, label=method)
            front = [xy[i] for i in pareto_front(xy)]
            ax.step([p[0] for p in front], [p[1] for p in front], where="post",
                    color=_COLORS[method], lw=1.2)
        majority = next((row["majority"] for row, _ in pairs if row["task"] == task), None)
        if majority is not None:
            ax.axhline(majority, color="k", ls=":", lw=0.8, label="majority class")
        ax.set_title(task, fontsize=8)
        ax.set_xlabel("ΔDP (test)", fontsize=7)
        ax.set_ylabel("accuracy (test)", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    seeds = result.get("seeds")
    fig.suptitle(f"{dataset}: accuracy vs subgroup demographic parity"
                 + (f" (mean ± σ over seeds {seeds})" if seeds else ""), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
