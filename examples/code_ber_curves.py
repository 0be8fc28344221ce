"""BER/BLER of channel codes vs channel noise, from Python (what `njscc simulate --code` does
for one point), written as an `njscc.result/1` JSON and a log-scale PNG.

    python examples/code_ber_curves.py --eps 0.02,0.04,0.06,0.08,0.1 --max-bits 200000 \\
        --out runs/ber_curves

Codes (rate 1/2, k = 400 info bits): 5G LDPC (Sionna BP, 20 iterations) and, for reference, a
rate-1/3 repetition code; the BSC capacity 1 − H(ε) is 1/2 at ε ≈ 0.11.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import channels
from baselines.codes import get_code
from baselines.simulate import simulate_code_ber
from njscc.io.results import make_result, save_figure, write_result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--eps", default="0.02,0.04,0.06,0.08,0.1", help="BSC crossover probabilities")
    p.add_argument("--codes", default="ldpc:0.5,repetition:0.34", help="name:rate,...")
    p.add_argument("--k", type=int, default=400, help="info bits per block")
    p.add_argument("--max-bits", type=int, default=200_000, help="info bits per point at most")
    p.add_argument("--min-block-errors", type=int, default=100,
                   help="stop after this many block errors (0: run to --max-bits)")
    p.add_argument("--out", default="runs/ber_curves", help="output folder")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    eps = [float(e) for e in args.eps.split(",")]
    curves = []
    for item in args.codes.split(","):
        name, rate = item.split(":")
        code = get_code(name, float(rate), args.k)
        rows = []
        for e in eps:
            gen = torch.Generator().manual_seed(args.seed)   # same seed per point: repeatable
            r = simulate_code_ber(code, channels.get("bsc", e), max_bits=args.max_bits,
                                  min_block_errors=args.min_block_errors, generator=gen,
                                  progress=True)
            rows.append(r)
            print(f"{name} (k={code.k}, n={code.n}) bsc({e:g}): BER {r['ber']:.3e} "
                  f"BLER {r['bler']:.3e} [{r['bler_ci'][0]:.2e}, {r['bler_ci'][1]:.2e}] "
                  f"({r['blocks']} blocks, stopped on {r['stopped']})")
        curves.append({"code": name, "k": code.k, "n": code.n, "config": code.config(),
                       **{key: [r[key] for r in rows]
                          for key in ("ber", "ber_ci", "bler", "bler_ci", "bits", "blocks")}})

    out = Path(args.out)
    result = make_result("code_ber_curves", {"param": eps, "curves": curves},
                         dataset="random bits", channel={"name": "bsc", "param": eps},
                         config={"args": vars(args)})
    path = write_result(out / "ber_curves.json", result)
    plot(path, out / "ber_curves.png")
    print(f"wrote {path} and {out / 'ber_curves.png'}")


def plot(json_path: Path, png: Path) -> None:
    """Draw BLER (solid) and BER (dashed) vs ε from the results file; zeros are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from njscc.io.results import load_result

    res = load_result(json_path)
    eps = res["metrics"]["param"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for c in res["metrics"]["curves"]:
        for key, style in (("bler", "-o"), ("ber", "--s")):
            pts = [(e, v) for e, v in zip(eps, c[key], strict=True) if v > 0]
            if pts:
                ax.semilogy(*zip(*pts, strict=True), style, ms=4,
                            label=f"{c['code']} ({c['k']}, {c['n']}) {key.upper()}")
    ax.set_xlabel("BSC crossover probability ε")
    ax.set_ylabel("error rate")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, png, dpi=110)


if __name__ == "__main__":
    main()
