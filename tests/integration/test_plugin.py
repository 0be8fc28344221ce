"""The plugin example (``examples/plugin``, installed by ``make install``): a model, an
objective and a dataset from another package train, evaluate, save/load and encode/decode
through the ``njscc`` CLI with zero edits to njscc."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from njscc import models, objectives
from njscc.cli import main
from njscc.data import DATASETS, load_dataset
from njscc.training import load_model


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    try:
        importlib.metadata.distribution("njscc-plugin-example")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("the plugin example is not installed: pip install -e examples/plugin "
                    "(make install does it)")


def test_entries_come_from_the_plugin() -> None:
    assert "tiny_necst" in models.available()
    assert "straight_through" in objectives.available()
    assert "shapes" in DATASETS.available()
    assert models.MODELS.entry("tiny_necst").source == "njscc-plugin-example"
    ds = load_dataset("shapes", "test")
    assert ds.images.shape == (600, 1, 16, 16) and set(ds.labels.unique().tolist()) == {0, 1, 2}
    assert torch.equal(load_dataset("shapes", "test").images, ds.images)  # seeded


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plugin") / "run"
    assert main(["train", "--dataset", "shapes", "--model", "tiny_necst", "--objective",
                 "straight_through", "--epochs", "2", "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    return out


def test_trains_two_epochs_and_learns(run: Path) -> None:
    rows = [json.loads(s) for s in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["test_sse"] < rows[0]["test_sse"]
    info = json.loads((run / "run.json").read_text())
    assert info["model"]["name"] == "tiny_necst" and info["dataset"] == "shapes"
    assert info["objective"]["name"] == "straight_through"


def test_eval_and_checkpoint_round_trip(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--checkpoint", str(run), "--eps", "0,0.1", "--threads", "1"]) == 0
    r = json.loads((run / "eval" / "eval_bsc.json").read_text())
    assert r["dataset"] == "shapes" and r["metrics"]["sse"][0] < r["metrics"]["sse"][1]
    model = load_model(run)
    again = load_model(run)
    x = load_dataset("shapes", "test").images[:8]
    with torch.no_grad():
        assert torch.equal(model.decompress(model.compress(x)),
                           again.decompress(again.compress(x)))


def test_encode_decode_through_the_cli(run: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    x = load_dataset("shapes", "test").images[:10].numpy()
    np.savez(tmp_path / "in.npz", images=x)
    njs, out = tmp_path / "x.njs", tmp_path / "out.npz"
    assert main(["encode", str(tmp_path / "in.npz"), "-o", str(njs), "--checkpoint",
                 str(run)]) == 0
    assert main(["decode", str(njs), "-o", str(out), "--checkpoint", str(run)]) == 0
    got = np.load(out)["images"]
    model = load_model(run)
    with torch.no_grad():
        expect = model.decompress(model.compress(torch.from_numpy(x)).float()).clamp(0, 1)
    np.testing.assert_allclose(got, expect.numpy(), atol=1e-6)
