"""The OpenMP wait policy is chosen before torch loads, the same way for the CLI and for
``import njscc``; the Python ``Trainer`` warns when it came too late on a busy machine."""

from __future__ import annotations

import sys

import pytest
import torch

import njscc._omp as omp
from njscc.models import get
from njscc.objectives import get as get_objective
from njscc.training import TrainConfig, Trainer
from njscc.training import trainer as trainer_mod


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setattr(omp, "_STATE", {})
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    return monkeypatch


@pytest.mark.parametrize(("load", "state", "env"), [(1.6, "passive", "PASSIVE"),
                                                     (0.2, "default", None)])
def test_policy_follows_the_load_before_torch(fresh: pytest.MonkeyPatch, load: float,
                                              state: str, env: str | None) -> None:
    fresh.setattr(omp, "_load_per_core", lambda: load)
    fresh.setattr(omp, "_busy_now", lambda: 1.0)  # and busy right now
    fresh.delitem(sys.modules, "torch")  # as if torch were not loaded yet
    assert omp.apply_wait_policy() == state
    assert omp.wait_policy_state() == state  # the first decision sticks
    import os
    assert os.environ.get("OMP_WAIT_POLICY") == env


def test_user_value_is_kept_and_late_is_said(fresh: pytest.MonkeyPatch) -> None:
    import os
    fresh.setenv("OMP_WAIT_POLICY", "ACTIVE")
    fresh.setattr(omp, "_load_per_core", lambda: 5.0)
    assert omp.apply_wait_policy() == "user"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    fresh.setattr(omp, "_STATE", {})
    fresh.delenv("OMP_WAIT_POLICY")
    assert omp.apply_wait_policy() == "too-late"  # torch is loaded in this process
    assert "OMP_WAIT_POLICY" not in os.environ


def _trainer() -> None:
    x = torch.rand(20, 1, 28, 28)
    Trainer(get("necst_mlp", m=8, enc_hidden=(8,), dec_hidden=(8,)), get_objective("vimco"),
            None, x, TrainConfig(epochs=1, batch_size=10))


def test_trainer_warns_when_threads_would_spin_on_a_busy_machine(
        fresh: pytest.MonkeyPatch) -> None:
    fresh.setattr(trainer_mod, "_WARNED", [])
    fresh.setattr(trainer_mod, "wait_policy_state", lambda: "too-late")
    fresh.setattr(omp, "_load_per_core", lambda: 3.0)
    fresh.setattr(omp, "_busy_now", lambda: 1.0)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.warns(RuntimeWarning, match="OMP_WAIT_POLICY=PASSIVE"):
            _trainer()
        fresh.setattr(trainer_mod, "_WARNED", [])
        fresh.setattr(omp, "_load_per_core", lambda: 0.1)  # idle: nothing to say
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _trainer()
    finally:
        torch.set_num_threads(threads)


def test_a_load_average_left_by_a_finished_job_is_not_busy(fresh: pytest.MonkeyPatch) -> None:
    # the 1-minute load average lags: high, but the CPUs are idle now -> OpenMP's default
    fresh.setattr(omp, "_load_per_core", lambda: 1.6)
    fresh.setattr(omp, "_busy_now", lambda: 0.05)
    fresh.delitem(sys.modules, "torch")
    assert omp.apply_wait_policy() == "default"
    fresh.setattr(omp, "_STATE", {})
    fresh.setattr(omp, "_busy_now", lambda: None)  # no /proc/stat: trust the load average
    assert omp.apply_wait_policy() == "passive"


def test_busy_now_measures_the_cpus() -> None:
    frac = omp._busy_now(0.02)
    assert frac is None or 0.0 <= frac <= 1.0
