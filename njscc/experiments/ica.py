"""Identifiable non-linear ICA through clustering (Willetts & Paige 2021, "I don't need u";
reference code MatthewWilletts/algostability): a VAE with a mixture (clustering) prior is
identifiable without the auxiliary variable u that iVAE needs.

Three methods on the same MLP encoder/decoder, trained with the ELBO by the shared Trainer:

* ``vae`` — ``vae_mlp``, prior N(0, I) (not identifiable: any rotation of z fits as well);
* ``mog_vae`` — ``vae_mlp``, a learned mixture-of-Gaussians prior with one component per
  cluster (``n_components``), u never seen;
* ``ivae`` — ``ivae``, prior p(z | u) and encoder q(z | x, u) given the *true* u (segments on
  the synthetic data, digit labels on MNIST).

For every method ``n_models`` models are trained from independent seeds
(``mix_seed(seed, method, k)``). Measured on the test split (posterior means):

* ``mcc_true`` — MCC (Pearson, Hungarian matching; :mod:`njscc.evaluation.identifiability`)
  between each model's latents and the true sources (synthetic only), mean ± σ over models;
  ``mcc_true_spearman`` the rank version;
* ``mcc_seeds`` — MCC between the latents of every pair of models (identifiability without
  ground truth: the same model from two seeds should find the same latents), mean ± σ over
  pairs; ``cca_seeds`` the weak (CCA-aligned) form;
* ``cluster_acc`` — for ``mog_vae``: accuracy of the most responsible mixture component
  against u / the digit (:mod:`njscc.evaluation.clustering`);
* ``elbo`` — the test ELBO (nats per example).

Result ``ica.json`` (rows per part and method), plot ``ica.png``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm, rows_with_std

__all__ = ["METHODS", "PARTS", "ICAStudy", "plot_ica"]

METHODS = ("vae", "mog_vae", "ivae")
PARTS = ("synthetic", "mnist")


@EXPERIMENTS.register("ica")
@dataclass
class ICAStudy(Study):
    """VAE vs mixture-prior VAE vs iVAE: MCC to true sources and between seeds."""

    data_dir: str | None = None
    parts: Sequence[str] = PARTS
    methods: Sequence[str] = METHODS
    n_models: int = 3
    # synthetic data (njscc.data.ica)
    n_sources: int = 5
    n_obs: int = 10
    n_segments: int = 40
    n_layers: int = 3
    n_train: int = 10000
    n_test: int = 5000
    data_seed: int = 0
    hidden: Sequence[int] = (64, 64)
    epochs: int = 100
    # MNIST
    mnist_m: int = 10
    mnist_hidden: Sequence[int] = (256, 256)
    mnist_components: int = 10
    mnist_epochs: int = 10
    mnist_train_size: int | None = None
    batch_size: int = 64
    lr: float = 1e-3
    runs_dir: str = "runs/ica"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.io.results import make_result
        from njscc.validation import check_choices, check_positive_int

        check_choices(self.parts, "parts", PARTS)
        check_choices(self.methods, "methods", METHODS)
        for name in ("n_models", "n_sources", "n_obs", "n_segments", "n_layers", "n_train",
                     "n_test", "epochs", "mnist_m", "mnist_components", "mnist_epochs",
                     "batch_size"):
            check_positive_int(getattr(self, name), name)
        if self.n_models < 2:
            raise ValueError("n_models must be ≥ 2 (MCC between seeds needs two models)")
        rows = []
        for part in self.parts:
            data = self._synthetic() if part == "synthetic" else self._mnist()
            for method in self.methods:
                rows.append(self._method(part, method, data, log))
        cfg = {"study": self.config_dict(), "threads": torch.get_num_threads(),
               "mcc": "mean |Pearson ρ| of the Hungarian-matched dimensions, posterior means "
                      "of the test split; cca_seeds: mean canonical correlation (CCA fitted "
                      "on half the test rows, measured on the other half)"}
        return {"ica": make_result("ica", {"rows": rows}, config=cfg)}

    # ------------------------------------------------------------------ data
    def _synthetic(self) -> dict[str, Any]:
        from njscc.data import load_dataset

        kw = {"n_sources": self.n_sources, "n_obs": self.n_obs, "n_segments": self.n_segments,
              "n_layers": self.n_layers, "seed": self.data_seed}
        train = load_dataset("nonlinear_ica", "train", n=self.n_train, **kw)
        test = load_dataset("nonlinear_ica", "test", n=self.n_test, **kw)
        return {"train": train, "x": test.features, "u": test.labels,
                "sources": test.meta["sources"], "m": self.n_sources, "shape": [self.n_obs],
                "hidden": list(self.hidden), "likelihood": "normal",
                "activation": "leaky_relu", "components": self.n_segments,
                "epochs": self.epochs, "n_aux": self.n_segments}

    def _mnist(self) -> dict[str, Any]:
        from njscc.data import load_dataset

        train = load_dataset("binarized_mnist", "train", self.data_dir)
        labelled = load_dataset("mnist", "train", self.data_dir)
        if train.labels is None:  # binarized MNIST's amat files are unlabelled: pair by index
            n = min(len(train), len(labelled))
            train.labels = labelled.labels[:n].clone()
            train.images = train.images[:n]
        if self.mnist_train_size:
            train = train.subset(torch.arange(min(self.mnist_train_size, len(train))))
        test = load_dataset("mnist", "test", self.data_dir)
        x_test = (test.images > 0.5).float()
        return {"train": train, "x": x_test, "u": test.labels, "sources": None,
                "m": self.mnist_m, "shape": [1, 28, 28], "hidden": list(self.mnist_hidden),
                "likelihood": "bernoulli", "activation": "relu",
                "components": self.mnist_components, "epochs": self.mnist_epochs,
                "n_aux": 10}

    # ------------------------------------------------------------------ one method
    def _method(self, part: str, method: str, data: Mapping[str, Any], log: Log
                ) -> dict[str, Any]:
        from njscc.evaluation.clustering import cluster_accuracy
        from njscc.evaluation.identifiability import cca_mcc, mean_corr_coef, pairwise_mcc
        from njscc.training.runs import fit_codec, history_summary
        from njscc.training.seeds import mix_seed

        kwargs: dict[str, Any] = {"m": data["m"], "data_shape": data["shape"],
                                  "enc_hidden": data["hidden"], "dec_hidden": data["hidden"],
                                  "likelihood": data["likelihood"],
                                  "activation": data["activation"]}
        if method == "ivae":
            name = "ivae"
            kwargs["n_aux"] = data["n_aux"]
        else:
            name = "vae_mlp"
            kwargs.update(prior="mog" if method == "mog_vae" else "normal",
                          n_components=data["components"] if method == "mog_vae" else 1)
        latents, truth, truth_rank, clusters, elbos, hist = [], [], [], [], [], []
        for k in range(self.n_models):
            seed = mix_seed(self.seed, zlib.crc32(method.encode()), k) % (2 ** 31)
            run_dir = Path(self.runs_dir) / f"{part}_{method}_{k}"
            if log:
                log(f"{part}: {method} model {k + 1}/{self.n_models} ({data['epochs']} "
                    f"epochs) -> {run_dir}")
            res = fit_codec(name, kwargs, "elbo", {}, data["train"], run_dir,
                            epochs=data["epochs"], batch_size=self.batch_size, lr=self.lr,
                            seed=seed, device=self.device, quiet=self.quiet,
                            run_info={"experiment": "ica", "part": part, "method": method})
            model = res["model"].eval()
            hist.append(history_summary(res["history"]))
            z, elbo, resp = self._encode(model, data, method)
            latents.append(z)
            elbos.append(elbo)
            if data["sources"] is not None:
                truth.append(mean_corr_coef(z, data["sources"])["mcc"])
                truth_rank.append(mean_corr_coef(z, data["sources"], "spearman")["mcc"])
            if resp is not None:
                clusters.append(cluster_accuracy(data["u"], resp)["accuracy"])
        pair = pairwise_mcc(latents)
        cca = [cca_mcc(latents[i], latents[j], seed=self.seed) for i, j in pair["pairs"]]
        row: dict[str, Any] = {
            "part": part, "method": method, "model": name, "n_models": self.n_models,
            "epochs": hist[0].get("epochs", data["epochs"]),
            "mcc_seeds": pair["mean"], "mcc_seeds_sd": pair["std"],
            "mcc_seeds_pairs": pair["values"],
            "cca_seeds": float(np.mean(cca)), "cca_seeds_sd": float(np.std(cca)),
            "elbo": float(np.mean(elbos)), "elbo_sd": float(np.std(elbos))}
        if truth:
            row.update(mcc_true=float(np.mean(truth)), mcc_true_sd=float(np.std(truth)),
                       mcc_true_models=truth, mcc_true_spearman=float(np.mean(truth_rank)))
        if clusters:
            row.update(cluster_acc=float(np.mean(clusters)),
                       cluster_acc_sd=float(np.std(clusters)))
        if log:
            extra = f", MCC to sources {row['mcc_true']:.3f}" if truth else ""
            log(f"  {part} {method}: MCC between seeds {row['mcc_seeds']:.3f} ± "
                f"{row['mcc_seeds_sd']:.3f} (CCA {row['cca_seeds']:.3f}){extra}, ELBO "
                f"{row['elbo']:.2f}")
        return row

    @torch.no_grad()
    def _encode(self, model: Any, data: Mapping[str, Any], method: str
                ) -> tuple[np.ndarray, float, np.ndarray | None]:
        """Posterior means ``[N, d]``, the test ELBO, and the mixture's most responsible
        component per input (``mog_vae``) or ``None``."""
        from njscc.data import Batch
        from njscc.objectives import get as get_objective
        from njscc.priors import diag_gaussian_log_prob

        dev = next(model.parameters()).device
        zs, resp, total, n = [], [], 0.0, 0
        objective = get_objective("elbo")
        gen = torch.Generator(device=dev).manual_seed(self.seed + 7)
        for i in range(0, data["x"].shape[0], 1000):
            x = data["x"][i:i + 1000].to(dev)
            u = data["u"][i:i + 1000].to(dev)
            cond = {"labels": u} if method == "ivae" else {}
            mean = model.compress(x, **cond)
            zs.append(mean.cpu())
            _, stats = objective(model, Batch(x, labels=u), None, gen)
            total += -stats["loss"] * x.shape[0]
            n += x.shape[0]
            if method == "mog_vae":
                prior = model.prior
                comp = (diag_gaussian_log_prob(mean[:, None], prior.means, prior.logvars)
                        + torch.log_softmax(prior.logits, 0))
                resp.append(comp.argmax(-1).cpu())
        r = torch.cat(resp).numpy() if resp else None
        return torch.cat(zs).numpy(), total / n, r

    # ------------------------------------------------------------------ reporting
    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_ica(results["ica"], Path(out) / "ica.png")] if "ica" in results else []

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("ica")
        if not r:
            return ""
        lines = [f"{'part':<11}{'method':<9}{'MCC to sources':>17}{'MCC between seeds':>20}"
                 f"{'CCA seeds':>12}{'cluster acc':>15}{'test ELBO':>12}"]
        for row, _ in rows_with_std(r):
            true = (fmt_pm(row["mcc_true"], row.get("mcc_true_sd"), "{:.3f}")
                    if "mcc_true" in row else "–")
            acc = (fmt_pm(row["cluster_acc"], row.get("cluster_acc_sd"), "{:.3f}")
                   if "cluster_acc" in row else "–")
            lines.append(f"{row['part']:<11}{row['method']:<9}{true:>17}"
                         f"{fmt_pm(row['mcc_seeds'], row['mcc_seeds_sd'], '{:.3f}'):>20}"
                         f"{row['cca_seeds']:>12.3f}{acc:>15}{row['elbo']:>12.2f}")
        return "\n".join(lines)


def plot_ica(result: Mapping[str, Any], out: str | Path) -> Path:
    """Per part: MCC to the true sources and between seeds per method (± σ over models /
    pairs)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    rows = [r for r, _ in rows_with_std(result)]
    parts = list(dict.fromkeys(r["part"] for r in rows))
    fig, axes = plt.subplots(1, len(parts), figsize=(4.6 * len(parts), 3.4), squeeze=False)
    for ax, part in zip(axes[0], parts, strict=True):
        sel = [r for r in rows if r["part"] == part]
        xs = np.arange(len(sel))
        bars = [("mcc_true", "to the true sources"), ("mcc_seeds", "between seeds"),
                ("cca_seeds", "between seeds, CCA")]
        present = [b for b in bars if any(b[0] in r for r in sel)]
        width = 0.8 / len(present)
        for j, (key, label) in enumerate(present):
            vals = [r.get(key, np.nan) for r in sel]
            errs = [r.get(f"{key}_sd", 0.0) for r in sel]
            ax.bar(xs + (j - (len(present) - 1) / 2) * width, vals, width, yerr=errs,
                   capsize=3, label=label)
        ax.set_xticks(xs, [r["method"] for r in sel])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("MCC")
        ax.set_title(part)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return save_figure(fig, out)
