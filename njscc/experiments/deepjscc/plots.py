"""Figures and tables of the ``deepjscc`` study, drawn from its results files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["plot_ratio", "plot_snr", "summary_markdown"]

_REPORT_SNRS = (0.0, 10.0, 20.0)


def _style(name: str) -> dict[str, Any]:
    if name.startswith("deepjscc"):
        return {"ls": "-", "marker": "o", "ms": 3}
    if name == "adjscc":
        return {"ls": "-", "lw": 2.2, "color": "k"}
    if name.startswith(("binary", "necst")):
        return {"ls": "-.", "marker": "s", "ms": 3}
    if "ideal" in name:
        return {"ls": ":", "lw": 2}
    if " @" in name:
        return {"ls": "--", "lw": 1}
    return {"ls": "--", "lw": 1.8}


def plot_snr(result: Mapping[str, Any], stem: Path) -> list[Path]:
    """PSNR and SSIM vs test SNR, one line per scheme (``<stem>.png``, ``<stem>_ssim.png``)."""
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    m = result["metrics"]
    snr = m["test_snr_db"]
    paths = []
    for key, label, suffix in (("psnr", "PSNR [dB]", ""), ("ssim", "SSIM", "_ssim")):
        fig, ax = plt.subplots(figsize=(7.5, 5))
        for name, curve in m["schemes"].items():
            if " @" in name and "webp" in name:
                continue  # the WebP design cliffs look like JPEG's; kept in the JSON
            ax.plot(snr, curve[key], label=name, **_style(name))
        ax.set_xlabel("channel SNR [dB]")
        ax.set_ylabel(label)
        ds = result.get("dataset")
        ratio = result.get("config", {}).get("ratio")
        ax.set_title(f"{ds}, {result['channel']['name']}, k/n = {ratio:.4g}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        paths.append(save_figure(fig, Path(f"{stem}{suffix}.png")))
        plt.close(fig)
    return paths


def plot_ratio(result: Mapping[str, Any], path: Path) -> list[Path]:
    """PSNR vs bandwidth ratio at one SNR."""
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    m = result["metrics"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, vals in m["psnr"].items():
        ax.plot(m["ratios"], vals, label=name, **_style(name))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bandwidth ratio k/n")
    ax.set_ylabel("PSNR [dB]")
    ax.set_title(f"{result.get('dataset')}, {result['channel']['name']}, SNR = "
                 f"{m['snr_db']:g} dB")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out = save_figure(fig, path)
    plt.close(fig)
    return [out]


def _quality(q: int | None) -> str:
    return "(no quality fits)" if q is None else f"q{q}"


def summary_markdown(results: Mapping[str, dict[str, Any]]) -> str:
    """PSNR at 0 / 10 / 20 dB per scheme and the separation cliffs, as markdown."""
    lines: list[str] = []
    for stem, res in results.items():
        m = res["metrics"]
        if stem.endswith("_snr"):
            snr = m["test_snr_db"]
            cols = [s for s in _REPORT_SNRS if s in snr]
            lines += [f"### {stem}: PSNR [dB] (SSIM) at test SNR", "",
                      "| scheme | " + " | ".join(f"{s:g} dB" for s in cols) + " |",
                      "|---|" + "---|" * len(cols)]
            for name, c in m["schemes"].items():
                cells = [f"{c['psnr'][snr.index(s)]:.2f} ({c['ssim'][snr.index(s)]:.3f})"
                         for s in cols]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            lines.append("")
        elif stem.endswith("_separation"):
            lines += [f"### {stem}: designs and cliffs", "",
                      "| source | design SNR | link | mean payload bits | cliff SNR (P(success) "
                      "= ½) |", "|---|---|---|---|---|"]
            for src, d in m["schemes"].items():
                for snr_d, des in d["designs"].items():
                    cliff = des["cliff_snr_db"]
                    bits = des.get("mean_payload_bits", des.get("m"))
                    lines.append(f"| {src} | {snr_d} dB | {des['link']} | {bits:.0f} | "
                                 f"{'—' if cliff is None else f'{cliff:.2f} dB'} |")
            t = m.get("throughput") or {}
            if t:
                lines += ["", f"Receiver throughput at {t['snr_db']:g} dB ({t['pixels']} "
                          f"values per image, CPU, {t['threads']} threads): DeepJSCC decoder "
                          f"{t['deepjscc_decoder_images_per_s']:.1f} images/s; "
                          f"{t['separation']['link']} + JPEG "
                          f"{_quality(t['separation']['jpeg_quality'])}"
                          f" {t['separation']['images_per_s']:.2f} images/s "
                          f"({t['ratio']:.0f}× slower)."]
            lines.append("")
        elif stem.endswith("_ratio"):
            lines += [f"### {stem}: PSNR [dB] at {m['snr_db']:g} dB vs k/n", "",
                      "| scheme | " + " | ".join(f"{r:.4g}" for r in m["ratios"]) + " |",
                      "|---|" + "---|" * len(m["ratios"])]
            for name, vals in m["psnr"].items():
                lines.append(f"| {name} | " + " | ".join("—" if v is None else f"{v:.2f}"
                                                          for v in vals) + " |")
            lines.append("")
    return "\n".join(lines)
