"""NECST's fully connected codec (Choi et al., AISTATS 2019; official TF code ermongroup/necst).

Reference MNIST architecture (the defaults)::

    encoder  x [B, 1, 28, 28] → flatten 784 → 500 (leaky ReLU 0.2) → m logits
    decoder  decoder_input(y) [N, m] → 500 (leaky ReLU 0.2) → 500 (leaky ReLU 0.2) → 784 logits

The decoder's last layer gives pixel logits; ``reconstruct`` applies the sigmoid (the official
decoder ends in a sigmoid). The official code uses TF's ``leaky_relu`` (slope 0.2) in both
encoder and decoder, no biases in the decoder or the last encoder layer, and Glorot-uniform
initialisation, which we copy. (Its encoder's hidden layer has a bias; ``bias=False`` here drops
all biases; pass ``bias=True`` to put a bias on every layer.)
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from njscc.models import register
from njscc.models.necst.base import NecstCodec, check_int_tuple, glorot_init

__all__ = ["NecstMLP"]


def _mlp(sizes: Sequence[int], negative_slope: float, bias: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b, bias=bias))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope))
    return layers


@register("necst_mlp")
class NecstMLP(NecstCodec):
    """Fully connected NECST codec.

    Args:
        m: code length in bits.
        data_shape: ``(C, H, W)`` of one image (lists accepted).
        enc_hidden: hidden widths of the encoder (may be empty).
        dec_hidden: hidden widths of the decoder (may be empty).
        likelihood: ``"sse"`` (paper), ``"bernoulli"`` or ``"gaussian"``
            (see :class:`njscc.models.necst.base.NecstCodec`).
        negative_slope: leaky-ReLU slope (TF default 0.2).
        bias: biases on the linear layers (the reference has none).
        init_scale: initial std of the ``"gaussian"`` likelihood (ignored otherwise).

    Shapes: ``encode`` ``[B, C, H, W]`` (or ``[B, C·H·W]``) → ``[B, m]``;
    ``decode`` ``[..., m]`` → ``[..., C, H, W]``.
    """

    def __init__(
        self,
        m: int = 100,
        data_shape: Sequence[int] = (1, 28, 28),
        enc_hidden: Sequence[int] = (500,),
        dec_hidden: Sequence[int] = (500, 500),
        likelihood: str = "sse",
        negative_slope: float = 0.2,
        bias: bool = False,
        init_scale: float = 0.1,
    ) -> None:
        super().__init__(m, data_shape, likelihood)
        enc = check_int_tuple("enc_hidden", enc_hidden, allow_empty=True)
        dec = check_int_tuple("dec_hidden", dec_hidden, allow_empty=True)
        if not isinstance(negative_slope, (int, float)) or not 0 <= negative_slope < 1:
            raise ValueError(f"negative_slope must be a number in [0, 1), got {negative_slope!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.encoder = nn.Sequential(
            nn.Flatten(), *_mlp((self.data_dim, *enc, self.m), negative_slope, bias))
        self.decoder = nn.Sequential(*_mlp((self.m, *dec, self.data_dim), negative_slope, bias))
        glorot_init(self)
        self._add_scale(init_scale)
        self._set_config("necst_mlp", m=m, data_shape=self.data_shape, enc_hidden=enc,
                         dec_hidden=dec, likelihood=likelihood,
                         negative_slope=float(negative_slope), bias=bias,
                         init_scale=float(init_scale))
