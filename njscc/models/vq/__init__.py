"""Discrete (vector-quantised) codecs: hierarchical RRVQ and its VQ-VAE baseline."""

from njscc.models.vq.rrvq import HierarchicalVQ

__all__ = ["HierarchicalVQ"]
