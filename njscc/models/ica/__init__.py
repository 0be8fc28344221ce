"""Identifiable latent-variable codecs: the iVAE (a prior conditioned on an observed
auxiliary variable u) and linear ICA behind a bijective flow feature map (``flow_ica``). The
unconditional comparisons of the identifiability study are ``vae_mlp`` with
``prior="normal"`` (plain VAE) and ``prior="mog"`` (the clustering prior of Willetts & Paige
2021)."""

from njscc.models.ica.flow_ica import FlowICA
from njscc.models.ica.ivae import IVAE

__all__ = ["FlowICA", "IVAE"]
