"""``njscc encode``: images → bitstream (``.njs``) with a trained model."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "add_arguments", "run"]

HELP = "compress images (PNG/JPEG/NPZ/directory) to an njscc bitstream with a trained model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a .png/.jpg image of the model's size, an .npz with an "
                   "'images' array, or a directory of them")
    p.add_argument("-o", "--output", required=True, help="bitstream file to write (e.g. x.njs)")
    p.add_argument("--model", required=True, help="checkpoint (directory, run directory or "
                   "model.safetensors)")
    p.add_argument("--batch-size", type=int, default=4096, help="images per forward pass")
    p.add_argument("--device", default="cpu", help="torch device for the model")


def run(args: argparse.Namespace) -> int:
    from njscc.cli.commands._io import check_output, load_codec
    from njscc.io.bitstream import encode, model_fingerprint
    from njscc.io.images import read_images
    from njscc.io.results import atomic_write_bytes

    out = check_output(args.output, ("input", args.input), ("--model", args.model))
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    model = load_codec(args.model, args.device)
    images = read_images(args.input, model.data_shape)
    data = encode(model, images, batch_size=args.batch_size)
    atomic_write_bytes(out, data)

    n = images.shape[0]
    shape = "×".join(str(d) for d in model.data_shape)
    payload = (n * model.m + 7) // 8
    print(f"encoded {n} image{'s' if n != 1 else ''} ({shape}) → {out}: {n}×{model.m} bits, "
          f"{len(data)} bytes ({len(data) - payload - 4} header + {payload} payload + 4 CRC), "
          f"model {model_fingerprint(model).hex()}")
    return 0
