"""Binarized MNIST readers: ``.amat`` (fast and slow paths) and ``.npz``, with their errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from njscc.data import read_amat, read_binarized_npz, write_amat
from njscc.data.amat import _fast_amat


@pytest.fixture
def bits():
    return (np.random.default_rng(0).random((13, 784)) < 0.13).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".amat", ".amat.gz", ".amat.xz"])
def test_round_trip(tmp_path, bits, suffix):
    p = write_amat(tmp_path / f"x{suffix}", bits)
    out = read_amat(p)
    assert out.dtype == np.uint8 and out.shape == (13, 784)
    np.testing.assert_array_equal(out, bits)


def test_written_layout_is_the_standard_one(tmp_path, bits):
    text = write_amat(tmp_path / "x.amat", bits[:2]).read_text()
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert lines[0] == " ".join(map(str, bits[0]))


def test_fast_path_taken_on_standard_layout(bits):
    data = ("\n".join(" ".join(map(str, r)) for r in bits) + "\n").encode()
    np.testing.assert_array_equal(_fast_amat(data, 784, Path("x")), bits)
    assert _fast_amat(data.replace(b"\n", b"\r\n"), 784, Path("x")) is None


@pytest.mark.parametrize("variant", ["crlf", "double_space", "floats", "no_final_newline",
                                     "tabs", "trailing_blank_lines"])
def test_slow_path_variants_agree(tmp_path, bits, variant):
    rows = [" ".join(map(str, r)) for r in bits]
    if variant == "crlf":
        text = "\r\n".join(rows) + "\r\n"
    elif variant == "double_space":
        text = "\n".join(r.replace(" ", "  ") for r in rows) + "\n"
    elif variant == "floats":
        text = "\n".join(" ".join(f"{v:.1f}" for v in r) for r in bits) + "\n"
    elif variant == "no_final_newline":
        text = "\n".join(rows)
    elif variant == "tabs":
        text = "\n".join(r.replace(" ", "\t") for r in rows) + "\n"
    else:
        text = "\n".join(rows) + "\n\n\n"
    (p := tmp_path / "v.amat").write_text(text)
    np.testing.assert_array_equal(read_amat(p), bits)


def test_other_row_length(tmp_path):
    a = np.eye(4, dtype=np.uint8)
    np.testing.assert_array_equal(read_amat(write_amat(tmp_path / "e.amat", a), row_length=4), a)


def _expect(path, match, **kw):
    with pytest.raises(ValueError, match=match) as e:
        read_amat(path, **kw)
    assert path.name in str(e.value)


def test_wrong_row_length(tmp_path, bits):
    rows = [" ".join(map(str, r)) for r in bits]
    rows[4] = rows[4][:-2]  # drop one value on line 5
    (p := tmp_path / "short_row.amat").write_text("\n".join(rows) + "\n")
    _expect(p, "line 5 has 783 values, expected 784")


def test_non_binary_value(tmp_path, bits):
    rows = [" ".join(map(str, r)) for r in bits]
    rows[2] = "2" + rows[2][1:]
    (p := tmp_path / "two.amat").write_text("\n".join(rows) + "\n")
    _expect(p, "value '2' at line 3, column 1 is not binary")
    rows[2] = "0" + rows[2][1:]
    rows[7] = rows[7][:6] + "1.5" + rows[7][7:]  # slow path (a token of 3 characters)
    (q := tmp_path / "frac.amat").write_text("\n".join(rows) + "\n")
    _expect(q, "value '1.5' at line 8, column 4 is not binary")


def test_non_numeric_and_non_ascii(tmp_path, bits):
    rows = [" ".join(map(str, r)) for r in bits]
    rows[0] = "x" + rows[0][1:]
    (p := tmp_path / "letters.amat").write_text("\n".join(rows) + "\n")
    _expect(p, "value 'x' at line 1, column 1 is not binary")
    (p2 := tmp_path / "letters_crlf.amat").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    _expect(p2, "line 1: non-numeric")  # slow path
    (q := tmp_path / "binary.amat").write_bytes(b"\xff\xfe" * 784)
    _expect(q, "non-ASCII")


def test_empty_file(tmp_path):
    (p := tmp_path / "empty.amat").write_text("\n \n")
    _expect(p, "empty")


def test_corrupt_gzip(tmp_path, bits):
    gz = gzip.compress(write_amat(tmp_path / "x.amat", bits).read_bytes())
    (p := tmp_path / "cut.amat.gz").write_bytes(gz[:-30])
    _expect(p, "corrupt or truncated gzip")


# --- npz -----------------------------------------------------------------------------------------

def test_npz_canonical_names(tmp_path, bits):
    p = tmp_path / "b.npz"
    np.savez(p, train=bits.astype(np.float32), valid=bits[:3], test=bits[:5].reshape(5, 28, 28))
    out = read_binarized_npz(p)
    assert sorted(out) == ["test", "train", "valid"]
    np.testing.assert_array_equal(out["train"], bits)
    np.testing.assert_array_equal(out["test"], bits[:5])
    assert all(v.dtype == np.uint8 and v.shape[1] == 784 for v in out.values())


def test_npz_aliases(tmp_path, bits):
    p = tmp_path / "b.npz"
    np.savez_compressed(p, X_train=bits, x_val=bits[:2], x_test=bits[:1])
    out = read_binarized_npz(p)
    assert {k: v.shape[0] for k, v in out.items()} == {"train": 13, "valid": 2, "test": 1}


def _expect_npz(path, match):
    with pytest.raises(ValueError, match=match) as e:
        read_binarized_npz(path)
    assert path.name in str(e.value)


def test_npz_errors(tmp_path, bits):
    np.savez(p := tmp_path / "pickled.npz", train=np.array([{"a": 1}], dtype=object))
    _expect_npz(p, "without pickle")
    np.savez(p := tmp_path / "gray.npz", train=bits * 0.5)
    _expect_npz(p, "other than 0/1")
    np.savez(p := tmp_path / "size.npz", train=bits[:, :700])
    _expect_npz(p, "expected")
    np.savez(p := tmp_path / "names.npz", foo=bits)
    _expect_npz(p, "no train/valid/test")
    (p := tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    _expect_npz(p, "not a valid .npz")
    np.save(p := tmp_path / "single.npy", bits)
    _expect_npz(p, "single .npy")
    with pytest.raises(FileNotFoundError):
        read_binarized_npz(tmp_path / "missing.npz")
