"""Better inference on one VAE (Shu, Bui, Whang & Ermon, AISTATS 2019): VAE, IWAE-k, SVI-k and
BSVI-k as objectives of the same MLP VAE, on binarized MNIST and Omniglot.

Each (dataset, objective) model is trained by the shared Trainer (``runs_dir/<dataset>_
<objective>``, resumable) and measured on ``eval_images`` random test images (seeded):

* ``iwae``: the IWAE estimate of ln p(x) with ``iwae_k`` importance samples (the test
  log-likelihood of the table);
* ``bsvi_eval``: the BSVI estimate with ``eval_chains`` chains of k SVI steps — the paper's
  advice to evaluate with BSVI rather than IWAE (:func:`njscc.objectives.inference.bsvi_bound`);
* ``elbo`` (encoder q), ``elbo_refined`` (q after ``gap_steps`` SVI steps) and their
  difference ``gap`` — the amortisation gap of the model's encoder (a lower estimate).

Omniglot is the 28×28 background (train) / evaluation (test) split of the shared data, *not*
the Burda et al. split of the paper, binarised once by sampling (seeded) — both protocol
differences to state beside its numbers. Result ``bsvi.json``; plot ``bsvi.png``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm, rows_with_std

__all__ = ["PAPER", "BSVIStudy", "binarized", "plot_bsvi"]

#: the paper's test log-likelihoods (k = 10), nats: dataset → objective → (mean, σ)
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "omniglot": {"elbo": (-89.83, 0.03), "iwae": (-89.02, 0.05), "svi": (-89.65, 0.06),
                 "bsvi": (-88.80, 0.03)},
}
OBJECTIVES = ("elbo", "iwae", "svi", "bsvi")
DATASETS = ("binarized_mnist", "omniglot")


def binarized(dataset: str, split: str, data_dir: str | None, seed: int = 0) -> torch.Tensor:
    """Binary images ``[N, 1, 28, 28]``: binarized MNIST as it is (fixed binarisation), other
    grey sets sampled once, x ~ Bernoulli(pixel), from a generator seeded by (``seed``,
    split)."""
    from njscc.data import load_dataset

    x = load_dataset(dataset, split, data_dir).images.float()
    if dataset == "binarized_mnist":
        return x
    gen = torch.Generator().manual_seed(1000 * int(seed) + (0 if split == "train" else 1))
    return torch.bernoulli(x.clamp(0, 1), generator=gen)


@EXPERIMENTS.register("bsvi")
@dataclass
class BSVIStudy(Study):
    """VAE / IWAE-k / SVI-k / BSVI-k on one MLP VAE: test ln p(x), BSVI evaluation, gap."""

    data_dir: str | None = None
    datasets: Sequence[str] = DATASETS
    objectives: Sequence[str] = OBJECTIVES
    k: int = 10
    step_size: float = 1e-3
    max_grad_norm: float | None = None
    m: int = 50
    hidden: Sequence[int] = (200, 200)
    activation: str = "tanh"
    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    train_size: int | None = None
    iwae_k: int = 1000
    eval_images: int = 1000
    eval_chains: int = 100
    gap_steps: int = 100
    runs_dir: str = "runs/bsvi"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.evaluation.rate_distortion import iwae_bound
        from njscc.io.results import make_result
        from njscc.objectives.inference import amortisation_gap, bsvi_bound
        from njscc.training.runs import fit_codec, history_summary
        from njscc.validation import check_choices, check_positive_int

        check_choices(self.datasets, "datasets", DATASETS)
        check_choices(self.objectives, "objectives", OBJECTIVES)
        for name in ("k", "m", "epochs", "batch_size", "iwae_k", "eval_images", "eval_chains",
                     "gap_steps"):
            check_positive_int(getattr(self, name), name)
        model_kwargs = {"m": self.m, "enc_hidden": list(self.hidden),
                        "dec_hidden": list(self.hidden), "likelihood": "bernoulli",
                        "activation": self.activation}
        svi_kw = {"steps": self.k, "step_size": self.step_size,
                  "max_grad_norm": self.max_grad_norm}
        obj_kwargs = {"elbo": {}, "iwae": {"n_samples": self.k}, "svi": svi_kw, "bsvi": svi_kw}
        rows = []
        for ds in self.datasets:
            train_x = binarized(ds, "train", self.data_dir, self.seed)[:self.train_size]
            test_x = binarized(ds, "test", self.data_dir, self.seed)
            pick = torch.randperm(test_x.shape[0], generator=torch.Generator().manual_seed(
                self.seed))[:self.eval_images]
            xe = test_x[pick]
            for name in self.objectives:
                run_dir = Path(self.runs_dir) / f"{ds}_{name}"
                if log:
                    log(f"{ds}: {name} ({self.epochs} epochs) -> {run_dir}")
                res = fit_codec("vae_mlp", model_kwargs, name, obj_kwargs[name], train_x,
                                run_dir, epochs=self.epochs, batch_size=self.batch_size,
                                lr=self.lr, seed=self.seed, device=self.device,
                                run_info={"dataset": ds, "experiment": "bsvi"},
                                quiet=self.quiet, log=log)
                model = res["model"].eval()
                dev = next(model.parameters()).device
                gen = torch.Generator(device=dev).manual_seed(self.seed + 17)
                t0 = time.perf_counter()
                iw, bs, e0, e1 = [], [], [], []
                for i in range(0, xe.shape[0], 100):
                    xb = xe[i:i + 100].to(dev)
                    iw.append(iwae_bound(model, xb, self.iwae_k, generator=gen))
                    bs.append(bsvi_bound(model, xb, self.k, self.step_size,
                                         chains=self.eval_chains,
                                         max_grad_norm=self.max_grad_norm, generator=gen))
                    g = amortisation_gap(model, xb, self.gap_steps, self.step_size,
                                         n_samples=100, max_grad_norm=self.max_grad_norm,
                                         generator=gen)
                    e0.append(g["elbo_encoder"])
                    e1.append(g["elbo_refined"])
                iw_t, bs_t, e0_t, e1_t = (torch.cat(v).double() for v in (iw, bs, e0, e1))
                n = iw_t.numel()

                def mse(t: torch.Tensor, n: int = n) -> tuple[float, float]:
                    return float(t.mean()), float(t.std() / n ** 0.5)

                row = {"dataset": ds, "objective": name, "run": str(run_dir),
                       **history_summary(res["history"]),
                       "iwae": mse(iw_t)[0], "iwae_se": mse(iw_t)[1],
                       "bsvi_eval": mse(bs_t)[0], "bsvi_eval_se": mse(bs_t)[1],
                       "elbo": mse(e0_t)[0], "elbo_se": mse(e0_t)[1],
                       "elbo_refined": mse(e1_t)[0], "gap": mse(e1_t - e0_t)[0],
                       "gap_se": mse(e1_t - e0_t)[1], "n_images": n,
                       "eval_seconds": time.perf_counter() - t0}
                paper = PAPER.get(ds, {}).get(name)
                if paper:
                    row["paper"] = paper[0]
                rows.append(row)
                if log:
                    log(f"  ln p(x) IWAE-{self.iwae_k} {row['iwae']:.2f}, BSVI eval "
                        f"{row['bsvi_eval']:.2f}, ELBO {row['elbo']:.2f}, gap "
                        f"{row['gap']:.2f} nats (paper {paper[0] if paper else '–'})")
        cfg = {"study": self.config_dict(), "model": {"name": "vae_mlp",
                                                      "kwargs": model_kwargs},
               "objectives": {o: obj_kwargs[o] for o in self.objectives},
               "threads": torch.get_num_threads()}
        return {"bsvi": make_result("bsvi", {"rows": rows}, config=cfg)}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_bsvi(results["bsvi"], Path(out) / "bsvi.png")] if "bsvi" in results else []

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("bsvi")
        if not r:
            return ""
        lines = [f"{'dataset':<17}{'objective':<10}{'ln p(x) IWAE':>16}{'paper':>9}"
                 f"{'BSVI eval':>16}{'ELBO':>16}{'gap':>14}{'epochs':>8}"]
        for row, s in rows_with_std(r):
            paper = PAPER.get(row["dataset"], {}).get(row["objective"])
            lines.append(f"{row['dataset']:<17}{row['objective']:<10}"
                         f"{fmt_pm(row['iwae'], s.get('iwae')):>16}"
                         f"{paper[0] if paper else '–':>9}"
                         f"{fmt_pm(row['bsvi_eval'], s.get('bsvi_eval')):>16}"
                         f"{fmt_pm(row['elbo'], s.get('elbo')):>16}"
                         f"{fmt_pm(row['gap'], s.get('gap')):>14}{row['epochs']:>8}")
        return "\n".join(lines)


def plot_bsvi(result: Mapping[str, Any], out: str | Path) -> Path:
    """Per dataset: the test ln p(x) (IWAE) and the BSVI-evaluated estimate per objective."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    pairs = rows_with_std(result)
    rows = [r for r, _ in pairs]
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(sets), figsize=(4.5 * len(sets), 3.6), squeeze=False)
    for ax, ds in zip(axes[0], sets, strict=True):
        idx = [i for i, r in enumerate(rows) if r["dataset"] == ds]
        names = [rows[i]["objective"] for i in idx]
        for j, (key, label) in enumerate((("iwae", "IWAE estimate"),
                                          ("bsvi_eval", "BSVI estimate"),
                                          ("elbo", "ELBO (encoder q)"))):
            err = [pairs[i][1].get(key) or 0 for i in idx]
            ax.errorbar([v + 0.2 * (j - 1) for v in range(len(idx))],
                        [rows[i][key] for i in idx], yerr=err, fmt="o", label=label)
        paper = PAPER.get(ds, {})
        if paper:
            ax.plot(range(len(idx)), [paper.get(n, (float("nan"),))[0] for n in names], "k_",
                    markersize=18, label="paper")
        ax.set_xticks(range(len(idx)), names)
        ax.set_title(ds, fontsize=9)
        ax.set_ylabel("test ln p(x) [nats]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
