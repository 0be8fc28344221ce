"""DeepJSCC codecs: images straight to analog channel symbols (Bourtsoulatze et al. 2019),
its SNR-adaptive variant (ADJSCC, Xu et al. 2021) and a binary variant (the same encoder
quantised to bits, trained like NECST over BSC / BEC / hard-decision BPSK-AWGN).

Analog codecs declare a ``real`` latent with ``analog="complex"`` (or ``"real"``): the code
*is* the transmitted signal, ``k`` complex symbols per image under the average power
constraint mean |z|² = 1 (:func:`channels.analog.power_normalize`, exact per image). The
bandwidth ratio is k / n with n = C·H·W source dimensions; with the encoder's 4× spatial
down-sampling, ``c`` output channels give k = c·H·W / 32 complex symbols, i.e.
k / n = c / (32·C) (MNIST: c = 2 → 1/16; RGB: c = 8 → 1/12, 16 → 1/6, 32 → 1/3).

Shapes: ``encode(x [B, C, H, W], snr_db)`` → complex ``[B, k]``; ``decode(y [..., k], snr_db)``
→ pixel logits ``[..., C, H, W]``; :meth:`DeepJSCC.transmit` runs the fully convolutional
path on images of any size divisible by 4 (full Kodak frames).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from channels.analog import AnalogChannel, power_normalize
from njscc.codec import EncoderDecoderCodec, LatentSpec
from njscc.models import register
from njscc.models.deepjscc.layers import ACTIVATIONS, decoder_stack, encoder_stack
from njscc.models.necst.base import NecstCodec
from njscc.nn.likelihoods import PIXEL_LIKELIHOODS
from njscc.validation import (
    LIMITS,
    check_choice,
    check_data_shape,
    check_number,
    check_positive_int,
)

__all__ = ["BinaryDeepJSCC", "DeepJSCC", "SNRAdaptiveDeepJSCC", "c_for_ratio"]

DEFAULT_FILTERS = (16, 32, 32, 32)


def c_for_ratio(ratio: float, data_shape: Sequence[int], complex_symbols: bool = True) -> int:
    """The number of encoder output channels ``c`` giving bandwidth ratio k/n = ``ratio``
    (``ValueError`` if no integer ``c`` gives it exactly)."""
    ch = int(data_shape[0])
    per_c = (1 / 32 if complex_symbols else 1 / 16) / ch
    c = ratio / per_c
    if abs(c - round(c)) > 1e-6 or round(c) < 1:
        raise ValueError(f"bandwidth ratio {ratio:g}: needs c = {c:g} output channels, not a "
                         f"positive integer (k/n = c·{per_c:g} for {ch} colour channel(s))")
    return int(round(c))


def _check_shape(data_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = check_data_shape(data_shape)
    if len(shape) != 3 or shape[1] % 4 or shape[2] % 4:
        raise ValueError(f"data_shape must be (C, H, W) with H and W divisible by 4, got "
                         f"{list(shape)}")
    return shape  # type: ignore[return-value]


def _check_filters(filters: Sequence[int]) -> tuple[int, ...]:
    out = tuple(check_positive_int(f, "filters", max=LIMITS["hidden"]) for f in filters)
    if len(out) < 2:
        raise ValueError(f"filters: expected at least 2 widths (two stride-2 stages), got "
                         f"{list(out)}")
    return out


def _snr_tensor(snr_db: Tensor | float | None, lead: torch.Size, like: Tensor) -> Tensor | None:
    """``snr_db`` (a float or per-example tensor) broadcast to ``lead`` and flattened."""
    if snr_db is None:
        return None
    t = torch.as_tensor(snr_db, dtype=like.real.dtype if like.is_complex() else like.dtype,
                        device=like.device)
    try:
        return torch.broadcast_to(t, lead).reshape(-1)
    except RuntimeError:
        raise ValueError(f"snr_db: shape {list(t.shape)} does not broadcast to the examples "
                         f"{list(lead)}") from None


@register("deepjscc")
class DeepJSCC(EncoderDecoderCodec):
    """DeepJSCC: conv encoder → k power-normalised channel symbols → conv decoder.

    Args:
        c: encoder output channels; sets the bandwidth ratio (module doc, :func:`c_for_ratio`).
        data_shape: ``(C, H, W)``, H and W divisible by 4 (the training size; :meth:`transmit`
            takes any such size).
        filters: widths of the encoder's stages before the output layer (paper: 16, 32, 32, 32).
        activation: ``"prelu"`` (paper) or ``"gdn"`` (GDN/IGDN followed by PReLU).
        symbols: ``"complex"`` (paper) or ``"real"`` channel symbols.
        likelihood: ``"sse"`` (per-image squared error, ∝ the paper's MSE), ``"bernoulli"`` or
            ``"gaussian"``.
        power: average symbol power P of the constraint (the channels assume P = 1).
    """

    #: whether encoder and decoder take the channel SNR (ADJSCC)
    snr_adaptive: bool = False

    def __init__(self, c: int = 8, data_shape: Sequence[int] = (3, 32, 32),
                 filters: Sequence[int] = DEFAULT_FILTERS, activation: str = "prelu",
                 symbols: str = "complex", likelihood: str = "sse", power: float = 1.0) -> None:
        super().__init__()
        self.c = check_positive_int(c, "c", max=LIMITS["hidden"])
        self.data_shape = _check_shape(data_shape)
        self.filters = _check_filters(filters)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.symbols = check_choice(symbols, "symbols", ("complex", "real"))
        self.likelihood = check_choice(likelihood, "likelihood", PIXEL_LIKELIHOODS)
        self.power = check_number(power, "power", min=0, min_open=True)
        ch, h, w = self.data_shape
        dims = self.c * (h // 4) * (w // 4)
        if self.symbols == "complex" and dims % 2:
            raise ValueError(f"c={self.c} on {h}x{w} gives {dims} real values, an odd number: "
                             "complex symbols need an even count (choose an even c)")
        self.k = dims // 2 if self.symbols == "complex" else dims
        self.encoder = encoder_stack(ch, self.c, self.filters, self.activation, self.snr_adaptive)
        self.decoder = decoder_stack(self.c, ch, self.filters, self.activation, self.snr_adaptive)
        self._add_scale(0.1)

    # ------------------------------------------------------------------ declarations
    @property
    def latent(self) -> LatentSpec:
        return LatentSpec.channel_symbols(self.k, self.symbols == "complex")

    @property
    def bandwidth_ratio(self) -> float:
        """k / n: channel uses per source dimension (C·H·W)."""
        return self.k / math.prod(self.data_shape)

    # ------------------------------------------------------------------ maps ↔ symbols
    def _to_symbols(self, maps: Tensor) -> Tensor:
        flat = maps.reshape(maps.shape[0], -1)
        if self.symbols == "complex":
            flat = torch.view_as_complex(flat.reshape(flat.shape[0], -1, 2).contiguous())
        return power_normalize(flat, self.power)

    def _to_maps(self, y: Tensor, hw: tuple[int, int]) -> Tensor:
        if self.symbols == "complex":
            if not y.is_complex():
                raise TypeError(f"y: expected complex symbols, got {y.dtype}")
            y = torch.view_as_real(y)
        elif y.is_complex():
            raise TypeError("y: expected real symbols, got a complex tensor")
        return y.reshape(-1, self.c, hw[0] // 4, hw[1] // 4)

    def _encode_any(self, x: Tensor, snr_db: Tensor | float | None) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.data_shape[0] or x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"x must have shape [B, {self.data_shape[0]}, H, W] with H, W "
                             f"divisible by 4, got {list(x.shape)}")
        snr = _snr_tensor(snr_db, x.shape[:1], x)
        return self._to_symbols(self.encoder(x, snr))

    def _decode_any(self, y: Tensor, hw: tuple[int, int], snr_db: Tensor | float | None
                    ) -> Tensor:
        lead = y.shape[:-1]
        snr = _snr_tensor(snr_db, lead, y)
        out = self.decoder(self._to_maps(y, hw), snr)
        return out.reshape(*lead, *out.shape[1:])

    # ------------------------------------------------------------------ the codec contract
    def encode(self, x: Tensor, snr_db: Tensor | float | None = None) -> Tensor:
        """``x`` ``[B, C, H, W]`` in [0, 1] → channel symbols ``[B, k]`` (complex or real),
        mean |z|² = P per image. ``snr_db`` (float or ``[B]``): SNR-adaptive codecs only."""
        self._check_x(x)
        return self._encode_any(x.reshape(-1, *self.data_shape), snr_db)

    def decode(self, y: Tensor, snr_db: Tensor | float | None = None) -> Tensor:
        """Received symbols ``[..., k]`` → pixel logits ``[..., C, H, W]``."""
        if y.shape[-1] != self.k:
            raise ValueError(f"y must have last dim k={self.k}, got shape {list(y.shape)}")
        return self._decode_any(y, self.data_shape[1:], snr_db)  # type: ignore[arg-type]

    def _check_channel(self, channel: Any) -> None:
        if channel is None:
            return
        if not isinstance(channel, AnalogChannel):
            raise TypeError(f"{self.config.get('name', 'deepjscc')}: sends analog symbols; "
                            f"expected an analog channel (channels.get_analog), got "
                            f"{getattr(channel, 'name', type(channel).__name__)!r}")
        if channel.symbols != self.symbols:
            raise ValueError(f"channel {channel.name!r} carries {channel.symbols} symbols, the "
                             f"model sends {self.symbols} ones")

    def forward(self, x: Tensor, channel: AnalogChannel | None = None, n_samples: int = 1,
                generator: torch.Generator | None = None,
                snr_db: Tensor | float | None = None) -> dict[str, Tensor]:
        """Encode, send K noisy copies through ``channel`` (``None``: noiseless), decode.

        ``snr_db`` overrides the channel's SNR (float or one per example ``[B]``) and is what an
        SNR-adaptive codec is told (default: the channel's). Returns ``z`` ``[B, k]``, ``y``
        ``[K, B, k]``, ``params`` ``[K, B, C, H, W]``, ``log_p`` ``[K, B]``.
        """
        self._check_channel(channel)
        snr = snr_db if snr_db is not None else (channel.snr_db if channel is not None else None)
        z = self.encode(x, snr)
        zk = z.unsqueeze(0).expand(n_samples, *z.shape)
        if channel is None:
            y = zk
        else:
            y = channel(zk, generator=generator,
                        snr_db=snr_db if isinstance(snr_db, Tensor) or snr_db is None
                        else float(snr_db))
        params = self.decode(y, snr)
        return {"z": z, "y": y, "params": params, "log_p": self.log_prob(x, params)}

    @torch.no_grad()
    def compress(self, x: Tensor, snr_db: Tensor | float | None = None) -> Tensor:
        """The symbols to send ``[B, k]`` (power-normalised)."""
        return self.encode(x, snr_db)

    @torch.no_grad()
    def decompress(self, y: Tensor, snr_db: Tensor | float | None = None) -> Tensor:
        """Received symbols ``[..., k]`` → x̂ ``[..., C, H, W]`` in [0, 1]."""
        return self.reconstruct(self.decode(y, snr_db))

    @torch.no_grad()
    def transmit(self, x: Tensor, channel: AnalogChannel | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Fully convolutional send → channel → receive of images ``[B, C, H, W]`` of any
        size divisible by 4 (e.g. full 768×512 Kodak frames); returns x̂ in [0, 1]. The power
        constraint and the fading block are per image."""
        self._check_channel(channel)
        snr = channel.snr_db if channel is not None else None
        z = self._encode_any(x, snr)
        y = z if channel is None else channel(z, generator=generator)
        return self.reconstruct(self._decode_any(y, (x.shape[2], x.shape[3]), snr))


@register("adjscc")
class SNRAdaptiveDeepJSCC(DeepJSCC):
    """SNR-adaptive DeepJSCC (ADJSCC): :class:`DeepJSCC` with attention-feature modules that
    take the channel SNR in both stacks; train it over a range of SNRs (objective ``jscc``
    with ``snr_range``). Same arguments as :class:`DeepJSCC`."""

    snr_adaptive = True


@register("deepjscc_binary")
class BinaryDeepJSCC(NecstCodec):
    """Binary DeepJSCC: the DeepJSCC encoder with its output quantised to m bits (Bernoulli,
    like NECST), a decoder fed the received bits; trained by the NECST objectives (VIMCO …)
    over BSC / BEC / hard-decision BPSK-AWGN.

    Args:
        c: encoder output channels; m = c·H·W / 16 bits. Sent as QPSK (2 bits per complex
            use) that is m / 2 complex channel uses, so ``c`` bits-channels match an analog
            DeepJSCC with the same ``c`` at equal channel uses.
        data_shape, filters, activation, likelihood: as :class:`DeepJSCC`.

    QPSK over complex AWGN at SNR s (Es = 1) is, bit by bit, BPSK at Es/N0 = s / 2, i.e. a
    BSC with ε = Q(√s) after hard decisions (``channels.get("awgn", s_dB − 3.01)``).
    """

    def __init__(self, c: int = 8, data_shape: Sequence[int] = (3, 32, 32),
                 filters: Sequence[int] = DEFAULT_FILTERS, activation: str = "prelu",
                 likelihood: str = "sse") -> None:
        c = check_positive_int(c, "c", max=LIMITS["hidden"])
        shape = _check_shape(data_shape)
        super().__init__(c * (shape[1] // 4) * (shape[2] // 4), shape, likelihood)
        self.c = c
        self.filters = _check_filters(filters)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        ch, h, w = shape
        self._maps = (c, h // 4, w // 4)
        self.encoder = encoder_stack(ch, c, self.filters, self.activation,
                                     last_activation=False)
        self.decoder = decoder_stack(c, ch, self.filters, self.activation)
        self._add_scale(0.1)

    def encode(self, x: Tensor) -> Tensor:
        """``x`` ``[B, C, H, W]`` → logits ``[B, m]`` of q(ŷ = 1 | x)."""
        self._check_x(x)
        return self.encoder(x.reshape(-1, *self.data_shape)).reshape(x.shape[0], self.m)

    def decode(self, y: Tensor) -> Tensor:
        from njscc.codec import decoder_input

        if y.shape[-1] != self.m:
            raise ValueError(f"y must have last dim m={self.m}, got shape {list(y.shape)}")
        lead = y.shape[:-1]
        h = decoder_input(y, self.decoder_input_mode).reshape(-1, *self._maps)
        return self.decoder(h).reshape(*lead, *self.data_shape)
