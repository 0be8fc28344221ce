"""Readers on the real datasets (``data_dir`` fixture): counts and checksums from MANIFEST.md."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from njscc.data import load_dataset, read_embedded, read_image_folder
from njscc.data._io import read_bytes
from njscc.data.embedded import EMBEDDED_SHA256

pytestmark = pytest.mark.data

MNIST_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
MNIST_RAW_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}
PORTRAIT = {"kodim04.png", "kodim09.png", "kodim10.png", "kodim17.png", "kodim18.png",
            "kodim19.png"}


@pytest.fixture(scope="module")
def mnist(data_dir):
    return {s: load_dataset("mnist", s, data_dir) for s in ("train", "test")}


def test_mnist_raw_md5_equals_official(data_dir):
    for name, md5 in MNIST_RAW_MD5.items():
        assert hashlib.md5(read_bytes(data_dir / "mnist" / name)).hexdigest() == md5, name


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_shapes_and_class_counts(mnist, split):
    ds = mnist[split]
    n = sum(MNIST_COUNTS[split])
    assert n == {"train": 60000, "test": 10000}[split]
    assert ds.images.shape == (n, 1, 28, 28) and ds.images.dtype == torch.float32
    assert ds.images.min() == 0 and ds.images.max() == 1
    assert torch.bincount(ds.labels, minlength=10).tolist() == MNIST_COUNTS[split]


def test_mnist_validation_holdout(data_dir):
    tr = load_dataset("mnist", "train", data_dir, valid_size=10000, seed=0)
    va = load_dataset("mnist", "valid", data_dir, valid_size=10000, seed=0)
    assert (len(tr), len(va)) == (50000, 10000)
    counts = torch.bincount(tr.labels, minlength=10) + torch.bincount(va.labels, minlength=10)
    assert counts.tolist() == MNIST_COUNTS["train"]


def test_embedded_subset_equals_mnist_at_its_indices(mnist):
    for split in ("train", "test"):
        images, labels, idx = read_embedded(split)
        ref = mnist[split]
        sel = torch.from_numpy(idx.astype(np.int64))
        torch.testing.assert_close(torch.from_numpy(images).float() / 255,
                                   ref.images[sel, 0], rtol=0, atol=0)
        assert torch.equal(torch.from_numpy(labels.astype(np.int64)), ref.labels[sel])


@pytest.mark.slow
def test_embedded_rebuild_is_byte_identical(data_dir, tmp_path):
    from njscc.data.make_embedded import build_embedded

    sums = build_embedded(data_dir / "mnist", tmp_path)
    assert {k: v for k, v in sums.items() if k in EMBEDDED_SHA256} == EMBEDDED_SHA256


def test_binarized_mnist_counts_and_ones(data_dir):
    expected = {"train": (50000, 0.1306), "valid": (10000, 0.1311), "test": (10000, 0.1325)}
    for split, (n, ones) in expected.items():
        ds = load_dataset("binarized_mnist", split, data_dir)
        assert ds.images.shape == (n, 1, 28, 28) and ds.labels is None
        assert ((ds.images[:1000] == 0) | (ds.images[:1000] == 1)).all()
        assert abs(ds.images.mean().item() - ones) <= 5e-5  # MANIFEST gives 4 decimals


def test_binarized_mnist_raw_sha1(data_dir):
    sha1 = hashlib.sha1(read_bytes(data_dir / "binarized_mnist" /
                                   "binarized_mnist_valid.amat.gz")).hexdigest()
    assert sha1 == "13418487742e6ea6d48db7b5187353a20b1b1f8c"


def test_kodak_images_and_patches(data_dir):
    images = read_image_folder(data_dir / "kodak")
    assert list(images) == [f"kodim{i:02d}.png" for i in range(1, 25)]
    for name, a in images.items():
        assert a.dtype == np.uint8
        assert a.shape == ((768, 512, 3) if name in PORTRAIT else (512, 768, 3)), name
    ds = load_dataset("kodak", "test", data_dir, patch_size=64)
    assert ds.images.shape == (24 * 8 * 12, 3, 64, 64)
    torch.testing.assert_close(ds.images[0] * 255, torch.from_numpy(
        images["kodim01.png"][:64, :64]).permute(2, 0, 1).float())


def test_adult_binary_encoding_is_the_reference_codes(data_dir):
    """102 binary features, 30 162 / 15 060 complete rows (ermongroup/lag-fairness)."""
    tr = load_dataset("adult", "train", data_dir, encoding="binary")
    te = load_dataset("adult", "test", data_dir, encoding="binary")
    assert (len(tr), len(te)) == (30162, 15060)
    assert tr.features.shape[1] == te.features.shape[1] == 102
    assert set(tr.features.unique().tolist()) == {0.0, 1.0}
    assert not any(n.startswith("sex") for n in tr.feature_names)


def test_adult_counts_and_label_rates(data_dir):
    tr = load_dataset("adult", "train", data_dir)
    te = load_dataset("adult", "test", data_dir)
    assert (len(tr), len(te)) == (32561, 16281)
    # >50K: 7841 / 32561 = 24.08 % and 3846 / 16281 = 23.62 % (UCI adult.names)
    assert (int(tr.labels.sum()), int(te.labels.sum())) == (7841, 3846)
    # sex: 10771 women in adult.data, 5421 in adult.test
    assert (int(tr.sensitive.sum()), int(te.sensitive.sum())) == (10771, 5421)
    assert tr.features.shape[1] == te.features.shape[1] == len(tr.feature_names)
    assert not torch.isnan(tr.features).any() and not torch.isnan(te.features).any()
    torch.testing.assert_close(tr.features[:, :6].mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(tr.features[:, :6].std(0, correction=0), torch.ones(6),
                               atol=1e-5, rtol=0)
    assert "workclass=?" in tr.feature_names and "native-country=?" in tr.feature_names
    assert tr.attribute_values["race"] == ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black",
                                           "Other", "White"]
