"""OpenMP wait policy: let idle OpenMP threads sleep when the machine is already busy.

OpenMP's default *active* waiting is fastest on idle cores (one MNIST training step with 2
threads: 23 ms active vs 36 ms passive), but on a machine already loaded by other jobs the
spinning threads fight them (0.55 s vs 0.17 s per step measured at load 5 on 2 cores). The
OpenMP runtime reads ``OMP_WAIT_POLICY`` once, when torch is imported, so the choice is made
when ``njscc`` is imported (and again by the CLI), before torch: ``PASSIVE`` if the 1-minute
load average is ≥ 0.75 per usable core *and* the CPUs are still at least half busy now (a
50 ms sample of ``/proc/stat``: the load average lags a minute behind, and right after another
job has finished it would make an idle machine 45 % slower — 12.6 vs 8.6 s per MNIST epoch
measured), else OpenMP's default. A value the user set is never changed. This module must
not import torch.
"""

from __future__ import annotations

import os
import sys

__all__ = ["BUSY_NOW", "LOADED_PER_CORE", "apply_wait_policy", "wait_policy_state"]

#: load average per usable core from which idle OpenMP threads should sleep
LOADED_PER_CORE = 0.75
#: ... provided this fraction of the CPUs is busy at the moment of the choice
BUSY_NOW = 0.5

_STATE: dict[str, str] = {}


def _load_per_core() -> float | None:
    try:
        load = os.getloadavg()[0]
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    except OSError:
        return None
    return load / (cpus or 1)


def _busy_now(seconds: float = 0.05) -> float | None:
    """Fraction of CPU time spent busy over the next ``seconds`` (all CPUs, from
    ``/proc/stat``; ``None`` where there is none)."""
    import time

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
        return sum(v[:8]), idle  # user … steal (guest time is already inside user)

    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return None if t1 <= t0 else 1.0 - (i1 - i0) / (t1 - t0)


def _busy() -> bool:
    load = _load_per_core()
    if load is None or load < LOADED_PER_CORE:
        return False
    now = _busy_now()
    return now is None or now >= BUSY_NOW


def apply_wait_policy() -> str:
    """Choose ``OMP_WAIT_POLICY`` for this process if it is still possible; returns what
    happened: ``"user"`` (set by you, kept), ``"passive"`` (set: the machine is busy),
    ``"default"`` (idle machine: OpenMP's default kept) or ``"too-late"`` (torch was imported
    first; set ``OMP_WAIT_POLICY=PASSIVE`` yourself before importing torch on a busy machine).
    """
    if "OMP_WAIT_POLICY" in os.environ:
        state = _STATE.get("policy", "user")
    elif "torch" in sys.modules:
        state = "too-late"
    else:
        if _busy():
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
            state = "passive"
        else:
            state = "default"
    _STATE.setdefault("policy", state)
    return _STATE["policy"]


def wait_policy_state() -> str:
    """What :func:`apply_wait_policy` decided first in this process (see there)."""
    return _STATE.get("policy") or apply_wait_policy()
