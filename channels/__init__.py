"""Noisy binary channels as batched PyTorch modules (sampling, marginals, LLRs, capacities).

==========  ===================================  =============================================
name        class                                ``param`` (see :func:`get`)
==========  ===================================  =============================================
``bsc``     :class:`BinarySymmetricChannel`      crossover probability ε
``bec``     :class:`BinaryErasureChannel`        erasure probability ε (``ERASED = -1``)
``z``       :class:`ZChannel`                    P(1 → 0) = ε
``awgn``    :class:`AWGNChannel`                 Es/N0 in dB (BPSK 0 → +1, hard or soft)
``ge``      :class:`GilbertElliottChannel`       mean error rate (two-state Markov bursts)
==========  ===================================  =============================================
"""

from channels import finite_blocklength
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
from channels.registry import CHANNELS, available, get

__all__ = ["CHANNELS", "ERASED", "LLR_MAX", "AWGNChannel", "BinaryChannel", "BinaryErasureChannel",
           "BinarySymmetricChannel", "GilbertElliottChannel", "ZChannel", "available",
           "bec_capacity", "biawgn_capacity", "binary_entropy", "bpsk_error_probability",
           "bsc_capacity", "finite_blocklength", "get", "z_capacity"]
