"""Time NECST training steps on random MNIST-shaped data (no dataset needed).

    python examples/time_training_step.py --steps 100 --threads 2 --objective vimco

Reports steps/s and the implied time of one MNIST epoch (60 000 images / batch).
Mirrors the trainer's step: two Adam optimisers (encoder with L2 1e-4 on its weights, decoder),
plus one for objective parameters (NVIL's baseline).
"""

from __future__ import annotations

import argparse
import time

import torch

from channels.base import BinaryChannel
from njscc import models, objectives


def _bsc(eps: float) -> BinaryChannel:
    try:
        import channels

        return channels.get("bsc", eps)
    except (ImportError, AttributeError):  # channels package not there yet
        pass

    class _BSC(BinaryChannel):
        name = "bsc"

        def forward(self, bits, generator=None):
            n = torch.rand(bits.shape, generator=generator) < eps
            return (bits != n).to(bits.dtype)

        def marginal(self, probs):
            p1 = eps + (1 - 2 * eps) * probs
            return torch.stack([1 - p1, p1], -1)

        def llr(self, received):
            raise NotImplementedError

        @property
        def capacity(self):
            return 0.0

    return _BSC()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--objective", default="vimco")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--m", type=int, default=100)
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--model", default="necst_mlp")
    ap.add_argument("--shape", default="1,28,28", help="C,H,W of the random images")
    ap.add_argument("--fused-adam", action="store_true", help="Adam(fused=True)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the codec")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = tuple(int(v) for v in args.shape.split(","))
    model = models.get(args.model, m=args.m, data_shape=shape)
    obj = objectives.get(args.objective)
    obj.prepare(model)
    chan = _bsc(args.eps)
    opt_e = torch.optim.Adam(model.encoder.parameters(), lr=1e-3, fused=args.fused_adam or None)
    opt_d = torch.optim.Adam(model.decoder.parameters(), lr=1e-3,
                             fused=args.fused_adam or None)
    opt_o = torch.optim.Adam(obj.parameters(), lr=1e-3) if list(obj.parameters()) else None
    enc_w = [p for n, p in model.encoder.named_parameters() if n.endswith("weight")]
    codec = torch.compile(model) if args.compile else model
    if args.compile:
        codec.encoder, codec.decoder = model.encoder, model.decoder
    data = (torch.rand(20, args.batch, *shape) > 0.7).float()
    g = torch.Generator().manual_seed(0)

    def step(x: torch.Tensor) -> None:
        loss, _ = obj(codec, x, chan, generator=g)
        loss = loss + 1e-4 * sum(w.square().sum() for w in enc_w)
        opt_e.zero_grad(set_to_none=True)
        opt_d.zero_grad(set_to_none=True)
        if opt_o:
            opt_o.zero_grad(set_to_none=True)
        loss.backward()
        opt_e.step()
        opt_d.step()
        if opt_o:
            opt_o.step()

    for i in range(10):
        step(data[i % 20])
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(args.steps):
        step(data[i % 20])
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    sps = args.steps / dt
    print(f"{args.objective}: {sps:.1f} steps/s ({1e3 / sps:.1f} ms/step wall, "
          f"{1e3 * dc / args.steps:.1f} ms/step CPU), "
          f"MNIST epoch ≈ {60000 / args.batch / sps:.1f} s "
          f"[{args.model} {args.shape}, threads={args.threads}, batch={args.batch}, m={args.m}]")


if __name__ == "__main__":
    main()
