"""``transmit_stream``: a bitstream through a channel (flips, erasures) and back into a stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import binom
from torch import Tensor

import channels
from channels.base import ERASED, BinaryChannel
from njscc.cli.commands.transmit import transmit_stream
from njscc.io.bitstream import pack_bits, unpack

TAIL = 1e-7  # two-sided failure probability of each binomial check


def _bounds(n: int, p: float) -> tuple[int, int]:
    return int(binom.ppf(TAIL / 2, n, p)), int(binom.isf(TAIL / 2, n, p))


class _FakeBSC(BinaryChannel):
    """Local BSC/BEC so these tests do not depend on the channels package's classes."""

    def __init__(self, p: float, erase: bool = False):
        super().__init__()
        self.p, self.erase = p, erase
        self.alphabet = (0.0, 1.0, float(ERASED)) if erase else (0.0, 1.0)

    def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        hit = torch.rand(bits.shape, generator=generator) < self.p
        return bits.masked_fill(hit, ERASED) if self.erase else torch.where(hit, 1 - bits, bits)

    def marginal(self, probs: Tensor) -> Tensor:  # pragma: no cover - unused here
        raise NotImplementedError

    def llr(self, received: Tensor) -> Tensor:  # pragma: no cover - unused here
        raise NotImplementedError

    @property
    def capacity(self) -> float:  # pragma: no cover - unused here
        return 0.0


def _stream(n: int = 400, m: int = 50, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return pack_bits(rng.integers(0, 2, (n, m)), model_id=b"12345678", data_shape=(1, 5, 10))


def _get(name: str, param: float) -> BinaryChannel:
    return channels.get(name, param)


@pytest.mark.parametrize("erase", [False, True])
def test_fake_channel_identity_and_counts(erase: bool) -> None:
    data = _stream()
    out, st = transmit_stream(data, _FakeBSC(0.0, erase), torch.Generator().manual_seed(0))
    a, b = unpack(data), unpack(out)
    assert torch.equal(a.bits, b.bits) and st["flipped"] == st["erased"] == 0
    if not erase:
        assert out == data
    else:
        assert b.has_erasures and not bool(b.erased.any())
    p = 0.1
    out, st = transmit_stream(data, _FakeBSC(p, erase), torch.Generator().manual_seed(1))
    b = unpack(out)
    lo, hi = _bounds(st["bits"], p)
    assert st["bits"] == 400 * 50
    assert (b.model_id, b.data_shape, b.n, b.m) == (a.model_id, a.data_shape, a.n, a.m)
    if erase:
        assert st["flipped"] == 0 and lo <= st["erased"] <= hi
        assert int(b.erased.sum()) == st["erased"]
        keep = ~b.erased
        assert torch.equal(a.bits[keep], b.bits[keep])
    else:
        assert st["erased"] == 0 and lo <= st["flipped"] <= hi
        assert int((a.bits != b.bits).sum()) == st["flipped"]


def test_erased_bits_stay_erased() -> None:
    data = _stream(100, 20)
    once, st1 = transmit_stream(data, _FakeBSC(0.3, True), torch.Generator().manual_seed(2))
    twice, st2 = transmit_stream(once, _FakeBSC(0.3, False), torch.Generator().manual_seed(3))
    e1, e2 = unpack(once).erased, unpack(twice).erased
    assert torch.equal(e1, e2)
    assert st2["already_erased"] == st1["erased"] and st2["bits"] == 2000 - st1["erased"]


def test_soft_channel_rejected() -> None:
    class Soft(_FakeBSC):
        def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
            return bits * 2.5 - 1.1

    with pytest.raises(ValueError, match="soft"):
        transmit_stream(_stream(), Soft(0.0))


@pytest.mark.parametrize("name", ["bsc", "bec"])
def test_registry_channels(name: str) -> None:
    data = _stream()
    out, st = transmit_stream(data, _get(name, 0.0), torch.Generator().manual_seed(0))
    assert torch.equal(unpack(out).bits, unpack(data).bits)
    assert st["flipped"] == st["erased"] == 0
    if name == "bsc":
        assert out == data
    p = 0.05
    out, st = transmit_stream(data, _get(name, p), torch.Generator().manual_seed(5))
    again, _ = transmit_stream(data, _get(name, p), torch.Generator().manual_seed(5))
    assert out == again  # same seed → same received stream
    lo, hi = _bounds(st["bits"], p)
    count = st["flipped"] if name == "bsc" else st["erased"]
    other = st["erased"] if name == "bsc" else st["flipped"]
    assert lo <= count <= hi and other == 0


def test_public_transmit_and_quickstart_example(tmp_path):
    """``njscc.transmit`` is the library function, and the README's quickstart script runs."""
    import subprocess
    import sys
    from pathlib import Path

    import njscc
    from njscc.io.bitstream import transmit
    from njscc.training.checkpoint import save_checkpoint

    assert njscc.transmit is transmit
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", njscc.models.get("necst_mlp", m=16))
    script = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    out = tmp_path / "q.png"
    r = subprocess.run([sys.executable, str(script), "--model", str(tmp_path / "ck"),
                        "--out", str(out), "--n", "4"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "bsc(0.1)" in r.stdout and "bec(0.2)" in r.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
