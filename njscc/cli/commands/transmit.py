"""``njscc transmit``: pass a bitstream's bits through a noisy channel, write the received stream.

The payload bits ``[N, m]`` go through ``channels.get(name, eps)`` with a seeded
``torch.Generator``; flipped bits are stored as such, erasures (BEC) in the stream's erasure
mask (``njscc decode`` feeds them to the decoder as ``ERASED = -1``). Bits already erased in
the input stay erased. The header (model id, m, N, shape) is kept.
"""

from __future__ import annotations

import argparse
from typing import Any

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run", "transmit_stream"]

HELP = "simulate a noisy channel on a bitstream (flips / erasures), write the received stream"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="bitstream file (.njs)")
    p.add_argument("-o", "--output", required=True, help="received bitstream to write")
    opt.add_channel(p, default="bsc", eps="", old_param=True,
                    eps_help="channel parameter (crossover/erasure probability, or Es/N0 in dB); "
                    "or give it as --channel NAME:PARAM")
    p.add_argument("--seed", type=opt.seed_value, default=None,
                   help="seed of the channel's torch.Generator (default: a random seed, printed)")


def transmit_stream(*args: Any, **kwargs: Any) -> tuple[bytes, dict[str, Any]]:
    """:func:`njscc.io.bitstream.transmit` (imported lazily so ``njscc --help`` stays fast)."""
    from njscc.io.bitstream import transmit

    return transmit(*args, **kwargs)


def run(args: argparse.Namespace) -> int:
    import secrets

    import torch

    import channels
    from njscc.cli.commands._io import check_output, named_errors, read_stream
    from njscc.io.results import atomic_write_bytes

    if args.eps is None:
        raise ValueError("--eps P (or --channel NAME:P) is required: the channel parameter")
    out = check_output(args.output, ("input", args.input))
    data = read_stream(args.input)
    channel = channels.get(args.channel, args.eps)
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    gen = torch.Generator().manual_seed(seed)
    with named_errors(args.input):
        new, st = transmit_stream(data, channel, gen)
    atomic_write_bytes(out, new)

    total = max(st["bits"], 1)
    extra = f" ({st['already_erased']} were already erased)" if st["already_erased"] else ""
    print(f"{args.channel}({args.eps:g}), seed {seed}: {st['flipped']} of {st['bits']} bits "
          f"flipped ({100 * st['flipped'] / total:.2f}%), {st['erased']} erased "
          f"({100 * st['erased'] / total:.2f}%){extra} → {out}")
    return 0
