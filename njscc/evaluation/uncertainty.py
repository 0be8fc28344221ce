"""Calibration and out-of-distribution scores for classifiers (VIB uncertainty experiments).

After Alemi, Fischer & Dillon (2018), "Uncertainty in the Variational Information Bottleneck":
a VIB classifier's rate R(x) = KL(e(z|x) ‖ m(z)) and its classifier entropy H(y|z) are
scores for detecting inputs unlike the training data.

* :func:`calibration` — expected calibration error (equal-width confidence bins, Guo et al.
  2017) and the per-bin statistics of a reliability diagram;
* :func:`auroc` — area under the ROC curve of "score separates OOD (positive) from
  in-distribution", the Mann–Whitney statistic with ties counted ½;
* :func:`vib_scores` — per-input rate, expected classifier entropy E_z H(c(y|z)), entropy of
  the averaged prediction, and the predictive probabilities;
* OOD sets from local data: :func:`kodak_grey_crops`, :func:`pixel_shuffled`,
  :func:`uniform_noise`;
* :func:`plot_reliability` draws diagrams from results files' bin statistics.
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

__all__ = ["auroc", "calibration", "kodak_grey_crops", "pixel_shuffled", "plot_reliability",
           "uniform_noise", "vib_scores"]


def calibration(probs: Tensor, labels: Tensor, n_bins: int = 15) -> dict[str, Any]:
    """ECE of predictive probabilities ``[N, C]`` for int ``labels`` ``[N]``.

    Confidence = max probability; bins ``[i/n, (i+1)/n)`` (the last one closed).
    ECE = Σ_b (n_b / N)·|acc_b − conf_b|.

    Returns ``{"ece", "error", "nll", "bins": {"lower", "upper", "count", "accuracy",
    "confidence"}}`` (lists; empty bins have accuracy/confidence ``None``).
    """
    if probs.dim() != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f"probs must be [N, C] and labels [N], got {list(probs.shape)} and "
                         f"{list(labels.shape)}")
    probs = probs.double()
    conf, pred = probs.max(-1)
    correct = (pred == labels).double()
    idx = (conf * n_bins).floor().long().clamp_(0, n_bins - 1)
    count = torch.bincount(idx, minlength=n_bins).double()
    acc_sum = torch.bincount(idx, weights=correct, minlength=n_bins)
    conf_sum = torch.bincount(idx, weights=conf, minlength=n_bins)
    n = probs.shape[0]
    ece = float(((acc_sum - conf_sum).abs()).sum() / n)
    nz = count > 0
    acc = torch.where(nz, acc_sum / count.clamp_min(1), torch.nan)
    cf = torch.where(nz, conf_sum / count.clamp_min(1), torch.nan)
    nll = float(-probs.gather(1, labels.long()[:, None]).clamp_min(1e-12).log().mean())

    def lst(t: Tensor) -> list[float | None]:
        return [None if math.isnan(v) else v for v in t.tolist()]

    return {"ece": ece, "error": float(1 - correct.mean()), "nll": nll, "bins": {
        "lower": [i / n_bins for i in range(n_bins)],
        "upper": [(i + 1) / n_bins for i in range(n_bins)],
        "count": [int(c) for c in count.tolist()], "accuracy": lst(acc), "confidence": lst(cf)}}


def auroc(scores_in: Tensor, scores_out: Tensor) -> float:
    """P(score_out > score_in) + ½·P(tie): AUROC with OOD as the positive class."""
    a = scores_in.double().reshape(-1)
    b = scores_out.double().reshape(-1)
    if a.numel() == 0 or b.numel() == 0:
        raise ValueError("auroc: both score sets must be non-empty")
    allv = torch.cat([a, b])
    # average ranks (ties share their mean rank)
    sorted_v, order = allv.sort()
    ranks = torch.empty_like(allv)
    ranks[order] = torch.arange(1, allv.numel() + 1, dtype=torch.float64)
    uniq, inv, counts = torch.unique_consecutive(sorted_v, return_inverse=True,
                                                 return_counts=True)
    sums = torch.zeros_like(uniq).index_add_(0, inv, ranks[order])
    ranks[order] = (sums / counts)[inv]
    r_out = ranks[a.numel():].sum()
    nb, na = b.numel(), a.numel()
    return float((r_out - nb * (nb + 1) / 2) / (na * nb))


@torch.no_grad()
def vib_scores(model: Any, images: Tensor, n_samples: int = 12, batch_size: int = 1000,
               generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Per-input scores of a classifier codec (``vib_mlp``), all ``[N]`` except ``probs``.

    ``rate`` (KL(e(z|x) ‖ r(z)), nats), ``entropy`` (E_z H(c(y|z)), nats), ``pred_entropy``
    (H of the averaged prediction), ``max_prob``, and ``probs`` ``[N, C]`` (mean over
    ``n_samples`` posterior draws; one draw for a deterministic model).
    """
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    out: dict[str, list[Tensor]] = {k: [] for k in ("rate", "entropy", "pred_entropy",
                                                     "max_prob", "probs")}
    try:
        for i in range(0, images.shape[0], batch_size):
            x = images[i:i + batch_size].to(dev)
            h = model.encode(x)
            k = n_samples if model.stochastic else 1
            z = model.sample_latent(h, k, generator)
            logp = torch.log_softmax(model.decode(z), -1)  # [K, B, C]
            p = logp.exp()
            mean_p = p.mean(0)
            out["rate"].append(model.rate(h, z).cpu())
            out["entropy"].append((-(p * logp).sum(-1)).mean(0).cpu())
            out["pred_entropy"].append((-(mean_p * mean_p.clamp_min(1e-30).log()).sum(-1)).cpu())
            out["max_prob"].append(mean_p.max(-1).values.cpu())
            out["probs"].append(mean_p.cpu())
    finally:
        model.train(was)
    return {k: torch.cat(v) for k, v in out.items()}


def kodak_grey_crops(data_dir: str | os.PathLike[str] | None, n: int,
                     generator: torch.Generator | None = None, size: int = 28,
                     resize: float = 0.125) -> Tensor:
    """``n`` random ``size``×``size`` grey crops of the Kodak images downscaled by ``resize``
    (bicubic, antialiased; 0.125 ⇒ a crop covers 224×224 original pixels), ``[n, 1, s, s]``.

    Read through :func:`njscc.data.load_dataset` (``"kodak"``, image-folder reader, mode L).
    """
    from njscc.data import load_dataset

    ds = load_dataset("kodak", "test", data_dir=data_dir, patch_size=size, num_crops=n,
                      generator=generator, resize=resize, mode="L")
    return ds.images


def pixel_shuffled(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each image's pixels permuted by its own random permutation (keeps the histogram)."""
    flat = images.reshape(images.shape[0], -1)
    keys = torch.rand(flat.shape, generator=generator)
    perm = keys.argsort(-1)
    return flat.gather(1, perm.to(flat.device)).reshape(images.shape)


def uniform_noise(n: int, shape: Sequence[int] = (1, 28, 28),
                  generator: torch.Generator | None = None) -> Tensor:
    """``n`` images of i.i.d. U(0, 1) pixels."""
    return torch.rand((n, *shape), generator=generator)


def plot_reliability(curves: Mapping[str, Mapping[str, Any]], out: str | os.PathLike[str],
                     title: str = "reliability diagram") -> Path:
    """Accuracy vs confidence per bin, one line per ``{label: calibration(...)}`` entry."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.4, 4.2), dpi=120)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for label, cal in curves.items():
        b = cal["bins"]
        pts = [(c, a) for c, a, k in zip(b["confidence"], b["accuracy"], b["count"],
                                         strict=True) if k > 0 and c is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", ms=3, label=f"{label} (ECE {100 * cal['ece']:.2f}%)")
    ax.set_xlabel("confidence (max predicted probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, out)
