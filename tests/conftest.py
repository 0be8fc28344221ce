"""Shared fixtures: ``seed``, ``generator`` and ``data_dir`` (real datasets).

The real datasets are found, in order, from ``--data-dir``, ``$NJSCC_DATA_DIR``, or a
``shared/data`` folder beside the checkout; tests that need them skip with a reason if absent.
"""

from __future__ import annotations

import os
from pathlib import Path

# Two xdist workers share 2 cores and many tests start CLI subprocesses: let idle OpenMP
# threads sleep instead of spinning against each other (set before torch is imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--data-dir", default=None, help="folder with mnist/, kodak/, ... datasets")


@pytest.fixture(autouse=True, scope="session")
def _few_threads() -> None:
    # tests run under xdist with 2 workers on 2 cores: one intra-op thread each
    torch.set_num_threads(1)


@pytest.fixture
def seed() -> int:
    return 1234


@pytest.fixture
def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="session")
def data_dir(request: pytest.FixtureRequest) -> Path:
    cands = [request.config.getoption("--data-dir"), os.environ.get("NJSCC_DATA_DIR"),
             str(REPO.parent / "shared" / "data")]
    for c in cands:
        if c and (Path(c) / "mnist").is_dir():
            return Path(c)
    pytest.skip("real datasets not found: pass --data-dir or set NJSCC_DATA_DIR")
