"""IDX reader/writer: round trips for every dtype and compression, and every validation error."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from njscc.data import parse_idx, read_idx, write_idx
from njscc.data.idx import IDX_DTYPES

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _sample(dtype, shape, rng):
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


@pytest.mark.parametrize("suffix", ["", ".gz", ".xz"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype_and_compression(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    for shape in [(7,), (3, 5), (2, 3, 4), (1, 2, 1, 3)]:
        a = _sample(dtype, shape, rng)
        p = write_idx(tmp_path / f"a{len(shape)}{suffix}", a)
        b = read_idx(p)
        assert b.dtype == np.dtype(dtype) and b.dtype.isnative
        assert b.shape == shape
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable


def test_header_is_big_endian_and_matches_spec(tmp_path):
    p = write_idx(tmp_path / "x.idx", np.array([[258, -2]], dtype=np.int16))
    raw = p.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0B, 2])
    assert struct.unpack(">II", raw[4:12]) == (1, 2)
    assert raw[12:] == b"\x01\x02\xff\xfe"


def test_reads_a_hand_made_mnist_style_file(tmp_path):
    # the MNIST label header: magic 0x00000801, count, then bytes
    p = tmp_path / "labels-idx1-ubyte"
    p.write_bytes(struct.pack(">II", 0x801, 4) + bytes([5, 0, 4, 1]))
    np.testing.assert_array_equal(read_idx(p), [5, 0, 4, 1])
    gz = tmp_path / "labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    np.testing.assert_array_equal(read_idx(gz), [5, 0, 4, 1])


def test_big_endian_input_array_is_written_correctly(tmp_path):
    a = np.arange(6, dtype=">f8").reshape(2, 3)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "f", a)), a)


def test_parse_idx_on_bytes(tmp_path):
    a = np.arange(10, dtype=np.int32)
    data = write_idx(tmp_path / "a.xz", a).read_bytes()
    np.testing.assert_array_equal(parse_idx(data, "a.xz"), a)


def test_gzip_output_is_deterministic(tmp_path):
    a = np.arange(100, dtype=np.uint8)
    assert write_idx(tmp_path / "1.gz", a).read_bytes() == write_idx(tmp_path / "2.gz",
                                                                       a).read_bytes()


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.dtype(d) for d in DTYPES]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)))
def test_round_trip_property(tmp_path_factory, a):
    p = write_idx(tmp_path_factory.mktemp("h") / "a", a)
    b = read_idx(p)
    assert b.shape == a.shape and b.dtype == a.dtype
    np.testing.assert_array_equal(a, b)  # NaN == NaN for assert_array_equal


# --- validation errors: each names the file ---------------------------------------------------

def _good(tmp_path, name="good"):
    return write_idx(tmp_path / name, np.arange(24, dtype=np.uint8).reshape(2, 3, 4)).read_bytes()


def _expect(path, match):
    with pytest.raises(ValueError, match=match) as e:
        read_idx(path)
    assert path.name in str(e.value)


def test_wrong_magic_number(tmp_path):
    raw = bytearray(_good(tmp_path))
    raw[0] = 0x1F
    (p := tmp_path / "bad_magic").write_bytes(bytes(raw))
    _expect(p, "bad IDX magic")


def test_unknown_dtype_code(tmp_path):
    raw = bytearray(_good(tmp_path))
    raw[2] = 0x0A
    (p := tmp_path / "bad_type").write_bytes(bytes(raw))
    _expect(p, "bad IDX magic")


def test_zero_dimensions(tmp_path):
    (p := tmp_path / "zero_dims").write_bytes(bytes([0, 0, 8, 0]))
    _expect(p, "dimensions")


def test_truncated_payload(tmp_path):
    (p := tmp_path / "truncated").write_bytes(_good(tmp_path)[:-1])
    _expect(p, "truncated")


def test_truncated_header(tmp_path):
    (p := tmp_path / "short_header").write_bytes(_good(tmp_path)[:10])
    _expect(p, "truncated IDX header")
    (q := tmp_path / "tiny").write_bytes(b"\x00\x00")
    _expect(q, "shorter than the header")


def test_trailing_bytes(tmp_path):
    (p := tmp_path / "trailing").write_bytes(_good(tmp_path) + b"\x00")
    _expect(p, "trailing bytes")


def test_wrong_dims_in_header(tmp_path):
    raw = bytearray(_good(tmp_path))
    raw[4:8] = struct.pack(">I", 3)  # says 3 x 3 x 4 but has 2 x 3 x 4 values
    (p := tmp_path / "wrong_dims").write_bytes(bytes(raw))
    _expect(p, "size mismatch")


def test_corrupt_gzip(tmp_path):
    gz = bytearray(gzip.compress(_good(tmp_path) * 20, mtime=0))
    (p := tmp_path / "cut.gz").write_bytes(bytes(gz[:-12]))
    _expect(p, "corrupt or truncated gzip")
    gz[len(gz) // 2] ^= 0xFF
    gz[-5] ^= 0xFF  # and a wrong length/CRC trailer
    (q := tmp_path / "flipped.gz").write_bytes(bytes(gz))
    _expect(q, "corrupt or truncated gzip")


def test_corrupt_xz(tmp_path):
    data = write_idx(tmp_path / "a.xz", np.arange(1000, dtype=np.int32)).read_bytes()
    (p := tmp_path / "cut.xz").write_bytes(data[:-20])
    _expect(p, "corrupt or truncated xz")


def test_gz_name_without_gzip_content(tmp_path):
    (p := tmp_path / "plain.gz").write_bytes(_good(tmp_path))
    _expect(p, "not a gzip file")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        read_idx(tmp_path / "nope")
    with pytest.raises(IsADirectoryError):
        read_idx(tmp_path)


@pytest.mark.parametrize("a", [np.zeros(3, dtype=bool), np.zeros(3, dtype=np.int64),
                               np.zeros(3, dtype=np.uint16)])
def test_write_rejects_dtypes_without_code(tmp_path, a):
    with pytest.raises(TypeError, match="IDX"):
        write_idx(tmp_path / "x", a)


def test_write_rejects_scalar(tmp_path):
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))


def test_dtype_table_is_the_spec():
    assert {k: v.str for k, v in IDX_DTYPES.items()} == {
        0x08: "|u1", 0x09: "|i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
