"""A deterministic MLP classifier whose activations can carry injected Gaussian noise."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from njscc.codec import LatentCodec, LatentSpec
from njscc.models import register
from njscc.nn.likelihoods import categorical_log_prob
from njscc.validation import LIMITS, check_data_shape, check_int_tuple, check_positive_int

__all__ = ["MLPClassifier"]

Noise = Callable[[Tensor, int], Tensor]


@register("mlp_classifier")
class MLPClassifier(LatentCodec):
    """x → flatten → hidden (ReLU) → logits, with a hook on every activation.

    Codec names: ``encode(x)`` → the last hidden activation ``[B, hidden[-1]]`` (the ``real``
    latent), ``decode(h)`` → class logits ``[..., n_classes]``, ``reconstruct`` → class
    probabilities, ``log_prob(labels, logits)`` → log q(y | x) ``[..., B]``.
    :meth:`activations` runs the network with ``noise(h, k)`` added to activation k
    (k = 0 is the input, k = 1… the hidden layers) and returns every activation and the logits:
    what Gaussian noise injections (:mod:`njscc.objectives.noise_injection`) need.
    """

    reconstructs = False
    classifies = True

    def __init__(self, data_shape: Sequence[int] = (1, 28, 28),
                 hidden: Sequence[int] = (256, 256), n_classes: int = 10) -> None:
        super().__init__()
        self.data_shape = check_data_shape(data_shape)
        self.hidden = check_int_tuple(hidden, "hidden", max=LIMITS["hidden"])
        self.n_classes = check_positive_int(n_classes, "n_classes", max=LIMITS["hidden"])
        self.m = self.hidden[-1]
        d = 1
        for s in self.data_shape:
            d *= s
        sizes = (d, *self.hidden, self.n_classes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:],
                                                                    strict=True))

    @property
    def latent(self) -> LatentSpec:
        return LatentSpec.real(self.m)

    def activations(self, x: Tensor, noise: Noise | None = None) -> tuple[list[Tensor], Tensor]:
        """``([input, hidden_1, …], logits)``; each activation is taken *after* ``noise``."""
        self._check_x(x)
        h = x.reshape(x.shape[0], -1)
        acts = []
        for k, layer in enumerate(self.layers):
            if noise is not None:
                h = noise(h, k)
            acts.append(h)
            h = layer(h)
            if k < len(self.layers) - 1:
                h = torch.relu(h)
        return acts, h

    def encode(self, x: Tensor) -> Tensor:
        acts, _ = self.activations(x)
        return acts[-1]

    def decode(self, y: Tensor) -> Tensor:
        return self.layers[-1](y)

    @torch.no_grad()
    def compress(self, x: Tensor) -> Tensor:
        """The last hidden activation, float ``[B, hidden[-1]]`` (a real latent, not bits)."""
        return self.encode(x)

    def forward(self, x: Tensor, channel: object = None, n_samples: int = 1,
                generator: torch.Generator | None = None) -> dict[str, Tensor]:
        if channel is not None:
            raise ValueError("mlp_classifier has no channel")
        _, logits = self.activations(x)
        return {"params": logits.unsqueeze(0)}

    def reconstruct(self, params: Tensor) -> Tensor:
        return torch.softmax(params, -1)

    def log_prob(self, labels: Tensor, params: Tensor) -> Tensor:
        return categorical_log_prob(labels, params)

    def classify(self, x: Tensor) -> Tensor:
        """Images → logits ``[B, n_classes]``."""
        return self.activations(x)[1]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"model": list(self.parameters())}
