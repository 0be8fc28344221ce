"""The contract every noisy binary channel in :mod:`channels` follows.

Conventions (shared with the rest of njscc):

* Input bits are a tensor of 0/1 values, any float dtype or ``torch.uint8``/``torch.bool``
  (other integer dtypes work too); the output keeps the input dtype, except that erasure
  channels return ``bool``/``uint8`` input as ``int8`` (they need ``-1``) and soft-output
  channels return floats.
* Received symbols of erasure channels use Sionna's binary-input convention: ``0``, ``1``,
  and ``ERASED = -1`` for an erasure (so erasure channels need a signed or float dtype).
* ``llr(received)`` is ``log p(x=1 | y) / p(x=0 | y)`` under a uniform input prior, the sign
  used by ``sionna.phy`` decoders (positive means "probably 1"); an erasure has LLR 0.
* ``marginal(probs)`` is the closed-form distribution of the received symbol when the input
  bit is Bernoulli(``probs``): shape ``[..., m] -> [..., m, len(alphabet)]``, ordered as
  ``alphabet``. It is differentiable in ``probs``.
* Soft-output channels (``alphabet = ()``, e.g. ``awgn_soft``) have no discrete marginal; a
  decoder sees their outputs as *soft bits* ``soft_bits(y) = P(x=1 | y) = σ(llr(y))`` in
  (0, 1), which hard bits are the limit of.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

__all__ = ["ERASED", "BinaryChannel", "binary_entropy"]

#: Received-symbol value that marks an erasure (Sionna's convention for {0,1} inputs).
ERASED: int = -1


def binary_entropy(p: float) -> float:
    """H(p) in bits; H(0) = H(1) = 0."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


class BinaryChannel(nn.Module, ABC):
    """A memoryless (or stateful, see subclasses) channel with binary input.

    Subclasses set ``name`` (the CLI name) and ``alphabet`` (received symbol values).
    """

    name: str = "channel"
    #: Received symbol values, in the order ``marginal`` reports their probabilities.
    alphabet: tuple[float, ...] = (0.0, 1.0)
    #: False for channels whose noise is correlated along the last axis (time).
    memoryless: bool = True

    @abstractmethod
    def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Sample the channel. ``bits`` ``[...]`` of 0/1 → received symbols ``[...]``."""

    @abstractmethod
    def marginal(self, probs: Tensor) -> Tensor:
        """``probs`` ``[..., m]`` = P(x=1) → P(y = alphabet[s]) as ``[..., m, S]``."""

    @abstractmethod
    def llr(self, received: Tensor) -> Tensor:
        """LLR log p(x=1|y)/p(x=0|y) of each received symbol, same shape, float."""

    @property
    def soft_output(self) -> bool:
        """True for channels with real-valued outputs (no discrete ``marginal``)."""
        return len(self.alphabet) == 0

    def soft_bits(self, received: Tensor) -> Tensor:
        """``P(x = 1 | y) = σ(llr(y))`` per received symbol (uniform prior), same shape, float:
        what a decoder trained on soft decisions is fed."""
        return torch.sigmoid(self.llr(received))

    @property
    @abstractmethod
    def capacity(self) -> float:
        """Capacity in bits per channel use."""

    @property
    def param(self) -> float:
        """The channel's main scalar parameter (ε, or Es/N0 in dB), for results files."""
        raise NotImplementedError

    @property
    def error_probability(self) -> float:
        """P(received ≠ sent and not erased) per bit, for uniform input bits (hard decisions
        for soft outputs). Used to compare simulations with closed forms."""
        raise NotImplementedError

    @property
    def erasure_probability(self) -> float:
        """P(received = ``ERASED``) per bit; 0 for channels without erasures."""
        return 0.0
