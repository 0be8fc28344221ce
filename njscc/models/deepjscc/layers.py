"""The convolutional stacks of the DeepJSCC codecs (Bourtsoulatze, Kurka & Gündüz 2019) and the
attention-feature (AF) module of ADJSCC (Xu, Ai, Chen, Wu & Chen 2021).

Encoder (``filters = (16, 32, 32, 32)``, every kernel 5×5, "same" padding)::

    x [B, C, H, W] → conv/2 16 → conv/2 32 → conv 32 → conv 32 → conv c   → [B, c, H/4, W/4]

each conv followed by the activation (PReLU, or GDN then PReLU), the last one included as in
the paper. The decoder mirrors it with transposed convolutions (c → 32 → 32 → 32 →/2 16 →/2 C,
the last without activation: pixel logits). Fully convolutional: any H, W divisible by 4.

With ``adaptive=True`` an :class:`AttentionFeature` module follows each of the first four
stages of both stacks: it pools the feature map, appends the channel SNR (dB) and rescales
the channels by a sigmoid gate computed from that context, so one network serves a range of
SNRs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.nn.gdn import GDN

__all__ = ["ACTIVATIONS", "AttentionFeature", "ConvStack", "decoder_stack", "encoder_stack"]

#: activations of the DeepJSCC stacks: ``"prelu"`` (the paper) or ``"gdn"`` (GDN, then PReLU)
ACTIVATIONS = ("prelu", "gdn")
KERNEL = 5


class AttentionFeature(nn.Module):
    """ADJSCC's AF module: ``x · σ(W2 ReLU(W1 [mean_hw(x), snr_db]))`` per channel."""

    def __init__(self, channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or max(channels // 2, 8)
        self.net = nn.Sequential(nn.Linear(channels + 1, hidden), nn.ReLU(),
                                 nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: Tensor, snr_db: Tensor) -> Tensor:
        """``x`` ``[B, C, H, W]``, ``snr_db`` ``[B]`` → ``[B, C, H, W]``."""
        context = torch.cat([x.mean((2, 3)), snr_db.to(x.dtype).unsqueeze(1)], 1)
        return x * self.net(context)[:, :, None, None]


class ConvStack(nn.Module):
    """A sequence of (conv, activation[, AF]) stages; ``forward(x, snr_db)``."""

    def __init__(self, convs: Sequence[nn.Module], acts: Sequence[nn.Module | None],
                 adaptive: bool, n_af: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.acts = nn.ModuleList([a if a is not None else nn.Identity() for a in acts])
        self.adaptive = adaptive
        width = [c.out_channels for c in convs]  # type: ignore[attr-defined]
        self.afs = nn.ModuleList([AttentionFeature(w) for w in width[:n_af]] if adaptive else [])

    def forward(self, x: Tensor, snr_db: Tensor | None = None) -> Tensor:
        if self.adaptive and snr_db is None:
            raise ValueError("an SNR-adaptive codec needs the channel SNR (snr_db)")
        for i, (conv, act) in enumerate(zip(self.convs, self.acts, strict=True)):
            x = act(conv(x))
            if i < len(self.afs):
                x = self.afs[i](x, snr_db)  # type: ignore[arg-type]
        return x


def _activation(kind: str, channels: int, inverse: bool) -> nn.Module:
    if kind == "gdn":
        return nn.Sequential(GDN(channels, inverse=inverse), nn.PReLU(channels))
    return nn.PReLU(channels)


def encoder_stack(in_channels: int, c: int, filters: Sequence[int], activation: str,
                  adaptive: bool = False, last_activation: bool = True) -> ConvStack:
    """``[B, in_channels, H, W]`` → ``[B, c, H/4, W/4]`` (strides 2, 2, 1, 1, 1)."""
    widths = [*filters, c]
    strides = [2, 2] + [1] * (len(widths) - 2)
    convs, acts, prev = [], [], in_channels
    for i, (w, s) in enumerate(zip(widths, strides, strict=True)):
        convs.append(nn.Conv2d(prev, w, KERNEL, stride=s, padding=KERNEL // 2))
        last = i == len(widths) - 1
        acts.append(_activation(activation, w, False) if (not last or last_activation) else None)
        prev = w
    return ConvStack(convs, acts, adaptive, n_af=len(filters))


def decoder_stack(c: int, out_channels: int, filters: Sequence[int], activation: str,
                  adaptive: bool = False) -> ConvStack:
    """``[N, c, h, w]`` → pixel logits ``[N, out_channels, 4h, 4w]`` (the encoder mirrored)."""
    widths = [filters[-1], *list(reversed(filters))[1:], out_channels]  # 32 32 32 16 C
    strides = [1] * (len(widths) - 2) + [2, 2]
    convs, acts, prev = [], [], c
    for i, (w, s) in enumerate(zip(widths, strides, strict=True)):
        convs.append(nn.ConvTranspose2d(prev, w, KERNEL, stride=s, padding=KERNEL // 2,
                                        output_padding=s - 1))
        last = i == len(widths) - 1
        acts.append(None if last else _activation(activation, w, True))
        prev = w
    return ConvStack(convs, acts, adaptive, n_af=len(filters))
