"""Encoder variance and decoder smoothness (after Camuto & Willetts' harmonic analysis of
VAEs): VAEs trained with a *fixed* encoder variance σ² on a sweep; per σ², the decoder's local
Lipschitz estimate (‖∂x̂/∂z‖₂ at the test posterior means, by power iteration) and the share
of high-frequency energy of x̂ along random latent lines
(:mod:`njscc.robustness.smoothness`). Both should fall as σ² grows — the encoder noise acts
as a low-pass filter on what the decoder can afford to represent. Result ``smoothness.json``;
plot ``smoothness.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study

__all__ = ["SmoothnessStudy", "plot_smoothness"]


@EXPERIMENTS.register("vae_smoothness")
@dataclass
class SmoothnessStudy(Study):
    """Fixed encoder variance sweep: decoder Lipschitz estimate and high-frequency content."""

    dataset: str = "mnist"
    data_dir: str | None = None
    runs_dir: str | None = "runs/smoothness"
    m: int = 10
    variances: Sequence[float] = (0.01, 0.05, 0.2, 0.5, 1.0)
    hidden: Sequence[int] = (256, 256)
    likelihood: str = "sse"
    epochs: int = 10
    n_latent: int = 200
    half_width: float = 3.0
    n_points: int = 128
    cutoff: float = 0.5
    power_iters: int = 20
    seed: int = 0

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.io.results import make_result
        from njscc.robustness.smoothness import high_frequency_fraction, jacobian_spectral_norm
        from njscc.training.runs import fit_codec
        from njscc.validation import check_positive_int

        if not self.variances or any(not (0 < v < 1e3) for v in self.variances):
            raise ValueError(f"variances: expected values in (0, 1000), got "
                             f"{list(self.variances)}")
        for name in ("m", "epochs", "n_latent", "power_iters"):
            check_positive_int(getattr(self, name), name)
        train = load_dataset(self.dataset, "train", self.data_dir)
        test = load_dataset(self.dataset, "test", self.data_dir)
        runs = Path(self.runs_dir or out / "runs")
        x = test.images[:self.n_latent]
        rows = []
        for v in sorted(float(v) for v in self.variances):
            name = f"{self.dataset}_vae{self.m}_var{v:g}"
            res = fit_codec("vae_mlp", {"m": self.m, "enc_hidden": list(self.hidden),
                                        "dec_hidden": list(self.hidden),
                                        "likelihood": self.likelihood, "fixed_variance": v,
                                        "data_shape": list(train.images.shape[1:])},
                            "elbo", {}, train, runs / name, epochs=self.epochs, seed=self.seed,
                            log=log)
            model = res["model"].eval()
            for p in model.parameters():
                p.requires_grad_(False)

            def xhat(z: torch.Tensor, model: Any = model) -> torch.Tensor:
                return model.reconstruct(model.decode(z)).reshape(z.shape[0], -1)

            with torch.no_grad():
                mu, _ = model.split(model.encode(x))
                sse = float((xhat(mu) - x.reshape(x.shape[0], -1)).square().sum(1).mean())
                rate = float(model.rate(model.encode(x)).mean())
            g = torch.Generator().manual_seed(self.seed + 1)
            lip = jacobian_spectral_norm(xhat, mu, iters=self.power_iters, generator=g)
            hf = high_frequency_fraction(xhat, mu, half_width=self.half_width,
                                         n_points=self.n_points, cutoff=self.cutoff,
                                         generator=g)
            row = {"variance": v, "run": str(runs / name), "test_sse": sse, "rate_nats": rate,
                   "lipschitz_mean": float(lip.mean()), "lipschitz_max": float(lip.max()),
                   "lipschitz_se": float(lip.std() / math.sqrt(lip.numel())),
                   "high_freq_mean": float(hf.mean()),
                   "high_freq_se": float(hf.std() / math.sqrt(hf.numel()))}
            rows.append(row)
            if log:
                log(f"σ² = {v:g}: SSE {sse:.2f}, rate {rate:.1f} nats, ‖J‖ mean "
                    f"{row['lipschitz_mean']:.2f} (max {row['lipschitz_max']:.2f}), "
                    f"high-frequency share {row['high_freq_mean']:.4f}")
        metrics = {"rows": rows, "n_latent": int(x.shape[0]), "cutoff": self.cutoff,
                   "half_width": self.half_width}
        return {"smoothness": make_result("vae_smoothness", metrics, dataset=self.dataset,
                                          m=self.m, config={"study": self.config_dict()})}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return [plot_smoothness(r, Path(out) / f"{stem}.png") for stem, r in results.items()]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        lines = []
        for res in results.values():
            lines.append(f"{'σ²':>8}{'test SSE':>10}{'rate':>8}{'‖J‖ mean':>12}{'‖J‖ max':>10}"
                         f"{'high-freq share':>17}")
            for r in res["metrics"]["rows"]:
                lines.append(f"{r['variance']:8g}{r['test_sse']:10.2f}{r['rate_nats']:8.1f}"
                             f"{r['lipschitz_mean']:12.2f}{r['lipschitz_max']:10.2f}"
                             f"{r['high_freq_mean']:17.4f}")
        return "\n".join(lines)


def plot_smoothness(result: Mapping[str, Any], out: str | Path) -> Path:
    """Decoder Lipschitz estimate and high-frequency share vs the fixed encoder variance."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    rows = result["metrics"]["rows"]
    v = [r["variance"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.8))
    a.errorbar(v, [r["lipschitz_mean"] for r in rows], yerr=[r["lipschitz_se"] for r in rows],
               marker="o", capsize=2, label="mean over test posteriors")
    a.plot(v, [r["lipschitz_max"] for r in rows], "s--", label="max")
    a.set_xscale("log")
    a.set_xlabel("fixed encoder variance σ²")
    a.set_ylabel("decoder ‖∂x̂/∂z‖₂")
    a.legend(fontsize=7)
    a.grid(alpha=0.3)
    b.errorbar(v, [r["high_freq_mean"] for r in rows], yerr=[r["high_freq_se"] for r in rows],
               marker="o", capsize=2)
    b.set_xscale("log")
    b.set_xlabel("fixed encoder variance σ²")
    b.set_ylabel(f"energy share above {result['metrics']['cutoff']:g} cycles / latent unit")
    b.grid(alpha=0.3)
    fig.suptitle(f"{result['dataset']}: VAE decoders get smoother as the encoder variance grows "
                 f"(d = {result['m']})", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)
