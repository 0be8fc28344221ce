"""Clustering codecs: latents with discrete cluster structure (MFCVAE)."""

from njscc.models.cluster.mfcvae import MFCVAE, FacetMixturePrior

__all__ = ["MFCVAE", "FacetMixturePrior"]
