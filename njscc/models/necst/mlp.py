"""NECST's fully connected codec (Choi et al., AISTATS 2019; official TF code ermongroup/necst).

Reference MNIST architecture (the defaults)::

    encoder  x [B, 1, 28, 28] → flatten 784 → 500 (leaky ReLU 0.2) → m logits
    decoder  decoder_input(y) [N, m] → 500 (leaky ReLU 0.2) → 500 (leaky ReLU 0.2) → 784 logits

The decoder's last layer gives pixel logits; ``reconstruct`` applies the sigmoid (the official
decoder ends in a sigmoid). The official code uses TF's ``leaky_relu`` (slope 0.2) in both
encoder and decoder, no biases in the decoder or the last encoder layer, and Glorot-uniform
initialisation, which we copy. Two things differ in ``necst_mlp``: its encoder's hidden layers
have no bias (``bias=True`` puts one on every layer) and its decoder sees the received bits as
±1. :class:`NecstMLPTF` (``necst_mlp_tf``) is the official layout, switch by switch
(``enc_bias``, ``dec_bias``, ``decoder_input``), for parity runs and ablations.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from njscc.codec import DECODER_INPUTS
from njscc.models import register
from njscc.models.necst.base import NecstCodec
from njscc.nn.mlp import glorot_init, mlp
from njscc.validation import LIMITS, check_bool, check_choice, check_int_tuple, check_number

__all__ = ["NecstMLP", "NecstMLPTF"]


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
        check_bool(bias, "bias")
        self._setup(m, data_shape, enc_hidden, dec_hidden, likelihood, negative_slope,
                    init_scale, enc_bias=bias, code_bias=bias, dec_bias=bias)

    def _setup(self, m: int, data_shape: Sequence[int], enc_hidden: Sequence[int],
               dec_hidden: Sequence[int], likelihood: str, negative_slope: float,
               init_scale: float, *, enc_bias: bool, code_bias: bool, dec_bias: bool) -> None:
        """Validate the widths and build both MLPs (Glorot init) and the likelihood scale;
        ``enc_bias`` on the encoder's hidden layers, ``code_bias`` on its code layer."""
        NecstCodec.__init__(self, m, data_shape, likelihood)
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        dec = check_int_tuple(dec_hidden, "dec_hidden", allow_empty=True, max=LIMITS["hidden"])
        slope = check_number(negative_slope, "negative_slope", min=0, max=1, max_open=True)
        act = {"activation": "leaky_relu", "negative_slope": slope}
        self.encoder = nn.Sequential(nn.Flatten(), *mlp(
            (self.data_dim, *enc, self.m), bias=[enc_bias] * len(enc) + [code_bias], **act))
        self.decoder = nn.Sequential(*mlp((self.m, *dec, self.data_dim),
                                          bias=[dec_bias] * (len(dec) + 1), **act))
        glorot_init(self)
        self._add_scale(init_scale)


@register("necst_mlp_tf")
class NecstMLPTF(NecstMLP):
    """NECST MLP laid out as the official TF code (ermongroup/necst), one switch per difference.

    Args:
        m, data_shape, enc_hidden, dec_hidden, likelihood, negative_slope, init_scale: as
            :class:`NecstMLP`.
        enc_bias: biases on the encoder's hidden layers (official: yes; the code layer never
            has one).
        dec_bias: biases on the decoder's layers (official: no).
        decoder_input: ``"binary"`` — the received bits as {0, 1} (official) — or
            ``"bipolar"`` (±1, :class:`NecstMLP`'s).

    With ``enc_bias=False, dec_bias=False, decoder_input="bipolar"`` it is exactly
    :class:`NecstMLP` (same parameters, same initialisation, same function).
    """

    def __init__(
        self,
        m: int = 100,
        data_shape: Sequence[int] = (1, 28, 28),
        enc_hidden: Sequence[int] = (500,),
        dec_hidden: Sequence[int] = (500, 500),
        likelihood: str = "sse",
        negative_slope: float = 0.2,
        enc_bias: bool = True,
        dec_bias: bool = False,
        decoder_input: str = "binary",
        init_scale: float = 0.1,
    ) -> None:
        check_bool(enc_bias, "enc_bias")
        check_bool(dec_bias, "dec_bias")
        mode = check_choice(decoder_input, "decoder_input", DECODER_INPUTS)
        self._setup(m, data_shape, enc_hidden, dec_hidden, likelihood, negative_slope,
                    init_scale, enc_bias=enc_bias, code_bias=False, dec_bias=dec_bias)
        self.decoder_input_mode = mode
