"""Noisy binary channels as batched, differentiable-where-possible PyTorch modules."""

from channels.base import ERASED, BinaryChannel, binary_entropy

__all__ = ["ERASED", "BinaryChannel", "binary_entropy"]
