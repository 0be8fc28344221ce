"""MNIST-A: deterministic per seed, balanced, attributes visible in the pixels, splits."""

from __future__ import annotations

import math

import pytest
import torch

from njscc.data import load_dataset
from njscc.data.mnist_a import ATTRIBUTES, attribute_combinations, make_mnist_a


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("embedded", "train")
    return d.images[:600], d.labels[:600]


def _all(digits, **kw):
    return {s: make_mnist_a(*digits, s, **kw) for s in ("train", "valid", "test")}


def test_deterministic_per_seed_and_shapes(digits):
    a = make_mnist_a(*digits, "train", canvas=48, seed=3)
    b = make_mnist_a(*digits, "train", canvas=48, seed=3, binarize=True)
    c = make_mnist_a(*digits, "train", canvas=48, seed=4)
    assert torch.equal(a["images"], b["images"]) and torch.equal(a["attributes"], b["attributes"])
    assert not torch.equal(a["attributes"][:50], c["attributes"][:50])
    n = a["images"].shape[0]
    assert a["images"].shape == (n, 1, 48, 48) and a["attributes"].shape == (n, 4)
    assert set(a["images"].unique().tolist()) <= {0.0, 1.0}  # binarised
    grey = make_mnist_a(*digits, "train", canvas=48, seed=3, binarize=False)["images"]
    assert 0 <= float(grey.min()) and float(grey.max()) <= 1 and grey.unique().numel() > 2


def test_iid_split_fractions_and_balance(digits):
    parts = _all(digits, replication=3, canvas=40, seed=0)
    sizes = torch.tensor([p["images"].shape[0] for p in parts.values()], dtype=torch.float64)
    n = float(sizes.sum())
    assert n == 600 * 3
    for got, p in zip(sizes / n, (0.85, 0.05, 0.10), strict=True):
        assert abs(float(got) - p) < 4 * math.sqrt(p * (1 - p) / n)
    attrs = torch.cat([p["attributes"] for p in parts.values()])
    for j, (name, values) in enumerate(list(ATTRIBUTES.items())[1:], start=1):
        counts = torch.bincount(attrs[:, j], minlength=len(values)).double()
        k = len(values)
        expected = n / k
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 3 * (k - 1) + 12, (name, counts)  # uniform: E χ² = k − 1


def test_attributes_are_visible_in_the_pixels(digits):
    d = make_mnist_a(*digits, "train", canvas=64, replication=2, seed=1, binarize=False)
    x, a = d["images"][:, 0], d["attributes"]
    ink = x.sum((1, 2))
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    cx = (x * xs).sum((1, 2)) / ink
    cy = (x * ys).sum((1, 2)) / ink
    left, top = cx < 32, cy < 32
    want_left = (a[:, 3] == 0) | (a[:, 3] == 2)
    want_top = (a[:, 3] == 0) | (a[:, 3] == 1)
    assert float(((left == want_left) & (top == want_top)).double().mean()) > 0.97
    # big digits carry more ink than small ones
    assert float(ink[a[:, 1] == 0].mean()) > 1.5 * float(ink[a[:, 1] == 1].mean())


def test_compositional_split_holds_out_combinations(digits):
    parts = _all(digits, replication=4, canvas=32, split_type="comp", seed=2)
    seen = {tuple(r) for r in parts["train"]["attributes"].tolist()}
    test = {tuple(r) for r in parts["test"]["attributes"].tolist()}
    assert test and not (seen & test)
    combos = attribute_combinations(2)
    assert len(combos) == len(set(combos)) == 10 * 2 * 3 * 4
    assert {tuple(c) for c in combos[216:]} >= test  # the last 10 % of the shuffled list


def test_bad_arguments(digits):
    with pytest.raises(ValueError, match="split_type"):
        make_mnist_a(*digits, "train", split_type="random")
    with pytest.raises(ValueError, match="canvas"):
        make_mnist_a(*digits, "train", canvas=16)
    with pytest.raises(ValueError, match="split"):
        make_mnist_a(*digits, "dev")
    with pytest.raises(ValueError, match="labels"):
        make_mnist_a(digits[0], digits[1][:5], "train")


@pytest.mark.data
def test_registered_dataset_carries_attributes(data_dir):
    ds = load_dataset("mnist_a", "test", data_dir, canvas=32, n_source=500)
    assert ds.fields >= {"x", "labels", "attributes"}
    b = ds.batch()
    assert torch.equal(b.extra["attributes"][:, 0], b.labels)
    sub = ds.subset([0, 2])
    assert torch.equal(sub.extra["attributes"], ds.extra["attributes"][[0, 2]])
    with pytest.raises(ValueError, match="valid_size"):
        load_dataset("mnist_a", "train", data_dir, valid_size=10)
