"""Noisy binary channels as batched PyTorch modules (sampling, marginals, LLRs, capacities).

=============  ===================================  =============================================
name           class                                ``param`` (see :func:`get`)
=============  ===================================  =============================================
``bsc``        :class:`BinarySymmetricChannel`      crossover probability ε
``bec``        :class:`BinaryErasureChannel`        erasure probability ε (``ERASED = -1``)
``z``          :class:`ZChannel`                    P(1 → 0) = ε
``awgn``       :class:`AWGNChannel`                 Es/N0 in dB (BPSK 0 → +1, hard decisions)
``awgn_soft``  :class:`AWGNChannel`                 Es/N0 in dB (BPSK, real outputs; soft bits)
``ge``         :class:`GilbertElliottChannel`       mean error rate (two-state Markov bursts)
=============  ===================================  =============================================

Analog channels (real/complex symbols, :mod:`channels.analog`, :func:`get_analog`):
``awgn_complex``, ``awgn_real``, ``rayleigh``, ``rayleigh_real`` (param = SNR in dB).
"""

from channels import analog, finite_blocklength
from channels.analog import (
    AWGN,
    AnalogChannel,
    RayleighBlockFading,
    awgn_capacity,
    power_normalize,
    rayleigh_ergodic_capacity,
)
from channels.awgn import AWGNChannel, biawgn_capacity, bpsk_error_probability
from channels.base import ERASED, BinaryChannel, binary_entropy
from channels.discrete import (
    LLR_MAX,
    BinaryErasureChannel,
    BinarySymmetricChannel,
    ZChannel,
    bec_capacity,
    bsc_capacity,
    z_capacity,
)
from channels.gilbert_elliott import GilbertElliottChannel
from channels.registry import (
    ANALOG_CHANNELS,
    CHANNELS,
    available,
    available_analog,
    get,
    get_analog,
)

__all__ = ["ANALOG_CHANNELS", "AWGN", "CHANNELS", "ERASED", "LLR_MAX", "AWGNChannel",
           "AnalogChannel", "BinaryChannel", "BinaryErasureChannel", "BinarySymmetricChannel",
           "GilbertElliottChannel", "RayleighBlockFading", "ZChannel", "analog", "available",
           "available_analog", "awgn_capacity", "bec_capacity", "biawgn_capacity",
           "binary_entropy", "bpsk_error_probability", "bsc_capacity", "finite_blocklength",
           "get", "get_analog", "power_normalize", "rayleigh_ergodic_capacity", "z_capacity"]
