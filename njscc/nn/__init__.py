"""Shared layers and likelihoods for the model families (:mod:`njscc.models`)."""

from njscc.nn.likelihoods import LIKELIHOODS, NORMALISED, log_likelihood, units
from njscc.nn.mlp import ACTIVATIONS, glorot_init, mlp

__all__ = ["ACTIVATIONS", "LIKELIHOODS", "NORMALISED", "glorot_init", "log_likelihood", "mlp",
           "units"]
