"""Monte-Carlo BER/BLER of a channel code over a channel (like Sionna's ``sim_ber``).

:func:`simulate_code_ber` draws uniform info blocks, encodes, sends them through the channel,
decodes from the channel LLRs and counts errors batch by batch, stopping after ``min_block_errors``
block errors or ``max_bits`` info bits, whichever comes first.

Confidence intervals (95 %):

* BLER: exact Clopper–Pearson interval over blocks (blocks are independent).
* BER: bit errors inside one block are *not* independent (a decoder failure flips many bits
  at once), so bits are not treated as Bernoulli trials. With ≥ 10 block errors the interval
  is the cluster-robust normal one, blocks as units: ``BER ± 1.96 s / √N`` with ``s`` the
  standard deviation of the per-block error fraction. With fewer block errors it is
  ``[0, BLER upper bound]``, valid because BER ≤ BLER for every sample.

:func:`simulate_code` adapts ``njscc simulate --code …`` arguments to it.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch

from baselines.codes import ChannelCode

__all__ = ["clopper_pearson", "format_summary", "simulate_code", "simulate_code_ber"]

Z95 = 1.959963984540054


def clopper_pearson(errors: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for ``errors`` successes in ``trials``."""
    if trials <= 0:
        return (0.0, 1.0)
    from scipy.stats import beta

    a = 1.0 - level
    lo = 0.0 if errors == 0 else float(beta.ppf(a / 2, errors, trials - errors + 1))
    hi = 1.0 if errors == trials else float(beta.ppf(1 - a / 2, errors + 1, trials - errors))
    return (lo, hi)


def simulate_code_ber(code: ChannelCode, channel: Any, *, batch_size: int = 1000,
                      max_bits: int = 1_000_000, min_block_errors: int = 100,
                      min_bit_errors: int = 0, generator: torch.Generator | None = None,
                      progress: bool = False) -> dict[str, Any]:
    """Simulate ``code`` over ``channel`` until ``min_block_errors`` block errors or
    ``min_bit_errors`` bit errors (whichever comes first; 0 disables either) or ``max_bits``.

    Args:
        code: a :class:`~baselines.codes.ChannelCode` (not the ideal code, which is a bound).
        channel: a channel module (``forward(bits, generator)`` and ``llr``).
        batch_size: blocks per batch (the last batch is trimmed to stay within max_bits).
        max_bits: info bits to simulate at most (rounded up to whole blocks).
        min_block_errors: stop once this many block (codeword) errors are seen (0: no
            block-error stop).
        min_bit_errors: stop once this many information-bit errors are seen (0: no bit-error
            stop). With both 0 the simulation runs to ``max_bits``.
        generator: drives both the info bits and the channel noise; the info bits are drawn
            on its device.
        progress: show a tqdm bar on stderr.

    Returns a dict: ``ber``, ``ber_ci``, ``bler``, ``bler_ci`` (95 %, see module docstring),
    ``bit_errors``, ``block_errors``, ``bits``, ``blocks``, ``stopped``
    (``"min_block_errors"``, ``"min_bit_errors"`` or ``"max_bits"``), ``time_s``,
    ``blocks_per_s`` and the code's ``config``.
    """
    if code.ideal:
        raise ValueError("code: the ideal code is a bound (error-free by definition at "
                         "⌈k/C⌉ channel uses); there is nothing to simulate")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected ≥ 1, got {batch_size}")
    if max_bits < 1:
        raise ValueError(f"max_bits: expected ≥ 1, got {max_bits}")
    for name, v in (("min_block_errors", min_block_errors), ("min_bit_errors", min_bit_errors)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name}: expected an integer ≥ 0, got {v!r}")

    def why_stop() -> str | None:
        if min_block_errors and block_errors >= min_block_errors:
            return "min_block_errors"
        if min_bit_errors and bit_errors >= min_bit_errors:
            return "min_bit_errors"
        return None

    from tqdm.auto import tqdm

    device = generator.device if generator is not None else torch.device("cpu")
    k = code.k
    max_blocks = math.ceil(max_bits / k)
    blocks = bit_errors = block_errors = 0
    sum_f = sum_f2 = 0.0
    t0 = time.perf_counter()
    bar = tqdm(total=max_blocks * k, unit="bit", unit_scale=True, disable=not progress,
               file=sys.stderr, desc=f"{code.name} k={k} n={code.n}", leave=False)
    with torch.no_grad():
        while blocks < max_blocks:
            if why_stop():
                break
            bs = min(batch_size, max_blocks - blocks)
            u = torch.randint(0, 2, (bs, k), generator=generator, dtype=torch.uint8,
                              device=device)
            y = channel(code.encode(u), generator)
            u_hat = code.decode(channel.llr(y))
            err = (u_hat != u).sum(dim=1).double()
            blocks += bs
            bit_errors += int(err.sum())
            block_errors += int((err > 0).sum())
            f = err / k
            sum_f += float(f.sum())
            sum_f2 += float((f * f).sum())
            bar.update(bs * k)
            bar.set_postfix(ber=f"{bit_errors / (blocks * k):.2e}",
                            bler=f"{block_errors / blocks:.2e}", refresh=False)
    stopped = why_stop() or "max_bits"
    bar.close()
    elapsed = time.perf_counter() - t0
    bits = blocks * k
    ber = bit_errors / bits
    bler = block_errors / blocks
    bler_ci = clopper_pearson(block_errors, blocks)
    if block_errors >= 10:
        var = max(0.0, sum_f2 / blocks - ber * ber) * blocks / max(1, blocks - 1)
        half = Z95 * math.sqrt(var / blocks)
        ber_ci = (max(0.0, ber - half), min(1.0, ber + half))
    else:
        ber_ci = (0.0, bler_ci[1])
    return {
        "ber": ber, "ber_ci": list(ber_ci), "bler": bler, "bler_ci": list(bler_ci),
        "bit_errors": bit_errors, "block_errors": block_errors, "bits": bits,
        "blocks": blocks, "stopped": stopped, "time_s": elapsed,
        "blocks_per_s": blocks / elapsed if elapsed > 0 else math.inf,
        "code": code.config(),
    }


def format_summary(res: dict[str, Any], channel_name: str, param: float) -> str:
    """One human-readable line for a :func:`simulate_code_ber` result."""
    c = res["code"]
    lo, hi = res["ber_ci"]
    blo, bhi = res["bler_ci"]
    return (f"{c['name']} k={c['k']} n={c['n']} rate={c['rate']:.4f} over {channel_name}"
            f"({param:g}): BER {res['ber']:.3e} [{lo:.2e}, {hi:.2e}]  "
            f"BLER {res['bler']:.3e} [{blo:.2e}, {bhi:.2e}]  "
            f"({res['bit_errors']} bit / {res['block_errors']} block errors in {res['bits']} "
            f"info bits, {res['blocks']} blocks; stopped on {res['stopped']}; "
            f"{res['time_s']:.1f} s)")


def simulate_code(args: Any) -> int:
    """``njscc simulate --code …`` adapter (called by ``njscc/cli/commands/simulate.py``).

    Reads ``args.code`` (ldpc | pyldpc | repetition), ``rate`` (default 0.5), ``k`` (default
    400), ``channel``, ``eps`` (the channel parameter), ``channel_arg`` (``KEY=VALUE`` list,
    optional),
    ``max_bits`` (default 1e6 info bits), ``min_block_errors`` (default 100; 0: off),
    ``min_bit_errors`` (default 0: off),
    ``seed``, ``device``, ``batch`` (bits per chunk: ``batch // n`` codewords per batch,
    at most 1000), ``num_iter`` (optional) and ``json`` (results file, schema
    ``njscc.result/1``). Prints one summary line to stdout; returns 0.
    """
    import channels
    from baselines.codes import get_code

    if getattr(args, "sweep", None) is not None:
        raise ValueError("--sweep: not supported with --code; give --eps")
    if getattr(args, "eps", None) is None:
        raise ValueError("--eps: required with --code (the channel parameter)")
    name = str(args.code)
    rate = 0.5 if getattr(args, "rate", None) is None else float(args.rate)
    k = 400 if getattr(args, "k", None) is None else int(args.k)
    max_bits = 1_000_000 if getattr(args, "max_bits", None) is None else int(args.max_bits)
    mb = getattr(args, "min_block_errors", None)
    min_block_errors = 100 if mb is None else int(mb)
    min_bit_errors = int(getattr(args, "min_bit_errors", None) or 0)
    ch_kwargs: dict[str, Any] = {}
    for item in getattr(args, "channel_arg", None) or []:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--channel-arg: expected KEY=VALUE, got {item!r}")
        try:
            ch_kwargs[key.strip()] = float(value)
        except ValueError:
            ch_kwargs[key.strip()] = value.strip()
    device = torch.device(getattr(args, "device", None) or "cpu")
    ch = channels.get(args.channel, args.eps, **ch_kwargs)
    if hasattr(ch, "to"):
        ch = ch.to(device)
    kwargs: dict[str, Any] = {}
    if getattr(args, "num_iter", None) is not None and name.lower() != "repetition":
        kwargs["num_iter"] = int(args.num_iter)
    if name.lower() in ("ldpc", "ldpc5g", "5g") and device.type != "cpu":
        kwargs["device"] = str(device)
    code = get_code(name, rate, k, channel=ch, **kwargs)
    seed = getattr(args, "seed", None)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed) if seed is not None else 0)
    batch_bits = getattr(args, "batch", None)
    batch_size = 1000 if batch_bits is None else max(1, min(1000, int(batch_bits) // code.n))
    res = simulate_code_ber(code, ch, batch_size=batch_size, max_bits=max_bits,
                            min_block_errors=min_block_errors,
                            min_bit_errors=min_bit_errors, generator=gen,
                            progress=not getattr(args, "quiet", False) and sys.stderr.isatty())
    print(format_summary(res, str(args.channel), float(ch.param)))
    out = getattr(args, "json", None)
    if out:
        from njscc.io.results import make_result, write_result

        metrics = {key: v for key, v in res.items() if key != "code"}
        result = make_result("simulate_code", metrics,
                             channel={"name": str(args.channel), "param": float(ch.param)},
                             m=code.n, device=device,
                             config={"code": res["code"], "seed": seed, "max_bits": max_bits,
                                     "min_block_errors": min_block_errors,
                                     "min_bit_errors": min_bit_errors, "batch_size": batch_size,
                                     "channel_kwargs": ch_kwargs})
        print(f"wrote {write_result(out, result)}")
    return 0
