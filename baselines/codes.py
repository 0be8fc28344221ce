"""Channel codes for the separation baseline: 5G LDPC (Sionna), regular LDPC (pyldpc),
repetition, and the *ideal* code that meets the capacity bound.

Every code maps ``k`` information bits to ``n`` codeword bits and decodes from channel LLRs
with the package sign, ``LLR = log p(bit=1 | y) / p(bit=0 | y)`` (positive means "probably 1";
an erasure has LLR 0). That is also the input convention of ``sionna.phy``'s LDPC decoders
("logits"); pyldpc uses the opposite sign and is converted inside :class:`PyLDPC`.

A source bitstream of any length is split into k-bit blocks, the last one zero-padded
(:meth:`ChannelCode.encode_stream`); it costs ``⌈L / k⌉ · n`` channel bits.

Heavy libraries (Sionna, pyldpc/numba) are imported when a code is built, not on import.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torch import Tensor

from baselines.bits import num_blocks, segment, unsegment
from njscc.registry import Registry

__all__ = ["BSC_LDPC5G_RATES", "CODES", "FIVE_G_RATES", "LDPC5G", "ChannelCode", "IdealCode",
           "PyLDPC", "RepetitionCode", "bits_needed", "get_code", "pick_rate"]

#: Largest LLR magnitude handed to the decoders (±inf from noiseless channels is clipped).
LLR_CLIP = 20.0


def _check_bits(bits: Tensor, k: int, what: str = "bits") -> Tensor:
    if not isinstance(bits, Tensor):
        bits = torch.as_tensor(np.asarray(bits))
    if bits.dim() == 0 or bits.shape[-1] != k:
        raise ValueError(f"{what}: expected shape [..., {k}], got {tuple(bits.shape)}")
    return bits


def _clean_llr(llr: Tensor, n: int) -> Tensor:
    llr = _check_bits(llr, n, "llr").to(torch.float32)
    return torch.nan_to_num(llr, nan=0.0, posinf=LLR_CLIP, neginf=-LLR_CLIP).clamp(
        -LLR_CLIP, LLR_CLIP)


class ChannelCode(ABC):
    """A binary block code: ``k`` info bits → ``n`` codeword bits, soft-decision decoding.

    ``encode(bits [..., k]) -> float32 codeword [..., n]`` (0/1) and
    ``decode(llr [..., n]) -> uint8 info bits [..., k]`` (hard decisions).
    """

    name: str = "code"
    #: True for :class:`IdealCode`: an accounting device that is never sent through a channel.
    ideal: bool = False
    k: int
    n: int

    @property
    def rate(self) -> float:
        """Code rate k / n."""
        return self.k / self.n

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k}, n={self.n})"

    @abstractmethod
    def encode(self, bits: Tensor) -> Tensor:
        """Info bits ``[..., k]`` (0/1, float/uint8/bool) → codeword bits ``[..., n]`` float32."""

    @abstractmethod
    def decode(self, llr: Tensor) -> Tensor:
        """Channel LLRs ``[..., n]`` (log p(1)/p(0)) → hard info bits ``[..., k]`` uint8."""

    def config(self) -> dict[str, Any]:
        """Parameters for results files."""
        return {"name": self.name, "k": self.k, "n": self.n, "rate": self.rate}

    # -- streams -------------------------------------------------------------------------------
    def channel_bits(self, info_bits: int) -> int:
        """Channel uses needed to send a stream of ``info_bits`` bits: ⌈L / k⌉ · n."""
        return num_blocks(info_bits, self.k) * self.n

    def max_info_bits(self, channel_bits: int) -> int:
        """Longest stream that fits in ``channel_bits`` channel uses: ⌊budget / n⌋ · k."""
        return (int(channel_bits) // self.n) * self.k

    def encode_stream(self, bits: Tensor) -> Tensor:
        """A stream ``[L]`` → codewords ``[⌈L/k⌉, n]`` (last block zero-padded)."""
        return self.encode(segment(bits.to(torch.float32), self.k))

    def decode_stream(self, llr: Tensor, length: int) -> Tensor:
        """Codeword LLRs ``[⌈L/k⌉, n]`` → the first ``length`` decoded bits ``[L]`` uint8."""
        if llr.shape[0] == 0:
            return torch.zeros(0, dtype=torch.uint8)
        return unsegment(self.decode(llr), length)


class LDPC5G(ChannelCode):
    """3GPP 5G NR LDPC code with rate matching, through ``sionna.phy.fec.ldpc``.

    Args:
        k, n: info and codeword lengths (12 ≤ k ≤ 8448, 1/5 ≤ k/n ≤ 0.95).
        num_iter: belief-propagation iterations (flooding schedule, no early stop).
        cn_update: Sionna check-node rule: ``"boxplus-phi"`` (exact sum-product, default),
            ``"boxplus"``, ``"minsum"``, ``"offset-minsum"``.
        batch_size: codewords decoded per Sionna call (caps memory).
        device: torch device for Sionna (default: Sionna's configured device).

    Sionna's decoders take "logits" log p(x=1)/p(x=0) as input (``decoding.py``: "As decoding
    input logits log p(x=1)/p(x=0) are assumed … internally LLRs log p(x=0)/p(x=1) are used";
    it multiplies by −1 itself), which is exactly the package LLR, so no conversion is needed.
    """

    name = "ldpc"

    def __init__(self, k: int, n: int, num_iter: int = 20, cn_update: str = "boxplus-phi",
                 batch_size: int = 2000, device: str | None = None) -> None:
        try:
            from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("LDPC5G needs sionna-no-rt (pip install 'njscc[fec]')") from e
        k, n = int(k), int(n)
        if not 12 <= k <= 8448:
            raise ValueError(f"k: 5G LDPC supports 12 ≤ k ≤ 8448, got {k}")
        if not 1 / 5 <= k / n <= 0.95:
            raise ValueError(f"n: 5G LDPC supports rates 1/5 … 0.95, got k/n = {k}/{n}")
        if num_iter < 1:
            raise ValueError(f"num_iter: expected ≥ 1, got {num_iter}")
        self.k, self.n = k, n
        self.num_iter = int(num_iter)
        self.cn_update = cn_update
        self.batch_size = int(batch_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "effective coderate > 948/1024"
            self._encoder = LDPC5GEncoder(k, n, device=device)
        self._decoder = LDPC5GDecoder(self._encoder, cn_update=cn_update, num_iter=num_iter,
                                      hard_out=True, return_infobits=True, device=device)
        self._device = device

    def config(self) -> dict[str, Any]:
        return {**super().config(), "num_iter": self.num_iter, "cn_update": self.cn_update}

    def encode(self, bits: Tensor) -> Tensor:
        bits = _check_bits(bits, self.k)
        dev = bits.device
        x = bits.to(torch.float32)
        if self._device is not None:
            x = x.to(self._device)
        with torch.no_grad():
            return self._encoder(x).to(dev)

    def decode(self, llr: Tensor) -> Tensor:
        llr = _clean_llr(llr, self.n)
        dev, shape = llr.device, llr.shape[:-1]
        flat = llr.reshape(-1, self.n)
        if self._device is not None:
            flat = flat.to(self._device)
        outs = []
        with torch.no_grad():
            for i in range(0, flat.shape[0], self.batch_size):
                outs.append(self._decoder(flat[i:i + self.batch_size]))
        out = torch.cat(outs) if outs else flat.new_zeros(0, self.k)
        return out.to(dev).round().to(torch.uint8).reshape(*shape, self.k)


class PyLDPC(ChannelCode):
    """Regular (d_v, d_c) LDPC code from pyldpc (Gallager construction, systematic form).

    ``make_ldpc(n, d_v, d_c, systematic=True, seed=seed)`` builds H and a systematic G, so the
    message is the first ``k`` codeword bits; ``k = n − rank(H)`` can be a little above the
    design ``n (1 − d_v/d_c)`` because Gallager's H has dependent rows. ``d_c`` must divide n.

    pyldpc's decoder expects a BPSK-over-AWGN observation with its own mapping, bit 0 → +1 and
    bit 1 → −1, and forms the channel LLR as ``Lc = 2 y / σ²`` with ``σ² = 10^(−snr/10)``, i.e.
    ``Lc = log p(0)/p(1)`` (its hard decision is ``bit = [L_post ≤ 0]``). We call it with
    ``snr = 0`` dB (σ² = 1) and ``y = −LLR / 2`` so that ``Lc = −LLR``: any channel (BSC, BEC,
    AWGN, …) is fed exactly through its LLRs; an erasure (LLR 0) becomes y = 0.

    pyldpc's log-domain BP keeps dense ``[m, n, batch]`` message arrays, so decoding runs in
    chunks; its loop stops when every word of the chunk satisfies all checks, or after
    ``num_iter`` iterations (the non-convergence warning is silenced: failures show up as
    errors in the returned bits).

    Gallager's random construction can repeat a column of H, which makes a weight-2 codeword
    (two bits whose flips no check sees: an error floor). ``seed`` is therefore the first seed
    tried; the construction moves on to ``seed + 1, …`` until H has no repeated column and
    records the one used as ``construction_seed`` (e.g. n = 198, seed 0 has one repeated
    column; seed 1 has none).
    """

    name = "pyldpc"

    def __init__(self, n: int, d_v: int = 3, d_c: int = 6, num_iter: int = 50,
                 seed: int = 0) -> None:
        try:
            import pyldpc
        except ImportError as e:  # pragma: no cover
            raise ImportError("PyLDPC needs pyldpc (pip install --no-build-isolation "
                              "pyldpc)") from e
        n, d_v, d_c = int(n), int(d_v), int(d_c)
        if d_v < 2 or d_c <= d_v:
            raise ValueError(f"d_v, d_c: need 2 ≤ d_v < d_c, got d_v={d_v}, d_c={d_c}")
        if n % d_c:
            raise ValueError(f"n: d_c={d_c} must divide n={n}")
        self._pyldpc = pyldpc
        self.d_v, self.d_c, self.num_iter, self.seed = d_v, d_c, int(num_iter), int(seed)
        for attempt in range(64):
            H, G = pyldpc.make_ldpc(n, d_v, d_c, systematic=True, sparse=True,
                                    seed=self.seed + attempt)
            H = np.asarray(H, dtype=np.int64)
            if np.unique(H, axis=1).shape[1] == H.shape[1]:
                break
        self.construction_seed = self.seed + attempt
        self.H = H
        self.G = np.asarray(G, dtype=np.int64)  # [n, k], identity on the first k rows
        self.n, self.k = self.G.shape
        m = self.H.shape[0]
        # two float64 [m, n, chunk] message arrays: keep them ≲ 64 MB
        self._chunk = max(1, int(64e6 // (16 * m * self.n)))

    def config(self) -> dict[str, Any]:
        return {**super().config(), "d_v": self.d_v, "d_c": self.d_c,
                "num_iter": self.num_iter, "seed": self.seed,
                "construction_seed": self.construction_seed}

    def encode(self, bits: Tensor) -> Tensor:
        bits = _check_bits(bits, self.k)
        shape = bits.shape[:-1]
        v = (bits.reshape(-1, self.k).detach().cpu().numpy() != 0).astype(np.int64)
        c = self._pyldpc.utils.binaryproduct(self.G, v.T).T  # (G v) mod 2
        return torch.from_numpy(np.ascontiguousarray(c)).to(torch.float32).reshape(
            *shape, self.n).to(bits.device)

    def decode(self, llr: Tensor) -> Tensor:
        llr = _clean_llr(llr, self.n)
        dev, shape = llr.device, llr.shape[:-1]
        flat = llr.reshape(-1, self.n).detach().cpu().double().numpy()
        out = np.zeros((flat.shape[0], self.k), dtype=np.uint8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Decoding stopped before convergence"
            for i in range(0, flat.shape[0], self._chunk):
                y = np.ascontiguousarray((-flat[i:i + self._chunk] / 2.0).T)  # [n, chunk]
                x = self._pyldpc.decode(self.H, y, 0.0, maxiter=self.num_iter)
                out[i:i + self._chunk] = np.asarray(x).reshape(self.n, -1).T[:, :self.k]
        return torch.from_numpy(out).reshape(*shape, self.k).to(dev)


class RepetitionCode(ChannelCode):
    """Each info bit sent ``r`` times in a row: ``[..., k] → [..., k r]``.

    Decoding adds the r LLRs of a bit (the exact MAP rule for a memoryless channel);
    a tie (sum exactly 0, e.g. all copies erased) decides 0.
    """

    name = "repetition"

    def __init__(self, r: int, k: int = 1) -> None:
        if int(r) != r or r < 1:
            raise ValueError(f"r: expected a positive integer, got {r!r}")
        if int(k) != k or k < 1:
            raise ValueError(f"k: expected a positive integer, got {k!r}")
        self.r, self.k = int(r), int(k)
        self.n = self.k * self.r

    def config(self) -> dict[str, Any]:
        return {**super().config(), "r": self.r}

    def encode(self, bits: Tensor) -> Tensor:
        bits = _check_bits(bits, self.k).to(torch.float32)
        return bits.repeat_interleave(self.r, dim=-1)

    def decode(self, llr: Tensor) -> Tensor:
        llr = _clean_llr(llr, self.n)
        total = llr.reshape(*llr.shape[:-1], self.k, self.r).sum(-1)
        return (total > 0).to(torch.uint8)


def bits_needed(k: int, capacity: float) -> int:
    """Channel uses an ideal code needs for ``k`` info bits: ⌈k / C⌉.

    ``k / C`` is rounded to 9 decimals before the ceiling so that float noise in an exact
    ratio (e.g. 400 / 0.8) does not add a spurious channel use. Raises ``ValueError`` when
    C ≤ 0 and k > 0 (no code can deliver information: the need is infinite) or C > 1.
    """
    k = int(k)
    if k < 0:
        raise ValueError(f"k: expected ≥ 0, got {k}")
    if not capacity <= 1.0 + 1e-12:
        raise ValueError(f"capacity: a binary-input channel has C ≤ 1, got {capacity}")
    if k == 0:
        return 0
    if not capacity > 0.0:
        raise ValueError(f"capacity: C = {capacity}: no code delivers {k} bits over a "
                         "zero-capacity channel (infinitely many channel uses)")
    return math.ceil(round(k / capacity, 9))


def _capacity_of(channel: Any) -> float:
    return float(channel.capacity if hasattr(channel, "capacity") else channel)


class IdealCode(ChannelCode):
    """The capacity bound as a "code": ``k`` bits cost ⌈k / C⌉ channel uses, error-free.

    Args:
        channel: a channel (its ``capacity`` is read once) or the capacity in bits/use.
        k: block length used by :meth:`encode`/:meth:`decode` (default 1000).

    :class:`~baselines.scheme.SeparationScheme` never sends an ideal code through the
    channel: it charges :meth:`channel_bits` = ⌈L / C⌉ for the whole stream (no per-block
    rounding) and delivers the stream unchanged. ``encode`` (info bits followed by zeros) and
    ``decode`` (hard decision on the first k LLRs) exist only so the class honours the
    :class:`ChannelCode` interface; they are *not* a capacity-achieving code.
    """

    name = "ideal"
    ideal = True

    def __init__(self, channel: Any, k: int = 1000) -> None:
        self.capacity = _capacity_of(channel)
        if int(k) != k or k < 1:
            raise ValueError(f"k: expected a positive integer, got {k!r}")
        self.k = int(k)
        self.n = bits_needed(self.k, self.capacity)  # raises at C = 0

    def config(self) -> dict[str, Any]:
        return {**super().config(), "capacity": self.capacity}

    def channel_bits(self, info_bits: int) -> int:
        return bits_needed(info_bits, self.capacity)

    def max_info_bits(self, channel_bits: int) -> int:
        L = int(math.floor(channel_bits * self.capacity)) + 1
        while L > 0 and bits_needed(L, self.capacity) > channel_bits:
            L -= 1
        return L

    def encode(self, bits: Tensor) -> Tensor:
        bits = _check_bits(bits, self.k).to(torch.float32)
        pad = bits.new_zeros(*bits.shape[:-1], self.n - self.k)
        return torch.cat([bits, pad], dim=-1)

    def decode(self, llr: Tensor) -> Tensor:
        llr = _clean_llr(llr, self.n)
        return (llr[..., : self.k] > 0).to(torch.uint8)


#: 5G-style rates tried by :func:`pick_rate`, highest first.
FIVE_G_RATES: tuple[float, ...] = (8 / 9, 5 / 6, 3 / 4, 2 / 3, 3 / 5, 1 / 2, 2 / 5, 1 / 3,
                                   1 / 4, 1 / 5)

#: Highest rate in FIVE_G_RATES with measured BLER ≤ 1/300 (≈ < 1e-2) for
#: ``LDPC5G(400, round(400 / r))``, 20 boxplus-phi iterations, over BSC(ε): 300 blocks per
#: point, tried from the highest rate ≤ C down (docs/baselines.md). At ε = 0.2 even rate 1/5
#: had BLER 5.7 %, so the table stops at 0.15.
BSC_LDPC5G_RATES: dict[float, float] = {0.01: 3 / 4, 0.02: 2 / 3, 0.05: 1 / 2, 0.08: 2 / 5,
                                        0.11: 1 / 3, 0.15: 1 / 4}


def pick_rate(channel: Any, *, margin: float = 0.7, rates: tuple[float, ...] = FIVE_G_RATES,
              use_table: bool = True) -> float:
    """A code rate for a channel.

    * BSC with ε ≤ 0.15 and ``use_table``: the :data:`BSC_LDPC5G_RATES` entry of the
      smallest tabulated ε' ≥ ε (conservative: the rate falls as ε grows). Measured for
      5G LDPC with k = 400; longer blocks could go higher.
    * Otherwise the margin rule: the highest rate in ``rates`` not above ``margin · C``.
      With the default 0.7 it picks, at every tabulated BSC ε, a rate at or below the
      measured one (it is conservative there).

    ``channel`` is a channel module (``capacity``; ``name``/``param`` for the table) or a
    capacity. Raises ``ValueError`` when no rate in ``rates`` is ≤ ``margin · C``.
    """
    if not 0 < margin <= 1:
        raise ValueError(f"margin: expected 0 < margin ≤ 1, got {margin}")
    if use_table and getattr(channel, "name", None) == "bsc":
        eps = float(channel.param)
        eps = min(eps, 1.0 - eps)  # BSC(ε) and BSC(1 − ε) are the same channel up to a flip
        for e in sorted(BSC_LDPC5G_RATES):
            if eps <= e + 1e-12:
                return float(BSC_LDPC5G_RATES[e])
    cap = _capacity_of(channel)
    for r in sorted(rates, reverse=True):
        if r <= margin * cap + 1e-12:
            return float(r)
    raise ValueError(f"pick_rate: no rate in {sorted(round(r, 3) for r in rates)} is ≤ "
                     f"{margin} × C = {margin * cap:.4f}")


#: the channel-code registry (entry-point group ``njscc.codes``): name →
#: ``(rate, k, channel=None, **kwargs)``
CODES: Registry[ChannelCode] = Registry("channel code", "njscc.codes", strict_config=False)


def _check_rate(rate: float, below_one: bool = False) -> float:
    if not 0 < rate <= 1 or (below_one and rate >= 1):
        bound = "< 1" if below_one else "≤ 1"
        raise ValueError(f"rate: expected 0 < rate {bound}, got {rate}")
    return float(rate)


@CODES.register("ldpc", aliases=("ldpc5g", "5g"), source="baselines")
def _ldpc(rate: float, k: int, channel: Any = None, **kwargs: Any) -> ChannelCode:
    """5G NR LDPC (Sionna): exactly k information bits, n = round(k / rate)."""
    return LDPC5G(k, int(round(k / _check_rate(rate))), **kwargs)


@CODES.register("pyldpc", source="baselines")
def _pyldpc(rate: float, k: int, channel: Any = None, **kwargs: Any) -> ChannelCode:
    """Regular (d_v, d_c) LDPC from pyldpc near the given rate."""
    rate = _check_rate(rate, below_one=True)
    best = None
    for d_v in (3, 4, 5):
        d_c = max(d_v + 1, int(round(d_v / (1 - rate))))
        err = abs((1 - d_v / d_c) - rate)
        if best is None or err < best[0] - 1e-9:
            best = (err, d_v, d_c)
    _, d_v, d_c = best
    n = max(d_c, int(round(k / rate / d_c)) * d_c)
    return PyLDPC(n, d_v, d_c, **kwargs)


@CODES.register("repetition", source="baselines")
def _repetition(rate: float, k: int, channel: Any = None, **kwargs: Any) -> ChannelCode:
    """Repetition code of round(1 / rate) copies."""
    return RepetitionCode(max(1, int(round(1 / _check_rate(rate)))), k)


@CODES.register("ideal", source="baselines")
def _ideal(rate: float, k: int, channel: Any = None, **kwargs: Any) -> ChannelCode:
    """A capacity-achieving code: ceil(k / C) channel uses, no residual errors."""
    if channel is None:
        raise ValueError("channel: the ideal code needs the channel (its capacity)")
    return IdealCode(channel, k)


def get_code(name: str, rate: float, k: int, channel: Any = None, **kwargs: Any
             ) -> ChannelCode:
    """Build a code by name (:data:`CODES`) at (about) ``rate`` with (about) ``k`` info bits.

    * ``ldpc``/``ldpc5g``: ``LDPC5G(k, round(k / rate))`` — exact k.
    * ``pyldpc``: regular code with d_v ∈ {3, 4, 5} (the first whose
      d_c = round(d_v / (1 − rate)) gives the design rate 1 − d_v/d_c nearest to ``rate``);
      n is the multiple of d_c nearest to k / rate;
      the actual k is n − rank(H) (reported by the code).
    * ``repetition``: ``RepetitionCode(round(1 / rate), k)``.
    * ``ideal``: ``IdealCode(channel, k)`` (rate is ignored; it is C).
    """
    if not isinstance(name, str) or name.lower() not in CODES:
        raise ValueError(f"code: expected one of {', '.join(CODES.available())}; got {name!r}")
    return CODES.get(name, rate, k, channel, **kwargs)
