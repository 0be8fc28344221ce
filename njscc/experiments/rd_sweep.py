"""Rate–distortion experiments on the shared machinery (registry, objectives, Trainer, results).

* :func:`train_codec` — build a registry model and an objective, train with
  the shared Trainer (checkpoints, logs, resume); continuous latents use a noiseless
  BSC (ε = 0) as the Trainer's channel, which the objectives ignore.
* :func:`vae_point` — test-set R, D, ELBO, IWAE (and GILBO) of a VAE checkpoint.
* :func:`necst_point` — a NECST codec on the same plane: D in nats and its rate bounds.
* :func:`plot_rd_plane` — the R–D plane (Alemi et al. 2018, "Fixing a Broken ELBO") from a
  results file, with the bound line R = H − D (H estimated, see the docstring).
* :func:`markdown_table` — the table of a sweep result.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from njscc.io.results import save_figure
from njscc.objectives.rate_distortion import LN2

__all__ = ["is_continuous_checkpoint", "markdown_table", "necst_point", "plot_rd_plane",
           "train_codec", "vae_point"]


def is_continuous_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True if the checkpoint at ``path`` holds a continuous-latent codec (vae_mlp, vib_mlp)."""
    from njscc import models
    from njscc.models.vae.base import GaussianLatentCodec
    from njscc.training.checkpoint import find_checkpoint, load_checkpoint

    try:
        ck = load_checkpoint(find_checkpoint(path))
    except (FileNotFoundError, ValueError):
        return False
    name = ck.model_config.get("name")
    cls = models._REGISTRY.get(name)  # noqa: SLF001 - read-only registry lookup
    return cls is not None and issubclass(cls, GaussianLatentCodec)


def train_codec(
    model_name: str,
    model_kwargs: Mapping[str, Any],
    objective_name: str,
    objective_kwargs: Mapping[str, Any],
    train_x: Tensor,
    out: str | os.PathLike[str],
    *,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: int = 0,
    test_x: Tensor | None = None,
    channel: Any = None,
    encoder_l2: float = 0.0,
    max_seconds: float | None = None,
    run_info: Mapping[str, Any] | None = None,
    resume: bool = True,
    quiet: bool = True,
    log: Any = None,
) -> dict[str, Any]:
    """Train one codec with the shared :class:`~njscc.training.trainer.Trainer`.

    If ``out`` already has a checkpoint and ``resume``, training continues from it (a finished
    run is not retrained). Returns ``{"model", "history", "trainer", "out", "seconds"}``.
    """
    import sys
    import time

    from njscc import models, objectives
    from njscc.evaluation.distortion import make_channel
    from njscc.training.trainer import TrainConfig, Trainer, format_row

    out = Path(out)
    torch.manual_seed(seed)
    model = models.get(model_name, **dict(model_kwargs))
    objective = objectives.get(objective_name, **dict(objective_kwargs))
    ch = channel if channel is not None else make_channel("bsc", 0.0)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, encoder_l2=encoder_l2,
                      seed=seed, test_every=1 if test_x is not None else 0,
                      max_seconds=max_seconds)
    info = {"objective": {"name": objective_name, "kwargs": dict(objective_kwargs)},
            "n_train": int(train_x.shape[0]), **dict(run_info or {})}
    on_epoch = None
    if log is not None:
        def on_epoch(row: dict[str, Any]) -> None:
            print(format_row(row, cfg.epochs), file=sys.stderr, flush=True)
    trainer = Trainer(model, objective, ch, train_x, cfg, test_x=test_x, out_dir=out,
                      run_info=info, quiet=quiet, on_epoch=on_epoch)
    if resume and (out / "checkpoints").exists():
        trainer.resume()
    t0 = time.perf_counter()
    history = trainer.fit()
    model.eval()
    return {"model": model, "history": history, "trainer": trainer, "out": out,
            "seconds": time.perf_counter() - t0}


def vae_point(model: Any, test_x: Tensor, *, iwae_k: int = 100, iwae_images: int | None = 2000,
              seed: int = 0, batch_size: int = 250) -> dict[str, float]:
    """:func:`~njscc.objectives.rate_distortion.evaluate_rate_distortion` with a seeded
    generator (R and D on all of ``test_x``; IWAE on a seeded random subset of
    ``iwae_images``)."""
    from njscc.objectives.rate_distortion import evaluate_rate_distortion

    g = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    return evaluate_rate_distortion(model, test_x, n_samples=1, iwae_samples=iwae_k,
                                    iwae_images=iwae_images, batch_size=batch_size, generator=g,
                                    subset_seed=seed)


def necst_point(model: Any, test_x: Tensor, channel: Any, *, n_samples: int = 10,
                seed: int = 0) -> dict[str, float]:
    """:func:`~njscc.objectives.rate_distortion.bit_codec_rate_distortion`, seeded."""
    from njscc.objectives.rate_distortion import bit_codec_rate_distortion

    g = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    return bit_codec_rate_distortion(model, test_x, channel, n_samples=n_samples, generator=g)


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{nd}f}"


def markdown_table(result: Mapping[str, Any]) -> str:
    """Markdown table of an ``rd_sweep`` result (one row per β, then NECST rows)."""
    m = result["metrics"]
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


def history_summary(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Epochs, total training seconds and the last row's statistics."""
    if not history:
        return {"epochs": 0, "train_seconds": 0.0}
    return {"epochs": int(history[-1]["epoch"]),
            "train_seconds": float(sum(r.get("epoch_seconds") or 0.0 for r in history)),
            "last_epoch": {k: v for k, v in history[-1].items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool)}}
