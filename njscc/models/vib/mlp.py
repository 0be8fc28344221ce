"""Deep Variational Information Bottleneck classifier (Alemi, Fischer, Dillon, Murphy, 2017).

A stochastic encoder q(z|x) = N(μ(x), diag σ²(x)) and a "decoder" that is a classifier
q(y|z) (softmax regression), trained with CE + β·KL(q(z|x) ‖ r(z)) (the TherML setting
``(w_rate, w_distortion, w_class) = (β, 0, 1)``, :class:`njscc.objectives.rate_distortion.VIB`).

Paper setting (permutation-invariant MNIST, 1.13 % test error): encoder 784-1024-1024-2K with
K = 256, ReLU, r(z) = N(0, I), β = 1e-3, 12 posterior samples averaged at test time — the
defaults here. ``stochastic=False`` with β = 0 is the deterministic baseline (same MLP).

Codec names, with a continuous latent (see :mod:`njscc.models.vae.base`): ``encode`` → ``[B, 2K]``
(mean, log-variance), ``decode(z)`` → class logits ``[..., n_classes]``, ``reconstruct`` →
class probabilities, ``compress`` → posterior mean, ``decompress(z)`` → class probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.models import register
from njscc.models.vae.base import GaussianLatentCodec
from njscc.nn.likelihoods import categorical_log_prob
from njscc.nn.mlp import mlp
from njscc.validation import LIMITS, check_int_tuple, check_positive_int

__all__ = ["VIBMLP"]


@register("vib_mlp", aliases=("vib",))
class VIBMLP(GaussianLatentCodec):
    """VIB classifier: MLP Gaussian encoder, softmax-regression decoder q(y|z).

    Args:
        m: bottleneck dimensions K (paper: 256).
        data_shape: ``(C, H, W)`` of the inputs.
        enc_hidden: hidden widths (paper: 1024, 1024).
        n_classes: number of classes.
        prior: r(z): ``"normal"`` (paper), ``"mog"`` or ``"vamp"``.
        n_components: mixture components / pseudo-inputs for ``"mog"``/``"vamp"``.
        activation: hidden activation (paper: ReLU).
        stochastic: False: z = μ(x) (deterministic baseline).

    Shapes: ``encode`` ``[B, C, H, W]`` → ``[B, 2K]``; ``decode`` ``[..., K]`` →
    ``[..., n_classes]``; ``log_prob(labels [B], logits [..., B, n_classes])`` → ``[..., B]``.
    """

    reconstructs = False
    classifies = True
    likelihoods = ("categorical",)

    def __init__(
        self,
        m: int = 256,
        data_shape: Sequence[int] = (1, 28, 28),
        enc_hidden: Sequence[int] = (1024, 1024),
        n_classes: int = 10,
        prior: str = "normal",
        n_components: int = 10,
        activation: str = "relu",
        stochastic: bool = True,
    ) -> None:
        super().__init__(m, data_shape, "categorical", prior, n_components, stochastic)
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        self.n_classes = check_positive_int(n_classes, "n_classes", max=LIMITS["hidden"])
        self.encoder = nn.Sequential(nn.Flatten(), *mlp((self.data_dim, *enc, 2 * self.m),
                                                        activation))
        self.decoder = nn.Linear(self.m, self.n_classes)
        self._setup()

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.n_classes,)

    def classify(self, z: Tensor) -> Tensor:
        """``z`` ``[..., K]`` → class logits ``[..., n_classes]`` (same as :meth:`decode`)."""
        return self.decode(z)

    def reconstruct(self, params: Tensor) -> Tensor:
        """Class logits → class probabilities."""
        return torch.softmax(params, -1)

    def log_prob(self, labels: Tensor, params: Tensor) -> Tensor:
        """log q(y|z): ``labels`` int ``[B]``, logits ``[..., B, n_classes]`` → ``[..., B]``."""
        return categorical_log_prob(labels, params)

    @torch.no_grad()
    def predict(self, x: Tensor, n_samples: int = 12,
                generator: torch.Generator | None = None) -> Tensor:
        """Class probabilities averaged over ``n_samples`` posterior draws, ``[B, n_classes]``
        (the paper averages 12 softmax outputs)."""
        h = self.encode(x)
        z = self.sample_latent(h, n_samples if self.stochastic else 1, generator)
        return torch.softmax(self.decode(z), -1).mean(0)
