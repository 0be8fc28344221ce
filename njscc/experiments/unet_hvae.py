"""Multi-resolution U-Net HVAEs on binarized MNIST (Falck, Williams et al. 2023): the same
architecture with and without weight sharing across each resolution's time-like depth.

Two models (``unet_hvae`` with ``share_weights`` False / True), trained with
``hierarchical_elbo`` for ``epochs`` on the binarized-MNIST training split, measured on its
test split: the single-sample ELBO (every test image) and, on ``iwae_images`` random test
images (seeded), IWAE with ``iwae_samples`` samples beside the ELBO of the same images; the
rate per latent resolution; parameter counts. The paper's observation to check: sharing the
weights gives about the same likelihood with about half the parameters. That average pooling
is a Haar projection is a closed-form fact, tested against PyWavelets
(``tests/unit/test_unet_hvae.py``), not measured here. Result ``unet_hvae.json``, plot
``unet_hvae.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm, rows_with_std

__all__ = ["UNetHVAEStudy", "plot_unet_hvae"]


@EXPERIMENTS.register("unet_hvae")
@dataclass
class UNetHVAEStudy(Study):
    """U-Net HVAE with vs without weight sharing: test ELBO / IWAE and parameters."""

    data_dir: str | None = None
    channels: int = 16
    z_channels: int = 2
    latent_res: Sequence[int] = (4, 8, 16)
    steps: int = 2
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    train_size: int | None = None
    test_size: int | None = None
    iwae_samples: int = 100
    iwae_images: int = 500
    runs_dir: str = "runs/unet_hvae"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.io.results import make_result
        from njscc.training.runs import fit_codec, history_summary
        from njscc.training.seeds import mix_seed
        from njscc.validation import check_positive_int

        for name in ("channels", "z_channels", "steps", "epochs", "batch_size",
                     "iwae_samples", "iwae_images"):
            check_positive_int(getattr(self, name), name)
        train = load_dataset("binarized_mnist", "train", self.data_dir)
        test = load_dataset("binarized_mnist", "test", self.data_dir)
        if self.train_size:
            train = train.subset(torch.arange(min(int(self.train_size), len(train))))
        if self.test_size:
            test = test.subset(torch.arange(min(int(self.test_size), len(test))))
        rows = []
        for shared in (False, True):
            kwargs = {"channels": self.channels, "z_channels": self.z_channels,
                      "latent_res": list(self.latent_res), "steps": self.steps,
                      "share_weights": shared}
            run_dir = Path(self.runs_dir) / ("shared" if shared else "separate")
            if log:
                log(f"U-Net HVAE, {'shared' if shared else 'separate'} weights, "
                    f"{self.epochs} epochs -> {run_dir}")
            res = fit_codec("unet_hvae", kwargs, "hierarchical_elbo", {}, train, run_dir,
                            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                            seed=mix_seed(self.seed, int(shared)) % (2 ** 31),
                            device=self.device, quiet=self.quiet,
                            log=None if self.quiet else log,
                            run_info={"experiment": "unet_hvae"})
            model = res["model"].eval()
            row = {"shared": shared, "parameters": int(model.n_parameters()),
                   **self._measure(model, test), "training": history_summary(res["history"])}
            rows.append(row)
            if log:
                log(f"  ELBO {row['elbo_nats']:.2f} nats, IWAE-{self.iwae_samples} "
                    f"{row['iwae_nats']:.2f} (ELBO there {row['elbo_subset_nats']:.2f}), "
                    f"{row['parameters']} parameters")
        cfg = {"study": self.config_dict(), "threads": torch.get_num_threads(),
               "paper": "weight sharing: about the same likelihood with about half the "
                        "parameters (Falck, Williams et al. 2023)"}
        return {"unet_hvae": make_result("unet_hvae", {"rows": rows}, dataset="mnist",
                                         config=cfg)}

    @torch.no_grad()
    def _measure(self, model: Any, test: Any) -> dict[str, Any]:
        from njscc.evaluation.rate_distortion import iwae_on_subset

        dev = next(model.parameters()).device
        gen = torch.Generator(device=dev).manual_seed(self.seed + 3)
        elbo, rates = [], []
        for i in range(0, len(test), 500):
            t = model.elbo_terms(test.images[i:i + 500].to(dev), generator=gen)
            elbo.append((-(t["distortion"] + t["rate"])).cpu())
            rates.append(t["rate_layers"].cpu())
        iw, e1 = iwae_on_subset(model, test.images, self.iwae_samples, self.iwae_images,
                                self.seed, gen, batch=50, chunk=25)
        pixels = math.prod(model.data_shape)
        e = torch.cat(elbo)
        bpd = float(-e.mean() / (pixels * math.log(2)))
        return {"elbo_nats": float(e.mean()), "elbo_bpd": bpd,
                "iwae_nats": float(iw.mean()), "elbo_subset_nats": float(e1.mean()),
                "iwae_samples": self.iwae_samples, "iwae_images": int(len(iw)),
                "rate_by_resolution_nats": dict(zip(map(str, model.latent_res),
                                                    torch.cat(rates).mean(0).tolist(),
                                                    strict=True))}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        if "unet_hvae" not in results:
            return []
        return [plot_unet_hvae(results["unet_hvae"], Path(out) / "unet_hvae.png")]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("unet_hvae")
        if not r:
            return ""
        lines = [f"{'weights':<10}{'parameters':>12}{'test ELBO (nats)':>20}"
                 f"{'IWAE (subset)':>16}{'ELBO (subset)':>16}"]
        for row, s in rows_with_std(r):
            lines.append(f"{'shared' if row['shared'] else 'separate':<10}"
                         f"{row['parameters']:>12}"
                         f"{fmt_pm(row['elbo_nats'], s.get('elbo_nats'), '{:.2f}'):>20}"
                         f"{row['iwae_nats']:>16.2f}{row['elbo_subset_nats']:>16.2f}")
        return "\n".join(lines)


def plot_unet_hvae(result: Mapping[str, Any], out: str | Path) -> Path:
    """Test ELBO and IWAE (nats) against the number of parameters, shared vs separate."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    rows = [r for r, _ in rows_with_std(result)]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for r in rows:
        lab = "shared" if r["shared"] else "separate"
        ax.scatter([r["parameters"]], [r["elbo_nats"]], marker="o", label=f"{lab}: ELBO")
        ax.scatter([r["parameters"]], [r["iwae_nats"]], marker="^", label=f"{lab}: IWAE")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("test log-likelihood bound (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("U-Net HVAE on binarized MNIST", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out)
