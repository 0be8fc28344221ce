"""Separation over analog channels: JPEG / WebP + 5G LDPC + BPSK / QPSK / 16-QAM, and the
ideal bound, at the same number of channel uses per image as the learned codecs.

Per test image and source codec, the payload size and the decoded quality (PSNR, SSIM) of
every quality setting are measured once (header-known payloads, as in ``njscc compare``).
Per link (code rate × modulation) the 5G LDPC block error rate over complex AWGN is simulated
once on a fine SNR grid (:func:`baselines.modulation.bler_curve`). A scheme (source, rate,
modulation) sends each image at the best quality whose payload fits the image's channel
uses; the image arrives when all its ⌈L / k⌉ codewords decode, with probability (1 − BLER)^N
over AWGN, averaged over one fading gain per image for block Rayleigh fading with receiver
CSI. A failed image is shown as mid-grey (``FALLBACK``), exactly as ``njscc compare`` counts
decode failures. Reported values are expectations over the channel.

* **best**: per test SNR, the (rate, modulation) with the highest mean PSNR (a transmitter
  that knows the SNR), per source;
* **designs**: the scheme chosen at a design SNR (0, 10, 20 dB), then used at every test SNR
  — the separation cliff; its cliff SNR is where the mean success probability crosses ½;
* **ideal**: a capacity-achieving code: payload ≤ uses · C(SNR) (AWGN log2(1 + SNR);
  fading: the ergodic capacity), never failing.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["FALLBACK", "SourceTable", "ideal_curve", "link_grid", "measure_sources",
           "scheme_curves"]

#: the pixel value a receiver shows for an image it could not decode
FALLBACK = 0.5

Log = Callable[[str], None] | None


class SourceTable:
    """Per image: payload bits and quality metrics at each quality setting of one codec."""

    def __init__(self, name: str, qualities: list[int], bits: np.ndarray, psnr: np.ndarray,
                 ssim: np.ndarray) -> None:
        self.name, self.qualities = name, qualities
        self.bits, self.psnr, self.ssim = bits, psnr, ssim  # [n_images, n_qualities]

    def best_fitting(self, max_bits: np.ndarray) -> np.ndarray:
        """Per image, the index of the best (highest-PSNR) quality whose payload ≤
        ``max_bits`` (−1: none fits)."""
        fits = self.bits <= np.asarray(max_bits).reshape(-1, 1)
        score = np.where(fits, self.psnr, -np.inf)
        idx = score.argmax(1)
        return np.where(fits.any(1), idx, -1)


def _pick(values: np.ndarray, idx: np.ndarray, fail: np.ndarray) -> np.ndarray:
    rows = np.arange(values.shape[0])
    return np.where(idx >= 0, values[rows, np.clip(idx, 0, None)], fail)


def measure_sources(images: Sequence[Tensor], sources: Sequence[str],
                    metric: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
                    qualities: Sequence[int] | None = None) -> dict[str, SourceTable]:
    """Payload bits, PSNR and SSIM of every image at every quality (``metric(x, x̂)`` returns
    per-image PSNR and SSIM for batches ``[B, C, H, W]``)."""
    from baselines.source import get_source

    out: dict[str, SourceTable] = {}
    for name in sources:
        codec = get_source(name, header_known=True)
        qs = list(qualities or [q for q in (1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 70,
                                            80, 90, 95) if codec.min_quality <= q <=
                                codec.max_quality])
        bits = np.zeros((len(images), len(qs)))
        psnr = np.zeros_like(bits)
        ssim = np.zeros_like(bits)
        for i, x in enumerate(images):
            arr = (x.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            arr = arr[..., 0] if arr.shape[2] == 1 else arr
            decoded = []
            for j, q in enumerate(qs):
                file = codec.encode_file(arr, q)
                bits[i, j] = 8 * len(codec.split(file)[1])
                im = np.asarray(Image.open(io.BytesIO(file)).convert("L" if arr.ndim == 2
                                                                      else "RGB"))
                t = torch.from_numpy(im.copy()).to(torch.float32) / 255.0
                decoded.append(t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1))
            p, s = metric(x.unsqueeze(0).expand(len(qs), *x.shape), torch.stack(decoded))
            psnr[i], ssim[i] = p.numpy(), s.numpy()
        out[name] = SourceTable(name, qs, bits, psnr, ssim)
    return out


def link_grid(rates: Sequence[float], modulations: Sequence[str], n: int, snr_grid: Sequence[float],
              n_words: int, seed: int, log: Log = None) -> list[dict[str, Any]]:
    """BLER curves of 5G LDPC (k = round(r·n), n) + each modulation over complex AWGN."""
    from baselines.codes import LDPC5G
    from baselines.modulation import ModulatedCode, Modulation, bler_curve

    links = []
    for mod in modulations:
        modulation = Modulation(mod)
        for r in rates:
            link = ModulatedCode(LDPC5G(int(round(r * n)), n), modulation)
            g = torch.Generator().manual_seed(seed * 1000 + len(links))
            curve = bler_curve(link, snr_grid, n_words, generator=g)
            links.append({"name": link.name, "rate": r, "modulation": mod, "link": link,
                          "curve": curve})
            if log:
                sim = [s for s, ok in zip(curve["snr_db"], curve["simulated"], strict=True)
                       if ok]
                log(f"  BLER {link.name}: simulated {len(sim)} SNR points")
    return links


def _success(curve: dict[str, list[float]], snr: float, n_cw: np.ndarray,
             gains_db: np.ndarray | None) -> np.ndarray:
    """Per image, P(all its codewords decode) at ``snr`` (AWGN, or per-image fading gains
    ``[n_images, n_draws]``)."""
    from baselines.modulation import success_probability

    out = np.zeros(len(n_cw))
    for i, n in enumerate(n_cw):
        if n <= 0:
            continue
        at = snr if gains_db is None else snr + gains_db[i]
        out[i] = float(success_probability(curve, at, int(n)).mean())
    return out


def scheme_curves(table: SourceTable, links: list[dict[str, Any]], uses: np.ndarray,
                  test_snrs: Sequence[float], design_snrs: Sequence[float],
                  fail_psnr: np.ndarray, fail_ssim: np.ndarray,
                  gains_db: np.ndarray | None = None) -> dict[str, Any]:
    """The best-per-SNR envelope and the fixed designs of one source codec (module doc)."""
    per_link = []
    for ln in links:
        link = ln["link"]
        max_bits = np.array([link.max_info_bits(int(u)) for u in uses])
        idx = table.best_fitting(max_bits)
        bits = _pick(table.bits, idx, np.zeros(len(uses)))
        n_cw = np.where(idx >= 0, np.ceil(bits / link.code.k), 0)
        q_psnr = _pick(table.psnr, idx, fail_psnr)
        q_ssim = _pick(table.ssim, idx, fail_ssim)

        def at(snr: float, n_cw=n_cw, q_psnr=q_psnr, q_ssim=q_ssim, ln=ln) -> dict[str, float]:
            p = _success(ln["curve"], snr, n_cw, gains_db)
            return {"psnr": float((p * q_psnr + (1 - p) * fail_psnr).mean()),
                    "ssim": float((p * q_ssim + (1 - p) * fail_ssim).mean()),
                    "success": float(p.mean())}

        per_link.append({"ln": ln, "at": at, "fits": int((idx >= 0).sum()),
                         "quality": [table.qualities[i] if i >= 0 else None for i in idx],
                         "mean_bits": float(bits.mean())})
    best: dict[str, list[Any]] = {"psnr": [], "ssim": [], "success": [], "link": []}
    for s in test_snrs:
        vals = [(pl["at"](s), pl) for pl in per_link]
        v, pl = max(vals, key=lambda t: t[0]["psnr"])
        for key in ("psnr", "ssim", "success"):
            best[key].append(v[key])
        best["link"].append(pl["ln"]["name"])
    designs = {}
    fine = np.arange(min(test_snrs) - 10, max(test_snrs) + 10.01, 0.05)
    for d in design_snrs:
        pl = max(per_link, key=lambda p: p["at"](d)["psnr"])
        curve = [pl["at"](s) for s in test_snrs]
        succ = np.array([pl["at"](float(s))["success"] for s in fine])
        cross = np.nonzero(succ >= 0.5)[0]
        designs[f"{d:g}"] = {
            "link": pl["ln"]["name"], "rate": pl["ln"]["rate"],
            "modulation": pl["ln"]["modulation"], "qualities": pl["quality"],
            "mean_payload_bits": pl["mean_bits"],
            "psnr": [c["psnr"] for c in curve], "ssim": [c["ssim"] for c in curve],
            "success": [c["success"] for c in curve],
            "cliff_snr_db": float(fine[cross[0]]) if cross.size else None}
    return {"best": best, "designs": designs}


def ideal_curve(table: SourceTable, uses: np.ndarray, test_snrs: Sequence[float],
                capacity: Callable[[float], float], fail_psnr: np.ndarray,
                fail_ssim: np.ndarray) -> dict[str, list[float]]:
    """The capacity bound: the best quality with payload ≤ uses · C(SNR), never failing."""
    out: dict[str, list[float]] = {"psnr": [], "ssim": [], "bits_per_use": []}
    for s in test_snrs:
        c = capacity(s)
        idx = table.best_fitting(np.floor(uses * c))
        out["psnr"].append(float(_pick(table.psnr, idx, fail_psnr).mean()))
        out["ssim"].append(float(_pick(table.ssim, idx, fail_ssim).mean()))
        out["bits_per_use"].append(c)
    return out


