"""Digital modulation for the separation baseline over analog channels: BPSK, QPSK and
16-QAM through Sionna's ``Mapper`` / ``Demapper`` (soft "app" LLRs), and the BLER of a
channel code + modulation over AWGN.

Conventions: unit average symbol energy (Sionna's normalised constellations; BPSK is the real
1-bit PAM), complex AWGN of variance σ² = 1 / SNR per channel use (as in
:mod:`channels.analog`), LLRs in the package sign log p(b = 1 | y) / p(b = 0 | y) (Sionna's
"logits" convention, no conversion). With receiver CSI, block Rayleigh fading is equivalent,
per block, to AWGN at SNR·|h|² after zero-forcing (y / h has noise σ² / |h|²), so the fading
results are computed from the AWGN BLER curve (:func:`fading_success`).

A source stream of L bits costs ⌈L / k⌉ codewords of n bits = ⌈L / k⌉·n / b channel uses with
b bits per symbol (:meth:`ModulatedCode.channel_uses`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from baselines.bits import num_blocks
from baselines.codes import ChannelCode

__all__ = ["MODULATIONS", "ModulatedCode", "Modulation", "bler_curve", "fading_success",
           "success_probability"]

#: modulation name → (Sionna constellation type, bits per symbol)
MODULATIONS: dict[str, tuple[str, int]] = {"bpsk": ("pam", 1), "qpsk": ("qam", 2),
                                           "16qam": ("qam", 4)}


class Modulation:
    """A Sionna mapper/demapper pair: bits ``[..., n]`` ↔ complex symbols ``[..., n / b]``."""

    def __init__(self, name: str, demapping: str = "app") -> None:
        try:
            from sionna.phy.mapping import Demapper, Mapper
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("modulation needs sionna-no-rt (pip install 'njscc[fec]')") from e
        if name not in MODULATIONS:
            raise ValueError(f"modulation: expected one of {', '.join(MODULATIONS)}, got "
                             f"{name!r}")
        kind, b = MODULATIONS[name]
        self.name, self.bits_per_symbol = name, b
        self._mapper = Mapper(kind, b)
        self._demapper = Demapper(demapping, kind, b)

    def __repr__(self) -> str:
        return f"Modulation({self.name!r})"

    def map(self, bits: Tensor) -> Tensor:
        """0/1 bits ``[..., n]`` (n a multiple of b) → complex64 symbols ``[..., n / b]``."""
        if bits.shape[-1] % self.bits_per_symbol:
            raise ValueError(f"{self.name}: {bits.shape[-1]} bits is not a multiple of "
                             f"{self.bits_per_symbol} bits per symbol")
        with torch.no_grad():
            return self._mapper(bits.to(torch.float32)).to(torch.complex64)

    def demap(self, y: Tensor, noise_var: float | Tensor) -> Tensor:
        """Received symbols ``[..., s]`` and noise variance (scalar or broadcastable) →
        LLRs ``[..., s·b]`` (log p(1)/p(0))."""
        no = torch.as_tensor(noise_var, dtype=torch.float32)
        with torch.no_grad():
            return self._demapper(y.to(torch.complex64), no).to(torch.float32)


@dataclass
class ModulatedCode:
    """A channel code followed by a modulation: the digital link of a separation scheme."""

    code: ChannelCode
    modulation: Modulation

    def __post_init__(self) -> None:
        if self.code.n % self.modulation.bits_per_symbol:
            raise ValueError(f"codeword length n={self.code.n} is not a multiple of "
                             f"{self.modulation.bits_per_symbol} bits per symbol")

    @property
    def name(self) -> str:
        return f"{self.code.name}({self.code.k},{self.code.n})+{self.modulation.name}"

    @property
    def uses_per_codeword(self) -> int:
        return self.code.n // self.modulation.bits_per_symbol

    @property
    def info_bits_per_use(self) -> float:
        """Spectral efficiency: code rate × bits per symbol."""
        return self.code.rate * self.modulation.bits_per_symbol

    def channel_uses(self, info_bits: int) -> int:
        """Complex channel uses for a stream of ``info_bits`` bits: ⌈L / k⌉ · n / b."""
        return num_blocks(int(info_bits), self.code.k) * self.uses_per_codeword

    def max_info_bits(self, channel_uses: int) -> int:
        """Longest stream that fits in ``channel_uses`` uses: ⌊uses / (n / b)⌋ · k."""
        return (int(channel_uses) // self.uses_per_codeword) * self.code.k

    def config(self) -> dict[str, Any]:
        return {**self.code.config(), "modulation": self.modulation.name,
                "bits_per_symbol": self.modulation.bits_per_symbol}

    def send(self, bits: Tensor, snr_db: float, generator: torch.Generator | None = None
             ) -> Tensor:
        """Info bits ``[N, k]`` → encode → map → complex AWGN at ``snr_db`` → demap → decode;
        returns the decoded bits ``[N, k]`` (uint8)."""
        from channels.analog import AWGN

        ch = AWGN(snr_db)
        x = self.modulation.map(self.code.encode(bits))
        y = ch(x, generator=generator)
        return self.code.decode(self.modulation.demap(y, ch.noise_var))


def bler_curve(link: ModulatedCode, snr_db: Sequence[float], n_words: int = 200, *,
               generator: torch.Generator | None = None, batch: int = 500,
               stop_after_clean: int = 2, probe: int = 20) -> dict[str, list[float]]:
    """Monte-Carlo block and bit error rates of ``link`` over complex AWGN on an ascending
    SNR grid, ``n_words`` random codewords per point.

    Each point first sends ``probe`` words; if every one fails the point is recorded as BLER 1
    from those words alone (deep below the waterfall nothing more is learnt). After
    ``stop_after_clean`` consecutive error-free points the rest are set to 0 without
    simulation (BLER falls monotonically with SNR), recorded in ``simulated``.

    Returns ``{"snr_db", "bler", "ber", "block_errors", "n_words", "simulated"}`` lists.
    """
    grid = [float(s) for s in snr_db]
    if any(b < a for a, b in zip(grid, grid[1:], strict=False)):
        raise ValueError("snr_db: expected an ascending grid")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    out: dict[str, list[float]] = {"snr_db": grid, "bler": [], "ber": [], "block_errors": [],
                                   "n_words": [], "simulated": []}
    clean = 0
    for s in grid:
        if clean >= stop_after_clean:
            for key, v in (("bler", 0.0), ("ber", 0.0), ("block_errors", 0), ("n_words", 0),
                           ("simulated", False)):
                out[key].append(v)
            continue
        errs, bit_errs, done = 0, 0, 0
        while done < n_words:
            nb = min(batch, n_words - done, probe if done == 0 else batch)
            bits = torch.randint(0, 2, (nb, link.code.k), generator=g).to(torch.float32)
            dec = link.send(bits, s, generator=g).to(torch.float32)
            wrong = (dec != bits)
            errs += int(wrong.any(1).sum())
            bit_errs += int(wrong.sum())
            done += nb
            if errs == done == nb and nb == min(probe, n_words):
                break  # the probe failed everywhere
        out["bler"].append(errs / done)
        out["ber"].append(bit_errs / (done * link.code.k))
        out["block_errors"].append(errs)
        out["n_words"].append(done)
        out["simulated"].append(True)
        clean = clean + 1 if errs == 0 else 0
    return out


def _interp_bler(curve: dict[str, list[float]], snr_db: np.ndarray) -> np.ndarray:
    """BLER at ``snr_db`` by linear interpolation of log10 BLER in dB (1 below the grid,
    0 above its last non-zero point)."""
    s = np.asarray(curve["snr_db"], dtype=float)
    b = np.asarray(curve["bler"], dtype=float)
    floor = 1e-6
    logb = np.log10(np.clip(b, floor, 1.0))
    out = 10.0 ** np.interp(snr_db, s, logb, left=0.0, right=logb[-1])
    out[out <= floor * 1.0001] = 0.0
    return np.clip(out, 0.0, 1.0)


def success_probability(curve: dict[str, list[float]], snr_db: float | np.ndarray,
                        n_codewords: int) -> np.ndarray:
    """P(all ``n_codewords`` blocks decode) = (1 − BLER(SNR))^N over AWGN (independent
    blocks), from a :func:`bler_curve`."""
    bl = _interp_bler(curve, np.atleast_1d(np.asarray(snr_db, dtype=float)))
    return (1.0 - bl) ** int(n_codewords)


def fading_success(curve: dict[str, list[float]], snr_db: float, n_codewords: int,
                   gains_db: np.ndarray) -> float:
    """P(all blocks decode) over block Rayleigh fading with receiver CSI: the mean over
    fading draws (``gains_db`` = 10·log10 |h|², one per image) of the AWGN success at SNR +
    gain (the whole image sees one h)."""
    return float(success_probability(curve, snr_db + np.asarray(gains_db), n_codewords).mean())


