"""Hierarchical discrete codes on binarized MNIST: RRVQ (Willetts et al. 2021) against a
VQ-VAE with the straight-through estimator of the same size (``rrvq`` codec,
``quantizer="rr"`` / ``"vq"``), for several depths, and both sent over a BSC next to NECST.

For every layer configuration (default 1, 2 and 4 layers splitting the same 25 codes of a
16-entry codebook, i.e. 100 bits per image) and quantizer, one model is trained with
``hierarchical_elbo`` (fixed epochs; Adam) and measured on the binarized-MNIST test split:

* ``elbo_bpd`` — the single-sample ELBO in bits/dim (hard samples from q, every test image);
* ``iwae_bpd`` — the IWAE bound with ``iwae_samples`` samples on ``iwae_images`` random test
  images (seeded), ``elbo_subset_bpd`` the ELBO on the same images (for VQ-VAE, whose
  posterior is deterministic, the two are equal);
* ``usage`` — per layer, the perplexity of the most-probable code indices over the test set
  (how many codebook entries are in use; K at most);
* ``bsc`` — the code indices sent over a BSC (⌈log2 K⌉ bits each) at each ``channel_eps``:
  mean per-image SSE against the grey MNIST test images (inputs thresholded at ½), next to a
  NECST checkpoint with the same number of channel bits (``necst_checkpoint``), if given.

Illustrations (``rrvq_gallery``): ancestral samples of every model and, for the deepest RRVQ
model, each layer's codes swapped between pairs of test images (which layer carries which
aspect). Results ``rrvq.json`` and ``rrvq_gallery.json``; plots ``rrvq.png``,
``rrvq_samples.png``, ``rrvq_swaps.png``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from njscc.experiments.base import EXPERIMENTS, Log, Study, fmt_pm, rows_with_std

__all__ = ["RRVQStudy", "plot_rrvq"]

LN2 = math.log(2.0)


@EXPERIMENTS.register("rrvq")
@dataclass
class RRVQStudy(Study):
    """RRVQ vs VQ-VAE (1, 2, 4 layers): bits/dim, codebook usage, codes over a BSC."""

    illustrations: ClassVar[tuple[str, ...]] = ("rrvq_gallery",)

    data_dir: str | None = None
    layer_configs: Sequence[Sequence[int]] = ((25,), (12, 13), (6, 6, 6, 7))
    codebook_size: int = 16
    quantizers: Sequence[str] = ("rr", "vq")
    embed_dim: int = 16
    hidden: int = 512
    epochs: int = 20
    batch_size: int = 100
    lr: float = 1e-3
    tau: float = 1.0
    train_size: int | None = None
    iwae_samples: int = 100
    iwae_images: int = 1000
    channel_eps: Sequence[float] = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)
    channel_images: int = 1000
    necst_checkpoint: str | None = None
    n_samples_shown: int = 10
    n_swaps: int = 4
    runs_dir: str = "runs/rrvq"
    device: str | None = None
    seed: int = 0
    quiet: bool = True

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from njscc.data import load_dataset
        from njscc.io.results import make_result
        from njscc.validation import check_choices, check_positive_int, check_probability

        for name in ("codebook_size", "embed_dim", "hidden", "epochs", "batch_size",
                     "iwae_samples", "iwae_images", "channel_images"):
            check_positive_int(getattr(self, name), name)
        check_choices(self.quantizers, "quantizers", ("rr", "vq"))
        if not self.layer_configs:
            raise ValueError("layer_configs: give at least one list of codes per layer")
        eps = [check_probability(e, "channel_eps") for e in self.channel_eps]
        train = load_dataset("binarized_mnist", "train", self.data_dir)
        if self.train_size:
            train = train.subset(torch.arange(min(int(self.train_size), len(train))))
        test = load_dataset("binarized_mnist", "test", self.data_dir)
        grey = load_dataset("mnist", "test", self.data_dir).images[:self.channel_images]
        necst = self._necst(grey, eps, log)
        rows, models_ = [], {}
        for layers in self.layer_configs:
            for q in self.quantizers:
                row, model = self._one(list(layers), q, train, test, grey, eps, log)
                rows.append(row)
                models_[(len(layers), q)] = model
        cfg = {"study": self.config_dict(), "threads": torch.get_num_threads(),
               "paper": "RRVQ reports state-of-the-art bits/dim for end-to-end hierarchical "
                        "discrete VAEs with up to 32 layers (conv, far larger); ours are MLP "
                        "models at 100 bits per image",
               "necst": necst}
        gallery = self._gallery(models_, test)
        return {"rrvq": make_result("rrvq", {"rows": rows, "necst": necst}, dataset="mnist",
                                    config=cfg),
                "rrvq_gallery": make_result("rrvq_gallery", gallery, dataset="mnist",
                                            config=cfg)}

    # ------------------------------------------------------------------ one model
    def _one(self, layers: list[int], quantizer: str, train: Any, test: Any, grey: Any,
             eps: Sequence[float], log: Log) -> tuple[dict[str, Any], Any]:
        from njscc.training.runs import fit_codec, history_summary
        from njscc.training.seeds import mix_seed

        kwargs = {"n_codes": layers, "codebook_sizes": [self.codebook_size],
                  "embed_dim": self.embed_dim, "hidden": self.hidden, "quantizer": quantizer}
        tag = f"{quantizer}_{'x'.join(map(str, layers))}"
        run_dir = Path(self.runs_dir) / tag
        seed = mix_seed(self.seed, len(layers), 1 if quantizer == "rr" else 2) % (2 ** 31)
        if log:
            log(f"{tag}: {len(layers)} layer(s) {layers} × K={self.codebook_size}, "
                f"{self.epochs} epochs -> {run_dir}")
        res = fit_codec("rrvq", kwargs, "hierarchical_elbo", {"tau": self.tau}, train, run_dir,
                        epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=seed,
                        device=self.device, quiet=self.quiet, log=None if self.quiet else log,
                        run_info={"experiment": "rrvq"})
        model = res["model"].eval()
        row = {"quantizer": quantizer, "layers": len(layers), "n_codes": layers,
               "codebook_size": self.codebook_size, "bits": int(model.latent.channel_bits),
               **self._density(model, test),
               # SSE against the grey images; the codec reads them thresholded at ½
               "bsc": _bsc_sweep(model, grey, eps, self.seed, binarize=True),
               "training": history_summary(res["history"])}
        if log:
            log(f"  {tag}: ELBO {row['elbo_bpd']:.4f} bits/dim, IWAE-{self.iwae_samples} "
                f"{row['iwae_bpd']:.4f}, usage {[round(u, 1) for u in row['usage']]}, "
                f"SSE over BSC {[round(b['sse'], 2) for b in row['bsc']]}")
        return row, model

    @torch.no_grad()
    def _density(self, model: Any, test: Any) -> dict[str, Any]:
        from njscc.evaluation.rate_distortion import iwae_bound, iwae_on_subset

        dev = next(model.parameters()).device
        gen = torch.Generator(device=dev).manual_seed(self.seed + 3)
        pixels = math.prod(model.data_shape)
        elbo, rate, idx = [], [], []
        for i in range(0, len(test), 500):
            x = test.images[i:i + 500].to(dev)
            elbo.append(iwae_bound(model, x, 1, generator=gen).cpu())
            t = model.elbo_terms(x, tau=self.tau, generator=gen)
            rate.append(t["rate_layers"].cpu())
            idx.append([j.cpu() for j in model.indices(x)])
        iw, e1 = iwae_on_subset(model, test.images, self.iwae_samples, self.iwae_images,
                                self.seed, gen)
        usage = []
        for layer in zip(*idx, strict=True):
            counts = torch.bincount(torch.cat(layer).flatten(), minlength=model.codebook_sizes[0])
            p = counts.double() / counts.sum()
            usage.append(float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum())))
        e = torch.cat(elbo)
        return {"elbo_nats": float(e.mean()), "elbo_bpd": float(-e.mean() / (pixels * LN2)),
                "iwae_nats": float(iw.mean()), "iwae_bpd": float(-iw.mean() / (pixels * LN2)),
                "elbo_subset_bpd": float(-e1.mean() / (pixels * LN2)),
                "iwae_samples": self.iwae_samples, "iwae_images": int(len(iw)),
                "rate_layers_nats": torch.cat(rate).mean(0).tolist(), "usage": usage}

    def _necst(self, grey: Any, eps: Sequence[float], log: Log) -> dict[str, Any] | None:
        if not self.necst_checkpoint:
            return None
        from njscc.training.checkpoint import load_model

        model = load_model(self.necst_checkpoint)
        out = {"checkpoint": str(self.necst_checkpoint), "bits": int(model.latent.channel_bits),
               "bsc": _bsc_sweep(model, grey, eps, self.seed, binarize=False)}
        if log:
            log(f"NECST {out['bits']} bits ({self.necst_checkpoint}): SSE over BSC "
                f"{[round(b['sse'], 2) for b in out['bsc']]}")
        return out

    # ------------------------------------------------------------------ gallery
    @torch.no_grad()
    def _gallery(self, models_: Mapping[tuple[int, str], Any], test: Any) -> dict[str, Any]:
        from njscc.experiments.robustness._plots import as_u8

        samples = []
        for (layers, q), model in models_.items():
            gen = torch.Generator().manual_seed(self.seed + 17)
            samples.append({"quantizer": q, "layers": layers,
                            "images": as_u8(model.sample(self.n_samples_shown, gen).cpu())})
        swaps = []
        deepest = max((k for k in models_ if k[1] == "rr"), default=None) or max(models_)
        model = models_[deepest]
        dev = next(model.parameters()).device
        n = self.n_swaps
        pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(self.seed + 1))
        a, b = test.images[pick[:n]].to(dev), test.images[pick[n:2 * n]].to(dev)
        ia, ib = model.indices(a), model.indices(b)
        rows = [("image a", as_u8(model.decode_indices(ia).cpu())),
                ("image b", as_u8(model.decode_indices(ib).cpu()))]
        for j in range(model.n_layers):
            mixed = [ib[k] if k == j else ia[k] for k in range(model.n_layers)]
            where = " (top)" if j == 0 else " (bottom)" if j == model.n_layers - 1 else ""
            rows.append((f"a with layer {model.n_layers - j} of b{where}",
                         as_u8(model.decode_indices(mixed).cpu())))
        swaps = {"quantizer": deepest[1], "layers": deepest[0],
                 "inputs": [as_u8(a.cpu()), as_u8(b.cpu())],
                 "rows": [{"label": lab, "images": im} for lab, im in rows]}
        return {"samples": samples, "swaps": swaps}

    # ------------------------------------------------------------------ reporting
    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        files = []
        if "rrvq" in results:
            files.append(plot_rrvq(results["rrvq"], Path(out) / "rrvq.png"))
        if "rrvq_gallery" in results:
            files += _plot_gallery(results["rrvq_gallery"], Path(out))
        return files

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        r = results.get("rrvq")
        if not r:
            return ""
        lines = [f"{'model':<8}{'layers':>7}{'bits':>6}{'ELBO bits/dim':>18}"
                 f"{'IWAE bits/dim':>18}{'usage (perplexity)':>26}{'SSE ε=0 / max ε':>20}"]
        for row, s in rows_with_std(r):
            usage = "/".join(f"{u:.1f}" for u in row["usage"])
            sse = f"{row['bsc'][0]['sse']:.2f} / {row['bsc'][-1]['sse']:.2f}"
            lines.append(f"{'RRVQ' if row['quantizer'] == 'rr' else 'VQ-VAE':<8}"
                         f"{row['layers']:>7}{row['bits']:>6}"
                         f"{fmt_pm(row['elbo_bpd'], s.get('elbo_bpd'), '{:.4f}'):>18}"
                         f"{fmt_pm(row['iwae_bpd'], s.get('iwae_bpd'), '{:.4f}'):>18}"
                         f"{usage:>26}{sse:>20}")
        nec = r["metrics"].get("necst")
        if nec:
            lines.append(f"NECST {nec['bits']} bits: SSE "
                         f"{nec['bsc'][0]['sse']:.2f} / {nec['bsc'][-1]['sse']:.2f}")
        return "\n".join(lines)


def _bsc_sweep(model: Any, grey: torch.Tensor, eps: Sequence[float], seed: int,
               binarize: bool) -> list[dict[str, float]]:
    """Mean per-image SSE against ``grey`` after the code crosses a BSC at each ε."""
    import channels
    from njscc.codec import received_view
    from njscc.training.seeds import mix_seed

    dev = next(model.parameters()).device
    x = grey.to(dev)
    inp = (x > 0.5).to(x.dtype) if binarize else x
    out = []
    with torch.no_grad():
        bits = torch.cat([model.compress(inp[i:i + 500]) for i in range(0, len(inp), 500)])
        for k, e in enumerate(eps):
            gen = torch.Generator(device=dev).manual_seed(mix_seed(seed, 29, k))
            ch = channels.get("bsc", float(e)).to(dev)
            y = bits.to(x.dtype) if e == 0 else received_view(ch, ch(bits.to(x.dtype), gen))
            x_hat = torch.cat([model.decompress(y[i:i + 500]) for i in range(0, len(y), 500)])
            sse = (x_hat.reshape(x.shape) - x).square().flatten(1).sum(-1)
            out.append({"eps": float(e), "sse": float(sse.mean()),
                        "sse_se": float(sse.std() / math.sqrt(len(sse)))})
    return out


def plot_rrvq(result: Mapping[str, Any], out: str | Path) -> Path:
    """Left: bits/dim (ELBO and IWAE) per model; right: SSE vs BSC ε, NECST beside."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    rows = [r for r, _ in rows_with_std(result)]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [f"{'RRVQ' if r['quantizer'] == 'rr' else 'VQ-VAE'} L={r['layers']}" for r in rows]
    xs = np.arange(len(rows))
    a1.bar(xs - 0.2, [r["elbo_bpd"] for r in rows], 0.4, label="ELBO")
    a1.bar(xs + 0.2, [r["iwae_bpd"] for r in rows], 0.4,
           label=f"IWAE ({rows[0]['iwae_samples'] if rows else ''})")
    a1.set_xticks(xs, names, rotation=20, fontsize=8)
    a1.set_ylabel("test bits / dim (lower is better)")
    lo = min(min(r["iwae_bpd"], r["elbo_bpd"]) for r in rows) if rows else 0
    a1.set_ylim(max(0.0, lo - 0.05), None)
    a1.legend(fontsize=8)
    a1.grid(axis="y", alpha=0.3)
    for name, r in zip(names, rows, strict=True):
        a2.errorbar([b["eps"] for b in r["bsc"]], [b["sse"] for b in r["bsc"]],
                    yerr=[b["sse_se"] for b in r["bsc"]], marker="o", ms=3,
                    ls="-" if r["quantizer"] == "rr" else "--", label=f"{name} ({r['bits']} b)")
    nec = result["metrics"].get("necst")
    if nec:
        a2.errorbar([b["eps"] for b in nec["bsc"]], [b["sse"] for b in nec["bsc"]],
                    yerr=[b["sse_se"] for b in nec["bsc"]], color="k", marker="s", lw=2,
                    label=f"NECST ({nec['bits']} b)")
    a2.set_xlabel("BSC ε")
    a2.set_ylabel("mean per-image SSE (grey MNIST test)")
    a2.grid(alpha=0.3)
    a2.legend(fontsize=7)
    fig.suptitle("hierarchical discrete codes on binarized MNIST", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out)


def _plot_gallery(result: Mapping[str, Any], out: Path) -> list[Path]:
    from njscc.experiments.robustness._plots import digit_grid

    g = result["metrics"]
    rows = [(f"{'RRVQ' if s['quantizer'] == 'rr' else 'VQ-VAE'} L={s['layers']}", s["images"],
             None) for s in g["samples"]]
    files = [digit_grid(rows, out / "rrvq_samples.png",
                        "ancestral samples (top layer → bottom → decoder means), no second "
                        "prior model")]
    sw = g["swaps"]
    srows = [(r["label"], r["images"], None) for r in sw["rows"]]
    files.append(digit_grid(srows, out / "rrvq_swaps.png",
                            f"{'RRVQ' if sw['quantizer'] == 'rr' else 'VQ-VAE'} with "
                            f"{sw['layers']} layers: one layer's codes taken from image b "
                            "(reconstructions)"))
    return files
