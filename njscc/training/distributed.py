"""``torchrun`` support: process-group setup and the rank/world description."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from njscc.validation import check_device

__all__ = ["DistInfo", "distributed_context"]


@dataclass
class DistInfo:
    """This process's rank, the world size and the local rank (1 process: 0, 1, 0)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@contextlib.contextmanager
def distributed_context(device: str | None = None) -> Iterator[tuple[DistInfo, torch.device]]:
    """Initialise ``torch.distributed`` when launched by ``torchrun`` (``WORLD_SIZE`` > 1).

    Yields ``(DistInfo, device)``; CUDA ranks use ``cuda:LOCAL_RANK`` and nccl, CPU ranks gloo.
    Tears the process group down on exit.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield DistInfo(), check_device(device)
        return
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    dev = check_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    try:
        yield DistInfo(rank=rank, world=world, local_rank=local_rank), dev
        # All ranks reach teardown together: gloo aborts a rank ("terminate called without an
        # active exception") when it destroys its group while a peer has already left.
        dist.barrier()
    finally:
        dist.destroy_process_group()
