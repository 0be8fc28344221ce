"""Robustness of codecs: reading latents for classifiers and attacks (:mod:`.latents`).

Attacks, certificates and margins live here, never inside models; the studies that use them
are in :mod:`njscc.experiments.robustness`.
"""

from njscc.robustness.latents import (
    GRADIENTS,
    differentiable_code,
    latent_features,
    latent_support,
    reconstruction,
)

__all__ = ["GRADIENTS", "differentiable_code", "latent_features", "latent_support",
           "reconstruction"]
