"""The broken-ELBO experiment (Alemi et al. 2018) on binarized MNIST: the R–D plane.

:class:`RateDistortionSweep` trains one β-VAE per β with the shared Trainer (runs under
``runs_dir``, resumable), then measures each model's test rate R, distortion D, ELBO, IWAE
bound and GILBO, and places NECST checkpoints (trained with ``njscc train --preset
binarized_mnist``) on the same plane. Results: ``rd_sweep.json``; plot ``rd_plane.png`` (R–D
plane with the bound line R = H − D, H estimated); table ``rd_table.md``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm
from njscc.io.results import atomic_write_text, make_result, save_figure
from njscc.objectives.rate_distortion import LN2

__all__ = ["RateDistortionSweep", "markdown_table", "plot_rd_plane"]


@EXPERIMENTS.register("rd_sweep")
@dataclass
class RateDistortionSweep(Study):
    """β-VAE sweep on binarized MNIST: R–D plane, IWAE, GILBO, NECST placed on it."""

    data_dir: str | None = None
    betas: Sequence[float] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)
    m: int = 32
    hidden: Sequence[int] = (256, 256)
    prior: str = "normal"
    epochs: int = 5
    batch_size: int = 100
    lr: float = 1e-3
    train_size: int | None = None
    iwae_k: int = 100
    iwae_images: int = 2000
    gilbo_steps: int = 1000
    gilbo_x_mode: str = "mean"
    necst: Sequence[str] = ()
    necst_samples: int = 10
    runs_dir: str = "runs/rd"
    device: str | None = None
    seed: int = 0
    quiet: bool = False

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        import channels
        from njscc.data import load_dataset
        from njscc.evaluation.gilbo import codec_gilbo
        from njscc.evaluation.rate_distortion import necst_point, vae_point
        from njscc.training import find_checkpoint, load_checkpoint, load_model
        from njscc.training.runs import fit_codec, history_summary
        from njscc.validation import check_positive_int

        if any(b < 0 for b in self.betas):
            raise ValueError(f"betas must be >= 0, got {list(self.betas)}")
        for name in ("m", "epochs", "batch_size", "necst_samples", "iwae_images"):
            check_positive_int(getattr(self, name), name)
        from njscc.priors import PRIORS

        PRIORS.canonical(self.prior)  # an unknown prior name, before any training
        necst_paths = [find_checkpoint(p) for p in self.necst]  # fail early on a bad path
        for path in necst_paths:  # and on a checkpoint that is not a Bernoulli bit codec
            m = load_model(path)
            if m.latent.kind != "bits" or m.likelihood != "bernoulli":
                raise ValueError(f"necst {path}: needs a Bernoulli-likelihood bit codec "
                                 f"(njscc train --preset binarized_mnist), got {m.latent} with "
                                 f"likelihood {m.likelihood!r}")
        t_all = time.perf_counter()
        train_x = load_dataset("binarized_mnist", "train", data_dir=self.data_dir).images
        test_x = load_dataset("binarized_mnist", "test", data_dir=self.data_dir).images
        train_x = train_x[:self.train_size]
        model_kwargs = {"m": self.m, "enc_hidden": list(self.hidden),
                        "dec_hidden": list(self.hidden), "likelihood": "bernoulli",
                        "prior": self.prior}
        points = []
        for beta in self.betas:
            run_dir = Path(self.runs_dir) / f"beta_{beta:g}"
            if log:
                log(f"β = {beta:g}: training {self.epochs} epochs -> {run_dir}")
            res = fit_codec("vae_mlp", model_kwargs, "beta_vae", {"beta": beta}, train_x,
                            run_dir, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                            seed=self.seed, device=self.device,
                            run_info={"dataset": "binarized_mnist", "experiment": "rd_sweep"},
                            quiet=self.quiet, log=log)
            model = res["model"]
            test_x = test_x.to(next(model.parameters()).device)
            t0 = time.perf_counter()
            pt = {"beta": beta, "prior": self.prior, "run": str(run_dir),
                  **history_summary(res["history"]),
                  **vae_point(model, test_x, iwae_k=self.iwae_k, iwae_images=self.iwae_images,
                              seed=self.seed)}
            if self.gilbo_steps:
                pt.update(self._gilbo(model, codec_gilbo))
            pt["eval_seconds"] = time.perf_counter() - t0
            if log:
                log(f"  R {pt['rate_nats']:.2f}  D {pt['distortion_nats']:.2f}  "
                    f"-ELBO {pt['nll_elbo_nats']:.2f}  "
                    f"-IWAE {pt.get('nll_iwae_nats', float('nan')):.2f}  "
                    f"GILBO {pt.get('gilbo_nats', float('nan')):.2f} nats")
            points.append(pt)

        necst = []
        for path in necst_paths:
            ck = load_checkpoint(path)
            run_info = ck.extra.get("run", {})
            ch = run_info.get("channel") or {}
            name, param = ch.get("name", "bsc"), float(ch.get("train_param", 0.0))
            model = load_model(path, map_location=test_x.device)
            if log:
                log(f"NECST {path}: {name} {param:g}")
            pt = {"run": str(path), "channel": name, "param": param,
                  **history_summary(ck.extra.get("history", [])),
                  **necst_point(model, test_x, channels.get(name, param),
                                n_samples=self.necst_samples, seed=self.seed)}
            if self.gilbo_steps:
                pt.update({k: v for k, v in self._gilbo(model, codec_gilbo).items()
                           if k in ("gilbo_nats", "gilbo_nats_se", "gilbo_bits")})
            necst.append(pt)

        iw = [p["nll_iwae_nats"] for p in points if "nll_iwae_nats" in p]
        metrics = {"vae": points, "necst": necst,
                   "entropy_proxy_nats": min(iw) if iw else None,
                   "entropy_proxy": "min over the β-VAEs of the IWAE estimate of −log p(x) on "
                                    "the iwae_images random test images (an upper bound on H)",
                   "wall_seconds": time.perf_counter() - t_all}
        result = make_result("rd_sweep", metrics, dataset="binarized_mnist", m=self.m,
                             config={"study": self.config_dict(),
                                     "model": {"name": "vae_mlp", "kwargs": model_kwargs},
                                     "objective": "beta_vae",
                                     "threads": torch.get_num_threads()})
        return {"rd_sweep": result}

    def _gilbo(self, model: Any, codec_gilbo: Any) -> dict[str, Any]:
        g = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        gb = codec_gilbo(model, x_mode=self.gilbo_x_mode, steps=self.gilbo_steps, generator=g)
        return {"gilbo_nats": gb["gilbo_nats"], "gilbo_nats_se": gb["gilbo_nats_se"],
                "gilbo_bits": gb["gilbo_bits"], "gilbo_x_mode": self.gilbo_x_mode,
                "gilbo_steps": self.gilbo_steps}

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        result = results["rd_sweep"]
        table = atomic_write_text(Path(out) / "rd_table.md", markdown_table(result) + "\n")
        return [plot_rd_plane(result, Path(out) / "rd_plane.png"), table]

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        return markdown_table(results["rd_sweep"])


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{nd}f}"


def markdown_table(result: Mapping[str, Any]) -> str:
    """Markdown table of an ``rd_sweep`` result (one row per β, then NECST rows); ``± σ`` over
    seeds where the result aggregates several."""
    m = result["metrics"]
    sd = result.get("metrics_std") or {}
    if sd:
        return _seed_table(m, sd)
    lines = ["| model | β | R (nats) | D (nats) | −ELBO (nats) | −IWAE (nats) | GILBO (nats) | "
             "epochs |", "|---|---|---|---|---|---|---|---|"]
    for p in m["vae"]:
        lines.append(
            f"| vae_mlp ({p.get('prior', 'normal')}) | {p['beta']:g} | "
            f"{_fmt(p['rate_nats'])} ± {_fmt(p['rate_nats_se'])} | "
            f"{_fmt(p['distortion_nats'])} ± {_fmt(p['distortion_nats_se'])} | "
            f"{_fmt(p['nll_elbo_nats'])} | {_fmt(p.get('nll_iwae_nats'))} | "
            f"{_fmt(p.get('gilbo_nats'))} | {p.get('epochs', '–')} |")
    for p in m.get("necst", []):
        lines.append(
            f"| NECST m={p['m']} ({p['channel']} {p['param']:g}) | – | "
            f"≤ {_fmt(p['rate_capacity_nats'])} (var. {_fmt(p['rate_variational_nats'])}) | "
            f"{_fmt(p['distortion_nats'])} ± {_fmt(p['distortion_nats_se'])} | – | – | "
            f"{_fmt(p.get('gilbo_nats'))} (≤ {_fmt(p['m'] * LN2)}) | {p.get('epochs', '–')} |")
    return "\n".join(lines)


def plot_rd_plane(result: Mapping[str, Any], out: str | os.PathLike[str],
                  entropy_nats: float | None = None) -> Path:
    """Draw the R–D plane of an ``rd_sweep`` result: x = D, y = R (nats).

    The line R = H − D is the lower boundary of the feasible region (H − D ≤ I(X;Z) ≤ R).
    The data entropy H is unknown; by default the best (lowest) IWAE estimate of −log p(x)
    among the models is used as its proxy (``metrics["entropy_proxy_nats"]``). Any model's
    −log p(x) is a cross-entropy ≥ H, so the proxy line lies *above* the true one. Points are
    labelled with β; NECST is drawn at (D, m·C(ε)·ln 2) with its variational rate below it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result["metrics"]
    h = entropy_nats if entropy_nats is not None else m.get("entropy_proxy_nats")
    fig, ax = plt.subplots(figsize=(6.0, 4.6), dpi=130)
    vae = m["vae"]
    ds = [p["distortion_nats"] for p in vae]
    rs = [p["rate_nats"] for p in vae]
    ax.plot(ds, rs, "o-", color="C0", label="β-VAE (vae_mlp)")
    for p, d, r in zip(vae, ds, rs, strict=True):
        ax.annotate(f"β={p['beta']:g}", (d, r), textcoords="offset points", xytext=(5, 4),
                    fontsize=7)
    xmax = max(ds + [p["distortion_nats"] for p in m.get("necst", [])]) * 1.08
    ymax = max(rs + [p["rate_capacity_nats"] for p in m.get("necst", [])]) * 1.1
    if h is not None:
        xs = [0.0, h]
        ax.plot(xs, [h - x for x in xs], "k--", lw=1,
                label=f"R = H − D, H ≈ {h:.1f} nats (best −IWAE)")
        ymax = max(ymax, h * 1.05)
        xmax = max(xmax, h * 1.05)
        ax.plot([0, xmax], [0, 0], color="grey", lw=0.6)
    for i, p in enumerate(m.get("necst", [])):
        c = f"C{i + 1}"
        lab = f"NECST m={p['m']}, {p['channel']} ε={p['param']:g}"
        ax.plot([p["distortion_nats"]], [p["rate_capacity_nats"]], "s", color=c,
                label=lab + ": R ≤ m·C(ε)·ln2")
        ax.plot([p["distortion_nats"]], [p["rate_variational_nats"]], "v", color=c, mfc="none",
                label=lab + ": variational R")
        ax.vlines(p["distortion_nats"], p["rate_variational_nats"], p["rate_capacity_nats"],
                  colors=c, lw=0.8)
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, ymax)
    ax.set_xlabel("distortion D = −E log p(x|z)  [nats]")
    ax.set_ylabel("rate R = E KL(q(z|x) ‖ p(z))  [nats]")
    ax.set_title("R–D plane, binarized MNIST (test)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6.5, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, out)


def _seed_table(m: Mapping[str, Any], sd: Mapping[str, Any]) -> str:
    lines = ["| model | β | R (nats) | D (nats) | −ELBO (nats) | −IWAE (nats) | GILBO (nats) |",
             "|---|---|---|---|---|---|---|"]
    for p, s in zip(m["vae"], sd["vae"], strict=True):
        cells = [fmt_pm(p.get(k), s.get(k)) for k in ("rate_nats", "distortion_nats",
                                                       "nll_elbo_nats", "nll_iwae_nats",
                                                       "gilbo_nats")]
        lines.append(f"| vae_mlp ({p.get('prior', 'normal')}) | {p['beta']:g} | "
                     + " | ".join(cells) + " |")
    for p, s in zip(m.get("necst", []), sd.get("necst", []), strict=True):
        lines.append(f"| NECST m={p['m']} ({p['channel']} {p['param']:g}) | – | ≤ "
                     f"{fmt_pm(p['rate_capacity_nats'])} | "
                     f"{fmt_pm(p['distortion_nats'], s.get('distortion_nats'))} | – | – | "
                     f"{fmt_pm(p.get('gilbo_nats'), s.get('gilbo_nats'))} |")
    return "\n".join(lines)
