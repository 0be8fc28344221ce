"""Convolutional NECST codec for square grey/RGB images (28×28 MNIST, 32×32 or 64×64 patches).

Architecture (S stride-2 stages: H is halved while it stays even and ≥ 4, down to the bottom
size b — 4 for H = 4·2^S, 7 for 28 —; widths ``c_i = min(base·2^i, max)``)::

    encoder  x [B, C, H, W] → S × (conv 4×4 stride 2, leaky ReLU) → [B, c_{S-1}, b, b]
             → flatten → linear (no bias) → m logits
    decoder  decoder_input(y) [N, m] → linear → [N, c_{S-1}, b, b] (leaky ReLU)
             → (S − 1) × (transposed conv 4×4 stride 2, leaky ReLU)
             → transposed conv 4×4 stride 2 → C pixel logits [N, C, H, W]

No batch normalisation (the official TF CIFAR/CelebA models use it, but statistics pooled over
the K VIMCO samples and the batch would make log p(x|y_k) depend on the other samples).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from njscc.models import register
from njscc.models.necst.base import NecstCodec
from njscc.nn.mlp import glorot_init
from njscc.validation import LIMITS, check_number, check_positive_int

__all__ = ["NecstConv"]


@register("necst_conv")
class NecstConv(NecstCodec):
    """Convolutional NECST codec.

    Args:
        m: code length in bits.
        data_shape: ``(C, H, W)`` with ``H == W`` even and ``H/2 ≥ 4`` (8, 16, 28, 32, 64,
            ...); the bottom size is H halved while even and ≥ 4.
        base_channels: width of the first conv stage (doubles per stage).
        max_channels: cap on the width.
        likelihood: ``"sse"`` (paper), ``"bernoulli"`` or ``"gaussian"`` (learned scale).
        negative_slope: leaky-ReLU slope.
        init_scale: initial std of the ``"gaussian"`` likelihood (ignored otherwise).

    Shapes: ``encode`` ``[B, C, H, W]`` → ``[B, m]``; ``decode`` ``[..., m]`` → ``[..., C, H, W]``.
    """

    def __init__(
        self,
        m: int = 500,
        data_shape: Sequence[int] = (3, 32, 32),
        base_channels: int = 32,
        max_channels: int = 256,
        likelihood: str = "sse",
        negative_slope: float = 0.2,
        init_scale: float = 0.1,
    ) -> None:
        super().__init__(m, data_shape, likelihood)
        c, h, w = self.data_shape
        stages, bottom = 0, h
        while bottom % 2 == 0 and bottom // 2 >= 4:
            bottom //= 2
            stages += 1
        if h != w or stages < 1:
            raise ValueError(f"data_shape must be (C, H, H) with H even and H/2 ≥ 4 (8, 28, 32, "
                             f"64, ...), got {list(self.data_shape)}")
        base = check_positive_int(base_channels, "base_channels", max=LIMITS["hidden"])
        cap = check_positive_int(max_channels, "max_channels", max=LIMITS["hidden"])
        negative_slope = check_number(negative_slope, "negative_slope", min=0, max=1,
                                      max_open=True)
        widths = [min(base * 2**i, cap) for i in range(stages)]
        act = nn.LeakyReLU(negative_slope)

        enc: list[nn.Module] = []
        prev = c
        for wd in widths:
            enc += [nn.Conv2d(prev, wd, 4, stride=2, padding=1), act]
            prev = wd
        enc += [nn.Flatten(), nn.Linear(prev * bottom * bottom, self.m, bias=False)]
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = [nn.Linear(self.m, prev * bottom * bottom),
                                nn.Unflatten(1, (prev, bottom, bottom)), act]
        for wd in reversed(widths[:-1]):
            dec += [nn.ConvTranspose2d(prev, wd, 4, stride=2, padding=1), act]
            prev = wd
        dec += [nn.ConvTranspose2d(prev, c, 4, stride=2, padding=1)]
        self.decoder = nn.Sequential(*dec)
        glorot_init(self)
        self._add_scale(init_scale)
