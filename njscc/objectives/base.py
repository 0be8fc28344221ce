"""The objective contract: ``(codec, x, channel) → (surrogate loss, logged statistics)``."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from channels.base import BinaryChannel
from njscc.codec import LatentCodec

__all__ = ["Objective", "check_n_samples", "distortion", "to_floats"]


def check_n_samples(n_samples: object, minimum: int = 1) -> int:
    """``n_samples`` as an int ≥ ``minimum`` (``TypeError``/``ValueError`` naming it)."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int):
        raise TypeError(f"n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < minimum:
        raise ValueError(f"n_samples must be >= {minimum}, got {n_samples}")
    return n_samples


@torch.no_grad()
def distortion(codec: LatentCodec, x: Tensor, params: Tensor, log_p: Tensor) -> Tensor:
    """Mean per-image squared error Σ (x − x̂)² over the batch and the K samples (0-dim)."""
    if codec.likelihood == "sse":
        return -log_p.mean()
    x_hat = codec.reconstruct(params)
    x = x.reshape(x.shape[0], *x_hat.shape[-len(codec.data_shape):])
    return (x_hat - x).square().flatten(-len(codec.data_shape)).sum(-1).mean()


def to_floats(**stats: Tensor | float) -> dict[str, float]:
    """Detached 0-dim tensors → Python floats with one device sync."""
    device = next((v.device for v in stats.values() if isinstance(v, Tensor)), None)
    vals = torch.stack([torch.as_tensor(v, device=device).detach().reshape(()).to(torch.float64)
                        for v in stats.values()])
    return dict(zip(stats, vals.tolist(), strict=True))


class Objective(nn.Module, ABC):
    """An estimator of the gradient of a bound, as a surrogate loss to minimise.

    ``forward(codec, x, channel, generator)`` returns ``(loss, stats)``:

    * ``loss``: a 0-dim tensor whose gradient w.r.t. the codec parameters is the estimator's
      gradient of −bound (batch mean). It is *not* in general equal to −bound; read
      ``stats["loss"]`` for that. Objectives with parameters of their own (NVIL's baseline
      network) add their training loss to it; it reaches only those parameters.
    * ``stats``: floats, at least ``"loss"`` (= −bound), ``"bound"`` (batch mean of the
      K-sample bound, nats or −SSE units) and ``"distortion"`` (mean per-image SSE of the
      sampled reconstructions).

    Every random draw uses ``generator``; same seed ⇒ identical loss and gradients. Stateful
    objectives (running baselines) update their state only in ``training`` mode.
    Call :meth:`prepare` with the codec before building optimisers so that objective
    parameters (if any) exist; train them too (``list(objective.parameters())``).
    """

    def prepare(self, codec: LatentCodec) -> None:  # noqa: B027 - optional hook
        """Create codec-dependent parameters (no-op unless the objective has some)."""

    @abstractmethod
    def forward(
        self,
        codec: LatentCodec,
        x: Tensor,
        channel: BinaryChannel,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        """``x`` ``[B, *data_shape]`` → (surrogate loss 0-dim, stats)."""
