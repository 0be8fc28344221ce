"""Shared pieces of the NECST codecs: argument checks, likelihoods, K-sample decoding."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from njscc.codec import LatentCodec, decoder_input

__all__ = [
    "LIKELIHOODS", "NecstCodec", "check_int_tuple", "check_positive_int", "glorot_init", "jsonable",
]

#: Likelihoods p(x | y) the NECST codecs support (see :meth:`NecstCodec.log_prob`).
LIKELIHOODS = ("sse", "bernoulli", "gaussian")


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an int > 0, else ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_int_tuple(name: str, value: object, length: int | None = None,
                    allow_empty: bool = False) -> tuple[int, ...]:
    """A list/tuple of positive ints (JSON configs give lists) → tuple."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(f"{name} must be a tuple/list of ints, got {type(value).__name__}")
    out = tuple(check_positive_int(f"{name}[{i}]", v) for i, v in enumerate(value))
    if length is not None and len(out) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(out)}: {list(out)}")
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return out


def jsonable(value: Any, where: str = "value") -> Any:
    """Tuples → lists (recursively); ``TypeError`` naming ``where`` if JSON cannot hold it."""
    if isinstance(value, (tuple, list)):
        return [jsonable(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v, where) for k, v in value.items()}
    try:
        json.dumps(value)
    except TypeError as exc:
        raise TypeError(f"{where} must be JSON-serialisable, got {type(value).__name__}") from exc
    return value


def glorot_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases (TensorFlow's dense/conv defaults, as in NECST)."""
    for mod in module.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)


class NecstCodec(LatentCodec):
    """Base of the NECST codecs: ``m`` Bernoulli bits, a decoder fed ``decoder_input(y)``.

    Subclasses build ``self.encoder`` (``[B, *data_shape]`` → logits ``[B, m]``) and
    ``self.decoder`` (bipolar features ``[N, m]`` → pixel logits ``[N, *data_shape]``).

    Likelihoods (``log_prob``, per image, summed over pixels):

    * ``"sse"``: −Σ (x − σ(θ))², the NECST paper's squared-error distortion used as an
      unnormalised Gaussian log-likelihood with variance 1/2 (the official code's scale).
    * ``"bernoulli"``: −BCE(x, σ(θ)) in nats, for binary (or binarised) data.
    * ``"gaussian"``: a normalised Gaussian N(x; σ(θ), s²) with one learned scale
      ``s = exp(decoder.log_scale)`` (a decoder parameter, initialised to ``init_scale``).
    """

    def __init__(self, m: int, data_shape: Sequence[int], likelihood: str) -> None:
        super().__init__()
        self.m = check_positive_int("m", m)
        self.data_shape = check_int_tuple("data_shape", data_shape, length=3)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        self.data_dim = math.prod(self.data_shape)
        self.config = {"name": type(self).__name__, "kwargs": {}}

    def _set_config(self, name: str, **kwargs: Any) -> None:
        """Record the registry name and constructor arguments (JSON values)."""
        self.config = {"name": name,
                       "kwargs": {k: jsonable(v, f"argument {k!r}") for k, v in kwargs.items()}}

    def _add_scale(self, init_scale: float) -> None:
        """Give the decoder a learned log-scale (gaussian likelihood only)."""
        if self.likelihood == "gaussian":
            if not init_scale > 0:
                raise ValueError(f"init_scale must be > 0, got {init_scale!r}")
            self.decoder.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))

    def _check_x(self, x: Tensor) -> None:
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.data_dim:
            raise ValueError(f"x must have shape [B, {', '.join(map(str, self.data_shape))}], "
                             f"got {list(x.shape)}")

    def encode(self, x: Tensor) -> Tensor:
        """``x`` ``[B, *data_shape]`` in [0, 1] → logits ``[B, m]`` of q(ŷ = 1 | x)."""
        self._check_x(x)
        return self.encoder(x)

    def decode(self, y: Tensor) -> Tensor:
        """Received symbols ``[..., m]`` ({0, 1, ERASED}) → pixel logits ``[..., *data_shape]``.

        Any number of leading dims (e.g. ``[K, B, m]``); they are flattened into one batch so
        all K samples go through the decoder in one pass.
        """
        if y.shape[-1] != self.m:
            raise ValueError(f"y must have last dim m={self.m}, got shape {list(y.shape)}")
        h = decoder_input(y)
        lead = h.shape[:-1]
        out = self.decoder(h.reshape(-1, self.m))
        return out.reshape(*lead, *self.data_shape)

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """log p(x | y) per image: ``x`` ``[B, *D]``, ``params`` ``[..., B, *D]`` → ``[..., B]``."""
        if self.likelihood != "gaussian":
            return super().log_prob(x.reshape(x.shape[0], *self.data_shape), params)
        x = x.reshape(x.shape[0], *self.data_shape)
        log_s = self.decoder.log_scale
        z = (x - torch.sigmoid(params)) * torch.exp(-log_s)
        ll = -0.5 * z.square().flatten(-3).sum(-1)
        return ll - self.data_dim * (log_s + 0.5 * math.log(2 * math.pi))
