"""``njscc simulate``: Monte-Carlo error rates of a channel (or, with ``--code``, a coded link).

Channel mode::

    njscc simulate --channel bsc --eps 0.1 --bits 1e7 [--seed 0] [--batch 1e6] [--json out.json]
    njscc simulate --channel bec --sweep 0:0.5:0.05 [--out runs/simulate]

prints the empirical error rate (and erasure rate) with a 95 % confidence interval, the closed
form and the capacity; a sweep writes ``<out>/<channel>.json`` (schema ``njscc.result/1``,
metrics hold one list entry per parameter) and a plot ``<out>/<channel>.png`` made from that
file. Code mode (``--code NAME``) is delegated to ``baselines.simulate.simulate_code(args)``.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from pathlib import Path
from typing import Any

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "capacity_label", "parse_sweep", "plot_sweep", "run"]

HELP = "simulate a channel's error/erasure rate with confidence intervals (or a coded link)"

_MAX_SWEEP_POINTS = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("channel")
    opt.add_channel(g, default="bsc", eps="", old_param=True,
                    eps_help="channel parameter: eps for bsc/bec/z, Es/N0 [dB] for awgn, mean "
                    "error rate for ge (or --channel NAME:PARAM)")
    g.add_argument("--channel-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra channel keyword, repeatable (e.g. output=soft for awgn; p_bg=0.2, "
                        "eps_good=0, eps_bad=0.5 for ge)")
    g.add_argument("--sweep", default=None, metavar="START:STOP:STEP",
                   help="sweep the parameter (stop included when it lies on the grid); writes "
                        "JSON + PNG to --out; negative start: --sweep=-2:6:1")
    s = p.add_argument_group("simulation")
    s.add_argument("--bits", type=opt.count, default=10_000_000,
                   help="bits per parameter value")
    s.add_argument("--batch", type=opt.int_range(1, 1 << 26), default=1_000_000,
                   help="bits per chunk (bounds the memory)")
    opt.add_seed(s)
    opt.add_device(s)
    opt.add_threads(s)
    opt.add_quiet(s)
    s.add_argument("--json", default=None, metavar="PATH",
                   help="write the single-parameter result (njscc.result/1) here")
    s.add_argument("--out", default="runs/simulate", metavar="DIR",
                   help="output folder of a sweep")
    c = p.add_argument_group("code mode (separation baselines)")
    c.add_argument("--code", default=None, metavar="NAME",
                   help="simulate a channel code over the channel (needs baselines.simulate)")
    c.add_argument("--rate", type=opt.float_range(0, 1, lo_open=True), default=None,
                   help="code rate k/n")
    c.add_argument("--k", type=opt.int_range(1, 1 << 20), default=None,
                   help="information bits per codeword")
    c.add_argument("--max-bits", type=opt.count, default=None,
                   help="stop after this many information bits")
    c.add_argument("--min-block-errors", type=opt.nonneg_int, default=None,
                   help="stop after this many block (codeword) errors; 0: no block-error stop "
                        "(default 100)")
    c.add_argument("--min-bit-errors", type=opt.nonneg_int, default=None,
                   help="stop after this many information-bit errors; 0: no bit-error stop "
                        "(default 0); with both, the first reached stops")
    c.add_argument("--min-errors", type=opt.nonneg_int, dest="min_block_errors",
                   action=opt.Deprecated, new="--min-block-errors",
                   note="it always counted block errors")


def parse_sweep(text: str) -> list[float]:
    """``"start:stop:step"`` → the grid ``start + i·step`` up to ``stop`` (inclusive when it
    lands on the grid, within 1e-9 steps); values rounded to 12 decimals."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"--sweep: expected START:STOP:STEP, got {text!r}")
    try:
        start, stop, step = (float(x) for x in parts)
    except ValueError:
        raise ValueError(f"--sweep: expected three numbers START:STOP:STEP, got {text!r}") from None
    if not all(math.isfinite(x) for x in (start, stop, step)):
        raise ValueError(f"--sweep: expected finite numbers, got {text!r}")
    if step <= 0:
        raise ValueError(f"--sweep: expected STEP > 0, got {step!r}")
    if stop < start:
        raise ValueError(f"--sweep: expected STOP >= START, got {start!r}:{stop!r}")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > _MAX_SWEEP_POINTS:
        raise ValueError(f"--sweep: at most {_MAX_SWEEP_POINTS} points, got {count}")
    return [round(start + i * step, 12) for i in range(count)]


def _channel_kwargs(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--channel-arg: expected KEY=VALUE, got {item!r}")
        value = value.strip()
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value
    return out


def capacity_label(channel: Any) -> str:
    """What ``channel.capacity`` is, in words (for printouts and plots)."""
    if channel.name == "awgn":
        return ("hard-decision capacity 1-H(Q)" if channel.output == "hard"
                else "BI-AWGN (soft-output) capacity")
    if channel.name == "ge":
        return "interleaved capacity 1-H(mean eps)"
    return "capacity"


def _fmt_rate(x: float) -> str:
    return f"{x:.6g}"


def _print_single(name: str, param: float, res: dict[str, Any], param_doc: str,
                  cap_label: str) -> None:
    conf = int(round(res["confidence"] * 100))
    lo, hi = res["error_ci"]
    print(f"channel     {name} ({param_doc} = {param:g})")
    print(f"bits        {res['bits']:,} in {res['seconds']:.2f} s "
          f"({res['bits_per_s'] / 1e6:.1f} Mbit/s)")
    print(f"errors      {res['errors']:,}")
    print(f"error rate  {_fmt_rate(res['error_rate'])}   {conf}% CI [{_fmt_rate(lo)}, "
          f"{_fmt_rate(hi)}] ({res['ci_method']})   "
          f"expected {_fmt_rate(res['expected_error_rate'])}")
    if res["expected_erasure_rate"] > 0 or res["erasures"] > 0:
        lo, hi = res["erasure_ci"]
        print(f"erasures    {res['erasures']:,}")
        print(f"erasure rate {_fmt_rate(res['erasure_rate'])}  {conf}% CI [{_fmt_rate(lo)}, "
              f"{_fmt_rate(hi)}] ({res['ci_method']})   expected "
              f"{_fmt_rate(res['expected_erasure_rate'])}")
    note = "" if cap_label == "capacity" else f" ({cap_label})"
    print(f"capacity    {res['capacity']:.6f} bits/use{note}")


def plot_sweep(result: dict[str, Any], path: str | Path) -> Path:
    """PNG of error rate (with CI) and capacity vs the parameter, from a sweep result dict
    (as loaded from its JSON file)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from njscc.io.results import save_figure

    m = result["metrics"]
    x = m["param"]
    name = result["channel"]["name"]
    xlabel = result["config"].get("param_doc", "parameter")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    series = [("error rate", "error_rate", "error_ci", "expected_error_rate", "C0")]
    if any(v > 0 for v in m["expected_erasure_rate"]):
        series.append(("erasure rate", "erasure_rate", "erasure_ci", "expected_erasure_rate",
                       "C1"))
    positive = []
    for label, key, ci_key, exp_key, color in series:
        y = m[key]
        lo = [max(0.0, v - c[0]) for v, c in zip(y, m[ci_key], strict=True)]
        hi = [max(0.0, c[1] - v) for v, c in zip(y, m[ci_key], strict=True)]
        ax1.errorbar(x, y, yerr=[lo, hi], fmt="o", ms=3, capsize=2, color=color,
                     label=f"{label} (simulated, {int(result['metrics']['confidence'] * 100)}% CI)")
        ax1.plot(x, m[exp_key], "--", color=color, lw=1, label=f"{label} (closed form)")
        positive += [v for v in y if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax1.set_yscale("log")
    ax1.set_xlabel(xlabel)
    ax1.set_ylabel("rate per bit")
    ax1.set_title(f"{name}: {result['metrics']['bits_per_point']:,} bits per point")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.plot(x, m["capacity"], "-o", ms=3, color="C2")
    ax2.set_xlabel(xlabel)
    ax2.set_ylabel("bits/use")
    ax2.set_ylim(0, 1.02)
    ax2.set_title(f"{name}: {result['config'].get('capacity_label', 'capacity')}")
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def _run_code(args: argparse.Namespace) -> int:
    try:
        mod = importlib.import_module("baselines.simulate")
    except ModuleNotFoundError as e:
        if e.name not in ("baselines", "baselines.simulate"):
            raise
        raise ValueError("--code needs the baselines package's simulate module "
                         "(baselines/simulate.py), which is not available in this "
                         "install") from None
    return int(mod.simulate_code(args) or 0)


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._io import check_writable

    if args.json:  # refuse an unwritable output before the simulation, not after it
        check_writable(args.json, folder=False)
    if args.code is not None:
        return _run_code(args)

    import torch
    from tqdm import tqdm

    import channels
    from channels.montecarlo import simulate_channel
    from channels.registry import PARAM_DOC
    from njscc.io.results import load_result, make_result, write_result

    name = str(args.channel).lower()
    if name not in channels.available():
        raise ValueError(f"--channel: expected one of {', '.join(channels.available())}, got "
                         f"{args.channel!r}")
    kwargs = _channel_kwargs(args.channel_arg)
    if args.sweep is not None and args.eps is not None:
        raise ValueError("--eps and --sweep: give one, not both")
    if args.sweep is None and args.eps is None:
        raise ValueError(f"--eps: required (the {PARAM_DOC[name]}), or give --sweep")
    for flag in ("rate", "k", "max_bits", "min_block_errors", "min_bit_errors"):
        if getattr(args, flag) is not None:
            raise ValueError(f"--{flag.replace('_', '-')}: only used with --code")
    if args.sweep is not None and args.json:
        raise ValueError("--json: only for a single --eps; a sweep writes its JSON to --out")
    if args.sweep is not None:
        check_writable(args.out, folder=True)
    device = torch.device(args.device)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    config = {"bits": args.bits, "batch": args.batch, "seed": args.seed,
              "device": str(device), "channel_kwargs": kwargs, "param_doc": PARAM_DOC[name]}

    if args.sweep is None:
        ch = channels.get(name, args.eps, **kwargs)
        with tqdm(total=args.bits, unit="bit", unit_scale=True, desc=f"{name} {args.eps:g}",
                  leave=False, disable=args.quiet or not sys.stderr.isatty()) as bar:
            res = simulate_channel(ch, args.bits, batch=args.batch, generator=generator,
                                   device=device, progress=bar.update)
        config["capacity_label"] = capacity_label(ch)
        _print_single(name, ch.param, res, PARAM_DOC[name], config["capacity_label"])
        if args.json:
            result = make_result("simulate", res, channel={"name": name, "param": ch.param},
                                 config=config, device=device)
            print(f"wrote {write_result(args.json, result)}")
        return 0

    values = parse_sweep(args.sweep)
    chans = [channels.get(name, v, **kwargs) for v in values]  # validate all before running
    keys = ("bits", "errors", "error_rate", "error_ci", "erasures", "erasure_rate", "erasure_ci",
            "expected_error_rate", "expected_erasure_rate", "capacity", "seconds")
    metrics: dict[str, Any] = {"param": [ch.param for ch in chans], **{k: [] for k in keys}}
    ci_method = "wilson"
    with tqdm(total=args.bits * len(values), unit="bit", unit_scale=True, desc=f"{name} sweep",
              leave=False, disable=args.quiet or not sys.stderr.isatty()) as bar:
        for ch in chans:
            res = simulate_channel(ch, args.bits, batch=args.batch, generator=generator,
                                   device=device, progress=bar.update)
            for k in keys:
                metrics[k].append(res[k])
            ci_method = res["ci_method"]
    metrics.update({"bits_per_point": args.bits, "ci_method": ci_method, "confidence": 0.95})
    config["sweep"] = args.sweep
    config["capacity_label"] = capacity_label(chans[0])
    out = Path(args.out)
    result = make_result("simulate", metrics,
                         channel={"name": name, "param": None, "sweep": args.sweep},
                         config=config, device=device)
    json_path = write_result(out / f"{name}.json", result)
    png_path = plot_sweep(load_result(json_path), out / f"{name}.png")
    erasing = any(metrics["expected_erasure_rate"])
    head = f"{'param':>10} {'error rate':>11} {'95% CI':>25} {'expected':>10}"
    if erasing:
        head += f" {'erasures':>10} {'95% CI':>25} {'expected':>10}"
    print(head + f" {'capacity':>9}")
    for i, v in enumerate(metrics["param"]):
        lo, hi = metrics["error_ci"][i]
        line = (f"{v:>10.6g} {metrics['error_rate'][i]:>11.5g} [{lo:>11.5g}, {hi:>11.5g}] "
                f"{metrics['expected_error_rate'][i]:>10.5g}")
        if erasing:
            lo, hi = metrics["erasure_ci"][i]
            line += (f" {metrics['erasure_rate'][i]:>10.5g} [{lo:>11.5g}, {hi:>11.5g}] "
                     f"{metrics['expected_erasure_rate'][i]:>10.5g}")
        print(line + f" {metrics['capacity'][i]:>9.6f}")
    print(f"wrote {json_path}")
    print(f"wrote {png_path}")
    return 0
