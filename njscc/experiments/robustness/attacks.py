"""Adversarial attacks on generative codecs (Kos, Fischer & Song 2017): all three classes on
a VAE and on NECST, success judged by an independent oracle on the reconstruction.

For ``n_pairs`` test images x (class s) with a random target class t ≠ s and a target image
x_t of class t, each attack of :mod:`njscc.robustness.attacks` — ``classifier`` (a classifier
on the latent code must say t), ``reconstruction`` (L_VAE: the reconstruction must match x_t),
``latent`` (the code must match x_t's) — searches an L2 (or L∞) ball of each radius in
``budgets`` by PGD. NECST is attacked through straight-through and relaxed gradients, and —
for models trained on a noisy channel — *through the channel* (the objective averages
``n_draws`` channel draws, and the attacked code is sent through the channel when judged).

Success: the oracle CNN (:func:`njscc.robustness.oracle.oracle`, trained on the MNIST training
set) labels the received reconstruction of x + δ as t. Reported per model, attack, gradient and
budget: success rate (± binomial s.e.), mean L2 and L∞ of δ, the objective before and after,
and the oracle's rate on unattacked reconstructions (the floor). Result ``attacks.json``; plots
``attacks.png`` (success vs budget) and ``attacks_gallery.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study
from njscc.experiments.robustness._models import eps_key as _key
from njscc.experiments.robustness._plots import as_u8 as _u8

__all__ = ["ATTACKS", "AttackStudy", "plot_attacks", "plot_gallery"]

ATTACKS = ("classifier", "reconstruction", "latent")



@EXPERIMENTS.register("codec_attacks")
@dataclass
class AttackStudy(Study):
    """Kos et al. (2017) attacks on VAE and NECST codecs, judged by an oracle CNN."""

    illustrations: ClassVar[tuple[str, ...]] = ("attacks_gallery",)

    runs_dir: str | None = "runs/conv"
    models: Sequence[str] = ()
    m: int = 100
    channel: str = "bsc"
    necst_eps: Sequence[float] = (0.0, 0.1)
    include_vae: bool = True
    dataset: str = "mnist"
    data_dir: str | None = None
    attacks: Sequence[str] = ATTACKS
    gradients: Sequence[str] = ("st", "relaxed")
    through_channel: bool = True
    norm: str = "l2"
    budgets: Sequence[float] = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
    n_pairs: int = 200
    steps: int = 100
    n_draws: int = 4
    oracle_epochs: int = 2
    classifier_epochs: int = 5
    gallery_budget: float | None = None
    seed: int = 0

    def _check(self) -> None:
        from njscc.robustness.attacks import NORMS
        from njscc.robustness.latents import GRADIENTS
        from njscc.validation import check_choices, check_positive_int

        check_choices(self.attacks, "attacks", ATTACKS)
        check_choices(self.gradients, "gradients", GRADIENTS)
        if self.norm not in NORMS:
            raise ValueError(f"norm: expected one of {', '.join(NORMS)}, got {self.norm!r}")
        if not self.budgets or any(not (b > 0 and math.isfinite(b)) for b in self.budgets):
            raise ValueError(f"budgets: expected positive radii, got {list(self.budgets)}")
        for name in ("n_pairs", "steps", "n_draws", "oracle_epochs", "classifier_epochs"):
            check_positive_int(getattr(self, name), name)

    def _model_paths(self) -> list[str]:
        from njscc.experiments.robustness._models import find_runs

        if self.models:
            return list(self.models)
        names = [f"{self.dataset}_m{self.m}_{self.channel}_{_key(e)}" for e in self.necst_eps]
        if self.include_vae:
            names.append(f"{self.dataset}_vae{self.m}")
        return find_runs(self.runs_dir, names)

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.experiments.robustness._models import load_victim
        from njscc.io.results import make_result
        from njscc.robustness import attacks as A
        from njscc.robustness.latents import reconstruction
        from njscc.robustness.oracle import (
            accuracy,
            latent_classifier,
            noiseless_codes,
            oracle,
        )

        self._check()
        paths = self._model_paths()
        out = Path(out)
        train = load_dataset(self.dataset, "train", self.data_dir)
        test = load_dataset(self.dataset, "test", self.data_dir)
        if train.labels is None or test.labels is None:
            raise ValueError(f"dataset {self.dataset!r} has no labels")
        judge = oracle(train.images, train.labels, cache=out / "oracle.safetensors",
                       epochs=self.oracle_epochs, seed=self.seed, progress=log)
        oracle_acc = accuracy(judge, test.images, test.labels)
        if log:
            log(f"oracle CNN: test accuracy {100 * oracle_acc:.2f}%")

        g = torch.Generator().manual_seed(self.seed)
        n_test = test.images.shape[0]
        idx = torch.randperm(n_test, generator=g)[:self.n_pairs]
        x, src = test.images[idx], test.labels[idx]
        tgt = (src + torch.randint(1, 10, src.shape, generator=g)) % 10
        pool = torch.randperm(n_test, generator=g)
        by_class = {c: pool[test.labels[pool] == c] for c in range(10)}
        pick = torch.stack([by_class[int(t)][i % len(by_class[int(t)])]
                            for i, t in enumerate(tgt)])
        x_t = test.images[pick]

        rows: list[dict[str, Any]] = []
        gallery: dict[str, Any] = {"source": _u8(x[:6]), "target": _u8(x_t[:6]),
                                   "source_label": src[:6].tolist(),
                                   "target_label": tgt[:6].tolist(), "models": []}
        gal_b = self.gallery_budget or sorted(self.budgets)[len(self.budgets) // 2]
        for path in paths:
            v = load_victim(path)
            model, bits, train_eps, name = v.model, v.bits, v.train_eps, v.label
            ch = v.channel_at() if self.through_channel else None
            victim = latent_classifier(model, train.images[:20000], train.labels[:20000],
                                       epochs=self.classifier_epochs, seed=self.seed)
            gen_eval = torch.Generator().manual_seed(self.seed + 7)

            def judged(xa: torch.Tensor, ch=ch, model=model,
                       gen_eval=gen_eval) -> torch.Tensor:
                with torch.no_grad():
                    rec = reconstruction(model, xa, channel=ch, generator=gen_eval)
                    return judge(rec).argmax(-1)

            floor = float((judged(x) == tgt).double().mean())
            clean_ok = float((judged(x) == src).double().mean())
            grads = list(self.gradients) if bits else ["mean"]
            for attack in self.attacks:
                for grad in grads:
                    if attack == "latent" and grad == "relaxed":
                        continue  # the latent objective reads the logits: no code estimator
                    gk = "st" if grad == "mean" else grad
                    ga = torch.Generator().manual_seed(self.seed + 11)
                    draws = self.n_draws if ch is not None else 1
                    if attack == "classifier":
                        obj = A.classifier_objective(model, victim, tgt, channel=ch, gradient=gk,
                                                     n_draws=draws, generator=ga)
                    elif attack == "reconstruction":
                        obj = A.reconstruction_objective(model, x_t, channel=ch, gradient=gk,
                                                         n_draws=draws, generator=ga)
                    else:
                        obj = A.latent_objective(model, x_t)
                    with torch.no_grad():
                        start = float(obj(x).mean())
                    for b in self.budgets:
                        delta, val = A.pgd(obj, x, float(b), norm=self.norm, steps=self.steps)
                        hit = (judged(x + delta) == tgt).double()
                        s = float(hit.mean())
                        nm = A.norms(delta)
                        row = {"model": name, "checkpoint": str(path), "bits": bits,
                               "train_eps": train_eps, "through_channel": ch is not None,
                               "attack": attack, "gradient": grad, "budget": float(b),
                               "success": s, "success_se": math.sqrt(s * (1 - s) / len(hit)),
                               "l2": float(nm["l2"].mean()), "linf": float(nm["linf"].mean()),
                               "objective_start": start, "objective_end": float(val.mean()),
                               "floor": floor}
                        rows.append(row)
                        if log:
                            log(f"{name} {attack}/{grad} budget {b:g}: success {100 * s:.1f}% "
                                f"(L2 {row['l2']:.2f}, objective {start:.2f} → "
                                f"{row['objective_end']:.2f})")
                        if float(b) == float(gal_b) and grad in ("st", "mean"):
                            with torch.no_grad():
                                xa = x[:6] + delta[:6]
                                rec = reconstruction(model, xa, channel=ch,
                                                     generator=torch.Generator().manual_seed(1))
                            gallery["models"].append({
                                "model": name, "attack": attack, "budget": float(b),
                                "adversarial": _u8(xa), "reconstruction": _u8(rec),
                                "oracle": judge(rec).argmax(-1).tolist()})
            rows.append({"model": name, "checkpoint": str(path), "summary": True,
                         "victim_accuracy": accuracy(victim, noiseless_codes(model, test.images),
                                                     test.labels),
                         "clean_oracle_accuracy": clean_ok, "floor": floor})
        metrics = {"rows": rows, "oracle_accuracy": oracle_acc, "n_pairs": int(self.n_pairs),
                   "norm": self.norm, "budgets": [float(b) for b in self.budgets]}
        result = make_result("codec_attacks", metrics, dataset=self.dataset,
                             channel={"name": self.channel, "param": list(self.necst_eps)},
                             m=self.m, config={"study": self.config_dict(),
                                               "gallery_budget": float(gal_b)})
        gal = make_result("codec_attacks_gallery", gallery, dataset=self.dataset,
                          config={"budget": float(gal_b), "norm": self.norm})
        return {"attacks": result, "attacks_gallery": gal}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        files = []
        if "attacks" in results:
            files.append(plot_attacks(results["attacks"], Path(out) / "attacks.png"))
        if "attacks_gallery" in results:
            files.append(plot_gallery(results["attacks_gallery"],
                                      Path(out) / "attacks_gallery.png"))
        return files

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("attacks")
        if not r:
            return ""
        met = r["metrics"]
        lines = [f"oracle CNN test accuracy {100 * met['oracle_accuracy']:.2f}%; "
                 f"{met['n_pairs']} pairs, {met['norm']} budgets {met['budgets']}"]
        for s in (row for row in met["rows"] if row.get("summary")):
            lines.append(f"{s['model']}: latent classifier {100 * s['victim_accuracy']:.1f}%, "
                         f"oracle on clean reconstructions {100 * s['clean_oracle_accuracy']:.1f}%"
                         f", target already hit {100 * s['floor']:.1f}%")
        lines.append(f"{'model':<22}{'attack':<16}{'grad':<9}" + "".join(
            f"{b:>14g}" for b in met["budgets"]))
        keys: dict[tuple[str, str, str], dict[float, dict[str, Any]]] = {}
        for row in met["rows"]:
            if not row.get("summary"):
                keys.setdefault((row["model"], row["attack"], row["gradient"]), {})[
                    row["budget"]] = row
        for (mod, att, gr), by_b in keys.items():
            cells = "".join(f"{100 * by_b[b]['success']:7.1f}% ({by_b[b]['l2']:.1f})"
                            if b in by_b else f"{'–':>14}" for b in met["budgets"])
            lines.append(f"{mod:<22}{att:<16}{gr:<9}{cells}")
        lines.append("cells: success rate (mean L2 of δ)")
        return "\n".join(lines)


def plot_attacks(result: Mapping[str, Any], out: str | Path) -> Path:
    """Success rate vs budget, one panel per attack, one line per model/gradient."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    met = result["metrics"]
    rows = [r for r in met["rows"] if not r.get("summary")]
    attacks = [a for a in ATTACKS if any(r["attack"] == a for r in rows)]
    labels = list(dict.fromkeys(f"{r['model']} ({r['gradient']})" for r in rows))
    color = {lab: f"C{i % 10}" for i, lab in enumerate(labels)}  # one colour per series
    fig, axes = plt.subplots(1, len(attacks), figsize=(4.3 * len(attacks), 3.8), sharey=True,
                             squeeze=False)
    for ax, att in zip(axes[0], attacks, strict=True):
        series: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r["attack"] == att:
                series.setdefault(f"{r['model']} ({r['gradient']})", []).append(r)
        for lab, rs in series.items():
            rs = sorted(rs, key=lambda r: r["budget"])
            ax.errorbar([r["budget"] for r in rs], [100 * r["success"] for r in rs],
                        yerr=[100 * r["success_se"] for r in rs], marker="o", ms=3, capsize=2,
                        ls="--" if "relaxed" in lab else "-", color=color[lab], label=lab)
        ax.set_title(f"{att} attack", fontsize=9)
        ax.set_xlabel(f"budget ‖δ‖ ({met['norm']})")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("success: oracle says target class [%]")
    handles = [plt.Line2D([], [], color=color[lab], ls="--" if "relaxed" in lab else "-",
                          marker="o", ms=3, label=lab) for lab in labels]
    axes[0][0].legend(handles=handles, fontsize=6)
    fig.suptitle(f"Kos et al. attacks on codecs: {met['n_pairs']} pairs, judged by an oracle CNN "
                 f"({100 * met['oracle_accuracy']:.1f}% test accuracy)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def plot_gallery(result: Mapping[str, Any], out: str | Path) -> Path:
    """Source, target, and per model/attack the adversarial input and its reconstruction."""
    from njscc.experiments.robustness._plots import digit_grid

    met = result["metrics"]
    rows = [("source", met["source"], met["source_label"]),
            ("target", met["target"], met["target_label"])]
    for mm in met["models"]:
        rows.append((f"{mm['model']}\n{mm['attack']}: x+δ", mm["adversarial"], None))
        rows.append(("its reconstruction", mm["reconstruction"], mm["oracle"]))
    return digit_grid(rows, out, f"attacks at budget {result['config']['budget']:g} "
                      f"({result['config']['norm']}); numbers: true class / oracle's label")
