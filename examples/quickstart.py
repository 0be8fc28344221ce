"""Encode, transmit and decode MNIST digits with a trained NECST model (the README quickstart).

    njscc demo                                  # trains runs/demo in about a minute
    python examples/quickstart.py --checkpoint runs/demo --out quickstart.png

Writes a PNG: originals (top) and their reconstructions after a BSC(0.1) and a BEC(0.2).
"""

from __future__ import annotations

import argparse

import torch

import channels
import njscc
from njscc.data import load_dataset
from njscc.io.images import image_grid, write_images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", "--model", default="runs/demo", dest="model",
                   help="run dir, checkpoint dir or .safetensors")
    p.add_argument("--out", default="quickstart.png", help="PNG to write")
    p.add_argument("--n", type=int, default=8, help="test digits to send")
    args = p.parse_args()

    model = njscc.load_model(args.model)                  # rebuilt from its config, eval mode
    x = load_dataset("embedded", "test").images[:args.n]  # float32 [N, 1, 28, 28] in [0, 1]
    data = njscc.encode(model, x)                         # header + N×m packed bits + CRC-32
    print(f"{x.shape[0]} images -> {len(data)} bytes ({model.m} bits per image)")

    rows = [x]
    for name, eps in (("bsc", 0.1), ("bec", 0.2)):
        gen = torch.Generator().manual_seed(0)            # same seed, same channel noise
        received, stats = njscc.transmit(data, channels.get(name, eps), gen)
        x_hat = njscc.decode(model, received)             # one decoder pass: [N, 1, 28, 28]
        sse = (x_hat - x).square().flatten(1).sum(1).mean().item()
        print(f"{name}({eps}): {stats['flipped']} flipped, {stats['erased']} erased of "
              f"{stats['bits']} bits; mean per-image SSE {sse:.2f}")
        rows.append(x_hat)
    write_images(args.out, image_grid(torch.cat(rows), ncol=x.shape[0]).unsqueeze(0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
