"""Short codes: learned source codes sent as one short codeword per image.

Two experiments on a :class:`~njscc.experiments.compare.comparison.Comparison` that was given
learned source codecs (``learned=``, noiseless-trained bit codecs with m_s code bits each):

* ``short`` (task ``compare_short``) —
  (1) *channel bits per target block error rate*: for every source length k = m_s (and the
  k of the LDPC blocks that carry JPEG/WebP streams), the
  shortest codeword n at which 5G LDPC and 5G polar (CRC-aided SCL) reach each target BLER on
  the channel at each ε (bisection over n on a measured BLER of ``short_words`` random words),
  beside the finite-blocklength achievability / converse / normal-approximation values of
  :mod:`channels.finite_blocklength` and the capacity count ⌈k / C⌉;
  (2) *channel bits for NECST's distortion*: per source and code, the fewest channel bits whose
  end-to-end distortion (code bits → code → channel → decoder → the source's decoder, every
  image simulated; residual bit errors go to the learned decoder) is ≤ NECST's at that ε, and
  the distortion at NECST's own number of channel bits; for the bounds, a receiver that detects
  a failed block and shows the fallback image: distortion (1 − p)·D_free + p·D_fallback, the
  fewest channel uses over block error p for which it is ≤ NECST's; and JPEG + LDPC / ideal
  from the ``bits`` search, so one table has every scheme.
* ``matched`` (task ``compare_matched``) — the cliff with both designs matched: for each design
  ε_d, NECST trained at ε_d (m bits) against learned separation with the *same* n = m channel
  bits, whose source length k is the largest with a measured BLER ≤ the target at ε_d, both
  evaluated at every test ε. Every curve records its ``design_eps``.

Every draw is seeded from ``(seed, experiment, scheme, k, n, ε)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["SHORT_CODES", "block_errors", "fewest", "n_range", "run_matched", "run_short",
           "short_code"]

#: channel codes sent as one codeword per image (k = the source's code bits)
SHORT_CODES = ("ldpc", "polar")
_LABEL = {"ldpc": "5G LDPC", "polar": "5G polar SCL-8"}


def short_code(kind: str, k: int, n: int, decoder: str = "cpp", iters: int = 20) -> Any:
    """The 5G code ``kind`` (``ldpc``: BP, ``decoder`` cpp = the ldpc package's C++ sum-product
    or sionna; ``polar``: CRC-aided SCL, list 8) with k information bits and n codeword bits,
    or ``None`` when (k, n) is not a 5G configuration."""
    from baselines import LDPC5G, Polar5G

    if kind not in SHORT_CODES:
        raise ValueError(f"kind: expected one of {', '.join(SHORT_CODES)}, got {kind!r}")
    try:
        if kind == "polar":
            return Polar5G(k, n)
        base = LDPC5G(k, n, num_iter=iters)
    except ValueError:
        return None
    if decoder == "sionna":
        return base
    from njscc.experiments.throughput.separation import CppBpCode

    return CppBpCode(base, max_iter=iters, bp_method="product_sum")


def n_range(kind: str, k: int, capacity: float) -> tuple[int, int]:
    """Codeword lengths searched: from the larger of ⌈k / C⌉ and the code's highest rate to
    5k (LDPC's lowest rate 1/5; polar also at most 1088 bits, the uplink's largest)."""
    lo = max(math.ceil(k / max(capacity, 1e-12)), k + 12 if kind == "polar" else
             math.ceil(k / 0.95))
    hi = min(5 * k, 1088) if kind == "polar" else 5 * k
    return lo, max(lo, hi)


def fewest(ok: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """The smallest n in [lo, hi] with ``ok(n)``, by bisection (``ok`` assumed monotone in n);
    ``None`` when ``ok(hi)`` fails."""
    from channels.finite_blocklength import first_true

    if lo > hi or not ok(hi):
        return None
    return first_true(ok, lo - 1, hi)


def block_errors(code: Any, bits: Tensor, channel: Any, generator: torch.Generator
                 ) -> tuple[Tensor, Tensor]:
    """``bits`` [N, k] through code → channel → decoder: (decoded bits [N, k], per-word block
    error [N] bool)."""
    with torch.no_grad():
        y = channel(code.encode(bits), generator)
        out = code.decode(channel.llr(y)).to(bits.dtype)
    return out, (out != bits).any(dim=1)


# --------------------------------------------------------------------------- shared pieces
class _Short:
    """Caches of one comparison's short-code simulations."""

    def __init__(self, cmp: Any) -> None:
        from njscc.experiments.compare.comparison import _gen

        if not cmp.learned:
            raise ValueError("short codes need learned source codecs (--learned-source RUN)")
        self.cmp, self.cfg, self._gen = cmp, cmp.cfg, _gen
        self._codes: dict[tuple[Any, ...], Any] = {}
        self._bler: dict[tuple[Any, ...], float] = {}
        self._e2e: dict[tuple[Any, ...], dict[str, float]] = {}
        self._bits: dict[int, Tensor] = {}
        self._free: dict[int, float] = {}

    def code(self, kind: str, k: int, n: int) -> Any:
        key = (kind, k, n)
        if key not in self._codes:
            self._codes[key] = short_code(kind, k, n, self.cfg.decoder, self.cfg.ldpc_iter)
        return self._codes[key]

    def bler(self, kind: str, k: int, n: int, eps: float) -> float:
        """Measured block error rate of (kind, k, n) at ε on ``short_words`` random words."""
        key = (kind, k, n, float(eps))
        if key not in self._bler:
            code = self.code(kind, k, n)
            if code is None:
                self._bler[key] = math.nan
            else:
                g = self._gen(self.cfg.seed, "short-bler", self.cmp.channel, kind, k, n, eps)
                words = torch.randint(0, 2, (self.cfg.short_words, k), generator=g).float()
                self._bler[key] = float(block_errors(code, words, self.cmp.channel_at(eps),
                                                     g)[1].double().mean())
        return self._bler[key]

    def source_bits(self, i: int) -> Tensor:
        """The code bits of learned source ``i`` for every image [N, m_s] (float 0/1)."""
        if i not in self._bits:
            with torch.no_grad():
                self._bits[i] = self.cmp.learned[i].model.compress(self.cmp.images).float()
            self._free[i] = float(self.per_image(i, self._bits[i]).mean())
        return self._bits[i]

    def per_image(self, i: int, bits: Tensor) -> Tensor:
        """Per-image SSE [N] (float64) of source ``i`` decoding ``bits`` [N, m_s]."""
        x = self.cmp.images
        with torch.no_grad():
            x_hat = self.cmp.learned[i].model.decompress(bits).reshape(x.shape)
        return ((x_hat - x) ** 2).flatten(1).sum(1).double()

    def free_sse(self, i: int) -> float:
        self.source_bits(i)
        return self._free[i]

    def end_to_end(self, i: int, kind: str, n: int, eps: float) -> dict[str, Any]:
        """Source ``i``'s bits through (kind, m_s, n) at ε, decoded by the source (residual bit
        errors included); also the detect-and-replace receiver's SSE."""
        m = int(self.cmp.learned[i].m)
        key = (i, kind, n, float(eps))
        if key not in self._e2e:
            code = self.code(kind, m, n)
            if code is None:
                self._e2e[key] = {"n": n, "sse": math.nan, "valid": False}
            else:
                bits = self.source_bits(i)
                g = self._gen(self.cfg.seed, "short-e2e", self.cmp.channel, kind, m, n, eps)
                dec, err = block_errors(code, bits, self.cmp.channel_at(eps), g)
                per = self.per_image(i, dec)
                detect = torch.where(err, self.cmp.fallback_sse, per)
                self._e2e[key] = {"n": n, "sse": float(per.mean()),
                                  "sse_se": float(per.std() / math.sqrt(per.numel())),
                                  "bler": float(err.double().mean()),
                                  "sse_detect": float(detect.mean()), "valid": True}
        return self._e2e[key]

    def tried(self, i: int, kind: str, eps: float) -> list[dict[str, Any]]:
        """Every end-to-end point simulated for (source ``i``, kind, ε), by n."""
        return sorted((v for (j, c, _, e), v in self._e2e.items()
                       if j == i and c == kind and e == float(eps) and v["valid"]),
                      key=lambda v: v["n"])

    def target(self, eps: float) -> tuple[float, Any]:
        """NECST's distortion at ε: the model (m = the reference's, this channel) trained at
        ε if there is one, else the reference model. → (SSE, model)."""
        cmp = self.cmp
        same = [n for n in cmp.necst if n.m == cmp.main.m and n.channel == cmp.channel
                and abs(n.train_eps - float(eps)) < 1e-12]
        nm = same[0] if same else cmp.main
        return float(cmp.necst_eval(nm, eps)["sse"]), nm


def _bound_bits(channel: str, eps: float, k: int, free: float, fallback: float, target: float,
                bound: str) -> dict[str, Any] | None:
    """Fewest channel uses over block error p with (1 − p)·free + p·fallback ≤ target, by the
    finite-blocklength ``bound`` (the detect-and-replace receiver). ``None`` if none."""
    from channels import finite_blocklength as fbl

    if free > target:
        return None
    p_max = 1.0 if fallback <= free else min(1.0, (fallback - target) / (fallback - free))
    best = None
    for p in np.geomspace(1e-6, 0.5, 40):
        if p > p_max:
            break
        n = fbl.min_blocklength(channel, eps, k, float(p), bound)
        if best is None or n < best["bits"]:
            best = {"bits": int(n), "pe": float(p), "sse": (1 - p) * free + p * fallback}
    return best


# --------------------------------------------------------------------------- experiments
def run_short(cmp: Any) -> dict[str, Any]:
    """The ``short`` experiment (see the module doc) → ``njscc.result/1`` (``compare_short``)."""
    from channels import finite_blocklength as fbl
    from njscc.experiments.compare.comparison import _f

    sh, cfg = _Short(cmp), cmp.cfg
    has_bounds = cmp.channel in ("bsc", "bec")
    fallback = float(cmp.fallback_sse.mean())
    # the learned sources' lengths, and the k of the LDPC blocks that carry JPEG/WebP streams
    lengths = sorted({int(n.m) for n in cmp.learned}
                     | ({int(cfg.ldpc_k)} if cfg.short_block_rows and cfg.sources
                        and "ldpc" in cmp.codes else set()))
    per_bler = []
    for e in cfg.short_eps:
        cap = cmp.channel_at(e).capacity
        for k in lengths:
            for pe in cfg.short_bler:
                row: dict[str, Any] = {"eps": float(e), "k": k, "target_bler": float(pe),
                                       "capacity": int(math.ceil(k / cap))}
                if has_bounds:
                    for b in ("achievability", "converse", "normal"):
                        row[b] = int(fbl.min_blocklength(cmp.channel, e, k, pe, b))
                for kind in SHORT_CODES:
                    lo, hi = n_range(kind, k, cap)
                    n = fewest(lambda n, kind=kind, k=k, e=e, pe=pe:
                               sh.bler(kind, k, n, e) <= pe, lo, hi)
                    row[kind] = n
                    row[f"{kind}_bler"] = sh.bler(kind, k, n, e) if n is not None else None
                per_bler.append(row)
            cmp.log(f"short codes: BLER targets for k = {k} at {cmp.channel} {e:g} done")

    learned_rows, needed = [], []
    for e in cfg.short_eps:
        target, nm = sh.target(e)
        cap = cmp.channel_at(e).capacity
        budget = int(nm.m)
        entry: dict[str, Any] = {"eps": float(e), "target_sse": target,
                                 "necst": {**nm.describe(), "bits": budget, "sse": target},
                                 "sources": []}
        for i, src in enumerate(cmp.learned):
            m = int(src.m)
            free = sh.free_sse(i)
            s: dict[str, Any] = {"m": m, "checkpoint": src.path, "sse_error_free": free,
                                 "ideal": int(math.ceil(m / cap)) if free <= target else None}
            if has_bounds:
                for b in ("achievability", "converse"):
                    s[b] = _bound_bits(cmp.channel, e, m, free, fallback, target, b)
            for kind in SHORT_CODES:
                lo, hi = n_range(kind, m, cap)
                n = (fewest(lambda n, i=i, kind=kind, e=e, t=target:
                            sh.end_to_end(i, kind, n, e)["sse"] <= t, lo, hi)
                     if free <= target else None)
                at_budget = sh.end_to_end(i, kind, budget, e) if lo <= budget <= hi else None
                s[kind] = {"bits": n, "at_target": sh.end_to_end(i, kind, n, e) if n else None,
                           "at_budget": at_budget if at_budget and at_budget["valid"] else None,
                           "tried": sh.tried(i, kind, e)}
            entry["sources"].append(s)
            cmp.log(f"short codes: source m = {m} at {cmp.channel} {e:g}: error-free SSE "
                    f"{free:.2f}, LDPC {s['ldpc']['bits']}, polar {s['polar']['bits']} "
                    f"channel bits for NECST's {target:.2f}")
        learned_rows.append(entry)
        needed.append(_needed_row(cmp, entry, e, target))
    metrics = {"param": list(map(float, cfg.short_eps)), "target_bler": list(cfg.short_bler),
               "short_words": cfg.short_words, "fallback_sse": _f(fallback),
               "per_bler": per_bler, "learned": learned_rows, "needed": needed}
    return cmp._result("compare_short", metrics)


def _needed_row(cmp: Any, entry: dict[str, Any], eps: float, target: float) -> dict[str, Any]:
    """One row of "channel bits each scheme needs for NECST's distortion" at ε."""
    def best(get: Callable[[dict[str, Any]], Any]) -> dict[str, Any] | None:
        hits = [(get(s), s["m"]) for s in entry["sources"] if get(s) is not None]
        return {"bits": min(hits)[0], "source_m": min(hits)[1]} if hits else None

    row: dict[str, Any] = {"eps": float(eps), "target_sse": target,
                           "necst": entry["necst"]["bits"],
                           "necst_trained_at": entry["necst"]["trained_on"]["param"],
                           "learned+ideal": best(lambda s: s["ideal"])}
    for b in ("achievability", "converse"):
        if entry["sources"] and b in entry["sources"][0]:
            row[f"learned+{b}"] = best(lambda s, b=b: (s[b] or {}).get("bits"))
    for kind in SHORT_CODES:
        row[f"learned+{kind}"] = best(lambda s, kind=kind: s[kind]["bits"])
        at_b = [(s[kind]["at_budget"]["sse"], s["m"]) for s in entry["sources"]
                if s[kind]["at_budget"]]
        row[f"learned+{kind}_sse_at_necst_bits"] = (
            {"sse": min(at_b)[0], "source_m": min(at_b)[1]} if at_b else None)
    for source in cmp.cfg.sources:
        for kind in ("ideal", "ldpc"):
            if kind in cmp.codes:
                r = cmp.bits_needed(source, "payload", kind, eps, target)
                row[f"{source}+{kind}"] = {"bits": r["bits"], "quality": r["quality"],
                                           "floor": r["floor"]}
    return row


def run_matched(cmp: Any) -> dict[str, Any]:
    """The ``matched`` experiment (see the module doc) → ``njscc.result/1``
    (``compare_matched``)."""
    sh, cfg = _Short(cmp), cmp.cfg
    curves: list[dict[str, Any]] = []
    designs = []
    for d in cfg.cliff_design_eps:
        mine = [n for n in cmp.necst if n.channel == cmp.channel and n.m == cmp.main.m
                and abs(n.train_eps - float(d)) < 1e-12]
        if not mine:
            designs.append({"design_eps": float(d), "note": f"no NECST m = {cmp.main.m} "
                            f"trained at {cmp.channel} {d:g}: design left out"})
            cmp.log(f"matched cliff: no NECST trained at {d:g}; left out")
            continue
        nm, n = mine[0], int(mine[0].m)
        rows = [cmp.necst_eval(nm, e) for e in cfg.cliff_eps]
        curves.append({"scheme": f"NECST (trained at {d:g})", "kind": "necst",
                       "design_eps": float(d), **nm.describe(), "channel_bits": n,
                       "sse": [r["sse"] for r in rows], "sse_se": [r["sse_se"] for r in rows]})
        design: dict[str, Any] = {"design_eps": float(d), "n": n, "separation": []}
        for kind in cfg.matched_codes:
            for pe in cfg.short_bler:
                ok = [(int(src.m), i) for i, src in enumerate(cmp.learned)
                      if sh.bler(kind, int(src.m), n, d) <= pe]
                if not ok:
                    design["separation"].append({"code": kind, "target_bler": pe,
                                                 "note": "no source length meets it"})
                    continue
                m, i = max(ok)
                pts = [sh.end_to_end(i, kind, n, e) for e in cfg.cliff_eps]
                curves.append({"scheme": f"learned m={m} + {_LABEL[kind]} ({m}, {n}) "
                                         f"(designed for {d:g}, BLER ≤ {pe:g})",
                               "kind": "separation", "design_eps": float(d), "code": kind,
                               "k": m, "channel_bits": n, "target_bler": float(pe),
                               "design_bler": sh.bler(kind, m, n, d),
                               "sse_error_free": sh.free_sse(i), "source": cmp.learned[i].path,
                               "sse": [p["sse"] for p in pts],
                               "sse_se": [p["sse_se"] for p in pts],
                               "sse_detect": [p["sse_detect"] for p in pts],
                               "block_error_rate": [p["bler"] for p in pts]})
                design["separation"].append({"code": kind, "target_bler": pe, "k": m})
        designs.append(design)
        cmp.log(f"matched cliff (designed for {d:g}, {n} channel bits): done")
    metrics = {"param": list(map(float, cfg.cliff_eps)), "designs": designs, "curves": curves,
               "fallback_sse": float(cmp.fallback_sse.mean())}
    return cmp._result("compare_matched", metrics)
