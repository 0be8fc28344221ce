"""Image source codecs (JPEG, WebP through Pillow), in memory, with a bit-budget search.

Two sizes are reported, honestly:

* the **whole file** (what ``Image.save`` writes), and
* the **header-known payload**: the part of the file that depends on the pixels. For a fixed
  (quality, shape, mode) the rest of the file is the same for every image, so a receiver that
  knows those settings can rebuild it; only the payload goes over the channel.

  - JPEG (baseline, ``optimize=False`` so libjpeg writes the *standard* Huffman tables, no
    EXIF/ICC, fixed chroma subsampling): the header is everything up to the end of the SOS
    segment and is byte-identical for a given (quality, shape, mode); the payload is the raw
    entropy-coded scan between the end of the SOS segment and the EOI marker, byte stuffing
    and any restart markers included. The receiver re-attaches the header and ``FF D9``.
  - WebP (lossy, simple ``RIFF/WEBP/VP8`` layout): the payload is the VP8 frame minus the
    7 bytes the receiver knows (start code ``9D 01 2A`` and the 14-bit width/height); the
    3-byte frame tag (which carries the first-partition size) is kept. The 20-byte RIFF and
    chunk headers are rebuilt from the payload length.

Every header-known encode checks that re-attaching the known header gives back the exact
file, so the payload size is never an estimate.

Images are ``numpy.uint8`` arrays ``[H, W]`` (grey) or ``[H, W, 3]`` (RGB); torch tensors of
the same layout are accepted too.
"""

from __future__ import annotations

import io
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from PIL import Image

from njscc.registry import Registry

__all__ = ["SOURCES", "BudgetError", "DecodeError", "JPEGCodec", "SourceCodec", "WebPCodec",
           "get_source"]


class BudgetError(ValueError):
    """Raised by :meth:`SourceCodec.fit_budget` when even the lowest quality does not fit.

    Attributes: ``max_bits`` (the budget) and ``min_bits`` (the size at the lowest quality).
    """

    def __init__(self, max_bits: int, min_bits: int, codec: str) -> None:
        super().__init__(f"{codec}: the lowest quality needs {min_bits} bits, "
                         f"more than the budget of {max_bits} bits")
        self.max_bits = max_bits
        self.min_bits = min_bits


class DecodeError(ValueError):
    """The received stream could not be turned into an image of the expected shape."""


def _as_image(image: Any) -> np.ndarray:
    """Validate and convert an image to a C-contiguous ``uint8`` array ``[H, W]``/``[H, W, 3]``."""
    if hasattr(image, "detach"):  # torch tensor
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"image: expected dtype uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"image: expected shape [H, W] or [H, W, 3], got {arr.shape}")
    return np.ascontiguousarray(arr)


def _mode(shape: tuple[int, ...]) -> str:
    return "L" if len(shape) == 2 else "RGB"


class SourceCodec(ABC):
    """An image codec working on bytes in memory.

    Args:
        quality: default quality used by :meth:`encode`.
        header_known: transmit only the header-known payload (see the module docstring)
            instead of the whole file.
        signal_quality: prepend one byte holding the quality to the transmitted stream, so
            the receiver does not need to know it (needed when the quality changes per
            image, as in :meth:`fit_budget`, together with ``header_known``). Whole files
            carry their quality in their header and ignore this flag.
    """

    name: str = "source"
    min_quality: int = 1
    max_quality: int = 100

    def __init__(self, quality: int = 75, *, header_known: bool = False,
                 signal_quality: bool = False) -> None:
        self.quality = self._check_quality(quality)
        self.header_known = bool(header_known)
        self.signal_quality = bool(signal_quality)
        self._headers: dict[tuple[Any, ...], bytes] = {}

    # -- format specific -----------------------------------------------------------------------
    @abstractmethod
    def encode_file(self, image: Any, quality: int) -> bytes:
        """The whole file for ``image`` at ``quality``."""

    @abstractmethod
    def split(self, file: bytes) -> tuple[bytes, bytes]:
        """Split a whole file into (content-independent header, payload); raises ValueError."""

    @abstractmethod
    def join(self, payload: bytes, shape: tuple[int, ...], quality: int) -> bytes:
        """Rebuild the whole file from a payload, the image shape and the quality."""

    # -- common --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (f"{type(self).__name__}(quality={self.quality}, header_known={self.header_known}, "
                f"signal_quality={self.signal_quality})")

    def _check_quality(self, quality: int) -> int:
        q = int(quality)
        if q != quality or not self.min_quality <= q <= self.max_quality:
            raise ValueError(f"quality: expected an integer in [{self.min_quality}, "
                             f"{self.max_quality}], got {quality!r}")
        return q

    def payload(self, image: Any, quality: int) -> bytes:
        """Header-known payload of ``image`` at ``quality``, checked to rebuild the exact file."""
        img = _as_image(image)
        file = self.encode_file(img, quality)
        _, pay = self.split(file)
        if self.join(pay, img.shape, quality) != file:  # pragma: no cover - a format surprise
            raise RuntimeError(f"{self.name}: header of this file is not the known header "
                               f"(quality {quality}, shape {img.shape})")
        return pay

    def encode(self, image: Any, quality: int | None = None) -> bytes:
        """The bytes to transmit for ``image`` (whole file or payload, see the class flags)."""
        q = self.quality if quality is None else self._check_quality(quality)
        img = _as_image(image)
        if not self.header_known:
            return self.encode_file(img, q)
        pay = self.payload(img, q)
        return (bytes([q]) + pay) if self.signal_quality else pay

    def sizes(self, image: Any, quality: int | None = None) -> dict[str, int]:
        """Sizes in bytes: ``file`` (whole file) and ``payload`` (header-known payload)."""
        q = self.quality if quality is None else self._check_quality(quality)
        img = _as_image(image)
        file = self.encode_file(img, q)
        return {"file": len(file), "payload": len(self.split(file)[1])}

    def decode(self, data: bytes, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Received bytes → ``uint8`` image of ``shape`` (``[H, W]`` or ``[H, W, 3]``).

        ``shape`` is required in header-known mode; with whole files it is checked (from the
        header, before the pixels are decoded, so a corrupted size cannot allocate a huge
        image). Raises :class:`DecodeError` for anything that is not a decodable image of
        that shape; never another exception type for bad data.
        """
        data = bytes(data)
        if self.header_known:
            if shape is None:
                raise ValueError("shape: required to decode a header-known payload")
            q = self.quality
            if self.signal_quality:
                if not data:
                    raise DecodeError(f"{self.name}: empty stream")
                q, data = data[0], data[1:]
                if not self.min_quality <= q <= self.max_quality:
                    raise DecodeError(f"{self.name}: received quality byte {q} out of range")
            data = self.join(data, tuple(shape), q)
        return self._decode_file(data, shape)

    def _decode_file(self, file: bytes, shape: tuple[int, ...] | None) -> np.ndarray:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(io.BytesIO(file), formats=[self._pil_format])
                if shape is not None and (im.size != (shape[1], shape[0])):
                    raise DecodeError(f"{self.name}: decoded size {im.size[::-1]}, "
                                      f"expected {tuple(shape[:2])}")
                im.load()
                mode = _mode(tuple(shape)) if shape is not None else (
                    "L" if im.mode in ("L", "1", "P", "I", "F") else "RGB")
                arr = np.asarray(im.convert(mode))
        except DecodeError:
            raise
        except Exception as e:  # noqa: BLE001 - any Pillow failure on bad data
            raise DecodeError(f"{self.name}: {type(e).__name__}: {e}") from None
        if shape is not None and arr.shape != tuple(shape):
            raise DecodeError(f"{self.name}: decoded shape {arr.shape}, expected {tuple(shape)}")
        return arr

    _pil_format: str = ""

    def fit_budget(self, image: Any, max_bits: int) -> tuple[int, bytes]:
        """Highest quality whose transmitted stream (:meth:`encode`) fits in ``max_bits`` bits.

        Binary search over integer qualities (sizes are nearly but not strictly monotone in
        quality, so the result is a quality that fits, found by bisection, not always the
        global maximum). The returned stream is never longer than ``max_bits``.

        Returns ``(quality, stream)``; raises :class:`BudgetError` when even
        ``min_quality`` does not fit.
        """
        img = _as_image(image)
        cache: dict[int, bytes] = {}

        def stream(q: int) -> bytes:
            if q not in cache:
                cache[q] = self.encode(img, q)
            return cache[q]

        def fits(q: int) -> bool:
            return 8 * len(stream(q)) <= max_bits

        lo, hi = self.min_quality, self.max_quality
        if not fits(lo):
            raise BudgetError(int(max_bits), 8 * len(stream(lo)), self.name)
        if fits(hi):
            return hi, stream(hi)
        while hi - lo > 1:  # invariant: lo fits, hi does not
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        return lo, stream(lo)



class JPEGCodec(SourceCodec):
    """Baseline JPEG through Pillow/libjpeg: ``optimize=False`` (standard Huffman tables),
    not progressive, no EXIF/ICC, fixed ``subsampling`` for RGB (default 4:2:0).

    Quality 1…100 scales the standard IJG quantisation tables (Pillow's ``quality=``), so the
    header is a function of (quality, shape, mode) only. See :class:`SourceCodec` for flags.

    ``restart_blocks`` (default 0: none) inserts a restart marker every that many MCUs
    (Pillow's ``restart_marker_blocks``): a decoder resynchronises at each one, which limits
    the damage of residual bit errors at a cost of 2 bytes per marker (plus byte alignment).
    The DRI segment is part of the known header; the markers are part of the payload.
    """

    name = "jpeg"
    min_quality = 1
    max_quality = 100
    _pil_format = "JPEG"

    def __init__(self, quality: int = 75, *, header_known: bool = False,
                 signal_quality: bool = False, subsampling: str = "4:2:0",
                 restart_blocks: int = 0) -> None:
        super().__init__(quality, header_known=header_known, signal_quality=signal_quality)
        if int(restart_blocks) != restart_blocks or not 0 <= restart_blocks <= 65535:
            raise ValueError(f"restart_blocks: expected an integer 0..65535, got "
                             f"{restart_blocks!r}")
        self.restart_blocks = int(restart_blocks)
        if subsampling not in ("4:4:4", "4:2:2", "4:2:0"):
            raise ValueError(f"subsampling: expected '4:4:4', '4:2:2' or '4:2:0', "
                             f"got {subsampling!r}")
        self.subsampling = subsampling

    def encode_file(self, image: Any, quality: int) -> bytes:
        img = _as_image(image)
        buf = io.BytesIO()
        Image.fromarray(img, mode=_mode(img.shape)).save(
            buf, format="JPEG", quality=int(quality), optimize=False, progressive=False,
            subsampling=self.subsampling,
            **({"restart_marker_blocks": self.restart_blocks} if self.restart_blocks else {}))
        return buf.getvalue()

    def split(self, file: bytes) -> tuple[bytes, bytes]:
        """(everything up to the end of the SOS segment, scan bytes before EOI)."""
        if file[:2] != b"\xff\xd8" or file[-2:] != b"\xff\xd9":
            raise ValueError("jpeg: not a complete JPEG file (SOI/EOI missing)")
        i = 2
        while i + 4 <= len(file):
            if file[i] != 0xFF:
                raise ValueError(f"jpeg: expected a marker at byte {i}")
            marker = file[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            seg_len = int.from_bytes(file[i + 2:i + 4], "big")
            end = i + 2 + seg_len
            if marker == 0xDA:  # SOS: entropy-coded data follows its header
                return file[:end], file[end:-2]
            if marker in (0xC2, 0xC6, 0xCA, 0xCE):
                raise ValueError("jpeg: progressive JPEG is not supported")
            i = end
        raise ValueError("jpeg: no SOS segment")

    def known_header(self, shape: tuple[int, ...], quality: int) -> bytes:
        """The content-independent JPEG header for (shape, quality), from a constant image."""
        key = (tuple(shape), int(quality))
        if key not in self._headers:
            self._headers[key] = self.split(self.encode_file(np.zeros(shape, np.uint8),
                                                             quality))[0]
        return self._headers[key]

    def join(self, payload: bytes, shape: tuple[int, ...], quality: int) -> bytes:
        return self.known_header(shape, quality) + bytes(payload) + b"\xff\xd9"


class WebPCodec(SourceCodec):
    """Lossy WebP through Pillow/libwebp (simple ``VP8`` layout, no alpha or metadata).

    Grey images are encoded as RGB (WebP has no grey mode) and converted back with Pillow's
    ``convert("L")``. ``method`` is libwebp's effort, 0 (fast) … 6 (smallest).
    """

    name = "webp"
    min_quality = 0
    max_quality = 100
    _pil_format = "WEBP"
    _START = b"\x9d\x01\x2a"

    def __init__(self, quality: int = 75, *, header_known: bool = False,
                 signal_quality: bool = False, method: int = 4) -> None:
        super().__init__(quality, header_known=header_known, signal_quality=signal_quality)
        if method not in range(7):
            raise ValueError(f"method: expected an integer 0..6, got {method!r}")
        self.method = method

    def encode_file(self, image: Any, quality: int) -> bytes:
        img = _as_image(image)
        buf = io.BytesIO()
        Image.fromarray(img, mode=_mode(img.shape)).save(
            buf, format="WEBP", quality=int(quality), method=self.method, lossless=False)
        return buf.getvalue()

    def split(self, file: bytes) -> tuple[bytes, bytes]:
        """(RIFF + chunk header + start code + dimensions, frame tag + partitions)."""
        if file[:4] != b"RIFF" or file[8:16] != b"WEBPVP8 ":
            raise ValueError("webp: not a simple lossy WebP file (RIFF/WEBP/VP8 )")
        size = int.from_bytes(file[16:20], "little")
        vp8 = file[20:20 + size]
        if len(vp8) != size or vp8[3:6] != self._START:
            raise ValueError("webp: malformed VP8 chunk")
        return file[:20] + vp8[3:10], vp8[:3] + vp8[10:]

    def join(self, payload: bytes, shape: tuple[int, ...], quality: int) -> bytes:
        h, w = int(shape[0]), int(shape[1])
        payload = bytes(payload)
        vp8 = payload[:3] + self._START + w.to_bytes(2, "little") + h.to_bytes(2, "little") \
            + payload[3:]
        chunk = b"VP8 " + len(vp8).to_bytes(4, "little") + vp8 + (b"\x00" * (len(vp8) % 2))
        return b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"WEBP" + chunk


#: the source-codec registry (entry-point group ``njscc.sources``)
SOURCES: Registry[SourceCodec] = Registry("source codec", "njscc.sources", strict_config=False)
SOURCES.register("jpeg", JPEGCodec, source="baselines")
SOURCES.register("webp", WebPCodec, source="baselines")


def get_source(name: str, quality: int = 75, **kwargs: Any) -> SourceCodec:
    """Source codec by name (:data:`SOURCES`): ``"jpeg"`` or ``"webp"``."""
    if not isinstance(name, str) or name.lower() not in SOURCES:
        raise ValueError(f"source: expected one of {SOURCES.available()}, got {name!r}")
    return SOURCES.get(name, quality, **kwargs)
