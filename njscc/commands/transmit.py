"""``njscc transmit``: pass a bitstream's bits through a noisy channel, write the received stream.

The payload bits ``[N, m]`` go through ``channels.get(name, param)`` with a seeded
``torch.Generator``; flipped bits are stored as such, erasures (BEC) in the stream's erasure
mask (``njscc decode`` feeds them to the decoder as ``ERASED = -1``). Bits already erased in
the input stay erased. The header (model id, m, N, shape) is kept.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from channels.base import BinaryChannel

__all__ = ["HELP", "add_arguments", "run", "transmit_stream"]

HELP = "simulate a noisy channel on a bitstream (flips / erasures), write the received stream"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="bitstream file (.njs)")
    p.add_argument("-o", "--output", required=True, help="received bitstream to write")
    p.add_argument("--channel", required=True,
                   help="channel: bsc, bec, z, awgn (hard decisions), ge")
    p.add_argument("--param", type=float, required=True,
                   help="channel parameter (crossover/erasure probability, or Es/N0 in dB)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the channel's torch.Generator (None: a random seed, printed)")


def transmit_stream(data: bytes, channel: BinaryChannel,
                    generator: torch.Generator | None = None) -> tuple[bytes, dict[str, Any]]:
    """Send a stream's bits through ``channel``. Returns ``(new_bytes, stats)``.

    ``stats``: ``{"bits", "flipped", "erased", "already_erased"}`` counted over the positions
    that were not erased in the input.
    """
    import torch

    from channels.base import ERASED
    from njscc.bitstream import BitstreamError, pack_bits, unpack

    stream = unpack(data)
    bits = stream.bits.to(torch.float32)
    old = stream.erased if stream.erased is not None else torch.zeros_like(bits, dtype=torch.bool)
    with torch.no_grad():
        y = channel(bits, generator=generator)
    if tuple(y.shape) != tuple(bits.shape):
        raise ValueError(f"channel returned shape {list(y.shape)} for bits "
                         f"{list(bits.shape)}")
    y = y.to(torch.float32)
    hard = (y == 0) | (y == 1) | (y == ERASED)
    if not bool(hard.all()):
        raise ValueError(f"channel {getattr(channel, 'name', channel)!r} has real-valued "
                         "(soft) outputs; a bitstream stores only bits and erasures: use a "
                         "hard-decision channel")
    new_erased = (y == ERASED) & ~old
    flipped = (y != bits) & (y != ERASED) & ~old
    erased = old | (y == ERASED)
    received = torch.where(erased, torch.zeros_like(bits), y).to(torch.uint8)
    can_erase = ERASED in tuple(getattr(channel, "alphabet", ()))
    mask = erased if (stream.has_erasures or can_erase or bool(erased.any())) else None
    try:
        out = pack_bits(received, mask, model_id=stream.model_id, data_shape=stream.data_shape)
    except ValueError as e:  # pragma: no cover - would be a bug above
        raise BitstreamError(f"cannot repack the received bits: {e}") from None
    stats = {"bits": int((~old).sum()), "flipped": int(flipped.sum()),
             "erased": int(new_erased.sum()), "already_erased": int(old.sum())}
    return out, stats


def run(args: argparse.Namespace) -> int:
    import secrets

    import torch

    import channels
    from njscc.commands._io import check_output, named_errors, read_stream
    from njscc.results import atomic_write_bytes

    out = check_output(args.output, ("input", args.input))
    data = read_stream(args.input)
    channel = channels.get(args.channel, args.param)
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    gen = torch.Generator().manual_seed(seed)
    with named_errors(args.input):
        new, st = transmit_stream(data, channel, gen)
    atomic_write_bytes(out, new)

    total = max(st["bits"], 1)
    extra = f" ({st['already_erased']} were already erased)" if st["already_erased"] else ""
    print(f"{args.channel}({args.param:g}), seed {seed}: {st['flipped']} of {st['bits']} bits "
          f"flipped ({100 * st['flipped'] / total:.2f}%), {st['erased']} erased "
          f"({100 * st['erased'] / total:.2f}%){extra} → {out}")
    return 0
