"""A learned source code for separation: a bit codec's code, sent through any channel code.

JPEG and WebP cannot describe a 28×28 digit in a hundred bits; a binary autoencoder trained
*without* channel noise can (NECST at ε = 0 is one). :class:`LearnedBitSource` turns a list
of such codecs — one per code length m, shortest first — into a :class:`SourceCodec` whose
"quality" q picks the q-th codec: the image's stream is its most probable code (m bits,
packed MSB first into ⌈m / 8⌉ bytes, the last byte zero-padded), and any received stream of
that length decodes (a learned decoder has no invalid input), so the separation scheme's
failures are only those of the channel code. The whole "file" is one quality byte (which
codec) followed by the code bits; the header-known payload is the code bits alone (the
receiver knows m from the quality).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from baselines.source import SOURCES, DecodeError, SourceCodec

__all__ = ["LearnedBitSource"]


class LearnedBitSource(SourceCodec):
    """Source code = the code bits of trained bit codecs (``latent.kind == "bits"``).

    Args:
        codecs: trained bit codecs or paths/run directories (:func:`njscc.load_model`), in any
            order; quality q = 1 … len(codecs) selects them by increasing code length m.
        quality, header_known, signal_quality: as for :class:`SourceCodec`.
        device: where the codecs run (default CPU).
    """

    name = "learned"
    min_quality = 1

    def __init__(self, codecs: Sequence[Any], quality: int = 1, *, header_known: bool = False,
                 signal_quality: bool = False, device: str = "cpu") -> None:
        from njscc import load_model

        if isinstance(codecs, (str, bytes)) or not isinstance(codecs, Sequence) or not codecs:
            raise ValueError("codecs: expected a non-empty list of bit codecs or checkpoints")
        models = [load_model(c) if not isinstance(c, torch.nn.Module) else c for c in codecs]
        for mdl in models:
            spec = getattr(mdl, "latent", None)
            if spec is None or spec.kind != "bits":
                raise ValueError(f"codecs: {type(mdl).__name__} has latent {spec}; a learned "
                                 "source needs bit codecs (latent kind 'bits')")
        self.codecs = sorted((m.to(device).eval() for m in models), key=lambda m: m.latent.size)
        self.device = torch.device(device)
        self.max_quality = len(self.codecs)
        super().__init__(quality, header_known=header_known, signal_quality=signal_quality)

    def bits(self, quality: int) -> int:
        """Code length m of quality ``quality``."""
        return int(self.codecs[self._check_quality(quality) - 1].latent.size)

    def _codec(self, quality: int) -> Any:
        return self.codecs[self._check_quality(quality) - 1]

    def encode_file(self, image: Any, quality: int) -> bytes:
        """One quality byte (the whole file says which codec made it), then the code bits."""
        q = self._check_quality(quality)
        codec = self.codecs[q - 1]
        arr = np.asarray(image)
        x = torch.from_numpy(arr.astype(np.float32) / 255.0)
        x = x[None] if x.dim() == 2 else x.permute(2, 0, 1)  # [C, H, W]
        with torch.no_grad():
            y = codec.compress(x[None].to(self.device))[0].cpu().numpy().astype(np.uint8)
        return bytes([q]) + np.packbits(y).tobytes()

    def split(self, file: bytes) -> tuple[bytes, bytes]:
        """(the quality byte, the packed code bits): the header-known payload is the bits."""
        file = bytes(file)
        if not file:
            raise ValueError(f"{self.name}: empty file")
        return file[:1], file[1:]

    def join(self, payload: bytes, shape: tuple[int, ...], quality: int) -> bytes:
        return bytes([self._check_quality(quality)]) + bytes(payload)

    def _decode_file(self, file: bytes, shape: tuple[int, ...] | None) -> np.ndarray:
        if not file:
            raise DecodeError(f"{self.name}: empty stream")
        q, data = file[0], file[1:]
        if not self.min_quality <= q <= self.max_quality:
            raise DecodeError(f"{self.name}: quality byte {q} out of range")
        codec = self.codecs[q - 1]
        m = int(codec.latent.size)
        if len(data) != (m + 7) // 8:
            raise DecodeError(f"{self.name}: {len(data)} bytes, expected {(m + 7) // 8} for "
                              f"{m} code bits")
        y = np.unpackbits(np.frombuffer(data, np.uint8))[:m]
        with torch.no_grad():
            x = codec.decompress(torch.from_numpy(y).float()[None].to(self.device))[0]
        x = x.reshape(codec.data_shape).clamp(0, 1).cpu()
        img = (x * 255.0).round().to(torch.uint8).numpy()
        img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        if shape is not None and img.shape != tuple(shape):
            raise DecodeError(f"{self.name}: decoded shape {img.shape}, expected {tuple(shape)}")
        return img


@SOURCES.register("learned", source="baselines")
def _learned(quality: int = 1, *, codecs: Sequence[Any] = (), **kwargs: Any) -> LearnedBitSource:
    """Trained bit codecs as a source code (``codecs=``: models or checkpoints; quality = the
    index by code length, 1 = shortest)."""
    return LearnedBitSource(codecs, quality, **kwargs)
