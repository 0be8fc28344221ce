"""The latent-codec contract shared by every model in njscc.

A codec maps data ``x`` to ``m`` code bits (or a continuous latent) and back::

    x ──encode──▶ logits ℓ [B, m] ──channel──▶ y [K, B, m] ──decode──▶ params [K, B, *data_shape]

``decode`` returns the parameters of p(x | y) (pre-sigmoid pixel logits for the Bernoulli and
squared-error likelihoods used here); ``reconstruct`` maps them to data space.

Received symbols ``y`` use the channel alphabet of :mod:`channels`: ``0``/``1`` and
``ERASED = -1`` for erasures. ``decoder_input`` turns them into bipolar features
(0 → −1, 1 → +1, erased → 0) so one decoder serves BSC and BEC alike.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from channels.base import ERASED, BinaryChannel

__all__ = ["LIKELIHOODS", "LatentCodec", "decoder_input", "sample_channel"]

LIKELIHOODS = ("bernoulli", "sse")


def decoder_input(y: Tensor) -> Tensor:
    """Received symbols {0, 1, ERASED} → bipolar float features {−1, +1, 0}. Shape kept."""
    y = y.to(torch.get_default_dtype()) if not y.is_floating_point() else y
    return (2.0 * y - 1.0) * (y != ERASED)


def sample_channel(
    logits: Tensor,
    channel: BinaryChannel,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample noisy codes from the closed-form channel marginal q(y | x).

    Args:
        logits: encoder logits ``[B, m]`` of q(ŷ = 1 | x).
        channel: a :class:`channels.base.BinaryChannel` with a discrete ``marginal``.
        n_samples: K, the number of samples per input.
        generator: optional ``torch.Generator`` for reproducible sampling.

    Returns:
        ``(y, log_q)``: received symbols ``[K, B, m]`` (float, values from ``channel.alphabet``)
        and ``log q(y | x)`` summed over the m bits, ``[K, B]``, differentiable in ``logits``.
    """
    probs = torch.sigmoid(logits)
    pm = channel.marginal(probs)  # [B, m, S]
    cdf = pm.detach().cumsum(-1)
    u = torch.rand((n_samples, *logits.shape), generator=generator, device=logits.device,
                   dtype=pm.dtype)
    idx = (u.unsqueeze(-1) > cdf).sum(-1).clamp_max(pm.shape[-1] - 1)  # [K, B, m]
    log_pm = pm.clamp_min(1e-30).log()
    log_q = log_pm.expand(n_samples, *pm.shape).gather(-1, idx.unsqueeze(-1)).squeeze(-1)
    alphabet = torch.tensor(channel.alphabet, dtype=logits.dtype, device=logits.device)
    return alphabet[idx], log_q.sum(-1)


class LatentCodec(nn.Module):
    """Base class: an encoder to ``m`` Bernoulli code bits and a one-pass decoder.

    Subclasses implement :meth:`encode` and :meth:`decode` and set ``m``, ``data_shape``
    and ``likelihood`` (``"bernoulli"`` for binary data, ``"sse"`` for grey/RGB in [0, 1]).
    ``config`` holds the registry name and keyword arguments that rebuild the model.
    """

    m: int
    data_shape: tuple[int, ...]
    likelihood: str = "sse"
    config: dict[str, Any]

    def encode(self, x: Tensor) -> Tensor:
        """``x`` ``[B, *data_shape]`` in [0, 1] → logits ``[B, m]`` of q(ŷ = 1 | x)."""
        raise NotImplementedError

    def decode(self, y: Tensor) -> Tensor:
        """Received symbols ``[..., m]`` → parameters of p(x|y), ``[..., *data_shape]``."""
        raise NotImplementedError

    def reconstruct(self, params: Tensor) -> Tensor:
        """Decoder parameters → reconstruction in data space ([0, 1])."""
        return torch.sigmoid(params)

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """log p(x | y) per image: ``x`` ``[B, *D]``, ``params`` ``[..., B, *D]`` → ``[..., B]``.

        ``bernoulli``: −BCE (nats). ``sse``: −Σ (x − x̂)², the paper's per-image squared error
        used as an (unnormalised Gaussian) log-likelihood.
        """
        nd = len(self.data_shape)
        x = x.expand_as(params)
        # one fused elementwise kernel each way; negate after the sum (a [..., B] tensor)
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(params, x, reduction="none")
        elif self.likelihood == "sse":
            nll = F.mse_loss(torch.sigmoid(params), x, reduction="none")
        else:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        return -nll.flatten(-nd).sum(-1)

    def forward(
        self,
        x: Tensor,
        channel: BinaryChannel,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Encode, sample K noisy codes from the channel marginal, decode.

        Returns a dict with ``logits`` ``[B, m]``, ``y`` ``[K, B, m]``, ``log_q`` ``[K, B]``
        (log q(y|x), differentiable in the logits), ``params`` ``[K, B, *D]`` and
        ``log_p`` ``[K, B]`` (log p(x|y)).
        """
        logits = self.encode(x)
        y, log_q = sample_channel(logits, channel, n_samples, generator)
        params = self.decode(y)
        return {"logits": logits, "y": y, "log_q": log_q, "params": params,
                "log_p": self.log_prob(x, params)}

    @torch.no_grad()
    def compress(self, x: Tensor) -> Tensor:
        """Most probable code: hard bits ``1[ℓ > 0]``, ``uint8`` ``[B, m]``."""
        return (self.encode(x) > 0).to(torch.uint8)

    @torch.no_grad()
    def decompress(self, y: Tensor) -> Tensor:
        """Received symbols ``[..., m]`` (uint8/float, erasures = −1) → x̂ ``[..., *D]``."""
        return self.reconstruct(self.decode(y))
