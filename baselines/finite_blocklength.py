"""The best channel code of a given length as a "code": finite-blocklength bounds instead of
capacity.

:class:`~baselines.codes.IdealCode` charges ⌈L / C⌉ channel uses for L bits — the limit of
infinitely long codes. One image's payload is tens to hundreds of bits, where the best code
needs noticeably more: :class:`FiniteBlocklengthCode` charges the fewest channel uses n at
which a code of length n carrying all L bits at block error ≤ ``pe`` exists (``bound=
"achievability"``: the RCU / dependence-testing bound), cannot be ruled out (``"converse"``:
no code does it with fewer, the meta-converse), or is predicted by the normal approximation
(``"normal"``) — see :mod:`channels.finite_blocklength`. Like the ideal code it is never
simulated: :class:`~baselines.scheme.SeparationScheme` delivers the stream unchanged, so
distortions computed with it are those of an error-free delivery; the block error ``pe`` is
reported beside them (with probability ≤ pe the image would be lost).
"""

from __future__ import annotations

import functools
from typing import Any

from baselines.codes import CODES, IdealCode
from channels import finite_blocklength as fbl

__all__ = ["FiniteBlocklengthCode"]


@functools.lru_cache(maxsize=65536)
def _channel_uses(kind: str, eps: float, bits: int, pe: float, bound: str) -> int:
    return fbl.min_blocklength(kind, eps, bits, pe, bound)


class FiniteBlocklengthCode(IdealCode):
    """L bits in one block cost ``min_blocklength(channel, ε, L, pe, bound)`` channel uses.

    Args:
        channel: a BSC or BEC channel module (``name`` ``"bsc"``/``"bec"``, ``param`` ε).
        pe: target block error probability, in (0, 1).
        bound: ``"achievability"`` (default), ``"converse"`` or ``"normal"``.
        k: block length used by :meth:`encode`/:meth:`decode` (interface only, as for
            :class:`~baselines.codes.IdealCode`).
    """

    name = "ppv"
    ideal = True

    def __init__(self, channel: Any, pe: float = 1e-3, bound: str = "achievability",
                 k: int = 1000) -> None:
        kind = str(getattr(channel, "name", "")).lower()
        if kind not in ("bsc", "bec"):
            raise ValueError(f"channel: finite-blocklength bounds exist here for the BSC and "
                             f"the BEC, got {getattr(channel, 'name', channel)!r}")
        if bound not in ("achievability", "converse", "normal"):
            raise ValueError(f"bound: expected 'achievability', 'converse' or 'normal', "
                             f"got {bound!r}")
        if not isinstance(pe, (int, float)) or not 0.0 < float(pe) < 1.0:
            raise ValueError(f"pe: expected a block error probability in (0, 1), got {pe!r}")
        self.kind, self.eps = kind, float(channel.param)
        self.pe, self.bound = float(pe), bound
        super().__init__(channel, k)
        self.n = self.channel_bits(self.k)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "pe": self.pe, "bound": self.bound, "eps": self.eps}

    def channel_bits(self, info_bits: int) -> int:
        info_bits = int(info_bits)
        if info_bits < 0:
            raise ValueError(f"info_bits: expected ≥ 0, got {info_bits}")
        if info_bits == 0:
            return 0
        if self.eps == 0.0:  # a noiseless channel: one use per bit
            return info_bits
        return _channel_uses(self.kind, self.eps, info_bits, self.pe, self.bound)

    def max_info_bits(self, channel_bits: int) -> int:
        channel_bits = int(channel_bits)
        if channel_bits <= 0:
            return 0
        if self.eps == 0.0:
            return channel_bits
        return int(fbl.max_log2_m(self.kind, self.eps, channel_bits, self.pe, self.bound)
                   + 1e-9)


@CODES.register("ppv", source="baselines")
def _ppv(rate: float, k: int, channel: Any = None, **kwargs: Any) -> FiniteBlocklengthCode:
    """The finite-blocklength limit (PPV 2010) at block error pe: fewest channel uses for k bits."""
    if channel is None:
        raise ValueError("channel: the finite-blocklength code needs the channel (BSC or BEC)")
    return FiniteBlocklengthCode(channel, k=k, **kwargs)
