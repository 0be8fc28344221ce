"""Image folders (Pillow) and patch extraction: shapes, exact content, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from njscc.data import (
    PatchDataset,
    extract_patches,
    random_crops,
    read_image,
    read_image_folder,
)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {"b.png": rng.integers(0, 256, (40, 56, 3), dtype=np.uint8),
            "a.png": rng.integers(0, 256, (56, 40, 3), dtype=np.uint8),
            "c.JPG": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)}
    for name, a in imgs.items():
        Image.fromarray(a).save(tmp_path / name)
    (tmp_path / "SHA256SUMS").write_text("ignored\n")
    (tmp_path / "sub").mkdir()
    return tmp_path, imgs


def test_read_folder_sorted_exact_png(folder):
    path, imgs = folder
    out = read_image_folder(path)
    assert list(out) == ["a.png", "b.png", "c.JPG"]
    for name in ("a.png", "b.png"):
        assert out[name].dtype == np.uint8
        np.testing.assert_array_equal(out[name], imgs[name])  # PNG is lossless
    assert out["c.JPG"].shape == (32, 32, 3)  # JPEG: lossy, shape only


def test_read_folder_grayscale(folder):
    path, imgs = folder
    out = read_image_folder(path, mode="L")
    assert out["a.png"].shape == (56, 40, 1)
    expected = np.asarray(Image.fromarray(imgs["a.png"]).convert("L"))
    np.testing.assert_array_equal(out["a.png"][..., 0], expected)


def test_grayscale_png_read_as_rgb(tmp_path):
    a = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(a).save(tmp_path / "g.png")
    rgb = read_image(tmp_path / "g.png", "RGB")
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_array_equal(rgb[..., 1], a)


def test_not_an_image(folder):
    path, _ = folder
    (path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ValueError, match="broken.png: not a readable image"):
        read_image_folder(path)


def test_truncated_png(tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
                    ).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t.png"):
        read_image(tmp_path / "t.png")


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .png"):
        read_image_folder(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_image_folder(tmp_path / "missing")
    (tmp_path / "f.png").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        read_image_folder(tmp_path / "f.png")
    with pytest.raises(ValueError, match="mode"):
        read_image_folder(tmp_path, mode="CMYK")


# --- patches ------------------------------------------------------------------------------------

def test_extract_patches_grid_exact():
    img = torch.rand(3, 50, 70)
    patches, pos = extract_patches(img, 16)
    assert patches.shape == (3 * 4, 3, 16, 16)
    assert pos.tolist()[:5] == [[0, 0], [0, 16], [0, 32], [0, 48], [16, 0]]
    for p, (t, l) in zip(patches, pos.tolist(), strict=True):
        torch.testing.assert_close(p, img[:, t:t + 16, l:l + 16], rtol=0, atol=0)


def test_extract_patches_stride_and_rect():
    img = torch.rand(1, 10, 12)
    patches, pos = extract_patches(img, (4, 6), stride=2)
    assert patches.shape == (4 * 4, 1, 4, 6)  # (10-4)//2+1 = 4 rows, (12-6)//2+1 = 4 cols
    assert pos[-1].tolist() == [6, 6]
    with pytest.raises(ValueError, match="smaller than the patch"):
        extract_patches(img, 11)
    with pytest.raises(ValueError, match="patch size"):
        extract_patches(img, 0)


def test_random_crops_deterministic_and_exact():
    imgs = [torch.rand(3, 30, 40), torch.rand(3, 50, 20)]
    a, sa, pa = random_crops(imgs, 16, 200, torch.Generator().manual_seed(7))
    b, sb, pb = random_crops(imgs, 16, 200, torch.Generator().manual_seed(7))
    c, _, pc = random_crops(imgs, 16, 200, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and torch.equal(sa, sb) and torch.equal(pa, pb)
    assert not torch.equal(pa, pc)
    assert a.shape == (200, 3, 16, 16)
    for crop, s, (t, l) in zip(a, sa.tolist(), pa.tolist(), strict=True):
        h, w = imgs[s].shape[1:]
        assert 0 <= t <= h - 16 and 0 <= l <= w - 16
        assert torch.equal(crop, imgs[s][:, t:t + 16, l:l + 16])
    # both images used, and every valid offset of the 2nd image's width (0..4) appears
    assert set(sa.tolist()) == {0, 1}
    assert set(pa[sa == 1, 1].tolist()) == {0, 1, 2, 3, 4}


def test_random_crops_errors():
    with pytest.raises(ValueError, match="smaller than the crop"):
        random_crops([torch.rand(1, 8, 8)], 9, 1)
    with pytest.raises(ValueError, match=">= 1"):
        random_crops([torch.rand(1, 8, 8)], 4, 0)


def test_patch_dataset_grid(folder):
    path, imgs = folder
    images = read_image_folder(path)
    ds = PatchDataset(images, 16, name="t", split="test")
    counts = [(56 // 16) * (40 // 16), (40 // 16) * (56 // 16), 2 * 2]
    assert len(ds) == sum(counts)
    assert ds.images.dtype == torch.float32 and ds.images.shape[1:] == (3, 16, 16)
    assert 0 <= ds.images.min() and ds.images.max() <= 1
    assert ds.labels.tolist() == sum(([i] * n for i, n in enumerate(counts)), [])
    assert ds.sources == ["a.png", "b.png", "c.JPG"]
    expected = torch.from_numpy(imgs["a.png"][16:32, 0:16]).permute(2, 0, 1) / 255.0
    i = [k for k in range(len(ds)) if ds.labels[k] == 0 and ds.positions[k].tolist() == [16, 0]]
    torch.testing.assert_close(ds.images[i[0]], expected)
    x, y = ds[3]
    assert x.shape == (3, 16, 16) and y.dtype == torch.int64


def test_patch_dataset_random_and_resize(folder):
    path, _ = folder
    images = read_image_folder(path, mode="L")
    a = PatchDataset(images, 8, num_crops=50, generator=torch.Generator().manual_seed(0))
    b = PatchDataset(images, 8, num_crops=50, generator=torch.Generator().manual_seed(0))
    assert a.images.shape == (50, 1, 8, 8) and torch.equal(a.images, b.images)
    half = PatchDataset(images, 8, resize=0.5)
    assert len(half) == (28 // 8) * (20 // 8) * 2 + 2 * 2
    fixed = PatchDataset(images, 8, resize=(16, 24))
    assert len(fixed) == 3 * (2 * 3)
    assert 0 <= half.images.min() and half.images.max() <= 1


def test_patch_dataset_accepts_tensors_and_validates():
    ds = PatchDataset([torch.rand(2, 8, 8), torch.rand(2, 8, 8)], 4)
    assert ds.images.shape == (8, 2, 4, 4)
    with pytest.raises(ValueError, match="smaller"):
        PatchDataset([torch.rand(1, 8, 8), torch.rand(1, 3, 3)], 4)
    with pytest.raises(ValueError, match="channels"):
        PatchDataset([torch.rand(1, 8, 8), torch.rand(3, 8, 8)], 4)
    with pytest.raises(ValueError, match="generator"):
        PatchDataset([torch.rand(1, 8, 8)], 4, generator=torch.Generator())
    with pytest.raises(ValueError, match="resize"):
        PatchDataset([torch.rand(1, 8, 8)], 4, resize=-1.0)
    with pytest.raises(ValueError, match="uint8"):
        PatchDataset([np.zeros((8, 8, 1), dtype=np.float32)], 4)
