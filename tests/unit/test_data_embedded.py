"""The embedded MNIST subset: contents, checksums, size budget, selection rule, packaging."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from njscc.data import embedded as emb
from njscc.data import load_dataset, read_embedded
from njscc.data.make_embedded import select_balanced

FOLDER = Path(str(resources.files("njscc.data").joinpath("embedded")))
REPO = Path(__file__).resolve().parents[2]
N = {"train": 12000, "test": 2300}


@pytest.fixture(scope="module")
def splits():
    return {s: load_dataset("embedded", s) for s in ("train", "test")}


@pytest.mark.parametrize("split", ["train", "test"])
def test_shapes_range_labels(splits, split):
    ds = splits[split]
    n = N[split]
    assert ds.images.shape == (n, 1, 28, 28) and ds.images.dtype == torch.float32
    assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
    assert ds.images.min() == 0 and ds.images.max() == 1
    assert torch.bincount(ds.labels, minlength=10).tolist() == [n // 10] * 10  # class-balanced
    # pixels are 8-bit values / 255
    x = ds.images[:1000] * 255
    torch.testing.assert_close(x, x.round(), rtol=0, atol=1e-4)
    # MNIST mean intensity is 0.1307 (train) / 0.1325 (test); a balanced subset is close
    assert abs(ds.images.mean().item() - 0.131) < 0.006


def test_indices_sorted_unique_in_range():
    for split, total in (("train", 60000), ("test", 10000)):
        _, labels, idx = read_embedded(split)
        assert idx.dtype == np.int32 and np.all(np.diff(idx) > 0)
        assert idx[0] >= 0 and idx[-1] < total
        # the test subset draws from both halves of the official test file
        if split == "test":
            assert (idx < 5000).sum() > 900 and (idx >= 5000).sum() > 900


def test_train_and_test_are_different_images(splits):
    a = splits["train"].images[:, 0].reshape(-1, 784)
    b = splits["test"].images[:, 0].reshape(-1, 784)
    ha = {hashlib.sha1(r.numpy().tobytes()).digest() for r in a}
    assert not any(hashlib.sha1(r.numpy().tobytes()).digest() in ha for r in b[:500])


def test_validation_holdout(splits):
    tr = load_dataset("embedded", "train", valid_size=2000, seed=0)
    va = load_dataset("embedded", "valid", valid_size=2000, seed=0)
    assert len(tr) == 10000 and len(va) == 2000
    assert set(tr.meta["mnist_indices"].tolist()).isdisjoint(va.meta["mnist_indices"].tolist())
    with pytest.raises(ValueError, match="valid_size"):
        load_dataset("embedded", "valid")


def test_checksums_match_files_and_sums_file():
    sums = dict(reversed(line.split("  ")) for line in
                (FOLDER / "SHA256SUMS").read_text().splitlines())
    for name, digest in emb.EMBEDDED_SHA256.items():
        assert hashlib.sha256((FOLDER / name).read_bytes()).hexdigest() == digest
        assert sums[name] == digest
    assert set(sums) == set(emb.EMBEDDED_SHA256) | {"README.md"}
    readme = (FOLDER / "README.md").read_bytes()
    assert hashlib.sha256(readme).hexdigest() == sums["README.md"]


def test_checksum_is_enforced(monkeypatch):
    bad = dict(emb.EMBEDDED_SHA256, **{"test-labels-idx1-ubyte.xz": "0" * 64})
    monkeypatch.setattr(emb, "EMBEDDED_SHA256", bad)
    with pytest.raises(ValueError, match="test-labels-idx1-ubyte.xz is corrupt"):
        read_embedded("test")
    with pytest.raises(ValueError, match="splits"):
        read_embedded("valid")


def test_size_budget_and_license():
    files = [p for p in FOLDER.iterdir()]
    assert all(p.is_file() for p in files)  # the package-data glob data/embedded/* is flat
    assert sum(p.stat().st_size for p in files) <= 2_000_000
    readme = (FOLDER / "README.md").read_text()
    for needed in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0", "floor(j * n_c / k)"):
        assert needed in readme


def test_package_data_covers_the_folder():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'njscc = ["py.typed", "data/embedded/*"]' in pyproject
    src = (REPO / "njscc" / "data" / "embedded.py").read_text()
    assert "shared" not in src and "resources.files" in src


def test_select_balanced_rule():
    labels = np.array([0, 1, 0, 0, 1, 2, 0, 2, 1, 2, 2, 0])
    idx = select_balanced(labels, 2)
    # class 0 at [0, 2, 3, 6, 11] -> positions 0, floor(5/2)=2 -> 0, 3
    # class 1 at [1, 4, 8] -> positions 0, 1 -> 1, 4; class 2 at [5, 7, 9, 10] -> 0, 2 -> 5, 9
    assert idx.tolist() == [0, 1, 3, 4, 5, 9]
    with pytest.raises(ValueError, match="only 3"):
        select_balanced(labels, 4)
