"""Source codecs: header-known payloads, budget search, decode failures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from baselines.source import BudgetError, DecodeError, JPEGCodec, WebPCodec, get_source

CODECS = [JPEGCodec, WebPCodec]


def _image(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """A smooth-ish random image (noise + gradient), uint8."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    base = np.add.outer(np.linspace(0, 200, h), np.linspace(0, 55, w))
    if len(shape) == 3:
        base = base[..., None] + np.array([0.0, 30.0, -30.0])
    return np.clip(base + rng.normal(0, 25, shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("cls", CODECS)
@pytest.mark.parametrize("shape", [(28, 28), (17, 33), (24, 40, 3)])
@pytest.mark.parametrize("quality", [1, 10, 50, 90, 100])
def test_header_known_payload_decodes_like_the_full_file(cls, shape, quality):
    img = _image(quality, shape)
    full = cls(quality)
    file = full.encode(img)
    hk = cls(quality, header_known=True)
    payload = hk.encode(img)
    assert len(payload) < len(file)
    # the receiver's rebuilt file is byte-identical, hence pixel-identical (error-free channel)
    assert hk.join(payload, shape, quality) == file
    a = full.decode(file, shape)
    b = hk.decode(payload, shape)
    assert a.shape == shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    # and Pillow itself reads the file to the same pixels
    ref = np.asarray(Image.open(io.BytesIO(file)).convert("L" if len(shape) == 2 else "RGB"))
    np.testing.assert_array_equal(a, ref)
    assert full.sizes(img) == {"file": len(file), "payload": len(payload)}


@pytest.mark.parametrize("shape", [(28, 28), (24, 40, 3)])
def test_jpeg_header_is_content_independent_and_payload_is_the_scan(shape):
    codec = JPEGCodec(40)
    files = [codec.encode_file(_image(s, shape), 40) for s in range(5)]
    files.append(codec.encode_file(np.full(shape, 255, np.uint8), 40))
    headers = {codec.split(f)[0] for f in files}
    assert len(headers) == 1
    header = headers.pop()
    assert header == codec.known_header(shape, 40)
    # header ends with the SOS segment; payload = raw bytes between it and EOI
    sos = header.rfind(b"\xff\xda")
    assert sos > 0 and sos + 2 + int.from_bytes(header[sos + 2:sos + 4], "big") == len(header)
    for f in files:
        assert f.startswith(header) and f.endswith(b"\xff\xd9")
        assert codec.split(f)[1] == f[len(header):-2]
    # different quality or size → different header
    assert codec.known_header(shape, 41) != header
    assert codec.known_header((shape[0] + 8,) + shape[1:], 40) != header


def test_jpeg_restart_markers_stay_in_the_payload():
    img = _image(2, (64, 48))
    codec = JPEGCodec(60, header_known=True, restart_blocks=3)
    file = codec.encode_file(img, 60)
    header, payload = codec.split(file)
    assert b"\xff\xdd" in header  # DRI: known
    assert sum(payload.count(bytes([0xFF, 0xD0 + i])) for i in range(8)) == 48 // 3 - 1
    np.testing.assert_array_equal(codec.decode(payload, img.shape),
                                  JPEGCodec(60).decode(file, img.shape))
    assert len(file) > len(JPEGCodec(60).encode(img))


def test_webp_payload_drops_exactly_the_known_bytes():
    codec = WebPCodec(50)
    img = _image(3, (28, 28))
    file = codec.encode_file(img, 50)
    payload = codec.split(file)[1]
    vp8_len = int.from_bytes(file[16:20], "little")
    # 12 RIFF + 8 chunk header + 3 start code + 4 dimensions (+ 1 RIFF pad byte)
    assert len(file) - len(payload) == 27 + vp8_len % 2
    assert file[:4] == b"RIFF" and file[8:16] == b"WEBPVP8 "


@pytest.mark.parametrize("cls", CODECS)
def test_signal_quality_byte_round_trip_and_bad_byte(cls):
    img = _image(0, (28, 28))
    c = cls(30, header_known=True, signal_quality=True)
    s = c.encode(img, 63)
    assert s[0] == 63
    plain = cls(63, header_known=True)
    np.testing.assert_array_equal(c.decode(s, img.shape), plain.decode(plain.encode(img),
                                                                       img.shape))
    with pytest.raises(DecodeError):
        c.decode(bytes([200]) + s[1:], img.shape)
    with pytest.raises(DecodeError):
        c.decode(b"", img.shape)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), h=st.integers(8, 40), w=st.integers(8, 40),
       rgb=st.booleans(), budget=st.integers(0, 30_000),
       cls=st.sampled_from(CODECS), header_known=st.booleans())
def test_budget_search_never_exceeds_the_budget(seed, h, w, rgb, budget, cls, header_known):
    img = _image(seed, (h, w, 3) if rgb else (h, w))
    codec = cls(header_known=header_known, signal_quality=header_known)
    lowest = 8 * len(codec.encode(img, codec.min_quality))
    try:
        q, stream = codec.fit_budget(img, budget)
    except BudgetError as e:
        assert lowest > budget
        assert e.min_bits == lowest and e.max_bits == budget
        return
    assert 8 * len(stream) <= budget
    assert codec.min_quality <= q <= codec.max_quality
    assert stream == codec.encode(img, q)
    assert codec.decode(stream, img.shape).shape == img.shape


def test_budget_search_finds_the_monotone_maximum():
    codec = JPEGCodec(header_known=True)
    img = _image(5, (28, 28))
    sizes = {q: 8 * len(codec.encode(img, q)) for q in range(1, 101)}
    budget = sizes[60]
    q, _ = codec.fit_budget(img, budget)
    # bisection returns a fitting quality whose successor does not fit
    assert sizes[q] <= budget and (q == 100 or sizes[q + 1] > budget)


@pytest.mark.parametrize("cls", CODECS)
@pytest.mark.parametrize("header_known", [False, True])
def test_corrupted_streams_raise_only_decode_error(cls, header_known):
    rng = np.random.default_rng(0)
    img = _image(1, (28, 28))
    codec = cls(50, header_known=header_known)
    s = bytearray(codec.encode(img))
    bad = [b"", b"\x00" * 10, bytes(s[: len(s) // 2]), bytes(rng.integers(0, 256, 300,
                                                                         dtype=np.uint8))]
    for _ in range(60):
        t = bytearray(s)
        for i in rng.integers(0, len(t), 4):
            t[i] ^= 1 << int(rng.integers(0, 8))
        bad.append(bytes(t))
    decoded = 0
    for b in bad:
        try:
            out = codec.decode(b, img.shape)
        except DecodeError:
            continue
        assert out.shape == img.shape and out.dtype == np.uint8
        decoded += 1
    assert decoded < len(bad)  # some of them are rejected


def test_wrong_shape_is_a_decode_error_and_inputs_are_validated():
    img = _image(0, (28, 28))
    c = JPEGCodec(50)
    with pytest.raises(DecodeError, match="size"):
        c.decode(c.encode(img), (32, 32))
    with pytest.raises(TypeError, match="uint8"):
        c.encode(img.astype(np.float32))
    with pytest.raises(ValueError, match="quality"):
        JPEGCodec(0)
    with pytest.raises(ValueError, match="quality"):
        WebPCodec(101)
    with pytest.raises(ValueError, match="shape"):
        JPEGCodec(header_known=True).decode(b"", None)
    with pytest.raises(ValueError, match="source"):
        get_source("png")
    assert isinstance(get_source("WebP", 20), WebPCodec)
