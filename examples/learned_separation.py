"""Learned separation with real short codes: how many channel bits does a noiseless-trained
bit codec (the source code) need, through 5G polar / 5G LDPC / the finite-blocklength bound /
the capacity bound, to match NECST's distortion at the same BSC?

For each source codec (m code bits) and each channel code it finds, by bisection over the
codeword length n, the fewest channel bits whose end-to-end test SSE (code bits → channel code
→ BSC(ε) → decoder → the source's decoder, every image simulated) is ≤ NECST's SSE at ε; it also
reports the SSE at exactly ``--budget`` channel bits. The PPV rows charge the fewest channel
uses at which a code with block error ≤ pe exists (``channels.finite_blocklength``), with the
error-free distortion; ideal = ⌈m / C⌉. Writes ``<out>/learned_separation.json``.

    python examples/learned_separation.py --data-dir DATA --necst runs/mnist_bsc0.1 \\
        --source runs/src_m32 --source runs/src_m48 --source runs/src_m64 --out runs/learned_sep
    python examples/learned_separation.py --summarize runs/sep_s0 runs/sep_s1 runs/sep_s2 \\
        --out runs/sep   # mean ± σ over seeds
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

import channels
from baselines import LDPC5G, Polar5G
from channels import finite_blocklength as fbl
from njscc import load_model
from njscc.data import load_dataset
from njscc.io.results import atomic_write_text


def sse(model, x: torch.Tensor, bits: torch.Tensor) -> float:
    with torch.no_grad():
        x_hat = model.decompress(bits.float()).reshape(x.shape)
    return float(((x_hat - x) ** 2).flatten(1).sum(1).mean())


def through(code, bits: torch.Tensor, eps: float, seed: int) -> tuple[torch.Tensor, float]:
    """Bits [N, m] through code + BSC(eps) + decoder: (decoded bits, block error rate)."""
    ch = channels.get("bsc", eps)
    y = ch(code.encode(bits), torch.Generator().manual_seed(seed))
    out = code.decode(ch.llr(y))
    return out, float((out != bits).any(dim=1).double().mean())


def search(make, name: str, m: int, bits: torch.Tensor, src, x: torch.Tensor, target: float,
           eps: float, seed: int, budget: int) -> dict:
    """Fewest codeword bits n with end-to-end SSE ≤ target (bisection; SSE falls with n)."""
    cap = channels.get("bsc", eps).capacity
    lo_n = max(m + 12 if name == "polar" else math.ceil(m / 0.95), math.ceil(m / cap))
    hi_n = min(5 * m, 1088) if name == "polar" else 5 * m
    cache: dict[int, dict[str, float]] = {}

    def at(n: int) -> dict[str, float]:
        if n not in cache:
            dec, bler = through(make(m, n), bits, eps, seed + n)
            cache[n] = {"n": n, "sse": sse(src, x, dec), "bler": bler}
        return cache[n]

    found = None
    if at(hi_n)["sse"] <= target:
        lo, hi = lo_n - 1, hi_n  # at(hi) meets the target
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if at(mid)["sse"] <= target:
                hi = mid
            else:
                lo = mid
        found = at(hi)
    at_budget = at(budget) if lo_n <= budget <= hi_n else None
    return {"bits": found["n"] if found else None, "at_target": found, "at_budget": at_budget,
            "tried": sorted(cache.values(), key=lambda r: r["n"])}


def summarize(folders: list[Path], out: Path) -> int:
    """Mean ± σ over runs (seeds) of NECST's SSE and each code's channel bits / SSE at budget."""
    import statistics as st

    runs = [json.loads((f / "learned_separation.json").read_text()) for f in folders]

    def ms(xs: list) -> dict:
        xs = [x for x in xs if x is not None]
        if not xs:
            return {"mean": None, "std": None, "n": 0}
        return {"mean": st.mean(xs), "std": st.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}

    summary = {"seeds": [r["seed"] for r in runs],
               "necst_sse": ms([r["necst"]["sse"] for r in runs]), "sources": []}
    for i, row in enumerate(runs[0]["sources"]):
        rows = [r["sources"][i] for r in runs]
        entry = {"m": row["m"], "sse_error_free": ms([x["sse_error_free"] for x in rows]),
                 "ideal_bits_for_m": row["ideal"]["channel_bits_for_m"]}
        for code in ("polar", "ldpc"):
            entry[code] = {
                "bits": ms([x[code]["bits"] for x in rows]),
                "reached": sum(x[code]["bits"] is not None for x in rows),
                "bler_at_target": ms([x[code]["at_target"]["bler"] for x in rows
                                      if x[code]["at_target"]]),
                "sse_at_budget": ms([x[code]["at_budget"]["sse"] for x in rows
                                     if x[code]["at_budget"]])}
        summary["sources"].append(entry)
        fmt = lambda d: "–" if d["mean"] is None else f"{d['mean']:.1f} ± {d['std']:.1f}"  # noqa: E731
        print(f"m={entry['m']}: error-free SSE {fmt(entry['sse_error_free'])}; bits for NECST's "
              f"SSE {fmt(summary['necst_sse'])}: polar {fmt(entry['polar']['bits'])} "
              f"({entry['polar']['reached']}/{len(rows)}), LDPC {fmt(entry['ldpc']['bits'])} "
              f"({entry['ldpc']['reached']}/{len(rows)}); SSE at the budget: polar "
              f"{fmt(entry['polar']['sse_at_budget'])}, LDPC {fmt(entry['ldpc']['sse_at_budget'])}")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    print(f"wrote {out / 'summary.json'}")
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--summarize":
        q = argparse.ArgumentParser(description="mean ± σ over runs of this script")
        q.add_argument("--summarize", type=Path, nargs="+", required=True)
        q.add_argument("--out", type=Path, required=True)
        b = q.parse_args()
        return summarize(b.summarize, b.out)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--necst", required=True, help="NECST run trained over the BSC")
    p.add_argument("--source", action="append", required=True, help="noiseless bit codec run")
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--budget", type=int, default=100, help="channel bits of the fixed budget")
    p.add_argument("--n-images", type=int, default=2000)
    p.add_argument("--pe", type=float, nargs="+", default=[1e-2, 1e-3])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/learned_sep"))
    a = p.parse_args()

    x = load_dataset("mnist", "test", data_dir=a.data_dir).images[: a.n_images]
    ch = channels.get("bsc", a.eps)
    necst = load_model(a.necst).eval()
    with torch.no_grad():
        y = ch(necst.compress(x), torch.Generator().manual_seed(a.seed))
    target = sse(necst, x, y)
    print(f"NECST m={necst.latent.size} at BSC {a.eps}: SSE {target:.2f} "
          f"({necst.latent.size} channel bits)")
    rows = []
    for path in a.source:
        src = load_model(path).eval()
        m = int(src.latent.size)
        with torch.no_grad():
            bits = src.compress(x)
        free = sse(src, x, bits)
        ok = free <= target  # error-free delivery reaches NECST's distortion at all?
        ideal_n = math.ceil(m / ch.capacity)
        row = {"source": str(path), "m": m, "sse_error_free": free, "reaches_target": ok,
               "ideal": {"channel_bits_for_m": ideal_n, "bits": ideal_n if ok else None,
                         "fits_budget": ideal_n <= a.budget},
               "ppv": {}}
        for pe in a.pe:
            n_a = fbl.min_blocklength("bsc", a.eps, m, pe, "achievability")
            n_c = fbl.min_blocklength("bsc", a.eps, m, pe, "converse")
            row["ppv"][f"{pe:g}"] = {"channel_bits_for_m": n_a, "converse": n_c,
                                     "bits": n_a if ok else None,
                                     "fits_budget": n_a <= a.budget}
        for name, make in (("polar", Polar5G), ("ldpc", LDPC5G)):
            row[name] = search(make, name, m, bits, src, x, target, a.eps, a.seed, a.budget)
        rows.append(row)
        print(f"source m={m}: error-free SSE {free:.2f}; channel bits to carry its {m} bits: "
              f"ideal {ideal_n}, "
              + ", ".join(f"PPV(pe={k}) {v['channel_bits_for_m']} (converse {v['converse']})"
                          for k, v in row["ppv"].items())
              + f"; for SSE ≤ {target:.2f}: "
              + ("error-free delivery already misses it" if not ok else "as above")
              + f", polar {row['polar']['bits']}, LDPC {row['ldpc']['bits']}; at {a.budget} "
              f"bits: polar SSE "
              + (f"{row['polar']['at_budget']['sse']:.2f}" if row["polar"]["at_budget"] else "–")
              + ", LDPC SSE "
              + (f"{row['ldpc']['at_budget']['sse']:.2f}" if row["ldpc"]["at_budget"] else "–"),
              flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    result = {"eps": a.eps, "n_images": int(x.shape[0]), "budget": a.budget,
              "necst": {"run": a.necst, "m": int(necst.latent.size), "sse": target},
              "sources": rows, "seed": a.seed}
    atomic_write_text(a.out / "learned_separation.json", json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out / 'learned_separation.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
