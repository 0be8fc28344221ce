"""Evaluation of a trained codec over noisy channels (the paper's test protocol).

For each test image: the most probable code ``ŷ = 1[ℓ > 0]`` (:meth:`LatentCodec.compress`) is
sent through the test channel (sampled with a fixed ``torch.Generator``), and the decoder maps
the received symbols to x̂ in one pass. Reported per image, then averaged over the test set
(and over ``n_draws`` channel draws) with standard errors over images:

* ``sse``: Σ (x − x̂)², the NECST paper's distortion;
* ``psnr``: 10·log10(1 / MSE) in dB (images in [0, 1]), mean of per-image values;
* ``bce``: −log p(x | x̂) in nats for binary data (``likelihood == "bernoulli"``).

A test ε of 0 on an ε-parameterised channel (bsc, bec, z) bypasses the channel, so it is
exactly noiseless. Results files use the ``njscc.result/1`` schema (one file per channel, the
metrics as columns over ε) and plots are drawn from those files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import channels
from channels.base import BinaryChannel
from njscc.codec import received_view
from njscc.evaluation.metrics import reconstruction_metrics
from njscc.io.results import load_result, make_result, save_figure, write_result

__all__ = ["EPS_CHANNELS", "channel_for", "evaluate_codec", "evaluate_sweep", "format_sweep",
           "plot_results", "reconstruct_through", "save_reconstruction_grid", "sweep_results",
           "write_sweep"]

#: channels whose parameter is a probability, where param 0 means "no noise"
EPS_CHANNELS = ("bsc", "bec", "z")


def _noiseless(channel: BinaryChannel | None) -> bool:
    if channel is None:
        return True
    try:
        return getattr(channel, "name", None) in EPS_CHANNELS and float(channel.param) == 0.0
    except (NotImplementedError, TypeError, ValueError):
        return False


@torch.no_grad()
def reconstruct_through(model: Any, x: Tensor, channel: BinaryChannel | None,
                        generator: torch.Generator | None = None) -> Tensor:
    """x ``[B, *D]`` → hard code → channel (``None`` or ε = 0: none) → x̂ ``[B, *D]``."""
    if getattr(model.latent, "analog", None) is not None:
        snr = getattr(channel, "snr_db", None)
        z = model.compress(x, snr)
        return model.decompress(z if channel is None else channel(z, generator=generator), snr)
    bits = model.compress(x).to(x.dtype)
    y = bits if _noiseless(channel) else channel(bits, generator=generator)
    return model.decompress(received_view(channel, y))


def _per_image(model: Any, x: Tensor, x_hat: Tensor) -> dict[str, Tensor]:
    """Per-image SSE, MSE, PSNR (and BCE for binary data), ``[B]`` each."""
    return reconstruction_metrics(x, x_hat,
                                  with_bce=model.likelihood == "bernoulli")


@torch.no_grad()
def evaluate_codec(
    model: Any,
    images: Tensor,
    channel: BinaryChannel | None,
    *,
    n_draws: int = 1,
    generator: torch.Generator | None = None,
    batch_size: int = 2000,
    code: str = "hard",
) -> dict[str, float]:
    """Mean per-image distortion of ``model`` on ``images`` ``[N, *D]`` over ``channel``.

    Args:
        model: a :class:`~njscc.codec.LatentCodec`.
        images: test images in [0, 1].
        channel: the test channel (``None``: noiseless): a binary channel for bit codecs, an
            analog one (:mod:`channels.analog`) for codecs whose latent is channel symbols
            (their power-normalised symbols are sent; SNR-adaptive ones are told its SNR).
        n_draws: channel draws per image (averaged per image before the standard error).
        generator: for the channel samples (pass a seeded one for reproducible numbers).
        batch_size: images per forward pass.
        code: (bit codecs) ``"hard"`` (default): the most probable code 1[ℓ > 0], what a
            deployed encoder sends; ``"sample"``: a code drawn from q(ŷ|x) = Bernoulli(σ(ℓ))
            per draw, the official NECST code's test protocol.

    Returns:
        ``{"sse", "sse_se", "mse", "mse_se", "psnr", "psnr_se", ["bce", "bce_se"], "n_images",
        "n_draws"}``;
        ``*_se`` is the standard error of the mean over images.
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    if code not in ("hard", "sample"):
        raise ValueError(f"code must be 'hard' or 'sample', got {code!r}")
    analog = getattr(model.latent, "analog", None) is not None
    snr = getattr(channel, "snr_db", None) if analog else None
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    if channel is not None:
        channel = channel.to(dev)
    sums: dict[str, list[Tensor]] = {}
    try:
        for i in range(0, images.shape[0], batch_size):
            x = images[i:i + batch_size].to(dev)
            acc: dict[str, Tensor] = {}
            if analog:
                z = model.compress(x, snr)
            elif code == "hard":
                bits = model.compress(x).to(x.dtype)
            else:
                probs = torch.sigmoid(model.encode(x))
            for _ in range(n_draws):
                if analog:
                    y = z if channel is None else channel(z, generator=generator)
                    x_hat = model.decompress(y, snr)
                else:
                    if code == "sample":
                        bits = torch.bernoulli(probs, generator=generator)
                    y = bits if _noiseless(channel) else channel(bits, generator=generator)
                    x_hat = model.decompress(received_view(channel, y))
                for k, v in _per_image(model, x, x_hat).items():
                    acc[k] = acc[k] + v if k in acc else v.double()
            for k, v in acc.items():
                sums.setdefault(k, []).append((v / n_draws).cpu())
    finally:
        model.train(was_training)
    out: dict[str, float] = {}
    for k, parts in sums.items():
        v = torch.cat(parts)
        out[k] = float(v.mean())
        n = v.numel()
        out[f"{k}_se"] = float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0
    out["n_images"] = int(images.shape[0])
    out["n_draws"] = int(n_draws)
    return out


def channel_for(model: Any, name: str, param: float) -> Any:
    """The channel ``name`` at ``param`` of the kind ``model``'s latent crosses: an analog
    channel (param = SNR in dB) for analog latents, else a binary one."""
    if getattr(model.latent, "analog", None) is not None:
        if name not in channels.available_analog():
            raise ValueError(f"channel {name!r}: the model sends {model.latent}; expected an "
                             f"analog channel ({', '.join(channels.available_analog())})")
        return channels.get_analog(name, param)
    return channels.get(name, param)


def evaluate_sweep(
    model: Any,
    images: Tensor,
    channel_names: Sequence[str],
    params: Sequence[float],
    *,
    n_draws: int = 1,
    seed: int = 0,
    code: str = "hard",
) -> dict[str, list[dict[str, float]]]:
    """:func:`evaluate_codec` for every channel × parameter; each point uses its own generator
    seeded from ``(seed, channel index, param index)``. → ``{channel: [metrics + "param"]}``."""
    from njscc.training.seeds import mix_seed

    dev = next(model.parameters()).device
    out: dict[str, list[dict[str, float]]] = {}
    for ci, name in enumerate(channel_names):
        rows = []
        for pi, p in enumerate(params):
            ch = channel_for(model, name, float(p))
            g = torch.Generator(device=dev).manual_seed(mix_seed(seed, ci, pi))
            rows.append({"param": float(p),
                         **evaluate_codec(model, images, ch, n_draws=n_draws, generator=g,
                                          code=code)})
        out[name] = rows
    return out


def sweep_results(sweep: Mapping[str, list[dict[str, float]]], *, model: Any, dataset: str,
                  config: Mapping[str, Any] | None = None, task: str = "eval",
                  device: Any = None) -> dict[str, dict[str, Any]]:
    """One ``njscc.result/1`` dict per channel; metrics are columns over the channel parameter."""
    results = {}
    for name, rows in sweep.items():
        keys = [k for k in rows[0] if k not in ("n_images", "n_draws")]
        metrics: dict[str, Any] = {k: [r[k] for r in rows] for k in keys}
        metrics["n_images"] = rows[0]["n_images"]
        metrics["n_draws"] = rows[0]["n_draws"]
        results[name] = make_result(
            task, metrics, dataset=dataset, channel={"name": name, "param": metrics["param"]},
            m=getattr(model, "m", None),
            config={"model": dict(getattr(model, "config", {})), **dict(config or {})},
            device=device)
    return results


def write_sweep(results: Mapping[str, dict[str, Any]], out_dir: str | os.PathLike[str],
                prefix: str = "eval") -> list[Path]:
    """Write each channel's result to ``<out_dir>/<prefix>_<channel>.json``."""
    return [write_result(Path(out_dir) / f"{prefix}_{name}.json", r) for name, r in results.items()]


def plot_results(results: Sequence[Mapping[str, Any] | str | os.PathLike[str]],
                 out: str | os.PathLike[str], metric: str = "sse") -> Path:
    """Plot ``metric`` vs channel parameter, one line per sweep result (dicts or JSON paths);
    error bars: σ over seeds when the result aggregates several, else the standard error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    title = ""
    for p in results:
        r = p if isinstance(p, Mapping) else load_result(p)
        title = f"{r.get('dataset')} test set, m = {r.get('m')} bits, most probable code"
        m = r["metrics"]
        x, y = m["param"], m[metric]
        sd = (r.get("metrics_std") or {}).get(metric)
        se = sd if sd is not None else m.get(f"{metric}_se", [0.0] * len(y))
        ax.errorbar(x, y, yerr=se, marker="o", capsize=3, label=r["channel"]["name"].upper())
    ax.set_xlabel("channel parameter ε")
    ax.set_ylabel({"sse": "distortion (per-image SSE)", "psnr": "PSNR (dB)",
                   "bce": "BCE (nats)"}.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, out)


def format_sweep(results: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain-text table of sweep results (one per channel): a row per channel parameter with
    SSE ± s.e. (± σ over seeds for multi-seed results) and PSNR per channel."""
    rs = list(results.values())
    head = f"{'eps':>6}" + "".join(f"  {r['channel']['name'].upper() + ' SSE':>16}  {'PSNR':>6}"
                                   for r in rs)
    lines = [head]
    for i, param in enumerate(rs[0]["metrics"]["param"]):
        line = f"{param:>6g}"
        for r in rs:
            m, sd = r["metrics"], (r.get("metrics_std") or {})
            spread = sd.get("sse")[i] if sd.get("sse") else m["sse_se"][i]
            line += f"  {m['sse'][i]:>9.2f} ± {spread:<4.2f}  {m['psnr'][i]:>6.2f}"
        lines.append(line)
    return "\n".join(lines)


@torch.no_grad()
def save_reconstruction_grid(
    model: Any,
    images: Tensor,
    rows: Sequence[tuple[str, BinaryChannel | None]],
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    scale: int = 2,
) -> Path:
    """PNG grid: first row the originals, then one row per ``(label, channel)``.

    ``images`` ``[n, C, H, W]`` in [0, 1]; rows are labelled on the left.
    """
    from PIL import Image, ImageDraw, ImageFont

    from njscc.training.seeds import mix_seed

    model.eval()
    dev = next(model.parameters()).device
    x = images.to(dev)
    tiles = [("original", x)]
    for i, (label, ch) in enumerate(rows):
        g = torch.Generator(device=dev).manual_seed(mix_seed(seed, 104729, i))
        tiles.append((label, reconstruct_through(model, x, ch.to(dev) if ch else None, g)))
    n, c, h, w = x.shape
    pad, label_w = 2, 80
    width = label_w + n * (w * scale + pad) + pad
    height = len(tiles) * (h * scale + pad) + pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1: fixed bitmap font
        font = ImageFont.load_default()
    for r, (label, imgs) in enumerate(tiles):
        top = pad + r * (h * scale + pad)
        draw.text((4, top + h * scale // 2 - 7), label, fill=(0, 0, 0), font=font)
        arr = (imgs.clamp(0, 1) * 255).round().to(torch.uint8).cpu()
        for j in range(n):
            a = arr[j].permute(1, 2, 0).numpy()
            tile = Image.fromarray(a[..., 0] if c == 1 else a).convert("RGB")
            tile = tile.resize((w * scale, h * scale), Image.NEAREST)
            canvas.paste(tile, (label_w + pad + j * (w * scale + pad), top))
    import io

    from njscc.io.results import atomic_write_bytes

    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return atomic_write_bytes(out, buf.getvalue())
