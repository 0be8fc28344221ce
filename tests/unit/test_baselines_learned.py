"""LearnedBitSource: trained bit codecs as the source code of a separation scheme."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import channels
from baselines import DecodeError, IdealCode, LearnedBitSource, SeparationScheme, get_source
from njscc import models
from njscc.data import load_dataset


@pytest.fixture(scope="module")
def codecs() -> list:
    torch.manual_seed(0)
    return [models.get("necst_mlp", m=m, enc_hidden=[32], dec_hidden=[32]).eval()
            for m in (53, 16)]  # given out of order on purpose


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    x = load_dataset("embedded", "test").images[:6]
    return (x[:, 0] * 255).round().to(torch.uint8).numpy()  # [6, 28, 28] uint8


def test_bits_round_trip_exactly(codecs: list, digits: np.ndarray) -> None:
    src = LearnedBitSource(codecs)
    assert [src.bits(q) for q in (1, 2)] == [16, 53] and src.max_quality == 2
    for q, m in ((1, 16), (2, 53)):
        codec = src.codecs[q - 1]
        for im in digits:
            file = src.encode_file(im, q)
            assert file[0] == q and len(file) == 1 + (m + 7) // 8
            data = src.split(file)[1]
            assert src.join(data, im.shape, q) == file
            sent = np.unpackbits(np.frombuffer(data, np.uint8))
            want = codec.compress(torch.from_numpy(im / 255.0).float()[None, None])[0]
            assert np.array_equal(sent[:m], want.numpy()) and not sent[m:].any()
            # decoding = the codec's own decoder on those bits, quantised to uint8
            rec = LearnedBitSource(codecs, q, header_known=True).decode(data, im.shape)
            assert np.array_equal(rec, src.decode(file, im.shape))  # whole file: same image
            ref = codec.decompress(want.float()[None]).reshape(28, 28).clamp(0, 1)
            assert rec.dtype == np.uint8 and rec.shape == (28, 28)
            assert np.array_equal(rec, (ref * 255).round().to(torch.uint8).numpy())


def test_through_a_separation_scheme_with_the_ideal_code(codecs: list, digits: np.ndarray
                                                         ) -> None:
    src = get_source("learned", 2, codecs=codecs, header_known=True)
    ch = channels.get("bsc", 0.1)
    stream = src.encode(digits[0])
    assert 8 * len(stream) == 56  # 53 bits padded to 7 bytes
    scheme = SeparationScheme(src, IdealCode(ch), ch)
    out = scheme.run(torch.from_numpy(digits[:, None]), torch.Generator().manual_seed(0))
    # the ideal code delivers the 56 bits intact: x̂ is the source's own reconstruction
    assert not out["failed"].any() and (out["bit_errors"] == 0).all()
    assert (out["channel_bits"] == IdealCode(ch).channel_bits(56)).all()  # ⌈56 / C⌉ = 106
    for j, im in enumerate(digits):
        rec = src.decode(src.encode(im), im.shape).astype(np.float32) / 255.0
        assert torch.allclose(out["x_hat"][j, 0], torch.from_numpy(rec), atol=1e-6)


def test_refusals(codecs: list, digits: np.ndarray) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        LearnedBitSource([])
    with pytest.raises(ValueError, match="bit codecs"):
        LearnedBitSource([models.get("vae", m=4)])
    with pytest.raises(ValueError, match="quality"):
        LearnedBitSource(codecs, 3)
    with pytest.raises(DecodeError, match="expected 7"):
        LearnedBitSource(codecs, 2, header_known=True).decode(b"\x00" * 3, (28, 28))
    with pytest.raises(DecodeError, match="out of range"):
        LearnedBitSource(codecs).decode(b"\x09" + b"\x00" * 2, (28, 28))
