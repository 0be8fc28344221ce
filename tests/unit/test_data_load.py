"""``load_dataset`` on a small synthetic data directory laid out like shared/data."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from njscc.data import (
    DATASETS,
    ImageDataset,
    holdout_indices,
    load_dataset,
    resolve_data_dir,
    write_amat,
    write_idx,
)

N_TRAIN, N_TEST = 60, 20


def _mnist(folder, rng, n_train=N_TRAIN, n_test=N_TEST):
    folder.mkdir(parents=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y)
        out[prefix] = (x, y)
    return out


@pytest.fixture
def data_root(tmp_path):
    rng = np.random.default_rng(0)
    mnist = _mnist(tmp_path / "mnist", rng)
    bits = {s: (rng.random((n, 784)) < 0.2).astype(np.uint8)
            for s, n in (("train", 30), ("valid", 10), ("test", 12))}
    for s, b in bits.items():
        write_amat(tmp_path / "binarized_mnist" / f"binarized_mnist_{s}.amat.gz", b)
    (tmp_path / "kodak").mkdir()
    kodak = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((64, 96, 3), (96, 64, 3))]
    for i, a in enumerate(kodak, start=1):
        Image.fromarray(a).save(tmp_path / "kodak" / f"kodim{i:02d}.png")
    return tmp_path, mnist, bits, kodak


def test_mnist_splits(data_root):
    root, mnist, _, _ = data_root
    for split, src in (("train", "train"), ("test", "t10k")):
        ds = load_dataset("mnist", split, root)
        x, y = mnist[src]
        assert isinstance(ds, ImageDataset) and (ds.name, ds.split) == ("mnist", split)
        assert ds.images.shape == (len(x), 1, 28, 28) and ds.images.dtype == torch.float32
        assert ds.labels.dtype == torch.int64
        torch.testing.assert_close(ds.images[:, 0] * 255, torch.from_numpy(x).float())
        assert ds.labels.tolist() == y.tolist()
        img, lab = ds[3]
        assert img.shape == (1, 28, 28) and int(lab) == 3


def test_validation_holdout_is_disjoint_seeded_and_complete(data_root):
    root, mnist, _, _ = data_root
    tr = load_dataset("mnist", "train", root, valid_size=15, seed=3)
    va = load_dataset("mnist", "valid", root, valid_size=15, seed=3)
    va2 = load_dataset("mnist", "valid", root, valid_size=15, seed=3)
    va_other = load_dataset("mnist", "valid", root, valid_size=15, seed=4)
    assert len(tr) == N_TRAIN - 15 and len(va) == 15
    ti, vi = tr.meta["indices"].tolist(), va.meta["indices"].tolist()
    assert sorted(ti + vi) == list(range(N_TRAIN))
    assert torch.equal(va.images, va2.images)
    assert vi != va_other.meta["indices"].tolist()
    x, _ = mnist["train"]
    torch.testing.assert_close(va.images[:, 0] * 255, torch.from_numpy(x[vi]).float())
    assert len(load_dataset("mnist", "test", root, valid_size=15)) == N_TEST


def test_holdout_indices_errors():
    for bad in (0, 10, 11):
        with pytest.raises(ValueError, match="valid_size"):
            holdout_indices(10, bad)


def test_valid_split_needs_valid_size(data_root):
    root = data_root[0]
    with pytest.raises(ValueError, match="valid_size=N"):
        load_dataset("mnist", "valid", root)
    with pytest.raises(ValueError, match="valid_size"):
        load_dataset("mnist", "train", root, valid_size=-1)


def test_uncompressed_and_torchvision_layouts(tmp_path):
    rng = np.random.default_rng(1)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(raw / "train-images-idx3-ubyte", x)
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    ds = load_dataset("mnist", "train", tmp_path)
    assert len(ds) == 5 and ds.labels.tolist() == [0, 1, 2, 3, 4]


def test_fashion_mnist(tmp_path):
    _mnist(tmp_path / "fashion_mnist", np.random.default_rng(2), 10, 10)
    ds = load_dataset("fashion_mnist", "test", tmp_path)
    assert ds.images.shape == (10, 1, 28, 28) and ds.name == "fashion_mnist"


def test_binarized_mnist(data_root):
    root, _, bits, _ = data_root
    for split, b in bits.items():
        ds = load_dataset("binarized_mnist", split, root)
        assert ds.labels is None and ds.images.shape == (len(b), 1, 28, 28)
        assert torch.equal(ds.images.reshape(len(b), 784), torch.from_numpy(b).float())
        assert ds[0].shape == (1, 28, 28)  # unlabelled: the image alone
    with pytest.raises(ValueError, match="own validation split"):
        load_dataset("binarized_mnist", "train", root, valid_size=5)


def test_binarized_mnist_npz_fallback(tmp_path):
    bits = (np.random.default_rng(3).random((8, 784)) < 0.5).astype(np.uint8)
    (tmp_path / "binarized_mnist").mkdir()
    np.savez_compressed(tmp_path / "binarized_mnist" / "binarized_mnist.npz", train=bits,
                        valid=bits[:2], test=bits[:3])
    ds = load_dataset("binarized_mnist", "valid", tmp_path)
    assert torch.equal(ds.images.reshape(2, 784), torch.from_numpy(bits[:2]).float())


def test_kodak_patches(data_root):
    root, _, _, kodak = data_root
    ds = load_dataset("kodak", "test", root, patch_size=32)
    assert ds.images.shape == (2 * 6, 3, 32, 32)
    assert ds.labels.tolist() == [0] * 6 + [1] * 6
    assert ds.sources == ["kodim01.png", "kodim02.png"]
    torch.testing.assert_close(ds.images[0] * 255,
                               torch.from_numpy(kodak[0][:32, :32]).permute(2, 0, 1).float())
    g = torch.Generator().manual_seed(0)
    rnd = load_dataset("kodak", "test", root, patch_size=16, num_crops=10, generator=g)
    assert rnd.images.shape == (10, 3, 16, 16)
    with pytest.raises(ValueError, match="'test'"):
        load_dataset("kodak", "train", root)


def test_missing_files_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz.*--data-dir"):
        load_dataset("mnist", "train", tmp_path)
    with pytest.raises(FileNotFoundError, match="binarized_mnist_test.amat.gz"):
        load_dataset("binarized_mnist", "test", tmp_path)
    with pytest.raises(FileNotFoundError, match="kodak"):
        load_dataset("kodak", "test", tmp_path)
    with pytest.raises(FileNotFoundError, match="adult.data"):
        load_dataset("adult", "train", tmp_path)
    with pytest.raises(FileNotFoundError, match="data directory not found"):
        load_dataset("mnist", "train", tmp_path / "nowhere")


def test_data_dir_from_environment(data_root, monkeypatch):
    root = data_root[0]
    monkeypatch.setenv("NJSCC_DATA_DIR", str(root))
    assert resolve_data_dir(None) == root
    assert len(load_dataset("mnist", "test")) == N_TEST
    monkeypatch.delenv("NJSCC_DATA_DIR")
    with pytest.raises(FileNotFoundError, match="--data-dir.*NJSCC_DATA_DIR"):
        load_dataset("mnist", "test")


def test_bad_names_options(data_root):
    root = data_root[0]
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar", "train", root)
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist", "training", root)
    with pytest.raises(TypeError, match="patch_size"):
        load_dataset("mnist", "train", root, patch_size=4)
    assert set(DATASETS.available()) >= {"embedded", "mnist", "fashion_mnist", "omniglot",
                                         "binarized_mnist", "kodak", "adult"}


def _write_mnist(folder, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)


@pytest.mark.parametrize(("images", "labels", "match"), [
    (np.zeros((3, 28, 28), np.uint8), np.array([0, 10, 1], np.uint8), "labels out of range"),
    (np.zeros((3, 28, 28), np.uint8), np.array([0, 1], np.uint8), "2 labels for 3 images"),
    (np.zeros((3, 28, 27), np.uint8), np.array([0, 1, 2], np.uint8), r"\[N, 28, 28\]"),
    (np.zeros((3, 28, 28), np.float32), np.array([0, 1, 2], np.uint8), "uint8 images"),
    (np.zeros((3, 28, 28), np.uint8), np.array([[0, 1, 2]], np.uint8), "uint8 labels"),
])
def test_invalid_mnist_content(tmp_path, images, labels, match):
    _write_mnist(tmp_path / "mnist", images, labels)
    with pytest.raises(ValueError, match=match) as e:
        load_dataset("mnist", "test", tmp_path)
    assert "t10k-" in str(e.value)


def test_corrupt_mnist_gzip(tmp_path):
    _write_mnist(tmp_path / "mnist", np.zeros((3, 28, 28), np.uint8), np.arange(3, dtype=np.uint8))
    p = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-8])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: corrupt"):
        load_dataset("mnist", "test", tmp_path)
    p.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 3, 28, 28)
                                + b"\x00" * (3 * 784 - 1)))
    with pytest.raises(ValueError, match="size mismatch"):
        load_dataset("mnist", "test", tmp_path)


def test_image_dataset_contract():
    x = torch.rand(4, 1, 2, 2)
    ds = ImageDataset(x, torch.arange(4), name="t")
    assert ds.inputs is ds.images and ds.shape == (1, 2, 2) and len(ds) == 4
    sub = ds.subset([2, 0])
    assert torch.equal(sub.images, x[[2, 0]]) and sub.labels.tolist() == [2, 0]
    assert ds.to("cpu").images.device.type == "cpu"
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ImageDataset(x + 1)
    with pytest.raises(TypeError, match="float32"):
        ImageDataset(x.double())
    with pytest.raises(TypeError, match="labels"):
        ImageDataset(x, torch.arange(3))
    with pytest.raises(TypeError, match="labels"):
        ImageDataset(x, torch.arange(4, dtype=torch.int32))


def test_kodak_grey_crops(data_dir):
    """60 000 / 10 000 seeded 28×28 grey crops, train and test from different photographs,
    pixel values k/255, the same on every load."""
    train = load_dataset("kodak_grey", "train", data_dir)
    test = load_dataset("kodak_grey", "test", data_dir)
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert set(train.labels.unique().tolist()) == set(range(20))
    assert set(test.labels.unique().tolist()) == {20, 21, 22, 23}
    k = train.images[:500] * 255
    assert torch.equal(k, k.round()) and 0 <= float(k.min()) and float(k.max()) <= 255
    assert torch.equal(load_dataset("kodak_grey", "test", data_dir).images, test.images)
    first = load_dataset("kodak_grey", "train", data_dir, valid_size=10000, valid_split="first")
    assert torch.equal(first.images, train.images[10000:])
