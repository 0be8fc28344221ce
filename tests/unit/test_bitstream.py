"""Bitstream format v1: layout, pack/unpack round trips, corruption detection, encode/decode."""

from __future__ import annotations

import copy
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from channels.base import ERASED
from njscc.codec import LatentCodec, decoder_input
from njscc.io.bitstream import (
    HEADER,
    MAGIC,
    NO_MODEL,
    Bitstream,
    BitstreamError,
    decode,
    encode,
    model_fingerprint,
    pack_bits,
    unpack,
)
from njscc.registry import record_config

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


class TinyCodec(LatentCodec):
    """A minimal linear codec on 1×4×4 images (independent of the model registry)."""

    def __init__(self, m: int = 12, data_shape: tuple[int, ...] = (1, 4, 4), seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        d = int(np.prod(data_shape))
        self.m, self.data_shape = m, tuple(data_shape)
        self.encoder = nn.Linear(d, m)
        self.decoder = nn.Linear(m, d)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(-len(self.data_shape)) - 0.5)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        return self.decoder(decoder_input(y)).unflatten(-1, self.data_shape)


# --------------------------------------------------------------------------- strategies

@st.composite
def payloads(draw: st.DrawFn) -> dict:
    n = draw(st.integers(0, 12))
    m = draw(st.integers(1, 40))
    bits = draw(hnp.arrays(np.uint8, (n, m), elements=st.integers(0, 1)))
    erasures = draw(st.none() | hnp.arrays(np.bool_, (n, m)))
    shape = tuple(draw(st.lists(st.integers(1, 300), max_size=4)))
    model_id = draw(st.binary(min_size=8, max_size=8))
    return {"bits": bits, "erasures": erasures, "data_shape": shape, "model_id": model_id}


def _pack(p: dict) -> bytes:
    return pack_bits(p["bits"], p["erasures"], model_id=p["model_id"],
                     data_shape=p["data_shape"])


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


# --------------------------------------------------------------------------- layout

def test_golden_bytes() -> None:
    """The byte-by-byte layout documented in the module docstring and docs/bitstream.md."""
    bits = np.array([[1, 0, 1, 1, 0, 0, 0, 1, 1], [0, 1, 0, 0, 0, 0, 0, 0, 1]])
    data = pack_bits(bits, model_id=bytes(range(1, 9)), data_shape=(1, 3, 3))
    body = (b"NJSC" + bytes([1, 0, 3, 0]) + bytes(range(1, 9))
            + (9).to_bytes(4, "big") + (2).to_bytes(4, "big")
            + b"".join(d.to_bytes(4, "big") for d in (1, 3, 3))
            # 18 bits row-major: 10110001 | 10100000 | 01000000 (6 zero padding bits)
            + bytes([0b10110001, 0b10100000, 0b01000000]))
    assert data == _with_crc(body)
    assert HEADER.size == 24 and len(data) == 24 + 12 + 3 + 4

    er = np.zeros_like(bits, dtype=bool)
    er[0, 0] = True
    data = pack_bits(bits, er, model_id=bytes(range(1, 9)), data_shape=(1, 3, 3))
    body = (b"NJSC" + bytes([1, 1, 3, 0]) + bytes(range(1, 9))
            + (9).to_bytes(4, "big") + (2).to_bytes(4, "big")
            + b"".join(d.to_bytes(4, "big") for d in (1, 3, 3))
            + bytes([0b00110001, 0b10100000, 0b01000000])  # erased bit stored as 0
            + bytes([0b10000000, 0, 0]))
    assert data == _with_crc(body)


@SETTINGS
@given(payloads())
def test_pack_unpack_round_trip(p: dict) -> None:
    data = _pack(p)
    s = unpack(data)
    n, m = p["bits"].shape
    assert (s.n, s.m) == (n, m)
    assert s.data_shape == p["data_shape"] and s.model_id == p["model_id"]
    assert s.bits.dtype == torch.uint8 and tuple(s.bits.shape) == (n, m)
    p_bytes = (n * m + 7) // 8
    assert len(data) == 24 + 4 * len(p["data_shape"]) + p_bytes * (1 + s.has_erasures) + 4
    if p["erasures"] is None:
        assert s.erased is None
        np.testing.assert_array_equal(s.bits.numpy(), p["bits"])
    else:
        e = p["erasures"]
        np.testing.assert_array_equal(s.erased.numpy(), e)
        np.testing.assert_array_equal(s.bits.numpy(), np.where(e, 0, p["bits"]))
        y = s.symbols()
        assert bool((y[torch.from_numpy(e)] == ERASED).all())
    assert s.to_bytes() == data  # canonical: re-serialising gives the same bytes


@SETTINGS
@given(payloads(), st.data())
def test_any_single_byte_mutation_is_rejected(p: dict, data: st.DataObject) -> None:
    good = _pack(p)
    i = data.draw(st.integers(0, len(good) - 1), label="position")
    delta = data.draw(st.integers(1, 255), label="xor")
    bad = bytearray(good)
    bad[i] ^= delta
    with pytest.raises(BitstreamError):
        unpack(bytes(bad))


@SETTINGS
@given(payloads(), st.data())
def test_truncation_and_trailing_bytes_are_rejected(p: dict, data: st.DataObject) -> None:
    good = _pack(p)
    cut = data.draw(st.integers(0, len(good) - 1), label="length")
    with pytest.raises(BitstreamError, match="truncated|empty|magic"):
        unpack(good[:cut])
    extra = data.draw(st.binary(min_size=1, max_size=20), label="extra")
    with pytest.raises(BitstreamError, match="trailing garbage"):
        unpack(good + extra)


def test_erasure_symbols_in_bits_make_a_mask() -> None:
    y = torch.tensor([[0.0, 1.0, -1.0], [-1.0, 0.0, 1.0]])
    s = unpack(pack_bits(y))
    assert s.has_erasures
    assert torch.equal(s.symbols(), y)


# --------------------------------------------------------------------------- error messages

def test_error_messages() -> None:
    good = pack_bits(np.ones((3, 10), np.uint8), data_shape=(1, 2, 5))
    with pytest.raises(BitstreamError, match=r"bad magic b'PK\\x03\\x04'"):
        unpack(b"PK\x03\x04" + good[4:])
    with pytest.raises(BitstreamError, match="expected 44 bytes.*got 40"):
        unpack(good[:40])
    with pytest.raises(BitstreamError, match="trailing garbage: 3 extra bytes"):
        unpack(good + b"abc")
    bad = bytearray(good)
    bad[30] ^= 1
    with pytest.raises(BitstreamError, match="CRC mismatch"):
        unpack(bytes(bad))
    with pytest.raises(BitstreamError, match="empty"):
        unpack(b"")
    # fields that a CRC cannot vouch for: re-sign a body with a bad field
    body = bytearray(good[:-4])
    body[4] = 2
    with pytest.raises(BitstreamError, match="unsupported bitstream version 2"):
        unpack(_with_crc(bytes(body)))
    body = bytearray(good[:-4])
    body[5] = 0x80
    with pytest.raises(BitstreamError, match="unknown flags"):
        unpack(_with_crc(bytes(body)))
    body = bytearray(good[:-4])
    body[-1] |= 1  # a padding bit (30 bits → 2 padding bits in the last byte)
    with pytest.raises(BitstreamError, match="padding"):
        unpack(_with_crc(bytes(body)))
    with pytest.raises(TypeError):
        unpack("NJSC")  # type: ignore[arg-type]


def test_pack_bits_validation() -> None:
    with pytest.raises(ValueError, match=r"shape \[N, m\]"):
        pack_bits(np.zeros(5))
    with pytest.raises(ValueError, match="values must be 0, 1"):
        pack_bits(np.full((2, 2), 2))
    with pytest.raises(ValueError, match="non-integer"):
        pack_bits(np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="m .* must be >= 1"):
        pack_bits(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="erasures: expected shape"):
        pack_bits(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="model_id"):
        pack_bits(np.zeros((2, 3)), model_id=b"abc")
    with pytest.raises(ValueError, match="data_shape"):
        pack_bits(np.zeros((2, 3)), data_shape=(0, 3))


# --------------------------------------------------------------------------- model level

def test_fingerprint() -> None:
    a = TinyCodec()
    fa = model_fingerprint(a)
    assert isinstance(fa, bytes) and len(fa) == 8 and fa != NO_MODEL
    assert model_fingerprint(copy.deepcopy(a)) == fa
    assert model_fingerprint(TinyCodec()) == fa  # same seed → same weights
    a.train()
    assert model_fingerprint(a) == fa  # mode is not part of the id
    b = copy.deepcopy(a)
    with torch.no_grad():
        b.decoder.weight[0, 0] += 1e-6
    assert model_fingerprint(b) != fa
    c = copy.deepcopy(a)
    record_config(c, "tiny", {"m": 12, "data_shape": [1, 4, 4], "x": 1})  # config only
    assert model_fingerprint(c) != fa
    assert model_fingerprint(TinyCodec(seed=1)) != fa
    assert model_fingerprint(copy.deepcopy(a).double()) != fa


def test_encode_decode_equals_compress_decompress() -> None:
    model = TinyCodec()
    x = torch.rand(37, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    data = encode(model, x, batch_size=5)
    assert data == encode(model, x)  # chunking does not change the stream
    s = unpack(data)
    assert (s.n, s.m, s.data_shape, s.model_id) == (37, 12, (1, 4, 4), model_fingerprint(model))
    assert torch.equal(s.bits, model.compress(x))
    out = decode(model, data)
    assert torch.equal(out, model.decompress(model.compress(x)))
    # chunked decoding: same up to float rounding of differently sized matmuls
    assert torch.allclose(decode(model, data, batch_size=4), out, rtol=1e-5, atol=1e-6)
    assert out.shape == (37, 1, 4, 4) and out.dtype == torch.float32
    # a single image [C, H, W] is accepted, batch of one
    assert unpack(encode(model, x[0])).n == 1


def test_encode_decode_restores_training_mode() -> None:
    model = TinyCodec().train()
    decode(model, encode(model, torch.rand(2, 1, 4, 4)))
    assert model.training


def test_decode_feeds_erasures_as_minus_one() -> None:
    model = TinyCodec()
    x = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    s = unpack(encode(model, x))
    er = torch.rand(6, 12, generator=torch.Generator().manual_seed(2)) < 0.3
    data = pack_bits(s.bits, er, model_id=s.model_id, data_shape=s.data_shape)
    y = s.bits.float().masked_fill(er, ERASED)
    assert torch.equal(decode(model, data), model.decompress(y))


def test_decode_rejects_wrong_model() -> None:
    a, b = TinyCodec(seed=0), TinyCodec(seed=1)
    data = encode(a, torch.rand(3, 1, 4, 4))
    fa, fb = model_fingerprint(a).hex(), model_fingerprint(b).hex()
    with pytest.raises(BitstreamError, match=f"wrong model.*{fa}.*{fb}"):
        decode(b, data)
    with pytest.raises(BitstreamError, match="m=12 bits per image, the model has m=8"):
        decode(TinyCodec(m=8), data)
    with pytest.raises(BitstreamError, match="image shape mismatch"):
        decode(TinyCodec(data_shape=(1, 2, 8)), data)
    with pytest.raises(BitstreamError, match="wrong model"):
        decode(a, pack_bits(unpack(data).bits, data_shape=(1, 4, 4)))  # no model id


def test_encode_validation() -> None:
    model = TinyCodec()
    with pytest.raises(TypeError, match="float tensor"):
        encode(model, torch.zeros(2, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"expected shape \[B, 1, 4, 4\]"):
        encode(model, torch.zeros(2, 1, 5, 4))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encode(model, torch.full((2, 1, 4, 4), 1.5))
    with pytest.raises(ValueError, match="NaN"):
        encode(model, torch.full((2, 1, 4, 4), float("nan")))
    with pytest.raises(TypeError, match="LatentCodec"):
        encode(object(), torch.zeros(1, 1, 4, 4))  # type: ignore[arg-type]


def test_bitstream_dataclass_symbols_dtype() -> None:
    s = Bitstream(bits=torch.tensor([[1, 0]], dtype=torch.uint8),
                  erased=torch.tensor([[False, True]]), model_id=NO_MODEL, data_shape=())
    assert s.symbols(torch.float64).tolist() == [[1.0, -1.0]]
    assert unpack(s.to_bytes()).symbols().tolist() == [[1.0, -1.0]]
    assert MAGIC == b"NJSC"
