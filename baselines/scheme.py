"""The separation scheme: image codec + channel code + channel, end to end, batched.

::

    x [B, C, H, W] in [0, 1] ──uint8──▶ JPEG/WebP bytes ──bits──▶ k-bit blocks ──encode──▶
    codewords [N, n] ──channel──▶ received ──llr──▶ decode ──▶ bits ──bytes──▶ image decoder ──▶ x̂

All images of a batch share one channel-code call (their codewords are stacked). Nothing
raises out of :meth:`SeparationScheme.run` because of channel errors: a stream the image
decoder rejects (Pillow error, wrong size, bad quality byte, …) is counted as a *failure*
and reconstructed as the documented fallback (a constant mid-grey image by default, or a
dataset mean image passed in). Failures are reported per image, never hidden.

With an :class:`~baselines.codes.IdealCode` the stream is delivered error-free and charged
⌈L / C⌉ channel uses (the capacity bound); no channel is simulated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from baselines.bits import bits_to_bytes, bytes_to_bits
from baselines.codes import ChannelCode
from baselines.source import BudgetError, SourceCodec

__all__ = ["SeparationScheme", "resolve_channel", "summarize"]


def resolve_channel(channel: Any, param: float | None = None) -> Any:
    """A channel module from an instance, or a name + parameter via ``channels.get``."""
    if isinstance(channel, str):
        if param is None:
            raise ValueError(f"param: channel {channel!r} given by name needs its parameter")
        import channels

        return channels.get(channel, param)
    if isinstance(channel, tuple) and len(channel) == 2:
        return resolve_channel(channel[0], channel[1])
    if not (hasattr(channel, "llr") and callable(channel)):
        raise TypeError(f"channel: expected a BinaryChannel, a name or (name, param), "
                        f"got {type(channel).__name__}")
    return channel


def _to_uint8(x: Tensor) -> np.ndarray:
    """One image ``[C, H, W]`` float in [0, 1] (or uint8) → ``uint8`` ``[H, W]``/``[H, W, 3]``."""
    if x.dtype != torch.uint8:
        x = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    arr = x.cpu().numpy()
    return arr[0] if arr.shape[0] == 1 else np.ascontiguousarray(arr.transpose(1, 2, 0))


class SeparationScheme:
    """Source codec + channel code + channel.

    Args:
        source: a :class:`~baselines.source.SourceCodec` (its flags decide whether the whole
            file or the header-known payload is sent).
        code: a :class:`~baselines.codes.ChannelCode`.
        channel: a channel module (``forward(bits, generator)``, ``llr``, ``capacity``), a
            name for ``channels.get`` with ``param``, or a ``(name, param)`` tuple.
        param: the channel parameter when ``channel`` is a name.
        fallback: reconstruction used when an image cannot be decoded: a float grey level
            (default 0.5, mid-grey) or a ``[C, H, W]`` image in [0, 1] (e.g. the dataset mean).
    """

    def __init__(self, source: SourceCodec, code: ChannelCode, channel: Any,
                 param: float | None = None, *, fallback: float | Tensor = 0.5) -> None:
        if not isinstance(source, SourceCodec):
            raise TypeError(f"source: expected a SourceCodec, got {type(source).__name__}")
        if not isinstance(code, ChannelCode):
            raise TypeError(f"code: expected a ChannelCode, got {type(code).__name__}")
        self.source = source
        self.code = code
        self.channel = resolve_channel(channel, param)
        if isinstance(fallback, Tensor):
            if fallback.dim() != 3:
                raise ValueError(f"fallback: expected [C, H, W], got {tuple(fallback.shape)}")
        elif not 0.0 <= float(fallback) <= 1.0:
            raise ValueError(f"fallback: expected a grey level in [0, 1], got {fallback}")
        self.fallback = fallback

    def _fallback_like(self, x: Tensor) -> Tensor:
        if isinstance(self.fallback, Tensor):
            fb = self.fallback.to(x.device, torch.float32)
            if fb.shape != x.shape:
                raise ValueError(f"fallback: shape {tuple(fb.shape)} does not match images "
                                 f"{tuple(x.shape)}")
            return fb
        return torch.full(x.shape, float(self.fallback), device=x.device)

    def max_source_bits(self, budget_bits: int) -> int:
        """Longest source stream (bits) whose channel codewords fit in ``budget_bits``."""
        return self.code.max_info_bits(int(budget_bits))

    @torch.no_grad()
    def run(self, images: Tensor, generator: torch.Generator | None = None, *,
            budget_bits: int | None = None) -> dict[str, Tensor]:
        """Send a batch ``[B, C, H, W]`` (float in [0, 1], or uint8) through the scheme.

        Fixed-quality mode (``budget_bits=None``) uses the source codec's ``quality``.
        Budget mode gives each image the highest quality whose stream, after channel
        coding, fits in ``budget_bits`` channel uses (``code.max_info_bits``); an image
        that does not fit even at the lowest quality is not sent (``cannot_fit``) and gets
        the fallback.

        Returns per-image tensors ``[B]`` (and ``x_hat``):
            ``x_hat`` [B, C, H, W] float in [0, 1]; ``sse`` (sum of squared errors on the
            [0, 1] scale, per image, as in the NECST paper) and ``psnr`` (dB, inf when
            exact), float64; ``failed`` (x̂ is the fallback, for any reason) and
            ``cannot_fit`` (budget mode: nothing sent), bool; ``quality`` (−1 when not
            sent), ``source_bytes`` (transmitted source stream), ``channel_bits``
            (channel uses), ``bit_errors`` (residual errors in the decoded source
            stream), ``block_errors`` (k-bit blocks with any residual error), int64.
        """
        if images.dim() != 4:
            raise ValueError(f"images: expected [B, C, H, W], got {tuple(images.shape)}")
        if images.shape[1] not in (1, 3):
            raise ValueError(f"images: expected 1 or 3 channels, got {images.shape[1]}")
        if (budget_bits is not None and self.source.header_known
                and not self.source.signal_quality):
            raise ValueError("source: budget mode with header_known=True needs "
                             "signal_quality=True (the receiver must learn each image's "
                             "quality)")
        B = images.shape[0]
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        quality = torch.full((B,), -1, dtype=torch.int64)
        cannot_fit = torch.zeros(B, dtype=torch.bool)
        streams: list[bytes | None] = []
        shapes: list[tuple[int, ...]] = []
        for i in range(B):
            img = _to_uint8(images[i])
            shapes.append(img.shape)
            if budget_bits is None:
                q = self.source.quality
                streams.append(self.source.encode(img, q))
            else:
                try:
                    q, s = self.source.fit_budget(img, self.max_source_bits(budget_bits))
                except BudgetError:
                    cannot_fit[i] = True
                    streams.append(None)
                    continue
                streams.append(s)
            quality[i] = q

        sent_bits = [bytes_to_bits(s) if s is not None else None for s in streams]
        received = self._transmit(sent_bits, generator)

        x_hat = torch.empty_like(x, dtype=torch.float64)  # float32 on return
        failed = cannot_fit.clone()
        source_bytes = torch.zeros(B, dtype=torch.int64)
        channel_bits = torch.zeros(B, dtype=torch.int64)
        bit_errors = torch.zeros(B, dtype=torch.int64)
        block_errors = torch.zeros(B, dtype=torch.int64)
        for i in range(B):
            bits, got = sent_bits[i], received[i]
            if bits is None or got is None:
                x_hat[i] = self._fallback_like(x[i]).double()
                continue
            source_bytes[i] = bits.numel() // 8
            channel_bits[i] = self.code.channel_bits(bits.numel())
            wrong = bits != got
            bit_errors[i] = int(wrong.sum())
            if not self.code.ideal and bits.numel():
                pad = (-bits.numel()) % self.code.k
                wrong = torch.cat([wrong, wrong.new_zeros(pad)]).reshape(-1, self.code.k)
                block_errors[i] = int(wrong.any(dim=1).sum())
            try:
                out = self.source.decode(bits_to_bytes(got), shapes[i])
                t = torch.from_numpy(np.array(out, dtype=np.float64)) / 255.0
                x_hat[i] = (t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)).to(x.device)
            except Exception:  # noqa: BLE001 - any failure to decode is counted, not raised
                failed[i] = True
                x_hat[i] = self._fallback_like(x[i]).double()

        sse = ((x_hat - x.double()) ** 2).flatten(1).sum(1)
        numel = x[0].numel()
        psnr = torch.where(sse > 0, 10 * torch.log10(numel / sse.clamp_min(1e-300)),
                           torch.full_like(sse, math.inf))
        return {"x_hat": x_hat.float(), "sse": sse, "psnr": psnr, "failed": failed,
                "cannot_fit": cannot_fit, "quality": quality, "source_bytes": source_bytes,
                "channel_bits": channel_bits, "bit_errors": bit_errors,
                "block_errors": block_errors}

    def _transmit(self, streams: list[Tensor | None], generator: torch.Generator | None
                  ) -> list[Tensor | None]:
        """Bit streams → decoded bit streams (uint8), one shared channel-code call."""
        if self.code.ideal:  # the capacity bound: delivered as sent
            return [None if s is None else s.clone() for s in streams]
        code = self.code
        words, counts = [], []
        for s in streams:
            if s is None:
                counts.append(0)
                continue
            cw = code.encode_stream(s)
            words.append(cw)
            counts.append(cw.shape[0])
        if not words:
            return [None] * len(streams)
        cw = torch.cat(words)
        y = self.channel(cw, generator)
        llr = self.channel.llr(y)
        dec = code.decode(llr)
        out: list[Tensor | None] = []
        start = 0
        for s, c in zip(streams, counts, strict=True):
            if s is None:
                out.append(None)
                continue
            out.append(dec[start:start + c].reshape(-1)[: s.numel()].to(torch.uint8))
            start += c
        return out


def summarize(result: dict[str, Tensor]) -> dict[str, float]:
    """Scalar metrics of a :meth:`SeparationScheme.run` result, for results files.

    ``psnr_mean`` averages finite per-image PSNRs only (exact images are counted in
    ``exact``); ``psnr_of_mean_mse`` is 10 log10(1 / mean MSE) over all images.
    """
    sse = result["sse"]
    numel = result["x_hat"][0].numel()
    finite = torch.isfinite(result["psnr"])
    mse = float(sse.mean()) / numel
    return {
        "images": int(sse.numel()),
        "sse_mean": float(sse.mean()),
        "sse_std": float(sse.std()) if sse.numel() > 1 else 0.0,
        "psnr_mean": float(result["psnr"][finite].mean()) if finite.any() else math.inf,
        "psnr_of_mean_mse": 10 * math.log10(1 / mse) if mse > 0 else math.inf,
        "exact": int((~finite).sum()),
        "failure_rate": float(result["failed"].double().mean()),
        "cannot_fit_rate": float(result["cannot_fit"].double().mean()),
        "source_bytes_mean": float(result["source_bytes"].double().mean()),
        "channel_bits_mean": float(result["channel_bits"].double().mean()),
        "channel_bits_max": int(result["channel_bits"].max()) if sse.numel() else 0,
        "bit_errors_total": int(result["bit_errors"].sum()),
        "block_errors_total": int(result["block_errors"].sum()),
    }
