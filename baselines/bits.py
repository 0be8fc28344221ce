"""Bytes <-> bits and k-bit block segmentation of a source bitstream.

Bit order is big-endian within each byte (``numpy.packbits``/``unpackbits``), the package-wide
convention. Bits at this edge are ``torch.uint8`` tensors of 0/1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["bits_to_bytes", "bytes_to_bits", "num_blocks", "segment", "unsegment"]


def bytes_to_bits(data: bytes) -> Tensor:
    """``bytes`` of length L → ``uint8`` bits ``[8 L]`` (big-endian within each byte)."""
    arr = np.frombuffer(bytes(data), dtype=np.uint8)
    return torch.from_numpy(np.unpackbits(arr).copy())


def bits_to_bytes(bits: Tensor) -> bytes:
    """0/1 bits ``[8 L]`` (any dtype) → ``bytes`` of length L.

    A length that is not a multiple of 8 is zero-padded at the end (``numpy.packbits``).
    """
    if bits.dim() != 1:
        raise ValueError(f"bits: expected a 1-d tensor, got shape {tuple(bits.shape)}")
    arr = (bits.detach().cpu() != 0).to(torch.uint8).numpy()
    return np.packbits(arr).tobytes()


def num_blocks(length: int, k: int) -> int:
    """Number of k-bit blocks a stream of ``length`` bits needs (⌈length / k⌉)."""
    if k <= 0:
        raise ValueError(f"k: expected a positive block length, got {k}")
    return -(-int(length) // int(k))


def segment(bits: Tensor, k: int) -> Tensor:
    """Split a stream ``[L]`` into ``[⌈L/k⌉, k]`` blocks, zero-padding the last one.

    An empty stream gives ``[0, k]``. The dtype is kept.
    """
    if bits.dim() != 1:
        raise ValueError(f"bits: expected a 1-d tensor, got shape {tuple(bits.shape)}")
    nb = num_blocks(bits.numel(), k)
    out = bits.new_zeros(nb * k)
    out[: bits.numel()] = bits
    return out.reshape(nb, k)


def unsegment(blocks: Tensor, length: int) -> Tensor:
    """Inverse of :func:`segment`: ``[B, k]`` blocks → the first ``length`` bits ``[length]``."""
    flat = blocks.reshape(-1)
    if length > flat.numel():
        raise ValueError(f"length: {length} bits asked from {flat.numel()} block bits")
    return flat[:length]
