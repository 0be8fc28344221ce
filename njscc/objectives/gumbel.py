"""Binary-concrete (Gumbel-softmax) relaxation with a straight-through channel."""

from __future__ import annotations

import torch
from torch import Tensor

from channels.base import BinaryChannel
from njscc.codec import LatentCodec
from njscc.data.batch import Batch
from njscc.objectives.base import BitObjective, check_n_samples, distortion, to_floats
from njscc.validation import check_bool, check_number

__all__ = ["GumbelST", "coupled_channel"]


@torch.no_grad()
def coupled_channel(channel: BinaryChannel | None, shape: torch.Size | tuple[int, ...],
                    dtype: torch.dtype, device: torch.device,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Channel outputs for all-0 and all-1 inputs from the *same* random draws.

    Returns ``(y0, y1)``, each ``shape``. The received word for bits ``b`` is then
    ``y0 + b·(y1 − y0)``: for a BSC that is ``b ⊕ n`` (``y0 = n``, ``y1 = 1 − n``), for a
    BEC both are erased at the same positions. Needs a memoryless channel whose random
    draws do not depend on the input values (true of the channels in :mod:`channels`).
    The generator (or the global RNG) ends up advanced by one channel call. ``channel=None``
    (noiseless) gives ``y0 = 0``, ``y1 = 1``.
    """
    zeros = torch.zeros(shape, dtype=dtype, device=device)
    if channel is None:
        return zeros, zeros + 1
    if generator is not None:
        state = generator.get_state()
        y0 = channel(zeros, generator=generator)
        after = generator.get_state()
        generator.set_state(state)
        y1 = channel(zeros + 1, generator=generator)
        generator.set_state(after)
    else:
        fork_devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork_devices):
            y0 = channel(zeros)
        y1 = channel(zeros + 1)
    return y0.to(dtype), y1.to(dtype)


class GumbelST(BitObjective):
    """Straight-through binary-concrete estimator (Jang et al. 2017; Maddison et al. 2017).

    Relaxed bits ``s = σ((ℓ + g)/τ)`` with logistic noise ``g``; with ``hard=True`` (default)
    the forward pass uses the hard bits ``1[ℓ + g > 0]`` (exact Bernoulli(σ(ℓ)) samples) and the
    backward pass the gradient of ``s``. The channel is applied differentiably:
    ``y = y0 + b·(y1 − y0)`` with ``(y0, y1)`` from :func:`coupled_channel` (BSC:
    ``y = b(1−n) + (1−b)n`` with hard ``n``; BEC: erasures stay erasures, kept bits carry
    the gradient). The loss is ``−mean_k log p(x|y_k)``.

    The decoder gradient is unbiased; the encoder gradient is **biased** (straight-through
    plus temperature). ``tau`` may be changed between steps (annealing).

    Args:
        n_samples: K samples per input (default 1).
        tau: temperature τ > 0.
        hard: straight-through hard forward pass; ``False`` feeds the relaxed bits.
    """

    def __init__(self, n_samples: int = 1, tau: float = 1.0, hard: bool = True) -> None:
        super().__init__()
        self.n_samples = check_n_samples(n_samples)
        self.tau = check_number(tau, "tau", min=0, min_open=True)
        self.hard = check_bool(hard, "hard")

    def loss(self, codec: LatentCodec, batch: Batch, channel: BinaryChannel | None,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x = batch.x
        logits = codec.encode(x)  # [B, m]
        shape = (self.n_samples, *logits.shape)
        u = torch.rand(shape, generator=generator, dtype=logits.dtype, device=logits.device)
        u = u.clamp(1e-7, 1 - 1e-7)
        z = logits + (torch.log(u) - torch.log1p(-u))  # logistic perturbation
        soft = torch.sigmoid(z / self.tau)
        bits = (z.detach() > 0).to(soft.dtype) + (soft - soft.detach()) if self.hard else soft
        y0, y1 = coupled_channel(channel, shape, soft.dtype, soft.device, generator)
        y = y0 + bits * (y1 - y0)
        params = codec.decode(y)
        log_p = codec.log_prob(x, params)  # [K, B]
        loss = -log_p.mean()
        value = -loss.detach()
        return loss, to_floats(loss=-value, bound=value,
                               distortion=distortion(codec, x, params, log_p),
                               log_p=value)
