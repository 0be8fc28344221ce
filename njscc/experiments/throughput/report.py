"""Results of the throughput suite: speed-up ratios, JSON files, a text table and the plot
(drawn from the JSON files, not from live objects)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from njscc.io.results import load_result, save_figure, write_result

__all__ = ["format_table", "load_suite", "plot_throughput", "speedups", "write_suite"]


def _best(rows: Iterable[dict[str, Any]], key: str, **match: Any) -> dict[str, Any] | None:
    cand = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return max(cand, key=lambda r: r[key]) if cand else None


def speedups(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Speed-up ratios from one run's results (best batch of each decoder).

    * per image, like with like: a separation image costs its ⌈payload bits / k⌉ codewords
      (``... images/s``; "LDPC only" leaves out the JPEG decode);
    * stricter, per codeword: one NECST image (m bits) vs one LDPC codeword (k info bits).

    Decoders that run on one thread (the C++ BP decoder) are compared with NECST on one
    thread; the others with NECST at the run's thread count. ``(CPU time)`` ratios use
    items per second of process CPU time (robust to other jobs on a shared machine; only
    reported for one-thread pairs).
    """
    nd = results["necst_decode"]["metrics"]["rows"]
    sep = results.get("separation_decode", {}).get("metrics", {}).get("rows", [])
    cw = results.get("ldpc_codewords", {}).get("metrics", {}).get("rows", [])
    threads = max(r["threads"] for r in nd)
    best_all = _best(nd, "images_per_s", threads=threads, dtype="float32")
    if best_all is None:
        raise ValueError("necst_decode: no float32 rows")
    best_1t = _best(nd, "images_per_s", threads=1, dtype="float32") or best_all

    def necst_for(dec: str) -> dict[str, Any]:
        return best_1t if dec.startswith("cpp") else best_all

    keys = ("decoder", "batch", "threads", "images_per_s", "images_per_s_cpu")
    out: dict[str, Any] = {"necst_best": {k: best_all.get(k) for k in keys},
                           "necst_best_1thread": {k: best_1t.get(k) for k in keys}}
    ratios: dict[str, float] = {}
    per_img = {r["decoder"].replace("+jpeg", ""): r["codewords_per_image"] for r in sep}
    decoders = list(dict.fromkeys(r["decoder"] for r in cw))
    for dec in decoders:
        b = _best(sep, "images_per_s", decoder=f"{dec}+jpeg")
        if b is not None:
            ratios[f"necst / ({dec}+jpeg) images/s"] = (necst_for(dec)["images_per_s"]
                                                       / b["images_per_s"])
    for dec in decoders:
        rows = [r for r in cw if r["decoder"] == dec]
        code = rows[0]["code"]
        b = _best(rows, "codewords_per_s", code=code)
        nec = necst_for(dec)
        if dec in per_img:
            ratios[f"necst / {dec} (LDPC only) images/s"] = (
                nec["images_per_s"] * per_img[dec] / b["codewords_per_s"])
            if dec.startswith("cpp") and nec.get("images_per_s_cpu") and \
                    b.get("codewords_per_s_cpu"):
                ratios[f"necst / {dec} (LDPC only) images/s (CPU time)"] = (
                    nec["images_per_s_cpu"] * per_img[dec] / b["codewords_per_s_cpu"])
        ratios[f"necst images/s / {dec} {code} codewords/s"] = (
            nec["images_per_s"] / b["codewords_per_s"])
    out["ratios"] = ratios
    out["codewords_per_image"] = per_img
    out["targets"] = {"necst / (sionna-bp20-boxplus-phi+jpeg) images/s": 10.0,
                      "necst / sionna-bp20-boxplus-phi (LDPC only) images/s": 100.0,
                      "necst / cpp-minsum (LDPC only) images/s": 30.0}
    out["ratio_notes"] = " ".join((speedups.__doc__ or "").split())
    return out


def write_suite(results: dict[str, dict[str, Any]], out_dir: str | os.PathLike[str]
                ) -> list[Path]:
    """Write each group as ``<out_dir>/<group>.json``; returns the paths."""
    out = Path(out_dir)
    return [write_result(out / f"{name}.json", res) for name, res in results.items()]


def load_suite(out_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read the JSON files :func:`write_suite` wrote (``FileNotFoundError`` if none)."""
    folder = Path(out_dir)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{folder}: no results JSON files")
    out = {}
    for f in files:
        res = load_result(f)
        if str(res.get("task", "")).startswith("throughput/"):
            out[res["task"].split("/", 1)[1]] = res
    if "necst_decode" not in out:
        raise FileNotFoundError(f"{folder}: no throughput/necst_decode result")
    return out


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """A plain-text table of the best batch of every decoder, then the speed-ups."""
    lines = []
    nd = results["necst_decode"]["metrics"]["rows"]
    sep = results.get("separation_decode", {}).get("metrics", {}).get("rows", [])
    cw = results.get("ldpc_codewords", {}).get("metrics", {}).get("rows", [])
    cfg = results["necst_decode"].get("config", {})
    env = results["necst_decode"].get("env", {})
    end = results.get("summary", {}).get("metrics", {}).get("loadavg_at_end")
    lines.append(f"{cfg.get('device_name', env.get('device'))}; torch {env.get('torch')}; "
                 f"{cfg.get('threads')} threads; BSC eps={cfg.get('eps')}; load average at "
                 f"start {cfg.get('loadavg_at_start')}, end {end}")
    jq = cfg.get("jpeg_quality")
    if isinstance(jq, dict):
        sse = (f"; NECST SSE {jq['necst_sse']:.2f}, JPEG q{jq['quality']} SSE "
               f"{jq['jpeg_sse']:.2f}" if "necst_sse" in jq else "")
        lines.append(f"separation receiver: JPEG q{jq['quality']} ({jq['rule']}{sse})")
    hdr = (f"{'decoder':34} {'dtype':9} {'thr':>3} {'best batch':>10} {'images/s':>12} "
           f"{'IQR':>21} {'img/CPU-s':>10} {'info bit/s':>12} {'chan bits/img':>13}")
    lines += ["Received channel bits -> pixels (best batch per decoder)", hdr, "-" * len(hdr)]
    keys = []
    for r in nd + sep:
        key = (r["decoder"], r.get("dtype", "-"), r["threads"])
        if key not in keys:
            keys.append(key)
    for dec, dtype, th in keys:
        rows = [r for r in nd + sep if r["decoder"] == dec and r.get("dtype", "-") == dtype
                and r["threads"] == th]
        b = max(rows, key=lambda r: r["images_per_s"])
        iqr = f"{_fmt(b['images_per_s_q1'])}-{_fmt(b['images_per_s_q3'])}"
        lines.append(f"{dec:34} {dtype:9} {th:>3} {b['batch']:>10} "
                     f"{_fmt(b['images_per_s']):>12} {iqr:>21} "
                     f"{_fmt(b.get('images_per_s_cpu')):>10} "
                     f"{_fmt(b['info_bits_per_s']):>12} {_fmt(b['channel_bits_per_image']):>13}")
    if cw:
        lines += ["", "LDPC decoding only (best batch)",
                  f"{'decoder':26} {'code':>10} {'thr':>3} {'batch':>6} {'codewords/s':>12} "
                  f"{'cw/CPU-s':>10} {'FER':>7}"]
        seen = []
        for r in cw:
            key = (r["decoder"], r["code"])
            if key in seen:
                continue
            seen.append(key)
            b = _best(cw, "codewords_per_s", decoder=r["decoder"], code=r["code"])
            lines.append(f"{b['decoder']:26} {b['code']:>10} {b['threads']:>3} {b['batch']:>6} "
                         f"{_fmt(b['codewords_per_s']):>12} "
                         f"{_fmt(b.get('codewords_per_s_cpu')):>10} {b['fer']:>7.4f}")
    nm = results["necst_decode"]["metrics"]
    comp = nm.get("compile", {})
    lines += ["", "torch.compile(model.decompress): " + (
        f"ok, first call {comp['first_call_s']:.1f} s" if comp.get("ok")
        else f"not used ({comp.get('error', '?')})")]
    for name, a in nm.get("accuracy_vs_eager_fp32", {}).items():
        lines.append(f"  {name:22} vs eager fp32 on {a['images']} images: max |diff| "
                     f"{a['max_abs_pixel_diff']:.2e}, mean {a['mean_abs_pixel_diff']:.2e} "
                     "(pixels in [0, 1])")
    enc = results.get("encode", {}).get("metrics", {}).get("rows", [])
    if enc:
        lines += ["", "Encode (images -> channel bits)",
                  f"{'encoder':26} {'batch':>6} {'images/s':>12} {'latency ms':>11}"]
        for r in enc:
            lat = "-" if r.get("latency_ms") is None else f"{r['latency_ms']:.3f}"
            lines.append(f"{r['encoder']:26} {r['batch']:>6} {_fmt(r['images_per_s']):>12} "
                         f"{lat:>11}")
    roof = results.get("roofline", {}).get("metrics")
    if roof:
        f = roof["flops_per_image"]["total"]
        lines += ["", f"Roofline: {f:,} FLOP per decoded image"]
        for dt, r in roof["roofline"].items():
            cpu = r.get("fraction_of_peak_cpu_time")
            lines.append(f"  {dt:16} peak {r['peak_flops_per_s'] / 1e9:7.1f} GFLOP/s -> "
                         f"{_fmt(r['attainable_images_per_s'])} images/s attainable; best "
                         f"{_fmt(r['best_images_per_s'])} ({r['best_decoder']}, batch "
                         f"{r['best_batch']}) = {100 * r['fraction_of_peak']:.0f}% of peak"
                         + (f" ({100 * cpu:.0f}% in CPU time)" if cpu else ""))
    summ = results.get("summary", {}).get("metrics")
    if summ:
        lines += ["", "Speed-ups measured in this run"]
        tg = summ.get("targets", {})
        for k, v in summ["ratios"].items():
            t = tg.get(k)
            mark = "" if t is None else f"   (target >= {t:g}: {'met' if v >= t else 'NOT met'})"
            lines.append(f"  {k:66} {v:10,.1f}x{mark}")
    mem = results.get("stream_memory", {}).get("metrics")
    if mem:
        steady = _steady_rss(mem)
        lines += ["", f"Stream decode {mem['images']:,} images in chunks of {mem['chunk']}: "
                  f"{_fmt(mem['images_per_s'])} images/s; RSS {_fmt(mem['rss_before_mb'])} -> "
                  f"{_fmt(mem['rss_after_first_chunk_mb'])} (after chunk 1) -> "
                  f"{_fmt(mem['rss_after_mb'])} MiB (growth after chunk 1: "
                  f"{mem['rss_growth_after_first_chunk_mb']:+.1f} MiB); peak RSS "
                  f"{_fmt(mem['maxrss_after_mb'])} MiB; Python-side peak "
                  f"{mem['tracemalloc_peak_kb']:.0f} KiB"]
        if steady:
            lines.append(f"  RSS after the first 10% of the images stays within {steady[0]:.0f}-"
                         f"{steady[1]:.0f} MiB (steady state)")
    return "\n".join(lines)


def _steady_rss(mem: dict[str, Any]) -> tuple[float, float] | None:
    """(min, max) RSS over the samples taken after the first 10% of a stream decode."""
    vals = [v for n, v in mem.get("rss_samples", []) if v is not None
            and n >= 0.1 * mem.get("images", 0)]
    return (min(vals), max(vals)) if vals else None


def plot_throughput(out_dir: str | os.PathLike[str], png: str | os.PathLike[str] | None = None
                    ) -> Path:
    """Draw throughput vs batch size (log–log) from the JSON files in ``out_dir``.

    Left: images/s vs images per call for every decoder (NECST variants, the separation
    receivers), with the roofline ceiling (peak matmul FLOP/s ÷ FLOPs per image). Right:
    LDPC-only codewords/s vs codewords per call. Returns the PNG path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    res = load_suite(out_dir)
    png = Path(png) if png is not None else Path(out_dir) / "throughput.png"
    fig = Figure(figsize=(13, 5.2))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    rows = res["necst_decode"]["metrics"]["rows"] + res.get(
        "separation_decode", {}).get("metrics", {}).get("rows", [])
    series: dict[str, list[tuple[int, float, float, float]]] = {}
    for r in rows:
        lab = f"{r['decoder']} {r.get('dtype', '')} {r['threads']}t".replace("  ", " ")
        series.setdefault(lab, []).append((r["batch"], r["images_per_s"], r["images_per_s_q1"],
                                           r["images_per_s_q3"]))
    for lab, pts in series.items():
        pts.sort()
        b, v, lo, hi = (np.array(x) for x in zip(*pts, strict=True))
        style = "-o" if lab.startswith("necst") else "--s"
        line, = ax1.plot(b, v, style, ms=4, label=lab)
        ax1.fill_between(b, lo, hi, color=line.get_color(), alpha=0.15)
    roof = res.get("roofline", {}).get("metrics", {}).get("roofline", {})
    for dt, r in roof.items():
        ax1.axhline(r["attainable_images_per_s"], color="k", ls=":" if "1thread" in dt else "-.",
                    lw=1, label=f"roofline {dt} ({r['peak_flops_per_s'] / 1e9:.0f} GFLOP/s)")
    ax1.set(xscale="log", yscale="log", xlabel="images per call (batch)",
            ylabel="decoded images / s", title="Received channel bits → pixels")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")
    cw = res.get("ldpc_codewords", {}).get("metrics", {}).get("rows", [])
    cser: dict[str, list[tuple[int, float]]] = {}
    for r in cw:
        cser.setdefault(f"{r['decoder']} {r['code']} {r['threads']}t", []).append(
            (r["batch"], r["codewords_per_s"]))
    for lab, pts in cser.items():
        pts.sort()
        ax2.plot(*zip(*pts, strict=True), "-o", ms=4, label=lab)
    ax2.set(xscale="log", yscale="log", xlabel="codewords per call", ylabel="codewords / s",
            title="LDPC decoding only")
    ax2.grid(True, which="both", alpha=0.3)
    if cser:
        ax2.legend(fontsize=7)
    env = res["necst_decode"]["env"]
    cfg = res["necst_decode"]["config"]
    fig.suptitle(f"{cfg.get('device_name', env['device'])}, torch {env['torch']}, "
                 f"{cfg.get('threads')} threads, BSC ε={cfg.get('eps')} — {env['time']}",
                 fontsize=9)
    fig.tight_layout()

    return save_figure(fig, png, dpi=110)

