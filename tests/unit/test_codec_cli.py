"""`njscc encode` / `decode` / `transmit` through `njscc.cli.main` with a real checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from njscc import models
from njscc.cli import main
from njscc.io.bitstream import model_fingerprint, unpack
from njscc.training import checkpoint


def _make(root: Path, name: str, **kw: object) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(sum(name.encode()))
    model = models.get("necst_mlp", enc_hidden=[16], dec_hidden=[16], **kw)
    path = checkpoint.save_checkpoint(root / name, model)
    return path, checkpoint.load_model(path)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    return _make(tmp_path_factory.mktemp("ckpt"), "mnist", m=20)


@pytest.fixture(scope="module")
def other_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make(tmp_path_factory.mktemp("ckpt2"), "other", m=20)[0]


@pytest.fixture
def digits() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)


def _ok(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], pattern: str) -> str:
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"njscc {argv[0]}: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def _expected(model: torch.nn.Module, x: np.ndarray) -> torch.Tensor:
    xt = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return model.decompress(model.compress(xt))


def test_png_round_trip(tmp_path: Path, ckpt, digits, capsys) -> None:
    path, model = ckpt
    png = tmp_path / "digit.png"
    Image.fromarray(digits[0], "L").save(png)
    njs, out = tmp_path / "x.njs", tmp_path / "out.png"
    msg = _ok(capsys, ["encode", str(png), "-o", str(njs), "--checkpoint", str(path)])
    assert "encoded 1 image (1×28×28)" in msg and model_fingerprint(model).hex() in msg
    s = unpack(njs.read_bytes())
    assert (s.n, s.m, s.data_shape) == (1, 20, (1, 28, 28))
    assert len(njs.read_bytes()) == 24 + 12 + 3 + 4
    _ok(capsys, ["decode", str(njs), "-o", str(out), "--checkpoint", str(path)])
    got = np.asarray(Image.open(out))
    want = (_expected(model, digits[:1])[0, 0] * 255).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(got, want)


def test_npz_round_trip_and_grid(tmp_path: Path, ckpt, digits, capsys) -> None:
    path, model = ckpt
    src = tmp_path / "in.npz"
    np.savez(src, images=digits)
    njs = tmp_path / "x.njs"
    _ok(capsys, ["encode", str(src), "-o", str(njs), "--checkpoint", str(path),
                 "--batch-size", "2"])
    out = tmp_path / "out.npz"
    _ok(capsys, ["decode", str(njs), "-o", str(out), "--checkpoint", str(path)])
    with np.load(out) as z:
        got = z["images"]
    assert got.shape == (5, 1, 28, 28) and got.dtype == np.float32
    assert torch.allclose(torch.from_numpy(got), _expected(model, digits), rtol=1e-5, atol=1e-6)
    # the decoded .npz (float [N, C, H, W]) is itself valid encoder input
    njs2 = tmp_path / "y.njs"
    _ok(capsys, ["encode", str(out), "-o", str(njs2), "--checkpoint", str(path)])
    grid = tmp_path / "grid.png"
    msg = _ok(capsys, ["decode", str(njs), "-o", str(grid), "--checkpoint", str(path)])
    assert "2×3 grid" in msg
    assert Image.open(grid).size == (3 * 30 + 2, 2 * 30 + 2)


def test_directory_and_channels_last(tmp_path: Path, ckpt, digits, capsys) -> None:
    path, model = ckpt
    d = tmp_path / "imgs"
    d.mkdir()
    for i, img in enumerate(digits[:3]):
        Image.fromarray(img, "L").save(d / f"{i}.png")
    np.savez(d / "3.npz", images=digits[3:, :, :, None])  # [N, H, W, 1]
    njs = tmp_path / "x.njs"
    msg = _ok(capsys, ["encode", str(d), "-o", str(njs), "--checkpoint", str(path)])
    assert "encoded 5 images" in msg
    want = model.compress(torch.from_numpy(digits / 255.0).float()[:, None])
    assert torch.equal(unpack(njs.read_bytes()).bits, want)


def test_rgb_model_png(tmp_path: Path, capsys) -> None:
    path, model = _make(tmp_path, "rgb", m=12, data_shape=[3, 8, 8])
    rgb = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(tmp_path / "c.png")
    njs = tmp_path / "c.njs"
    _ok(capsys, ["encode", str(tmp_path / "c.png"), "-o", str(njs), "--checkpoint", str(path)])
    _ok(capsys, ["decode", str(njs), "-o", str(tmp_path / "d.png"), "--checkpoint", str(path)])
    assert Image.open(tmp_path / "d.png").mode == "RGB"
    _fails(capsys, ["encode", str(tmp_path / "c.png"), "-o", str(njs), "--checkpoint",
                    str(path / "missing")], "does not exist")


def test_transmit(tmp_path: Path, ckpt, digits, capsys) -> None:
    path, model = ckpt
    src = tmp_path / "in.npz"
    np.savez(src, images=np.concatenate([digits] * 40))  # 200 images × 20 bits = 4000 bits
    njs, y = tmp_path / "x.njs", tmp_path / "y.njs"
    _ok(capsys, ["encode", str(src), "-o", str(njs), "--checkpoint", str(path)])
    msg = _ok(capsys, ["transmit", str(njs), "--channel", "bsc", "--eps", "0", "-o", str(y),
                       "--seed", "1"])
    assert "0 of 4000 bits flipped" in msg and y.read_bytes() == njs.read_bytes()
    msg = _ok(capsys, ["transmit", str(njs), "--channel", "bsc", "--eps", "0.1", "-o", str(y),
                       "--seed", "1"])
    flipped = int(re.search(r"(\d+) of 4000 bits flipped", msg).group(1))
    assert 300 <= flipped <= 500  # Binomial(4000, 0.1): mean 400, sd 19
    _ok(capsys, ["decode", str(y), "-o", str(tmp_path / "y.png"), "--checkpoint", str(path)])
    msg = _ok(capsys, ["transmit", str(njs), "--channel", "bec", "--eps", "0.2", "-o", str(y),
                       "--seed", "2"])
    erased = int(re.search(r"(\d+) erased", msg).group(1))
    assert 680 <= erased <= 920  # Binomial(4000, 0.2): mean 800, sd 25
    assert int(unpack(y.read_bytes()).erased.sum()) == erased
    msg = _ok(capsys, ["decode", str(y), "-o", str(tmp_path / "y.npz"), "--checkpoint", str(path)])
    assert f"{erased} erased bits" in msg
    _fails(capsys, ["transmit", str(njs), "--channel", "bsc", "--eps", "0.1", "-o", str(njs)],
           "refusing to overwrite the input")
    _fails(capsys, ["transmit", str(njs), "--channel", "nope", "--eps", "0.1", "-o", str(y)],
           "nope")
    _fails(capsys, ["transmit", str(src), "--channel", "bsc", "--eps", "0.1", "-o", str(y)],
           "bad magic")


def test_bad_inputs(tmp_path: Path, ckpt, other_ckpt, digits, capsys) -> None:
    path, _ = ckpt
    m = ["--checkpoint", str(path)]
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((28, 56), np.uint8), "L").save(big)
    _fails(capsys, ["encode", str(big), "-o", str(tmp_path / "x.njs"), *m],
           r"56×28 .*expects 28×28.*not split")
    _fails(capsys, ["encode", str(tmp_path / "none.png"), "-o", str(tmp_path / "x.njs"), *m],
           "does not exist")
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not a png")
    _fails(capsys, ["encode", str(fake), "-o", str(tmp_path / "x.njs"), *m], "not a readable")
    src = tmp_path / "in.npz"
    np.savez(src, images=digits)
    _fails(capsys, ["encode", str(src), "-o", str(src), *m], "refusing to overwrite the input")
    np.savez(tmp_path / "nokey.npz", x=digits)
    _fails(capsys, ["encode", str(tmp_path / "nokey.npz"), "-o", str(tmp_path / "x.njs"), *m],
           "no 'images' array")
    np.savez(tmp_path / "range.npz", images=digits.astype(np.float32))
    _fails(capsys, ["encode", str(tmp_path / "range.npz"), "-o", str(tmp_path / "x.njs"), *m],
           r"must lie in \[0, 1\]")
    np.savez(tmp_path / "shape.npz", images=np.zeros((2, 28, 27), np.uint8))
    _fails(capsys, ["encode", str(tmp_path / "shape.npz"), "-o", str(tmp_path / "x.njs"), *m],
           r"shape \[2, 28, 27\]")
    (tmp_path / "in.txt").write_text("x")
    _fails(capsys, ["encode", str(tmp_path / "in.txt"), "-o", str(tmp_path / "x.njs"), *m],
           "unsupported input type")

    njs = tmp_path / "x.njs"
    _ok(capsys, ["encode", str(src), "-o", str(njs), *m])
    good = njs.read_bytes()
    bad = bytearray(good)
    bad[30] ^= 0x10
    (tmp_path / "bad.njs").write_bytes(bytes(bad))
    (tmp_path / "short.njs").write_bytes(good[:-5])
    out = str(tmp_path / "o.png")
    _fails(capsys, ["decode", str(tmp_path / "bad.njs"), "-o", out, *m], "CRC mismatch")
    _fails(capsys, ["decode", str(tmp_path / "short.njs"), "-o", out, *m],
           f"expected {len(good)} bytes.*got {len(good) - 5}")
    _fails(capsys, ["decode", str(njs), "-o", out, "--checkpoint", str(other_ckpt)],
           "wrong model: the bitstream was made by model [0-9a-f]{16}, this model is [0-9a-f]{16}")
    _fails(capsys, ["decode", str(njs), "-o", str(tmp_path / "o.jpg"), *m],
           "unsupported output type")
    _fails(capsys, ["decode", str(njs), "-o", str(njs), *m], "refusing to overwrite the input")
    _fails(capsys, ["decode", str(tmp_path / "missing.njs"), "-o", out, *m], "does not exist")
    _fails(capsys, ["decode", str(src), "-o", out, *m], "bad magic")


def test_old_spellings_still_work_with_one_warning(tmp_path: Path, ckpt, digits, capsys) -> None:
    path, _ = ckpt
    src = tmp_path / "in.npz"
    np.savez(src, images=digits)
    njs, y = tmp_path / "x.njs", tmp_path / "y.njs"
    assert main(["encode", str(src), "-o", str(njs), "--model", str(path)]) == 0
    err = capsys.readouterr().err.strip()
    assert err == "njscc encode: warning: --model is deprecated; use --checkpoint"
    assert main(["transmit", str(njs), "--channel", "bsc", "--param", "0.1", "-o", str(y),
                 "--seed", "1"]) == 0
    assert capsys.readouterr().err.strip() == ("njscc transmit: warning: --param is deprecated; "
                                               "use --eps")


def test_a_continuous_latent_cannot_be_encoded(tmp_path: Path, digits, capsys) -> None:
    torch.manual_seed(0)
    vae = models.get("vae_mlp", m=4, enc_hidden=[8], dec_hidden=[8])
    checkpoint.save_checkpoint(tmp_path / "vae", vae)
    src = tmp_path / "in.npz"
    np.savez(src, images=digits)
    _fails(capsys, ["encode", str(src), "-o", str(tmp_path / "x.njs"), "--checkpoint",
                    str(tmp_path / "vae")], "vae_mlp has a 4 real dims latent")
    assert not (tmp_path / "x.njs").exists()

