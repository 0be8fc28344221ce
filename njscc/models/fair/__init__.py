"""Fair and controllable representations: codecs conditioned on a sensitive attribute u
(``fair_vae``) and codecs with attribute-predictive latent dimensions (``ffvae``)."""

from njscc.models.fair.ffvae import FFVAE
from njscc.models.fair.mlp import FairVAE

__all__ = ["FFVAE", "FairVAE"]
