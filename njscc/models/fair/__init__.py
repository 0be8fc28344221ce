"""Fair and controllable representations: codecs conditioned on a sensitive attribute u."""

from njscc.models.fair.mlp import FairVAE

__all__ = ["FairVAE"]
