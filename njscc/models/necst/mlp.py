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
from njscc.models.necst.base import NecstCodec
from njscc.nn.mlp import glorot_init, mlp
from njscc.validation import LIMITS, check_bool, check_int_tuple, check_number

__all__ = ["NecstMLP"]


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
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        dec = check_int_tuple(dec_hidden, "dec_hidden", allow_empty=True, max=LIMITS["hidden"])
        slope = check_number(negative_slope, "negative_slope", min=0, max=1, max_open=True)
        check_bool(bias, "bias")
        act = {"activation": "leaky_relu", "negative_slope": slope, "bias": bias}
        self.encoder = nn.Sequential(nn.Flatten(), *mlp((self.data_dim, *enc, self.m), **act))
        self.decoder = nn.Sequential(*mlp((self.m, *dec, self.data_dim), **act))
        glorot_init(self)
        self._add_scale(init_scale)
