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
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["FALLBACK", "SourceTable", "ideal_curve", "learned_separation", "link_grid",
           "measure_sources",
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




def _send_link(link: Any, bits: Tensor, snr_db: float, gains: Tensor | None,
               generator: torch.Generator) -> Tensor:
    """One codeword per row through complex AWGN (and a per-row fading gain with receiver
    CSI: zero-forcing, the demapper told the per-row noise σ²/|h|²) → decoded info bits."""
    x = link.modulation.map(link.code.encode(bits))
    var = 10.0 ** (-snr_db / 10.0)
    noise = torch.view_as_complex(torch.randn(*x.shape, 2, generator=generator)
                                  * math.sqrt(var / 2.0))
    if gains is None:
        y, no = x + noise, torch.tensor(var)
    else:
        y = x + noise / gains.unsqueeze(1)
        no = (var / gains.abs().square().clamp_min(1e-12)).unsqueeze(1).to(torch.float32)
    return link.code.decode(link.modulation.demap(y, no))


def learned_separation(sources: dict[int, Any], images: Tensor, uses: int,
                       modulations: Sequence[str], test_snrs: Sequence[float],
                       design_snrs: Sequence[float],
                       metric: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
                       capacity: Callable[[float], float], *, fading: bool, seed: int,
                       fail: tuple[float, float] = (0.0, 0.0), bler_words: int = 200,
                       log: Log = None) -> dict[str, Any]:
    """Learned source (noiseless-trained bit codecs of m_s bits) + one 5G LDPC codeword of
    k = m_s info bits filling the image's channel uses + modulation, simulated end to end:
    every test image's code bits are encoded, mapped, sent, demapped, BP-decoded and decoded
    by the source decoder (a wrong codeword gives whatever image its bits decode to — a
    learned decoder has no invalid input). ``sources``: m_s → model; ``images`` ``[N, C, H,
    W]``. Returns best-per-SNR, the designs with their cliff SNRs (from a BLER curve of the
    design's link on a 0.25 dB grid) and the ideal bound (the best m_s ≤ uses·C; ``fail``,
    the mean (PSNR, SSIM) of the mid-grey image, where none fits)."""
    from baselines.codes import LDPC5G
    from baselines.modulation import ModulatedCode, Modulation, bler_curve, success_probability

    configs = []
    for m_s, model in sorted(sources.items()):
        with torch.no_grad():
            bits = model.compress(images).to(torch.float32)
            clean = metric(images, model.decompress(bits).reshape(images.shape))
        for mod in modulations:
            modulation = Modulation(mod)
            b = modulation.bits_per_symbol
            n = int(uses) * b
            if m_s < 12 or m_s / n > 0.95:
                continue  # 5G LDPC: k ≥ 12, rate ≤ 0.95
            if m_s / n < 1 / 5:
                n = math.ceil(5 * m_s / b) * b  # the lowest 5G rate; leaves uses unused
            link = ModulatedCode(LDPC5G(m_s, n), modulation)
            rows = []
            for si, s in enumerate(test_snrs):
                g = torch.Generator().manual_seed(seed * 100003 + si * 31 + len(configs))
                gains = None
                if fading:
                    gains = torch.view_as_complex(torch.randn(bits.shape[0], 2, generator=g)
                                                  * math.sqrt(0.5))
                dec = _send_link(link, bits, s, gains, g).to(torch.float32)
                with torch.no_grad():
                    ps, ss = metric(images, model.decompress(dec).reshape(images.shape))
                rows.append({"psnr": float(ps.mean()), "ssim": float(ss.mean()),
                             "success": float((dec == bits).all(1).float().mean())})
            configs.append({"name": f"learned m={m_s} + {link.name}", "m": m_s, "link": link,
                            "rows": rows, "clean_psnr": float(clean[0].mean()),
                            "clean_ssim": float(clean[1].mean())})
            if log:
                log(f"  {configs[-1]['name']}: PSNR "
                    + " ".join(f"{r['psnr']:.1f}" for r in rows))
    if not configs:
        return {}
    best: dict[str, list[Any]] = {"psnr": [], "ssim": [], "success": [], "link": []}
    for i in range(len(test_snrs)):
        c = max(configs, key=lambda c: c["rows"][i]["psnr"])
        for key in ("psnr", "ssim", "success"):
            best[key].append(c["rows"][i][key])
        best["link"].append(c["name"])
    designs = {}
    for d in design_snrs:
        if d not in test_snrs:
            continue
        i = list(test_snrs).index(d)
        c = max(configs, key=lambda c: c["rows"][i]["psnr"])
        grid = [float(s) for s in np.arange(min(test_snrs) - 12, max(test_snrs) + 3.01, 0.25)]
        curve = bler_curve(c["link"], grid, bler_words,
                           generator=torch.Generator().manual_seed(seed + int(10 * d)))
        fine = np.array(grid)
        succ = np.array([float(success_probability(curve, s, 1)[0]) for s in fine])
        if fading:
            g = torch.Generator().manual_seed(seed + 77)
            h2 = (torch.randn(4000, 2, generator=g).square().sum(-1) * 0.5).numpy()
            gdb = 10 * np.log10(np.clip(h2, 1e-12, None))
            succ = np.array([float(success_probability(curve, s + gdb, 1).mean())
                             for s in fine])
        cross = np.nonzero(succ >= 0.5)[0]
        designs[f"{d:g}"] = {"link": c["name"], "m": c["m"],
                             "psnr": [r["psnr"] for r in c["rows"]],
                             "ssim": [r["ssim"] for r in c["rows"]],
                             "success": [r["success"] for r in c["rows"]],
                             "cliff_snr_db": float(fine[cross[0]]) if cross.size else None}
    ideal: dict[str, list[Any]] = {"psnr": [], "ssim": [], "m": []}
    clean = {c["m"]: (c["clean_psnr"], c["clean_ssim"]) for c in configs}
    for s in test_snrs:
        fit = [m for m in clean if m <= uses * capacity(s)]
        m = max(fit, key=lambda m: clean[m][0]) if fit else None
        ideal["psnr"].append(clean[m][0] if m else fail[0])
        ideal["ssim"].append(clean[m][1] if m else fail[1])
        ideal["m"].append(m)
    return {"best": best, "designs": designs, "ideal": ideal,
            "configs": [{"name": c["name"], "m": c["m"], "rate": c["link"].code.rate,
                         "modulation": c["link"].modulation.name, "rows": c["rows"],
                         "clean_psnr": c["clean_psnr"]} for c in configs]}
