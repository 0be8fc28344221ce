"""NECST training-step time (issue target: one MNIST epoch ≤ 30 s on 2 CPU cores).

Times ``Trainer.train_step`` (the code ``njscc train`` runs: objective, L2 on the encoder,
backward, the separate Adam optimisers) on batches of the bundled MNIST digits, paper setting:
``necst_mlp`` m = 100, K = 5, batch 100, BSC ε = 0.1. ``extra_info`` records the median step
time and the implied seconds per 60 000-image epoch (600 steps). Records; never asserts.

    pytest bench/test_bench_training.py --benchmark-only      # NJSCC_BENCH_THREADS=2 to pin
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import torch

import channels
from njscc import models, objectives
from njscc.data import load_dataset
from njscc.training.trainer import TrainConfig, Trainer

STEPS_PER_MNIST_EPOCH = 600  # 60 000 images / batch 100


@pytest.mark.parametrize("objective", ["vimco", "nvil", "gumbel"])
def test_train_step(benchmark: Any, bench_info: dict[str, Any], bench_device: torch.device,
                    sync: Callable[[], None], objective: str) -> None:
    benchmark.group = "necst_mlp train step (m=100, K=5, batch 100)"
    torch.manual_seed(0)
    x = load_dataset("embedded", "train").images[:2000].to(bench_device)
    model = models.get("necst_mlp", m=100).to(bench_device)
    obj = objectives.get(objective, n_samples=5)
    trainer = Trainer(model, obj, channels.get("bsc", 0.1), x, TrainConfig(), quiet=True,
                      device=bench_device)
    batches = itertools.cycle(x.split(100))

    def step() -> None:
        trainer.train_step(next(batches))
        sync()

    benchmark.pedantic(step, rounds=60, warmup_rounds=10, iterations=1)
    bench_info.update(objective=objective, model="necst_mlp", m=100, K=5, batch=100,
                      channel="bsc", eps=0.1, threads=torch.get_num_threads())
    if benchmark.stats is not None:  # None under --benchmark-disable (a smoke run)
        median = benchmark.stats.stats.median
        bench_info.update(step_s_median=median,
                          mnist_epoch_s_estimate=median * STEPS_PER_MNIST_EPOCH)
