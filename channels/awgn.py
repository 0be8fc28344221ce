"""BPSK over a real AWGN channel, with hard (binary) or soft (real) outputs.

Conventions (identical to ``sionna.phy``'s BPSK ``Mapper("pam", 1)`` / ``Demapper("app",
"pam", 1)`` and ``AWGN`` with ``no = 1 / (Es/N0)``)::

    bit b ──▶ x = 1 − 2b  (0 → +1, 1 → −1, Es = 1) ──▶ y = x + n,  n ~ N(0, σ²),  σ² = 1 / (2·Es/N0)
    llr(y) = log p(b=1|y) / p(b=0|y) = −2y/σ² = −4·(Es/N0)·y    (positive means "probably 1")

* ``output="soft"`` returns ``y`` (floats; ``alphabet = ()``: no discrete ``marginal``).
* ``output="hard"`` returns the sign decisions ``b̂ = 1[y < 0]`` (alphabet (0, 1)). That
  channel *is* a BSC with ε = Q(√(2·Es/N0)), and it is sampled as one (same law, exact, faster).

Capacities: hard → 1 − H(Q(√(2Es/N0))); soft → the binary-input AWGN capacity
``C = 1 − E[log2(1 + exp(−L))]``, ``L ~ N(μ, 2μ)``, ``μ = 4·Es/N0`` (numerical integration with
``scipy.integrate.quad``; ≈ 0.7215 bits at Es/N0 = 0 dB, 0.4859 at −3.01 dB).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from channels._validate import check_bits, check_finite, check_probs, check_received
from channels.base import BinaryChannel, binary_entropy
from channels.discrete import BinarySymmetricChannel, llr_dtype

__all__ = ["MAX_ABS_DB", "OUTPUTS", "AWGNChannel", "biawgn_capacity", "bpsk_error_probability"]

OUTPUTS = ("hard", "soft")
#: accepted |Es/N0| in dB (beyond, 10^(dB/10) over/underflows to meaningless values)
MAX_ABS_DB = 300.0


def bpsk_error_probability(esno_db: float) -> float:
    """Q(√(2·Es/N0)) = erfc(√(Es/N0)) / 2, the BPSK hard-decision bit error probability."""
    return 0.5 * math.erfc(math.sqrt(10.0 ** (esno_db / 10.0)))


@functools.lru_cache(maxsize=1024)
def biawgn_capacity(esno_db: float) -> float:
    """Binary-input (BPSK) AWGN capacity in bits per use, uniform inputs, soft outputs.

    ``C = 1 − ∫ φ(z) log2(1 + exp(−(μ + √(2μ) z))) dz`` with ``μ = 4·Es/N0`` (the LLR of a
    correctly sent bit is Gaussian with mean μ and variance 2μ). Accurate to ~1e-10.
    """
    from scipy import integrate

    mu = 4.0 * 10.0 ** (esno_db / 10.0)
    s = math.sqrt(2.0 * mu)
    norm = 1.0 / math.sqrt(2.0 * math.pi)

    def integrand(z: float) -> float:
        llr = mu + s * z
        # log(1 + e^{-llr}) without overflow
        loss = math.log1p(math.exp(-llr)) if llr > 0 else -llr + math.log1p(math.exp(llr))
        return norm * math.exp(-0.5 * z * z) * loss

    # the Gaussian weight is negligible beyond |z| = 40
    z0 = -mu / s  # where the LLR crosses 0: the integrand's knee
    points = (z0,) if -40.0 < z0 < 40.0 else None
    value, _ = integrate.quad(integrand, -40.0, 40.0, points=points, limit=200,
                              epsabs=1e-13, epsrel=1e-12)
    return max(0.0, min(1.0, 1.0 - value / math.log(2.0)))


class AWGNChannel(BinaryChannel):
    """BPSK over AWGN at a given Es/N0 (dB), hard or soft output.

    Args:
        esno_db: symbol-energy-to-noise-density ratio Es/N0 in dB (finite). One BPSK symbol
            carries one bit, so Es/N0 = Eb/N0 of the uncoded channel.
        output: ``"hard"`` (sign decisions, bits of the input dtype) or ``"soft"`` (received
            reals, float dtype of the input, or the default float dtype for bool/int input).
        validate: check every input is a 0/1 tensor.

    Shapes: ``forward`` ``[...] → [...]``; ``marginal`` (hard only) ``[..., m] → [..., m, 2]``;
    ``llr`` ``[...] → [...]`` float.
    """

    name = "awgn"

    def __init__(self, esno_db: float, output: str = "hard", *, validate: bool = True) -> None:
        super().__init__()
        self.esno_db = check_finite(esno_db, "esno_db")
        if abs(self.esno_db) > MAX_ABS_DB:
            raise ValueError(f"esno_db: expected a value in [-{MAX_ABS_DB:g}, {MAX_ABS_DB:g}] dB, "
                             f"got {self.esno_db!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output: expected one of {OUTPUTS}, got {output!r}")
        self.output = output
        self.validate = bool(validate)
        self.alphabet = (0.0, 1.0) if output == "hard" else ()
        if output == "soft":
            self.name = "awgn_soft"
        # a plain attribute, not a registered submodule (keeps repr/state_dict clean)
        self.__dict__["_bsc"] = BinarySymmetricChannel(bpsk_error_probability(self.esno_db),
                                           validate=validate)

    @classmethod
    def from_param(cls, param: float, **kwargs: object) -> AWGNChannel:
        """Build from the registry's scalar parameter (Es/N0 in dB)."""
        return cls(param, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def soft_from_param(cls, param: float, **kwargs: object) -> AWGNChannel:
        """The registry's ``awgn_soft``: Es/N0 in dB, soft (real) outputs."""
        if kwargs.get("output", "soft") != "soft":
            raise ValueError("awgn_soft: output is 'soft' (use the channel 'awgn' for hard)")
        kwargs.pop("output", None)
        return cls(param, output="soft", **kwargs)  # type: ignore[arg-type]

    @property
    def param(self) -> float:
        return self.esno_db

    @property
    def esno(self) -> float:
        """Es/N0 as a linear ratio."""
        return 10.0 ** (self.esno_db / 10.0)

    @property
    def noise_var(self) -> float:
        """σ² = 1 / (2·Es/N0), the noise variance per real dimension."""
        return 1.0 / (2.0 * self.esno)

    def extra_repr(self) -> str:
        return f"esno_db={self.esno_db:g}, output={self.output!r}"

    @staticmethod
    def modulate(bits: Tensor) -> Tensor:
        """BPSK symbols x = 1 − 2b (0 → +1, 1 → −1), float (input dtype if floating)."""
        return 1.0 - 2.0 * bits.to(llr_dtype(bits))

    def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Soft: ``y = 1 − 2b + σ·n``. Hard: ``1[y < 0]``, sampled as a BSC(Q(√(2Es/N0)))."""
        if self.output == "hard":
            return self._bsc(bits, generator)
        if self.validate:
            check_bits(bits)
        y = torch.randn(bits.shape, dtype=llr_dtype(bits), device=bits.device,
                        generator=generator)
        if bits.dtype == torch.bool:
            bits = bits.to(torch.uint8)
        return y.mul_(math.sqrt(self.noise_var)).add_(1.0).sub_(bits, alpha=2)

    def marginal(self, probs: Tensor) -> Tensor:
        """Hard output: the BSC(ε = Q(√(2Es/N0))) marginal ``[..., m, 2]``.

        Soft output is continuous: raises ``NotImplementedError``.
        """
        if self.output == "soft":
            raise NotImplementedError(
                "AWGNChannel(output='soft') has real-valued outputs, so it has no discrete "
                "marginal over an alphabet; use output='hard' (a BSC with eps = Q(sqrt(2 Es/N0))) "
                "for objectives that need marginal(), or sample with forward()")
        return self._bsc.marginal(check_probs(probs))

    def llr(self, received: Tensor) -> Tensor:
        """Soft: ``−4·(Es/N0)·y`` (not clipped). Hard: ``±log((1−ε)/ε)`` as a BSC."""
        if self.output == "hard":
            return self._bsc.llr(received)
        received = check_received(received)
        return received.to(llr_dtype(received)) * (-4.0 * self.esno)

    @property
    def capacity(self) -> float:
        if self.output == "hard":
            return 1.0 - binary_entropy(bpsk_error_probability(self.esno_db))
        return biawgn_capacity(self.esno_db)

    @property
    def error_probability(self) -> float:
        """Q(√(2·Es/N0)), for hard and soft (sign decision) outputs alike."""
        return bpsk_error_probability(self.esno_db)
