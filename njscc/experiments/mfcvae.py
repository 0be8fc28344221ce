"""Multi-facet clustering on MNIST: MFCVAE (Falck et al., NeurIPS 2021; reference code
FabianFalck/mfcvae), J = 2 facets of 25 clusters, the reference's fully connected ladder.

One model per seed (``--seeds 0,1,2`` gives σ over seeds), trained with the ELBO by the
shared Trainer:

1. the model is built, its facets' posterior means on the training set (untrained encoder)
   are fitted by a diagonal GMM per facet, whose means initialise p(z_j | c_j) (variances
   0.01), as the reference;
2. progressive training: ``epochs_per_stage`` epochs with the deepest facet alone, then the
   shallow facet faded in over ``fade_in_epochs`` and trained for the rest of its stage
   (reference: 201 + 201 epochs, fade-in 15 000 batches ≈ 127 epochs; batch 512, Adam 5e-4);
3. on the test split: unsupervised clustering accuracy of every facet (each cluster mapped to
   its majority digit, as the reference's ``cluster_acc``), the best facet's accuracy (the
   paper's 92.02 % ± 3.02 % over 10 seeds), NMI, the test ELBO.

Illustrations (``mfcvae_gallery``, kept from the first seed): per facet, the test images
most responsible for its largest clusters (one row per cluster), samples with one facet's
cluster fixed, and compositions — the class facet of one image with the style facet of
another (``decode([z_0(b), z_1(a)])``, a grid over a × b).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm

__all__ = ["PAPER", "MFCVAEStudy"]

#: the paper's MNIST figure (J = 2, fully connected, 10 seeds): accuracy of the digit facet
PAPER = {"accuracy": 0.9202, "accuracy_sd": 0.0302, "seeds": 10, "epochs": 402}


@EXPERIMENTS.register("mfcvae")
@dataclass
class MFCVAEStudy(Study):
    """MFCVAE on MNIST: clustering accuracy per facet, galleries, compositions."""

    illustrations: ClassVar[tuple[str, ...]] = ("mfcvae_gallery",)

    data_dir: str | None = None
    z_dims: Sequence[int] = (5, 5)
    n_clusters: Sequence[int] = (25, 25)
    epochs_per_stage: int = 30
    fade_in_epochs: float = 19.0
    batch_size: int = 512
    lr: float = 5e-4
    scale: float = 0.35
    train_size: int | None = None
    test_size: int | None = None
    gallery_clusters: int = 10
    gallery_images: int = 10
    runs_dir: str = "runs/mfcvae"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.io.results import make_result
        from njscc.training.runs import fit_codec, history_summary
        from njscc.validation import check_int_tuple, check_number, check_positive_int

        for name in ("epochs_per_stage", "batch_size", "gallery_clusters", "gallery_images"):
            check_positive_int(getattr(self, name), name)
        dims = check_int_tuple(self.z_dims, "z_dims")
        clusters = check_int_tuple(self.n_clusters, "n_clusters", length=len(dims))
        fade = check_number(self.fade_in_epochs, "fade_in_epochs", min=0)
        if fade > self.epochs_per_stage:
            raise ValueError(f"fade_in_epochs ({fade}) must not exceed epochs_per_stage "
                             f"({self.epochs_per_stage}): the last facet would end half-faded")
        train = load_dataset("mnist", "train", self.data_dir)
        test = load_dataset("mnist", "test", self.data_dir)
        if self.train_size:
            train = train.subset(torch.arange(min(int(self.train_size), len(train))))
        if self.test_size:
            test = test.subset(torch.arange(min(int(self.test_size), len(test))))
        steps = len(train) // self.batch_size
        if steps < 1:
            raise ValueError(f"batch_size {self.batch_size} exceeds the {len(train)} training "
                             f"images")
        n_j = len(dims)
        kwargs = {"z_dims": list(dims), "n_clusters": list(clusters), "scale": self.scale,
                  "stage_steps": self.epochs_per_stage * steps,
                  "fade_in_steps": int(round(fade * steps))}
        if n_j > 2:  # one backbone layer per facet; the reference's widths for J = 2
            kwargs.update(enc_backbone=[500] * n_j, dec_rung=[500] * n_j,
                          dec_backbone=[500] * n_j)
        epochs = n_j * self.epochs_per_stage
        run_dir = Path(self.runs_dir) / "mfcvae_mnist"
        if log:
            log(f"MFCVAE J={n_j} facets of {list(clusters)} clusters, {epochs} epochs "
                f"({self.epochs_per_stage} per stage, fade-in {fade:g}), {len(train)} train "
                f"images -> {run_dir}")
        res = fit_codec("mfcvae", kwargs, "elbo", {}, train, run_dir, epochs=epochs,
                        batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                        device=self.device, quiet=self.quiet, log=None if self.quiet else log,
                        prepare=lambda model: _init_prior(model, train.images, self.seed),
                        run_info={"experiment": "mfcvae"})
        model = res["model"].eval()
        metrics = self._evaluate(model, test)
        metrics["training"] = history_summary(res["history"])
        metrics["training"]["seconds"] = res["seconds"]
        if log:
            accs = ", ".join(f"facet {j}: {f['accuracy']:.4f}" for j, f in
                             enumerate(metrics["facets"]))
            log(f"  test clustering accuracy {accs}; best {metrics['accuracy']:.4f} (paper "
                f"{PAPER['accuracy']:.4f} ± {PAPER['accuracy_sd']:.4f}); ELBO "
                f"{metrics['elbo']:.2f}")
        cfg = {"study": self.config_dict(), "model": dict(model.config),
               "threads": torch.get_num_threads(), "paper": PAPER,
               "protocol": f"{epochs} epochs ({self.epochs_per_stage} per stage) vs the "
                           f"reference's 402 (201 per stage); MNIST grey levels in [0, 1]"}
        gallery = self._gallery(model, test, int(metrics["best_facet"]))
        return {"mfcvae": make_result("mfcvae", metrics, dataset="mnist", config=cfg),
                "mfcvae_gallery": make_result("mfcvae_gallery", gallery, dataset="mnist",
                                              config=cfg)}

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _evaluate(self, model: Any, test: Any) -> dict[str, Any]:
        from sklearn.metrics import normalized_mutual_info_score

        from njscc.data import Batch
        from njscc.evaluation.clustering import cluster_accuracy
        from njscc.objectives import get as get_objective

        dev = next(model.parameters()).device
        objective = get_objective("elbo")
        gen = torch.Generator(device=dev).manual_seed(self.seed + 11)
        assign, total, rates = [], 0.0, []
        for i in range(0, len(test), 1000):
            x = test.images[i:i + 1000].to(dev)
            assign.append(model.assign(x).cpu())
            _, stats = objective(model, Batch(x), None, gen)
            total += -stats["loss"] * x.shape[0]
            h = model.encode(x)
            rates.append(model.facet_rates(h, model.sample_latent(h, 1, gen)).sum(0).cpu())
        a = torch.cat(assign).numpy()
        y = test.labels.numpy()
        facets = []
        for j in range(a.shape[1]):
            acc = cluster_accuracy(y, a[:, j])
            used = np.unique(a[:, j]).size
            facets.append({"accuracy": acc["accuracy"], "mapping": acc["mapping"],
                           "nmi": float(normalized_mutual_info_score(y, a[:, j])),
                           "clusters_used": int(used),
                           "rate_nats": float(torch.stack(rates).sum(0)[j] / len(test))})
        best = int(np.argmax([f["accuracy"] for f in facets]))
        return {"accuracy": facets[best]["accuracy"], "best_facet": best, "facets": facets,
                "elbo": total / len(test), "n_test": len(test),
                "schedule_end": model.schedule()}

    @torch.no_grad()
    def _gallery(self, model: Any, test: Any, class_facet: int) -> dict[str, Any]:
        from njscc.experiments.robustness._plots import as_u8

        dev = next(model.parameters()).device
        x = test.images.to(dev)
        resp = [torch.cat(r) for r in zip(*(model.responsibilities(x[i:i + 1000])
                                            for i in range(0, len(x), 1000)), strict=True)]
        n_img, n_cl = self.gallery_images, self.gallery_clusters
        gen = torch.Generator(device=dev).manual_seed(self.seed + 5)
        facets = []
        for j, r in enumerate(resp):
            top = torch.bincount(r.argmax(-1), minlength=r.shape[1]).argsort(descending=True)
            rows = []
            for c in top[:n_cl].tolist():
                idx = r[:, c].argsort(descending=True)[:n_img]
                fixed = [None] * len(resp)
                fixed[j] = torch.full((n_img,), c, dtype=torch.long, device=dev)
                samples = model.sample(n_img, gen, clusters=fixed)
                rows.append({"cluster": c, "size": int((r.argmax(-1) == c).sum()),
                             "members": as_u8(x[idx]), "samples": as_u8(samples)})
            facets.append({"facet": j, "rows": rows})
        # compositions: the class facet from row image a, every other facet from column b
        pick = torch.arange(0, len(x), max(1, len(x) // n_img))[:n_img]
        z = model.compress(x[pick])
        parts = model.prior.split(z)
        grid = []
        for a in range(n_img):
            mixed = [p if k != class_facet else p[a].expand_as(p) for k, p in enumerate(parts)]
            grid.append(as_u8(model.decompress(torch.cat(mixed, -1))))
        return {"facets": facets, "class_facet": class_facet,
                "compose": {"sources": as_u8(x[pick]), "grid": grid},
                "side": int(math.isqrt(int(np.prod(x.shape[1:]))))}

    # ------------------------------------------------------------------ reporting
    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        files = []
        if "mfcvae_gallery" in results:
            files += plot_gallery(results["mfcvae_gallery"], Path(out))
        return files

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("mfcvae")
        if not r:
            return ""
        m, s = r["metrics"], r.get("metrics_std") or {}
        sf = s.get("facets") or [{} for _ in m["facets"]]
        lines = [f"{'facet':<8}{'accuracy':>18}{'NMI':>16}{'clusters used':>15}"]
        for j, (f, fs) in enumerate(zip(m["facets"], sf, strict=True)):
            lines.append(f"{j:<8}{fmt_pm(f['accuracy'], fs.get('accuracy'), '{:.4f}'):>18}"
                         f"{fmt_pm(f['nmi'], fs.get('nmi'), '{:.3f}'):>16}"
                         f"{f['clusters_used']:>15}")
        lines.append(f"best facet accuracy {fmt_pm(m['accuracy'], s.get('accuracy'), '{:.4f}')}"
                     f" (paper {PAPER['accuracy']:.4f} ± {PAPER['accuracy_sd']:.4f}, "
                     f"{PAPER['seeds']} seeds); test ELBO "
                     f"{fmt_pm(m['elbo'], s.get('elbo'), '{:.2f}')} nats")
        return "\n".join(lines)


@torch.no_grad()
def _init_prior(model: Any, images: torch.Tensor, seed: int) -> None:
    """The reference's GMM initialisation from the untrained encoder's posterior means."""
    model.eval()
    z = torch.cat([model.compress(images[i:i + 2000]) for i in range(0, len(images), 2000)])
    model.init_prior(z, seed=seed)
    model.train()


def plot_gallery(result: Mapping[str, Any], out: Path) -> list[Path]:
    """``mfcvae_clusters_facet<j>.png`` (members and samples of facet j's largest clusters) and
    ``mfcvae_compose.png`` (the class facet of each row's image with the other facets of
    each column's image)."""
    from njscc.experiments.robustness._plots import digit_grid

    g = result["metrics"]
    side = int(g.get("side", 28))
    files = []
    for f in g["facets"]:
        rows = []
        for r in f["rows"]:
            lab = f"c{r['cluster']} (n={r['size']})"
            rows.append((lab + " data", r["members"], None))
            rows.append((lab + " samples", r["samples"], None))
        files.append(digit_grid(rows, out / f"mfcvae_clusters_facet{f['facet']}.png",
                                f"MFCVAE facet {f['facet']}: the test images most responsible "
                                f"for its largest clusters, and samples with that cluster "
                                f"fixed", side=side))
    comp = g["compose"]
    crows = [("columns' images", comp["sources"], None)]
    crows += [(f"class facet of #{a}", img, None) for a, img in enumerate(comp["grid"])]
    files.append(digit_grid(crows, out / "mfcvae_compose.png",
                            f"compositions: facet {g['class_facet']} (class) from the row's "
                            f"image (first column of the top row = #0 …), other facets from "
                            f"the column's image", side=side))
    return files
