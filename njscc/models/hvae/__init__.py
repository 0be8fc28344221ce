"""Hierarchical VAEs with top-down inference (the multi-resolution U-Net HVAE)."""

from njscc.models.hvae.unet import UNetHVAE

__all__ = ["UNetHVAE"]
