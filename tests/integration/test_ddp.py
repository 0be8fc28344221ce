"""``torchrun --nproc_per_node 2`` training on CPU (gloo): completes, one writer, a checkpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from njscc.training.checkpoint import load_checkpoint, load_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TINY = ["--preset", "embedded", "--bits", "16", "--model-arg", "enc_hidden=[32]",
        "--model-arg", "dec_hidden=[32]", "--train-size", "1000", "--test-size", "200",
        "--batch-size", "50", "--K", "3", "--seed", "0", "--quiet"]


def torchrun(out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "-m", "njscc.cli", "train", *TINY, "--out", str(out), "--device", "cpu", *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_torchrun_two_processes_trains_and_checkpoints(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    res = torchrun(out, "--epochs", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("done: 1 epochs") == 1  # only rank 0 reports
    assert "world size 2" not in res.stdout  # --quiet
    ck = load_checkpoint(out)
    assert ck.extra["world_size"] == 2 and ck.extra["epoch"] == 1
    assert ck.extra["global_step"] == 20  # global batch 50 = 2 × 25, 1000 images
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["test_sse"] > 0
    model = load_model(out)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # no stray files from the second rank
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "log.csv", "log.jsonl",
                                                    "run.json"]
    # the checkpoint resumes in a single process too (another world size: not bit-exact, the
    # per-rank sampling differs, but the state carries over)
    from njscc.cli import main

    assert main(["train", *TINY, "--out", str(out), "--device", "cpu", "--epochs", "2",
                 "--resume"]) == 0
    ck = load_checkpoint(out)
    assert ck.extra["epoch"] == 2 and ck.extra["global_step"] == 40
    assert [r["epoch"] for r in ck.extra["history"]] == [1, 2]
