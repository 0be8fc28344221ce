"""``njscc encode``: images → bitstream (``.njs``) with a trained model."""

from __future__ import annotations

import argparse

from njscc.cli import options as opt

__all__ = ["HELP", "add_arguments", "run"]

HELP = "compress images (PNG/JPEG/NPZ/directory) to an njscc bitstream with a trained model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a .png/.jpg image of the model's size, an .npz with an "
                   "'images' array, or a directory of them")
    p.add_argument("-o", "--output", required=True, help="bitstream file to write (e.g. x.njs)")
    opt.add_checkpoint(p, old=("--model",), help="the model to encode with (a run directory, "
                       "checkpoint directory or model.safetensors)")
    p.add_argument("--batch-size", type=opt.BATCH, default=4096,
                   help="images per forward pass")
    p.add_argument("--max-pixels", type=opt.int_range(1, 1 << 40), default=None,
                   help="refuse inputs with more values (N·C·H·W) than this; checked from the "
                   "file headers before decoding (default 2^27, 512 MB as float32)")
    opt.add_device(p)
    opt.add_threads(p)


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._io import check_output, load_codec
    from njscc.io.bitstream import encode, model_fingerprint
    from njscc.io.images import read_images
    from njscc.io.results import atomic_write_bytes

    out = check_output(args.output, ("input", args.input), ("--checkpoint", args.checkpoint))
    model = load_codec(args.checkpoint, args.device)
    from njscc.io.images import MAX_VALUES

    images = read_images(args.input, model.data_shape, max_values=args.max_pixels or MAX_VALUES)
    data = encode(model, images, batch_size=args.batch_size)
    atomic_write_bytes(out, data)

    n, m = images.shape[0], model.latent.channel_bits
    shape = "×".join(str(d) for d in model.data_shape)
    payload = (n * m + 7) // 8
    print(f"encoded {n} image{'s' if n != 1 else ''} ({shape}) → {out}: {n}×{m} bits, "
          f"{len(data)} bytes ({len(data) - payload - 4} header + {payload} payload + 4 CRC), "
          f"model {model_fingerprint(model).hex()}")
    return 0
