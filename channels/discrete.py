"""Memoryless discrete binary-input channels: BSC, BEC and Z.

All three are :class:`~channels.base.BinaryChannel` modules without learnable parameters::

    bits [...] (0/1; float, bool or integer dtype) ──forward──▶ received [...] (same shape)

* :class:`BinarySymmetricChannel` (``"bsc"``): each bit flips with probability ε.
* :class:`BinaryErasureChannel` (``"bec"``): each bit is erased (``ERASED = -1``) with
  probability ε, otherwise received intact. Float input stays float; ``bool``/``uint8`` input
  comes back as ``int8`` (``-1`` needs a signed dtype); signed integers are kept.
* :class:`ZChannel` (``"z"``): a sent 1 is received as 0 with probability ε; a 0 is always
  received as 0.

LLRs are ``log p(x=1|y) / p(x=0|y)`` under a uniform prior (Sionna's sign); infinite LLRs
(a certain bit) saturate at ``±LLR_MAX = 100``, as ``sionna.phy``'s ``llr_max`` default.
Sampling is exact (see :mod:`channels._sampling`) and every ``forward`` takes a
``torch.Generator`` on the device of ``bits``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from channels._sampling import bernoulli_positions, uniform, use_sparse
from channels._validate import check_bits, check_probability, check_probs, check_received
from channels.base import ERASED, BinaryChannel, binary_entropy

__all__ = ["LLR_MAX", "BinaryErasureChannel", "BinarySymmetricChannel", "ZChannel",
           "bec_capacity", "bsc_capacity", "flip_bits", "llr_dtype", "z_capacity"]

#: saturation value of LLRs that would be infinite (Sionna's default ``llr_max``)
LLR_MAX = 100.0


def bsc_capacity(eps: float) -> float:
    """C = 1 − H(ε) bits per use."""
    return 1.0 - binary_entropy(eps)


def bec_capacity(eps: float) -> float:
    """C = 1 − ε bits per use."""
    return 1.0 - eps


def z_capacity(eps: float) -> float:
    """Z-channel capacity C = log2(1 + (1 − ε) ε^(ε / (1 − ε))) bits per use (C(1) = 0)."""
    if eps <= 0.0:
        return 1.0
    if eps >= 1.0:
        return 0.0
    return math.log2(1.0 + (1.0 - eps) * math.exp(eps / (1.0 - eps) * math.log(eps)))


def flip_bits(bits: Tensor) -> Tensor:
    """1 − bits for 0/1 tensors of any dtype (``~bits`` for bool). New tensor, same dtype."""
    return ~bits if bits.dtype == torch.bool else 1 - bits


def llr_dtype(received: Tensor) -> torch.dtype:
    """Float dtype of the LLRs of ``received``: its own if floating, else the default."""
    return received.dtype if received.is_floating_point() else torch.get_default_dtype()


def _saturated_log_ratio(num: float, den: float) -> float:
    """log(num / den) clipped to ±LLR_MAX (handles zeros)."""
    if num <= 0.0 and den <= 0.0:
        return 0.0
    if num <= 0.0:
        return -LLR_MAX
    if den <= 0.0:
        return LLR_MAX
    return max(-LLR_MAX, min(LLR_MAX, math.log(num) - math.log(den)))


class _EpsChannel(BinaryChannel):
    """Shared parts of the one-parameter discrete channels."""

    def __init__(self, eps: float, *, validate: bool = True) -> None:
        super().__init__()
        self.eps = check_probability(eps, "eps")
        self.validate = bool(validate)

    @classmethod
    def from_param(cls, param: float, **kwargs: object) -> _EpsChannel:
        """Build from the registry's scalar parameter (ε)."""
        return cls(param, **kwargs)  # type: ignore[arg-type]

    @property
    def param(self) -> float:
        return self.eps

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"

    def _check(self, bits: Tensor) -> Tensor:
        return check_bits(bits) if self.validate else bits


class BinarySymmetricChannel(_EpsChannel):
    """Binary symmetric channel: every bit flips independently with probability ``eps``.

    Args:
        eps: crossover probability ε in [0, 1].
        validate: check every input is a 0/1 tensor (a few fast reductions); turn off only
            in loops whose inputs are known good.

    Shapes: ``forward`` ``[...] → [...]`` (dtype kept); ``marginal`` ``[..., m] → [..., m, 2]``
    over ``alphabet = (0, 1)``; ``llr`` ``[...] → [...]`` float.
    """

    name = "bsc"
    alphabet = (0.0, 1.0)

    def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Received bits, same shape and dtype as ``bits``: ``bits XOR Bernoulli(ε)``."""
        bits = self._check(bits)
        eps = self.eps
        if eps == 0.0:
            return bits.clone(memory_format=torch.contiguous_format)
        if eps == 1.0:
            return flip_bits(bits)
        if use_sparse(eps, bits.device):
            # copy (or flip everything when ε > 1/2), then flip the sparse exceptions
            if eps <= 0.5:
                y = bits.clone(memory_format=torch.contiguous_format)
                pos = bernoulli_positions(y.numel(), eps, y.device, generator)
            else:
                y = flip_bits(bits).contiguous()
                pos = bernoulli_positions(y.numel(), 1.0 - eps, y.device, generator)
            flat = y.view(-1)
            flat[pos] = flip_bits(flat[pos])
            return y
        u = uniform(bits.shape, eps, bits.device, generator)
        if u.dtype == bits.dtype:  # float32/float64 bits: |1[u < ε] − b| in place, no temporaries
            return u.lt_(eps).sub_(bits).abs_()
        mask = u < eps
        if bits.is_floating_point():
            return torch.logical_xor(bits, mask).to(bits.dtype)
        return bits ^ mask

    def marginal(self, probs: Tensor) -> Tensor:
        """P(y=1) = p(1−ε) + (1−p)ε; returns ``[..., m, 2]`` ordered (y=0, y=1)."""
        probs = check_probs(probs)
        p1 = self.eps + probs * (1.0 - 2.0 * self.eps)
        return torch.stack((1.0 - p1, p1), dim=-1)

    def llr(self, received: Tensor) -> Tensor:
        """``+log((1−ε)/ε)`` for y = 1, the negative for y = 0 (±100 at ε ∈ {0, 1})."""
        received = check_received(received)
        big = _saturated_log_ratio(1.0 - self.eps, self.eps)
        return (received.to(llr_dtype(received)) * 2.0 - 1.0) * big

    @property
    def capacity(self) -> float:
        return bsc_capacity(self.eps)

    @property
    def error_probability(self) -> float:
        return self.eps


class BinaryErasureChannel(_EpsChannel):
    """Binary erasure channel: every bit is erased with probability ``eps``.

    Received symbols are ``0``, ``1`` or ``ERASED = -1`` (Sionna's convention for binary
    inputs). Output dtype: float input is kept; ``bool``/``uint8`` input becomes ``int8``;
    signed integer dtypes are kept.

    Shapes: ``forward`` ``[...] → [...]``; ``marginal`` ``[..., m] → [..., m, 3]`` over
    ``alphabet = (0, 1, -1)``; ``llr`` ``[...] → [...]`` float (±100 for a received bit, 0 for
    an erasure, exactly as Sionna's ``BinaryErasureChannel(return_llrs=True)``).
    """

    name = "bec"
    alphabet = (0.0, 1.0, float(ERASED))

    @staticmethod
    def output_dtype(dtype: torch.dtype) -> torch.dtype:
        """dtype of received symbols for input ``dtype`` (``int8`` for bool/uint8)."""
        return torch.int8 if dtype in (torch.bool, torch.uint8) else dtype

    def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Received symbols: ``bits`` with Bernoulli(ε) positions set to ``ERASED``."""
        bits = self._check(bits)
        eps = self.eps
        out_dtype = self.output_dtype(bits.dtype)
        if eps == 1.0:
            return torch.full(bits.shape, ERASED, dtype=out_dtype, device=bits.device)
        if eps == 0.0:
            return bits.to(out_dtype, copy=True, memory_format=torch.contiguous_format)
        if use_sparse(eps, bits.device):
            y = bits.to(out_dtype, copy=True, memory_format=torch.contiguous_format)
            flat = y.view(-1)
            if eps <= 0.5:
                flat[bernoulli_positions(flat.numel(), eps, y.device, generator)] = ERASED
            else:  # erase everything but the sparse survivors
                keep = bernoulli_positions(flat.numel(), 1.0 - eps, y.device, generator)
                kept = flat[keep]
                flat.fill_(ERASED)
                flat[keep] = kept
            return y
        u = uniform(bits.shape, eps, bits.device, generator)
        if u.dtype == bits.dtype:  # float bits: y = b − e·(1 + b), e = 1[u < ε], in place
            e = u.lt_(eps)
            return torch.sub(bits, e.addcmul_(e, bits), out=e)
        y = bits.to(out_dtype, copy=True, memory_format=torch.contiguous_format)
        return y.masked_fill_(u < eps, ERASED)

    def marginal(self, probs: Tensor) -> Tensor:
        """``[..., m, 3]``: P(y=0) = (1−p)(1−ε), P(y=1) = p(1−ε), P(y=ERASED) = ε."""
        probs = check_probs(probs)
        keep = 1.0 - self.eps
        return torch.stack(((1.0 - probs) * keep, probs * keep,
                            torch.full_like(probs, self.eps)), dim=-1)

    def llr(self, received: Tensor) -> Tensor:
        """+100 for y = 1, −100 for y = 0, 0 for ``ERASED``."""
        received = check_received(received)
        y = received.to(llr_dtype(received))
        return torch.where(y == ERASED, 0.0, (y * 2.0 - 1.0) * LLR_MAX)

    @property
    def capacity(self) -> float:
        return bec_capacity(self.eps)

    @property
    def error_probability(self) -> float:
        return 0.0

    @property
    def erasure_probability(self) -> float:
        return self.eps


class ZChannel(_EpsChannel):
    """Z-channel: a sent 1 is received as 0 with probability ``eps``; 0 is always kept.

    Same convention as ``sionna.phy.channel.BinaryZChannel``. Capacity
    ``log2(1 + (1−ε) ε^(ε/(1−ε)))`` is reached with a non-uniform input (P(x=1) < 1/2).

    Shapes: ``forward`` ``[...] → [...]`` (dtype kept); ``marginal`` ``[..., m] → [..., m, 2]``;
    ``llr``: y = 1 → +100 (certainly a 1), y = 0 → log ε (−100 at ε = 0).
    """

    name = "z"
    alphabet = (0.0, 1.0)

    def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Received bits: ``bits AND NOT Bernoulli(ε)``, same shape and dtype."""
        bits = self._check(bits)
        eps = self.eps
        if eps == 1.0:
            return torch.zeros_like(bits, memory_format=torch.contiguous_format)
        if eps == 0.0:
            return bits.clone(memory_format=torch.contiguous_format)
        if use_sparse(eps, bits.device):
            if eps <= 0.5:
                y = bits.clone(memory_format=torch.contiguous_format)
                y.view(-1)[bernoulli_positions(y.numel(), eps, y.device, generator)] = 0
            else:  # zero everything but the sparse survivors
                keep = bernoulli_positions(bits.numel(), 1.0 - eps, bits.device, generator)
                y = torch.zeros_like(bits, memory_format=torch.contiguous_format)
                y.view(-1)[keep] = bits.reshape(-1)[keep]
            return y
        u = uniform(bits.shape, eps, bits.device, generator)
        if u.dtype == bits.dtype:  # float bits: 1[u ≥ ε] · b in place
            return u.ge_(eps).mul_(bits)
        survive = u >= eps
        if bits.dtype == torch.bool:
            return bits & survive
        return bits * survive

    def marginal(self, probs: Tensor) -> Tensor:
        """P(y=1) = p(1−ε); returns ``[..., m, 2]`` ordered (y=0, y=1)."""
        probs = check_probs(probs)
        p1 = probs * (1.0 - self.eps)
        return torch.stack((1.0 - p1, p1), dim=-1)

    def llr(self, received: Tensor) -> Tensor:
        """y = 1 → +100; y = 0 → log(ε / 1) (p(y=0|x=1) = ε, p(y=0|x=0) = 1)."""
        received = check_received(received)
        y = received.to(llr_dtype(received))
        zero = _saturated_log_ratio(self.eps, 1.0)
        return torch.where(y == 1, LLR_MAX, zero).to(y.dtype)

    @property
    def capacity(self) -> float:
        return z_capacity(self.eps)

    @property
    def error_probability(self) -> float:
        return 0.5 * self.eps
