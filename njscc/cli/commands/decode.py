"""``njscc decode``: bitstream (``.njs``) → images (PNG or NPZ) with the model that made it."""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "decode an njscc bitstream to images (PNG: one image or a grid; NPZ: all images)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="bitstream file (from `njscc encode` or `njscc transmit`)")
    p.add_argument("-o", "--output", required=True,
                   help="out.png (one image, or a grid when N > 1) or out.npz (all images, "
                   "'images' float32 [N, C, H, W] in [0, 1])")
    opt.add_checkpoint(p, old=("--model",), help="the model that encoded the stream")
    p.add_argument("--batch-size", type=opt.BATCH, default=4096,
                   help="codewords per forward pass")
    opt.add_device(p)
    opt.add_threads(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from njscc.cli.commands._io import check_output, load_codec, named_errors, read_stream
    from njscc.io.bitstream import decode, unpack
    from njscc.io.images import WRITE_SUFFIXES, write_images

    out = check_output(args.output, ("input", args.input), ("--checkpoint", args.checkpoint))
    if out.suffix.lower() not in WRITE_SUFFIXES:
        raise ValueError(f"-o {out}: unsupported output type {out.suffix or '(no suffix)'!r}; "
                         f"expected {' or '.join(WRITE_SUFFIXES)}")
    with named_errors(args.input):
        stream = unpack(read_stream(args.input))
    if stream.n == 0:
        raise ValueError(f"{Path(args.input)}: the bitstream holds no images")
    model = load_codec(args.checkpoint, args.device)
    with named_errors(args.input):
        images = decode(model, stream, batch_size=args.batch_size)
    info = write_images(out, images)

    erased = int(stream.erased.sum()) if stream.erased is not None else 0
    what = (f"a {info['grid'][0]}×{info['grid'][1]} grid" if info["grid"]
            else ("1 image" if stream.n == 1 else f"{stream.n} images"))
    note = f", {erased} erased bits fed as ERASED (-1)" if stream.has_erasures else ""
    print(f"decoded {stream.n} image{'s' if stream.n != 1 else ''} "
          f"({'×'.join(map(str, stream.data_shape))}) → {out} ({what}){note}")
    return 0
