"""Plots and summary tables of the NECST-vs-separation comparison, drawn from its results files.

Every function takes a results JSON path (or the loaded dict) written by ``njscc compare``
(tasks ``compare_budget``, ``compare_bits``, ``compare_cliff``, ``compare_short``,
``compare_matched``) — never live objects.
Matplotlib runs headless (Agg).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from njscc.io.results import save_figure

__all__ = ["COLORS", "matched_markdown", "plot_all", "plot_bits", "plot_budget", "plot_cliff",
           "plot_matched", "plot_rd", "plot_short", "short_markdown", "summary_markdown"]

#: one colour per scheme (NECST black)
COLORS = {"NECST": "black", "JPEG+ideal": "C0", "JPEG+LDPC": "C1", "WebP+ideal": "C2",
          "WebP+LDPC": "C3", "JPEG+repetition": "C4", "WebP+repetition": "C5", "JPEG+PPV": "C6",
          "WebP+PPV": "C7"}
_EXACT = ("ideal", "ppv")  # charged by a bound, delivered error-free
_CH = {"bsc": "BSC", "bec": "BEC"}


def _load(r: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(r, dict):
        return r
    from njscc.io.results import load_result

    return load_result(r)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _color(label: str) -> str:
    return COLORS.get(label.split(" (")[0], "C7")


def _title(r: dict[str, Any], what: str) -> str:
    ch = _CH.get(r["channel"]["name"], r["channel"]["name"])
    n = r["config"].get("n_images")
    return f"{r['dataset']} ({n} test images), {ch}: {what}"


# --------------------------------------------------------------------------- budget
def plot_budget(result: Any, out: str | os.PathLike[str]) -> Path:
    """Distortion vs ε at each fixed budget (one column per budget) and, below, the fraction
    of images that cannot fit / fail to decode. A point where *no* image fits is drawn as a
    large ✕ at the fallback distortion."""
    from matplotlib.lines import Line2D

    plt = _plt()
    r = _load(result)
    m = r["metrics"]
    eps, budgets = m["param"], m["budgets"]
    fig, axes = plt.subplots(2, len(budgets), figsize=(5.6 * len(budgets), 6.2), dpi=120,
                             sharex=True, squeeze=False, gridspec_kw={"height_ratios": [3, 1.3]})
    for j, B in enumerate(budgets):
        ax, ax2 = axes[0, j], axes[1, j]
        curves = [c for c in m["curves"] if c["budget"] == B]
        seps = [c for c in curves if c["kind"] != "necst"]
        width = (max(eps) - min(eps)) or 1.0
        for c in curves:
            col = _color(c["scheme"])
            if c["kind"] == "necst":
                ax.errorbar(eps, c["sse"], yerr=c["sse_se"], color=col, marker="o", lw=2,
                            capsize=3, label=f"NECST (m = {c['m']}, trained at "
                            f"{c['trained_on']['channel'].upper()} {c['trained_on']['param']:g})",
                            zorder=5)
                continue
            k = seps.index(c)
            x = [e + (k - (len(seps) - 1) / 2) * 0.006 * width for e in eps]  # de-overlap
            ax.plot(x, c["sse"], color=col, lw=1.2, alpha=0.8, label=c["scheme"])
            none = [cf is not None and cf >= 1.0 for cf in c["cannot_fit_rate"]]
            ax.scatter([xi for xi, n in zip(x, none, strict=True) if n],
                       [s for s, n in zip(c["sse"], none, strict=True) if n],
                       marker="X", s=90, color=col, edgecolor="white", linewidth=0.5, zorder=4)
            ax.scatter([xi for xi, n in zip(x, none, strict=True) if not n],
                       [s for s, n in zip(c["sse"], none, strict=True) if not n],
                       marker="o", s=30, color=col, zorder=4)
            ax2.plot(x, c["cannot_fit_rate"], color=col, marker=".", lw=1.2)
            ax2.plot(x, c["failure_rate"], color=col, ls=":", marker="x", lw=1)
        ax.axhline(m["fallback_sse"], color="grey", ls="--", lw=1)
        ax.set_yscale("log")
        lo = min(min(v for v in c["sse"] if v is not None) for c in curves)
        ax.set_ylim(min(lo, m["fallback_sse"]) / 1.25, m["fallback_sse"] * 1.35)
        ax.text(min(eps), m["fallback_sse"] * 1.08, f"fallback: mean image (SSE "
                f"{m['fallback_sse']:.1f})", color="grey", fontsize=8)
        ax.set_ylabel("distortion: mean per-image SSE")
        ax.set_title(_title(r, f"{B} channel bits per image"), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], marker="X", ls="", color="grey", markersize=9))
        labels.append("cannot fit: no image fits the budget\n(all sent as the fallback)")
        ax.legend(handles, labels, fontsize=7.5, loc="best")
        ax2.set_ylim(-0.05, 1.05)
        ax2.set_xlabel("channel error / erasure probability ε")
        ax2.set_ylabel("fraction of images", fontsize=8)
        ax2.grid(alpha=0.3)
        ax2.legend([Line2D([], [], color="k", marker="."), Line2D([], [], color="k", ls=":",
                                                                   marker="x")],
                   ["cannot fit (not sent)", "sent, decode failed"], fontsize=7.5,
                   loc="center right")
    fig.tight_layout()
    return save_figure(fig, out)


# --------------------------------------------------------------------------- bits needed
def plot_bits(result: Any, out: str | os.PathLike[str]) -> Path:
    """Channel bits per image each separation scheme needs for NECST's distortion, vs ε
    (payload solid, whole file dashed; ▼ = the codec's cheapest point is already below
    NECST's distortion, so the need is set by the codec's floor)."""
    from matplotlib.lines import Line2D

    plt = _plt()
    r = _load(result)
    m = r["metrics"]
    eps = m["param"]
    fig, (ax0, ax) = plt.subplots(2, 1, figsize=(8.8, 6.4), dpi=120, sharex=True,
                                  gridspec_kw={"height_ratios": [1, 3]})
    t = m["target"]
    ax0.plot(eps, t["sse"], color="black", marker="o")
    ax0.set_ylabel("NECST SSE\n(the target)", fontsize=8)
    ax0.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax0.grid(alpha=0.3)
    ax0.set_title(_title(r, "bits needed to match NECST's distortion"), fontsize=9)
    ax.plot(eps, [t["m"]] * len(eps), color="black", lw=2.5, marker="o",
            label=f"NECST: m = {t['m']} bits")
    top = t["m"]
    for c in m["needed"]:
        col = _color(c["scheme"])
        ls = "-" if c["sent"] == "payload" else "--"
        xs = [e for e, b in zip(eps, c["bits"], strict=True) if b is not None]
        ys = [b for b in c["bits"] if b is not None]
        if ys:
            top = max(top, max(ys))
        ax.plot(xs, ys, color=col, ls=ls, lw=1.3, label=c["scheme"])
        for e, b, fl in zip(eps, c["bits"], c["floor"], strict=True):
            if b is not None:
                ax.scatter([e], [b], color=col, marker="v" if fl else "o", s=28, zorder=4)
    for c in m["needed"]:  # schemes that never reach the target: marked at the top
        for e, b in zip(eps, c["bits"], strict=True):
            if b is None:
                ax.scatter([e], [top * 1.6], color=_color(c["scheme"]), marker="^",
                           facecolor="none", s=40)
    ax.set_yscale("log")
    ax.set_xlabel("channel error / erasure probability ε (NECST trained at "
                  f"{t['trained_on']['channel'].upper()} {t['trained_on']['param']:g}, "
                  "tested at ε)", fontsize=8)
    ax.set_ylabel("channel bits per image (mean)")
    ax.grid(alpha=0.3, which="both")
    h, lab = ax.get_legend_handles_labels()
    h += [Line2D([], [], color="grey", marker="v", ls=""),
          Line2D([], [], color="grey", marker="^", ls="", markerfacecolor="none")]
    lab += ["codec's cheapest point already below the target", "target not reached"]
    ax.legend(h, lab, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, out)


def plot_rd(result: Any, out: str | os.PathLike[str]) -> Path:
    """Distortion vs channel bits per image at one ε: NECST at each code length, separation
    over the quality sweep (ideal code exact; LDPC accounting with error-free distortion as a
    thin line, simulated points as markers)."""
    plt = _plt()
    r = _load(result)
    rd = r["metrics"]["rd"]
    fig, ax = plt.subplots(figsize=(9.0, 5.0), dpi=120)
    for c in rd["curves"]:
        if c["code"] not in _EXACT and c["sent"] != "payload":
            continue  # whole files through LDPC: in the JSON, left out to keep the plot legible
        col = _color(c["scheme"])
        ls = "-" if c["sent"] == "payload" else "--"
        if c["code"] in _EXACT:
            ax.plot(c["channel_bits_mean"], c["sse_error_free"], color=col, ls=ls, lw=1.4,
                    label=c["scheme"])
        else:
            ax.plot(c["channel_bits_mean"], c["sse_error_free"], color=col, ls=ls, lw=0.8,
                    alpha=0.6, label=f"{c['scheme']}, no residual errors")
            sim = c.get("simulated")
            if sim and sim["sse"]:
                ax.scatter(sim["channel_bits_mean"], sim["sse"], color=col, marker="s", s=30,
                           zorder=4, label=f"{c['scheme']}, simulated")
    own = [n for n in rd["necst"] if n["trained_on"]["channel"] == r["channel"]["name"]]
    if own:
        ax.errorbar([n["bits"] for n in own], [n["sse"] for n in own],
                    yerr=[n["sse_se"] for n in own], color="black", marker="o", lw=2,
                    capsize=3, label="NECST (m = " + ", ".join(str(n["m"]) for n in own) + ")",
                    zorder=5)
        for n in own:
            ep = f", {n['epochs']} ep" if n.get("epochs") else ""
            ax.annotate(f"m={n['m']}{ep}", (n["bits"], n["sse"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 5))
    ax.axhline(rd["fallback_sse"], color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.text(ax.get_xlim()[0] * 1.1, rd["fallback_sse"] * 1.06,
            "fallback: mean image (0 bits)", color="grey", fontsize=8)
    ax.set_xlabel(f"channel bits per image (mean) at ε = {rd['eps']:g}")
    ax.set_ylabel("distortion: mean per-image SSE")
    ax.set_title(_title(r, f"distortion vs channel bits, ε = {rd['eps']:g}"), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, out)


# --------------------------------------------------------------------------- cliff
def plot_cliff(result: Any, out: str | os.PathLike[str]) -> Path:
    """Distortion vs test ε for separation designed at one ε (the cliff) and NECST;
    below, the fraction of separation decodes that failed."""
    plt = _plt()
    r = _load(result)
    m = r["metrics"]
    eps = m["param"]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.0), dpi=120, sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1.2]})
    styles = ["-", "-.", ":"]
    k = 0
    for c in m["curves"]:
        if c["kind"] == "necst":
            ax.errorbar(eps, c["sse"], yerr=c["sse_se"], color="black", marker="o", lw=2,
                        capsize=3, label=f"{c['scheme']}: {c['m']} bits", zorder=5)
            continue
        col = f"C{1 + k}"
        ls = styles[k % len(styles)]
        lab = (f"{c['scheme']}: rate {c['rate']:.2f}, q = {c['quality']}, "
               f"{c['channel_bits_mean']:.0f} bits")
        ax.errorbar(eps, c["sse"], yerr=c["sse_se"], color=col, ls=ls, marker="s", capsize=3,
                    label=lab)
        if c.get("sse_no_detection"):
            ax.plot(eps, c["sse_no_detection"], color=col, ls="--", lw=0.9, alpha=0.6,
                    label="  same receiver without error detection (garbage pixels kept)",
                    zorder=1)
        ax.axvline(c["design_eps"], color=col, ls=":", lw=1)
        ax2.plot(eps, c["failure_rate"], color=col, ls=ls, marker="s", label="decode failures")
        ax2.plot(eps, c["block_error_rate"], color=col, ls=ls, marker="x", alpha=0.6,
                 label="LDPC block errors")
        k += 1
    ax.axhline(m["fallback_sse"], color="grey", ls="--", lw=1)
    ax.text(min(eps), m["fallback_sse"] * 1.06, "fallback: mean image", color="grey",
            fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("distortion: mean per-image SSE")
    ax.set_title(_title(r, "designed for one ε, tested at others"), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    h, lab = ax.get_legend_handles_labels()
    order = sorted(range(len(lab)), key=lambda i: (not lab[i].startswith("NECST"),
                                                   lab[i].startswith("  same"), i))
    ax.legend([h[i] for i in order], [lab[i] for i in order], fontsize=7, loc="upper left")
    ax2.set_xlabel("test ε (dotted vertical line: the ε the separation scheme was designed for)",
                   fontsize=8)
    ax2.set_ylabel("rate", fontsize=8)
    ax2.set_ylim(-0.05, 1.05)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, out)


_PLOTTERS = {"compare_budget": (plot_budget, ""), "compare_bits": (plot_bits, ""),
             "compare_cliff": (plot_cliff, "")}


def plot_all(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Draw every plot of every results file (PNG beside the JSON, same stem; the ``bits``
    file also gives ``<stem>_rd.png``)."""
    outs = []
    for p in paths:
        r = _load(p)
        fn = _PLOTTERS.get(r.get("task"))
        if fn is None:
            continue
        base = Path(p).with_suffix("")
        outs.append(fn[0](r, base.with_suffix(".png")))
        if r["task"] == "compare_bits":
            outs.append(plot_rd(r, Path(f"{base}_rd.png")))
    return outs


# --------------------------------------------------------------------------- summary tables
def _num(x: Any, fmt: str = "{:.0f}") -> str:
    return "—" if x is None else fmt.format(x)


def summary_markdown(paths: Sequence[str | os.PathLike[str]]) -> str:
    """Markdown tables from the results files: bits needed, fixed-budget distortion, the
    NECST code-length sweep and the cliff."""
    lines: list[str] = []
    for p in paths:
        r = _load(p)
        task, m = r.get("task"), r["metrics"]
        ch = _CH.get(r["channel"]["name"], r["channel"]["name"])
        head = f"**{r['dataset']}, {ch}** ({r['config'].get('n_images')} test images)"
        if task == "compare_bits":
            t = m["target"]
            pay = [c for c in m["needed"] if c["sent"] == "payload"]
            fil = [c for c in m["needed"] if c["sent"] == "file"]
            lines += [f"{head}: channel bits per image to reach NECST's distortion "
                      f"(NECST m = {t['m']}, trained at {t['trained_on']['channel'].upper()} "
                      f"{t['trained_on']['param']:g}). Header-known payload; whole file in "
                      "brackets. q = quality; * = the codec's cheapest point is already "
                      "below the target; — = not reached.", "",
                      "| ε | NECST bits (SSE) | " + " | ".join(c["scheme"] for c in pay) + " |",
                      "|---" * (2 + len(pay)) + "|"]
            for i, e in enumerate(m["param"]):
                cells = []
                for c in pay:
                    f = next((x for x in fil if x["source"] == c["source"]
                              and x["code"] == c["code"]), None)
                    cell = _num(c["bits"][i])
                    if c["bits"][i] is not None:
                        fr = c["failure_rate"][i] or 0.0
                        cell += ("*" if c["floor"][i] else "") + f" (q{c['quality'][i]}"
                        cell += f", SSE {c['sse'][i]:.1f}" + (f", fail {fr:.1%}" if fr else "")
                        cell += ")"
                    if f is not None:
                        cell += f" [{_num(f['bits'][i])}]"
                    cells.append(cell)
                lines.append(f"| {e:g} | {t['m']} ({t['sse'][i]:.2f}) | " + " | ".join(cells)
                             + " |")
            lines.append("")
            rd = m["rd"]
            if rd.get("needed_by_m"):
                names = list(rd["needed_by_m"][0]["schemes"])
                lines += [f"{head}, ε = {rd['eps']:g}: NECST code length vs the bits separation "
                          "needs for the same distortion (payload; time-sharing with the "
                          "fallback in brackets).", "",
                          "| NECST m | epochs | NECST SSE | " + " | ".join(names) + " |",
                          "|---" * (3 + len(names)) + "|"]
                for row in rd["needed_by_m"]:
                    ep = next((n["epochs"] for n in rd["necst"] if n["m"] == row["m"]), None)
                    cells = []
                    for nme in names:
                        s = row["schemes"][nme]
                        cell = _num(s["bits"]) + ("*" if s["floor"] else "")
                        if s["bits"] is not None:
                            cell += f" (q{s['quality']}) [{_num(s['bits_timeshare'])}]"
                        cells.append(cell)
                    lines.append(f"| {row['m']} | {_num(ep)} | {row['sse']:.2f} | "
                                 + " | ".join(cells) + " |")
                lines.append("")
        elif task == "compare_budget":
            for B in m["budgets"]:
                cs = [c for c in m["curves"] if c["budget"] == B]
                lines += [f"{head}: mean SSE at a fixed budget of {B} channel bits per image "
                          f"(cannot fit → the mean image, SSE {m['fallback_sse']:.1f}).", "",
                          "| ε | " + " | ".join(c["scheme"] for c in cs) + " |",
                          "|---" * (1 + len(cs)) + "|"]
                for i, e in enumerate(m["param"]):
                    cells = []
                    for c in cs:
                        cell = f"{c['sse'][i]:.2f}"
                        cf = c.get("cannot_fit_rate", [0] * len(m["param"]))[i] or 0.0
                        fr = c.get("failure_rate", [0] * len(m["param"]))[i] or 0.0
                        if cf >= 1:
                            cell = f"cannot fit ({cell})"
                        elif cf > 0:
                            cell += f" ({cf:.0%} cannot fit)"
                        if fr > 0:
                            cell += f" ({fr:.1%} failed)"
                        cells.append(cell)
                    lines.append(f"| {e:g} | " + " | ".join(cells) + " |")
                lines.append("")
        elif task == "compare_cliff":
            cs = m["curves"]

            def name(c: dict[str, Any]) -> str:
                if c["kind"] == "necst":
                    return f"{c['scheme']}, {c['m']} bits"
                return (f"{c['scheme']}, rate {c['rate']:.2f}, q{c['quality']}, "
                        f"{c['channel_bits_mean']:.0f} bits")

            lines += [f"{head}: the cliff — mean SSE (decode failures) vs test ε.", "",
                      "| test ε | " + " | ".join(name(c) for c in cs) + " |",
                      "|---" * (1 + len(cs)) + "|"]
            for i, e in enumerate(m["param"]):
                cells = []
                for c in cs:
                    cell = f"{c['sse'][i]:.2f}"
                    if c["kind"] != "necst":
                        cell += f" ({c['failure_rate'][i]:.1%})"
                    cells.append(cell)
                lines.append(f"| {e:g} | " + " | ".join(cells) + " |")
            lines.append("")
            if m.get("decoder_check"):
                lines += ["Decoder cross-check (the same received words decoded by both): "
                          "C++ sum-product vs Sionna boxplus-phi.", "",
                          "| design ε | test ε | SSE cpp | SSE sionna | failures cpp | "
                          "failures sionna | block errors cpp | block errors sionna |",
                          "|---|---|---|---|---|---|---|---|"]
                for d in m["decoder_check"]:
                    lines.append(
                        f"| {d['design_eps']:g} | {d['eps']:g} | {d['sse_cpp']:.2f} | "
                        f"{d['sse_sionna']:.2f} | {d['failure_rate_cpp']:.1%} | "
                        f"{d['failure_rate_sionna']:.1%} | {d['block_error_rate_cpp']:.2%} | "
                        f"{d['block_error_rate_sionna']:.2%} |")
                lines.append("")
        elif task == "compare_short":
            lines += short_markdown(r)
        elif task == "compare_matched":
            lines += matched_markdown(r)
    return "\n".join(lines)


# --------------------------------------------------------------------------- short codes
def plot_short(result: Any, out: str | os.PathLike[str]) -> Path:
    """Distortion vs channel bits per ε: each learned source through 5G LDPC (solid) and 5G
    polar (dashed) at every codeword length simulated, its capacity / finite-blocklength
    points at the error-free distortion, and NECST (★)."""
    plt = _plt()
    r = _load(result)
    m = r["metrics"]
    rows = m["learned"]
    fig, axes = plt.subplots(1, len(rows), figsize=(max(6.4, 4.6 * len(rows)), 4.4), dpi=120,
                             squeeze=False)
    for ax, row in zip(axes[0], rows, strict=True):
        for j, s in enumerate(row["sources"]):
            col = f"C{j % 10}"
            for kind, ls in (("ldpc", "-"), ("polar", "--")):
                pts = s[kind]["tried"]
                # over several seeds the lengths tried differ: one curve per seed
                curves = pts if pts and isinstance(pts[0], list) else [pts]
                for c, cur in enumerate(c for c in curves if c):
                    ax.plot([p["n"] for p in cur], [p["sse"] for p in cur], color=col, ls=ls,
                            marker=".", ms=4, lw=1, alpha=1.0 if len(curves) == 1 else 0.6,
                            label=f"m_s = {s['m']}" if kind == "ldpc" and c == 0 else None)
            ach = s.get("achievability")
            if ach:
                ax.plot([ach["bits"]], [ach.get("sse", s["sse_error_free"])], color=col,
                        marker="^", ms=6, ls="none")
        nec = row["necst"]
        ax.plot([nec["bits"]], [nec["sse"]], marker="*", color="black", ms=14, ls="none",
                label=f"NECST m = {nec['bits']}", zorder=6)
        ax.axhline(row["target_sse"], color="black", lw=0.8, ls=":")
        ax.axhline(m["fallback_sse"], color="grey", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("channel bits per image")
        ax.set_title(f"ε = {row['eps']:g}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("mean per-image SSE")
    axes[0][0].legend(fontsize=7, loc="upper right",
                      title="solid: 5G LDPC, dashed: polar SCL-8,\n▲: PPV achievability "
                      "(detect)", title_fontsize=7)
    fig.suptitle(_title(r, "learned source + one short codeword per image"), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out)


def plot_matched(result: Any, out: str | os.PathLike[str]) -> Path:
    """The matched cliff: per design ε, NECST trained there and learned separation designed
    there (same channel bits), distortion vs test ε."""
    plt = _plt()
    r = _load(result)
    m = r["metrics"]
    eps = m["param"]
    designs = [d for d in m["designs"] if "n" in d]
    fig, axes = plt.subplots(1, max(1, len(designs)),
                             figsize=(max(6.4, 4.6 * len(designs)), 4.4), dpi=120,
                             squeeze=False, sharey=True)
    for ax, d in zip(axes[0], designs, strict=False):
        k = 0
        for c in m["curves"]:
            if c["design_eps"] != d["design_eps"]:
                continue
            if c["kind"] == "necst":
                ax.errorbar(eps, c["sse"], yerr=c["sse_se"], color="black", marker="o", lw=2,
                            capsize=3, label=f"NECST m = {c['m']}", zorder=5)
                continue
            ls = "-" if c["code"] == "ldpc" else "--"
            ax.errorbar(eps, c["sse"], yerr=c["sse_se"], color=f"C{k}", ls=ls, marker="s",
                        ms=4, capsize=2, label=f"{c['code']} ({c['k']}, {c['channel_bits']}), "
                        f"BLER ≤ {c['target_bler']:g}")
            k += 1
        ax.axvline(d["design_eps"], color="grey", ls=":", lw=1)
        ax.axhline(m["fallback_sse"], color="grey", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("test ε")
        ax.set_title(f"designed for ε = {d['design_eps']:g}, {d['n']} channel bits", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper left")
    axes[0][0].set_ylabel("mean per-image SSE")
    fig.suptitle(_title(r, "matched designs: NECST vs learned separation"), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out)


_PLOTTERS.update({"compare_short": (plot_short, ""), "compare_matched": (plot_matched, "")})


def _pm(value: float, std: Any, fmt: str) -> str:
    """``value`` formatted, with ``± std`` when a σ over seeds is there."""
    text = fmt.format(value)
    return text + (" ± " + fmt.format(std) if isinstance(std, (int, float)) else "")


def _bits_cell(x: Any, std: Any = None) -> str:
    if not x or x.get("bits") is None:
        return "—"
    extra = f"m_s {x['source_m']:g}" if "source_m" in x else f"q{x.get('quality')}"
    sd = std.get("bits") if isinstance(std, dict) else None
    return f"{_pm(x['bits'], sd, '{:.0f}')} ({extra}{'*' if x.get('floor') else ''})"


#: column names of the short-code "bits needed" table
_SHORT_NAMES = {"learned+ideal": "learned+ideal ⌈m_s/C⌉",
                "learned+achievability": "learned+PPV achievability",
                "learned+converse": "learned+PPV converse", "learned+ldpc": "learned+5G LDPC",
                "learned+polar": "learned+5G polar", "jpeg+ideal": "JPEG+ideal",
                "jpeg+ldpc": "JPEG+5G LDPC (k = 400)", "webp+ideal": "WebP+ideal",
                "webp+ldpc": "WebP+5G LDPC (k = 400)"}


def short_markdown(r: dict[str, Any]) -> list[str]:
    """Tables of a ``compare_short`` result: bits for NECST's distortion, then per BLER."""
    m = r["metrics"]
    ch = _CH.get(r["channel"]["name"], r["channel"]["name"])
    head = f"**{r['dataset']}, {ch}** ({r['config'].get('n_images')} test images)"
    keys = [k for k in m["needed"][0] if "+" in k and not k.endswith("_at_necst_bits")]
    lines = [f"{head}: channel bits per image each scheme needs for NECST's distortion "
             "(learned = a noiseless-trained bit codec with m_s bits, one codeword per image; "
             "achievability / converse = finite-blocklength bounds with a detect-and-replace "
             "receiver; * = the codec's cheapest point is already below the target).", "",
             "| ε | NECST bits (SSE) | " + " | ".join(_SHORT_NAMES.get(k, k) for k in keys) + " |",
             "|---" * (2 + len(keys)) + "|"]
    stds = (r.get("metrics_std") or {}).get("needed") or [{} for _ in m["needed"]]
    if r.get("seeds"):
        lines[0] += f" Mean ± σ over seeds {', '.join(map(str, r['seeds']))}."
    for row, sd in zip(m["needed"], stds, strict=True):
        at = row.get("necst_trained_at")
        trained = f", trained at {at:g}" if at is not None else ""
        target = _pm(row["target_sse"], (sd or {}).get("target_sse"), "{:.2f}")
        lines.append(f"| {row['eps']:g} | {row['necst']} ({target}{trained}) | "
                     + " | ".join(_bits_cell(row.get(k), (sd or {}).get(k)) for k in keys)
                     + " |")
    lines += ["", f"{head}: distortion with NECST's number of channel bits.", "",
              "| ε | NECST | learned+LDPC (best m_s) | learned+polar (best m_s) |",
              "|---|---|---|---|"]
    for row, sd in zip(m["needed"], stds, strict=True):
        cells = [(f"{_pm(c['sse'], ((sd or {}).get(k) or {}).get('sse'), '{:.2f}')} "
                  f"(m_s {c['source_m']:g})" if c else "—")
                 for k in ("learned+ldpc_sse_at_necst_bits", "learned+polar_sse_at_necst_bits")
                 for c in (row.get(k),)]
        target = _pm(row["target_sse"], (sd or {}).get("target_sse"), "{:.2f}")
        lines.append(f"| {row['eps']:g} | {target} | " + " | ".join(cells) + " |")
    bounds = [b for b in ("achievability", "converse", "normal") if b in m["per_bler"][0]]
    lines += ["", f"{head}: codeword bits n for k information bits at a target block error "
              f"rate (5G codes: measured on {m['short_words']} random words).", "",
              "| ε | k | BLER | capacity | " + " | ".join(bounds) + " | 5G LDPC | 5G polar |",
              "|---" * (6 + len(bounds)) + "|"]
    for row in m["per_bler"]:
        lines.append(f"| {row['eps']:g} | {row['k']} | {row['target_bler']:g} | "
                     f"{row['capacity']} | " + " | ".join(str(row[b]) for b in bounds)
                     + f" | {_num(row['ldpc'])} | {_num(row['polar'])} |")
    return [*lines, ""]


def matched_markdown(r: dict[str, Any]) -> list[str]:
    """The matched-cliff table of a ``compare_matched`` result."""
    m = r["metrics"]
    ch = _CH.get(r["channel"]["name"], r["channel"]["name"])
    head = f"**{r['dataset']}, {ch}** ({r['config'].get('n_images')} test images)"
    lines: list[str] = []
    std_curves = (r.get("metrics_std") or {}).get("curves") or [{} for _ in m["curves"]]
    seeds = f", mean ± σ over seeds {', '.join(map(str, r['seeds']))}" if r.get("seeds") else ""
    for d in m["designs"]:
        if "n" not in d:
            lines += [f"{head}: design ε = {d['design_eps']:g}: {d['note']}", ""]
            continue
        pairs = [(c, s) for c, s in zip(m["curves"], std_curves, strict=True)
                 if c["design_eps"] == d["design_eps"]]
        cs = [c for c, _ in pairs]
        names = [f"NECST m={c['m']}" if c["kind"] == "necst" else
                 f"{c['code']} ({c['k']},{c['channel_bits']}) BLER≤{c['target_bler']:g}"
                 for c in cs]
        lines += [f"{head}: matched cliff, both designed for ε = {d['design_eps']:g} with "
                  f"{d['n']} channel bits per image — mean SSE vs test ε{seeds}.", "",
                  "| test ε | " + " | ".join(names) + " |", "|---" * (1 + len(cs)) + "|"]
        for i, e in enumerate(m["param"]):
            lines.append(f"| {e:g} | " + " | ".join(
                _pm(c["sse"][i], (s.get("sse") or [None] * len(m["param"]))[i], "{:.2f}")
                for c, s in pairs) + " |")
        lines.append("")
    return lines
