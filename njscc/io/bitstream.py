"""The njscc bitstream file format (version 1): hard code bits of a batch of images.

``encode(model, images)`` runs ``model.compress`` and packs the ``[N, m]`` bits behind a
header that names the model (a fingerprint of its config and weights), the code length and
the image shape; ``decode(model, data)`` checks all of it and runs ``model.decompress``.
``transmit`` (the CLI) unpacks a stream, passes the bits through a channel and repacks it,
keeping erasures in a second bit plane.

Layout (all integers unsigned big-endian; offsets in bytes; ``D = ndim``)::

    offset        size      field
    0             4         magic        b"NJSC"
    4             1         version      1
    5             1         flags        bit 0: an erasure mask follows the payload;
                                         bits 1-7 reserved, must be 0
    6             1         ndim         D, number of dimensions of one image (0..8)
    7             1         reserved     must be 0
    8             8         model_id     first 8 bytes of SHA-256 of the model (see
                                         model_fingerprint); all zero = unspecified
    16            4         m            code bits per image (>= 1)
    20            4         n            number of images N
    24            4*D       shape        D x uint32, one image's shape, e.g. 1 28 28
    24+4D         P         payload      numpy.packbits of the N*m bits, row-major
                                         ([N, m] flattened), big-endian bit order
                                         (first bit = MSB), zero-padded to whole bytes
    24+4D+P       P         erasures     only if flags bit 0: the erasure mask packed the
                                         same way (1 = erased); erased payload bits are 0
    end-4         4         crc32        zlib.crc32 of every byte before it

with ``P = ceil(N*m / 8)``. Total size ``24 + 4D + P (+ P) + 4`` bytes; nothing may follow.
Padding bits must be zero. Received symbols use :data:`channels.base.ERASED` (``-1``) for
erasures: :meth:`Bitstream.symbols` returns ``{0, 1, -1}``.

Any single corrupted byte is detected: either a size field changes and the length no longer
matches, or the CRC-32 (which catches every burst error up to 32 bits) fails.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from channels.base import ERASED

if TYPE_CHECKING:
    from channels.base import BinaryChannel
    from njscc.codec import LatentCodec

__all__ = [
    "FLAG_ERASURES",
    "HEADER",
    "MAGIC",
    "MAX_NDIM",
    "NO_MODEL",
    "VERSION",
    "Bitstream",
    "BitstreamError",
    "check_stream_matches",
    "decode",
    "encode",
    "model_fingerprint",
    "pack_bits",
    "transmit",
    "unpack",
]

MAGIC = b"NJSC"
VERSION = 1
FLAG_ERASURES = 0x01
MAX_NDIM = 8
#: model id meaning "not tied to a model" (raw bit streams from :func:`pack_bits`)
NO_MODEL = bytes(8)
#: fixed part of the header: magic, version, flags, ndim, reserved, model_id, m, n
HEADER = struct.Struct(">4sBBBB8sII")
_DIM = struct.Struct(">I")
_CRC = struct.Struct(">I")
_U32_MAX = 2**32 - 1
_DEFAULT_BATCH = 4096


class BitstreamError(ValueError):
    """A bitstream is malformed, corrupted, or does not belong to the given model."""


def _hex(b: bytes) -> str:
    return b.hex()


# --------------------------------------------------------------------------- fingerprint

def model_fingerprint(model: torch.nn.Module) -> bytes:
    """First 8 bytes of SHA-256 over the model's config and weights.

    Hashed, in order: ``b"njscc-model/1\\0"``, the canonical JSON of ``model.config``
    (sorted keys, no spaces; ``{}`` if absent) and, for every ``state_dict`` entry sorted by
    name: the name, dtype and shape as a JSON line, then the raw bytes of the tensor (CPU,
    contiguous, little-endian). Same weights on CPU or GPU give the same id; any change of a
    weight, buffer, dtype or config changes it.
    """
    h = hashlib.sha256(b"njscc-model/1\0")
    config = getattr(model, "config", None) or {}
    h.update(json.dumps(config, sort_keys=True, separators=(",", ":"), default=str).encode())
    h.update(b"\0")
    state = model.state_dict()
    for name in sorted(state):
        t = state[name]
        if not isinstance(t, Tensor):  # extra state: hash its repr
            h.update(f"{name}:extra:{t!r}\n".encode())
            continue
        t = t.detach().to("cpu").contiguous()
        meta = {"name": name, "dtype": str(t.dtype), "shape": list(t.shape)}
        h.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.digest()[:8]


# --------------------------------------------------------------------------- container

@dataclass(frozen=True)
class Bitstream:
    """A parsed bitstream.

    Attributes:
        bits: ``torch.uint8`` ``[N, m]`` of 0/1 (0 where erased).
        erased: ``torch.bool`` ``[N, m]`` (True = erased) or ``None`` if the stream has no
            erasure mask.
        model_id: 8-byte model fingerprint (:data:`NO_MODEL` if unspecified).
        data_shape: shape of one image, e.g. ``(1, 28, 28)``; ``()`` for raw bit streams.
        version: format version read from the header.
    """

    bits: Tensor
    erased: Tensor | None
    model_id: bytes
    data_shape: tuple[int, ...]
    version: int = VERSION

    def __post_init__(self) -> None:
        """Hand-built streams are checked like parsed ones (``BitstreamError``/``TypeError``)."""
        b = self.bits
        if not isinstance(b, Tensor) or b.dtype != torch.uint8 or b.dim() != 2:
            raise TypeError(f"Bitstream.bits: expected a uint8 tensor [N, m], got "
                            f"{type(b).__name__} {getattr(b, 'dtype', '')} "
                            f"{list(getattr(b, 'shape', []))}")
        if b.shape[1] < 1:
            raise BitstreamError("Bitstream.bits: m (the second dimension) must be >= 1")
        if b.numel() and int(b.max()) > 1:
            raise BitstreamError(f"Bitstream.bits: values must be 0/1, got {int(b.max())}")
        e = self.erased
        if e is not None:
            if not isinstance(e, Tensor) or e.dtype != torch.bool or e.shape != b.shape:
                raise TypeError(f"Bitstream.erased: expected None or a bool tensor "
                                f"{list(b.shape)}, got {type(e).__name__} "
                                f"{getattr(e, 'dtype', '')} {list(getattr(e, 'shape', []))}")
            if bool((b.bool() & e).any()):
                raise BitstreamError("Bitstream: erased positions must carry bit 0")
        if not isinstance(self.model_id, bytes) or len(self.model_id) != 8:
            raise TypeError(f"Bitstream.model_id: expected 8 bytes, got {self.model_id!r}")
        shape = self.data_shape
        if (not isinstance(shape, tuple) or len(shape) > MAX_NDIM
                or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= _U32_MAX
                       for d in shape)):
            raise TypeError(f"Bitstream.data_shape: expected a tuple of at most {MAX_NDIM} "
                            f"positive ints, got {shape!r}")

    @property
    def n(self) -> int:
        """Number of codewords (images) N."""
        return int(self.bits.shape[0])

    @property
    def m(self) -> int:
        """Code bits per image."""
        return int(self.bits.shape[1])

    @property
    def has_erasures(self) -> bool:
        """Whether the stream carries an erasure mask."""
        return self.erased is not None

    @property
    def model_id_hex(self) -> str:
        return _hex(self.model_id)

    def symbols(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """Received symbols ``[N, m]`` in ``dtype``: 0/1, and ``ERASED`` (−1) where erased."""
        y = self.bits.to(dtype)
        if self.erased is not None:
            y = y.masked_fill(self.erased, ERASED)
        return y

    def to_bytes(self) -> bytes:
        """Serialise again (same as :func:`pack_bits` with these fields)."""
        return pack_bits(self.bits, self.erased, model_id=self.model_id,
                         data_shape=self.data_shape)


# --------------------------------------------------------------------------- packing

def _as_int_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().to("cpu")
        if x.dtype == torch.bool:
            x = x.to(torch.uint8)
        if x.is_floating_point():
            if not bool(torch.isfinite(x).all()):
                raise ValueError(f"{name}: contains NaN/inf")
            if not bool((x == x.round()).all()):
                raise ValueError(f"{name}: expected integer values 0/1, got non-integers")
            x = x.to(torch.int64)
        return x.numpy()
    arr = np.asarray(x)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or not (arr == np.round(arr)).all():
            raise ValueError(f"{name}: expected integer values 0/1, got non-integers or NaN")
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected an integer, bool or float array, got {arr.dtype}")
    return arr


def pack_bits(
    bits: Tensor | np.ndarray,
    erasures: Tensor | np.ndarray | None = None,
    *,
    model_id: bytes = NO_MODEL,
    data_shape: Sequence[int] = (),
) -> bytes:
    """Pack ``[N, m]`` bits (and an optional erasure mask) into a version-1 bitstream.

    Args:
        bits: ``[N, m]`` values in {0, 1}, or received symbols in {0, 1, ``ERASED``}
            (``-1`` entries are erasures); uint8/bool/int/float tensor or array.
        erasures: optional ``[N, m]`` bool/0-1 mask, True = erased. With it (or with ``-1``
            entries in ``bits``) the stream carries an erasure plane; erased bits are stored
            as 0.
        model_id: 8-byte :func:`model_fingerprint` of the model the bits belong to.
        data_shape: shape of one image (stored so the decoder can check it).

    Returns:
        The serialised stream (header, payload, optional erasure plane, CRC-32).
    """
    b = _as_int_array(bits, "bits")
    if b.ndim != 2:
        raise ValueError(f"bits: expected shape [N, m], got {list(b.shape)}")
    n, m = b.shape
    if m < 1:
        raise ValueError("bits: m (the second dimension) must be >= 1, got 0")
    if n > _U32_MAX or m > _U32_MAX:
        raise ValueError(f"bits: N and m must fit in uint32, got N={n}, m={m}")
    bad = ~np.isin(b, (0, 1, ERASED))
    if bad.any():
        raise ValueError(f"bits: values must be 0, 1 (or {ERASED} = erased), got "
                         f"{sorted(set(np.unique(b[bad]).tolist()))[:5]}")
    erased = b == ERASED
    has_mask = erasures is not None or bool(erased.any())
    if erasures is not None:
        e = _as_int_array(erasures, "erasures")
        if e.shape != b.shape:
            raise ValueError(f"erasures: expected shape {list(b.shape)} like bits, "
                             f"got {list(e.shape)}")
        if not np.isin(e, (0, 1)).all():
            raise ValueError("erasures: mask values must be 0/1 or bool")
        erased = erased | (e == 1)
    b = np.where(erased, 0, b).astype(np.uint8)
    if not isinstance(model_id, bytes | bytearray) or len(model_id) != 8:
        raise ValueError(f"model_id: expected 8 bytes, got {model_id!r}")
    shape = tuple(int(d) for d in data_shape)
    if len(shape) > MAX_NDIM:
        raise ValueError(f"data_shape: at most {MAX_NDIM} dimensions, got {len(shape)}")
    if any(d < 1 or d > _U32_MAX for d in shape):
        raise ValueError(f"data_shape: dimensions must be in [1, 2^32-1], got {shape}")

    flags = FLAG_ERASURES if has_mask else 0
    parts = [HEADER.pack(MAGIC, VERSION, flags, len(shape), 0, bytes(model_id), m, n)]
    parts += [_DIM.pack(d) for d in shape]
    parts.append(np.packbits(b.reshape(-1), bitorder="big").tobytes())
    if has_mask:
        parts.append(np.packbits(erased.reshape(-1), bitorder="big").tobytes())
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def _expected_size(ndim: int, n: int, m: int, flags: int) -> tuple[int, int]:
    """(header size, total size) for the given header fields."""
    head = HEADER.size + 4 * ndim
    p = (n * m + 7) // 8
    return head, head + p * (2 if flags & FLAG_ERASURES else 1) + _CRC.size


def _unpack_plane(buf: memoryview, n: int, m: int, what: str) -> np.ndarray:
    arr = np.frombuffer(buf, dtype=np.uint8)
    count = n * m
    out = np.unpackbits(arr, bitorder="big")
    if out[count:].any():
        raise BitstreamError(f"{what}: padding bits after the last of the {count} bits "
                             "are not zero")
    return out[:count].reshape(n, m)


def unpack(data: bytes | bytearray | memoryview) -> Bitstream:
    """Parse and verify a bitstream (magic, version, sizes, CRC-32, padding).

    Raises:
        BitstreamError: bad magic, unsupported version or flags, truncated stream
            (expected vs got bytes), trailing bytes, CRC mismatch, non-zero padding.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    buf = memoryview(data).cast("B")
    got = len(buf)
    if got == 0:
        raise BitstreamError("empty bitstream (0 bytes)")
    if got < len(MAGIC) and MAGIC.startswith(bytes(buf)):
        raise BitstreamError(f"truncated bitstream: header needs {HEADER.size} bytes, "
                             f"got {got}")
    if bytes(buf[:4]) != MAGIC:
        raise BitstreamError(f"not an njscc bitstream: bad magic {bytes(buf[:4])!r} "
                             f"(expected {MAGIC!r})")
    if got < HEADER.size:
        raise BitstreamError(f"truncated bitstream: header needs {HEADER.size} bytes, "
                             f"got {got}")
    magic, version, flags, ndim, reserved, model_id, m, n = HEADER.unpack_from(buf, 0)
    if version != VERSION:
        raise BitstreamError(f"unsupported bitstream version {version} (this njscc reads "
                             f"version {VERSION})")
    if flags & ~FLAG_ERASURES:
        raise BitstreamError(f"unknown flags 0x{flags:02x} in the header (corrupted?)")
    if reserved != 0:
        raise BitstreamError(f"reserved header byte is {reserved}, expected 0 (corrupted?)")
    if ndim > MAX_NDIM:
        raise BitstreamError(f"header says ndim={ndim} > {MAX_NDIM} (corrupted?)")
    if m < 1:
        raise BitstreamError("header says m=0 code bits (corrupted?)")
    head, total = _expected_size(ndim, n, m, flags)
    if got < total:
        raise BitstreamError(f"truncated bitstream: expected {total} bytes "
                             f"(N={n}, m={m}), got {got}")
    if got > total:
        crc_ok = _CRC.unpack_from(buf, total - 4)[0] == zlib.crc32(buf[:total - 4])
        if crc_ok:
            raise BitstreamError(f"trailing garbage: {got - total} extra bytes after the "
                                 f"{total}-byte stream")
        raise BitstreamError(f"size mismatch: header (N={n}, m={m}) implies {total} bytes, "
                             f"got {got} (corrupted header or trailing data)")
    stored = _CRC.unpack_from(buf, total - 4)[0]
    actual = zlib.crc32(buf[:total - 4])
    if stored != actual:
        raise BitstreamError(f"CRC mismatch: stored 0x{stored:08x}, computed "
                             f"0x{actual:08x} (the stream is corrupted)")
    shape = tuple(_DIM.unpack_from(buf, HEADER.size + 4 * i)[0] for i in range(ndim))
    if any(d == 0 for d in shape):
        raise BitstreamError(f"header has a zero dimension in the image shape {shape}")
    p = (n * m + 7) // 8
    bits = _unpack_plane(buf[head:head + p], n, m, "payload")
    erased = None
    if flags & FLAG_ERASURES:
        erased = _unpack_plane(buf[head + p:head + 2 * p], n, m, "erasure mask").astype(bool)
        if bits[erased].any():
            raise BitstreamError("erased positions carry payload bits = 1 (non-canonical)")
    return Bitstream(
        bits=torch.from_numpy(bits.copy()),
        erased=None if erased is None else torch.from_numpy(erased),
        model_id=bytes(model_id),
        data_shape=shape,
        version=version,
    )


# --------------------------------------------------------------------------- model level

def _model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _check_model(model: Any) -> int:
    """The codec's bits per code (``latent.channel_bits``); ``TypeError`` for a non-codec,
    ``ValueError`` for a latent a bitstream cannot carry."""
    from njscc.codec import LatentCodec

    if not isinstance(model, LatentCodec):
        raise TypeError(f"model: expected a LatentCodec, got {type(model).__name__}")
    bits = model.latent.channel_bits
    if bits is None:
        name = model.config.get("name") or type(model).__name__
        raise ValueError(f"model: {name} has a {model.latent} latent, which a bitstream cannot "
                         "carry (only codecs whose latent has channel_bits)")
    return bits


def _validate_images(images: Any, data_shape: tuple[int, ...]) -> Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, Tensor):
        raise TypeError(f"images: expected a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"images: expected a float tensor in [0, 1], got {images.dtype} "
                        "(divide uint8 images by 255)")
    shape = tuple(images.shape)
    if shape == data_shape:
        images = images.unsqueeze(0)
    elif shape[1:] != data_shape:
        dims = "×".join(map(str, data_shape))
        raise ValueError(f"images: expected shape [B, {', '.join(map(str, data_shape))}] or "
                         f"[{', '.join(map(str, data_shape))}] (the model's data shape "
                         f"{dims}), got {list(shape)}")
    if images.numel() and not bool(torch.isfinite(images).all()):
        raise ValueError("images: contains NaN or inf")
    if images.numel():
        lo, hi = float(images.min()), float(images.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"images: values must lie in [0, 1], got range [{lo:.4g}, "
                             f"{hi:.4g}]")
    return images


class _EvalMode:
    """Context manager: model.eval() inside, the previous training flag restored after."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.was = model, model.training

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *exc: object) -> None:
        self.model.train(self.was)


def encode(model: LatentCodec, images: Tensor, *, batch_size: int = _DEFAULT_BATCH) -> bytes:
    """Compress images to a bitstream with ``model.compress`` (hard bits ``1[ℓ > 0]``).

    Args:
        model: a :class:`~njscc.codec.LatentCodec` (run in eval mode; its mode is restored).
        images: float ``[B, *data_shape]`` or ``[*data_shape]`` in [0, 1].
        batch_size: images per ``compress`` call.

    Returns:
        Bitstream bytes: header (model fingerprint, m, N, data shape), packed ``[B, m]`` bits,
        CRC-32. See the module docstring for the layout.
    """
    m = _check_model(model)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    data_shape = tuple(int(d) for d in model.data_shape)
    x = _validate_images(images, data_shape)
    device, dtype = _model_device(model), _model_dtype(model)
    chunks = []
    with _EvalMode(model), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size].to(device=device, dtype=dtype)
            bits = model.compress(xb)
            if tuple(bits.shape) != (xb.shape[0], m):
                raise ValueError(f"model.compress returned shape {list(bits.shape)}, expected "
                                 f"[{xb.shape[0]}, {m}]")
            chunks.append(bits.to("cpu", torch.uint8))
    bits = torch.cat(chunks) if chunks else torch.zeros(0, m, dtype=torch.uint8)
    return pack_bits(bits, model_id=model_fingerprint(model), data_shape=data_shape)


def check_stream_matches(stream: Bitstream, model: LatentCodec) -> None:
    """Raise :class:`BitstreamError` unless ``stream`` was made by ``model``."""
    m = _check_model(model)
    if stream.m != m:
        raise BitstreamError(f"code length mismatch: the bitstream has m={stream.m} bits per "
                             f"image, the model has m={m} (wrong --checkpoint?)")
    data_shape = tuple(int(d) for d in model.data_shape)
    if stream.data_shape != data_shape:
        raise BitstreamError(f"image shape mismatch: the bitstream holds "
                             f"{list(stream.data_shape)} images, the model makes "
                             f"{list(data_shape)} (wrong --checkpoint?)")
    fp = model_fingerprint(model)
    if stream.model_id != fp:
        raise BitstreamError(f"wrong model: the bitstream was made by model "
                             f"{stream.model_id.hex()}, this model is {fp.hex()}")


def decode(
    model: LatentCodec,
    data: bytes | bytearray | memoryview | Bitstream,
    *,
    batch_size: int = _DEFAULT_BATCH,
) -> Tensor:
    """Decode a bitstream to images with ``model.decompress`` (one forward pass per chunk).

    Erased bits (from an erasure channel) are fed to the decoder as ``ERASED`` (−1).

    Args:
        model: the :class:`~njscc.codec.LatentCodec` that made the stream (checked through
            :func:`model_fingerprint`, ``m`` and the image shape).
        data: bitstream bytes or an already parsed :class:`Bitstream`.
        batch_size: codewords per ``decompress`` call (bounds peak memory).

    Returns:
        Images ``[N, *data_shape]`` in [0, 1], float, on the CPU.
    """
    _check_model(model)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    stream = data if isinstance(data, Bitstream) else unpack(data)
    check_stream_matches(stream, model)
    device, dtype = _model_device(model), _model_dtype(model)
    out = []
    with _EvalMode(model), torch.no_grad():
        for i in range(0, stream.n, batch_size):
            y = stream.bits[i:i + batch_size].to(device=device, dtype=dtype)
            if stream.erased is not None:
                y = y.masked_fill(stream.erased[i:i + batch_size].to(device), ERASED)
            out.append(model.decompress(y).to("cpu"))
    if not out:
        return torch.zeros((0, *stream.data_shape), dtype=dtype)
    return torch.cat(out).clamp_(0.0, 1.0)


def transmit(data: bytes, channel: BinaryChannel,
             generator: torch.Generator | None = None) -> tuple[bytes, dict[str, Any]]:
    """Send a bitstream's code bits through a noisy ``channel``; returns ``(received, stats)``.

    ``received`` is a bitstream again (same header): flipped bits are stored flipped, erasures
    go into the erasure plane (:func:`decode` feeds them to the decoder as ``ERASED``), bits
    erased in the input stay erased. Channels with real-valued outputs are refused
    (``ValueError``): a bitstream holds only bits and erasures.

    Args:
        data: bitstream bytes (from :func:`encode` or a previous ``transmit``).
        channel: a hard-output :class:`channels.base.BinaryChannel` (``channels.get("bsc", 0.1)``).
        generator: ``torch.Generator`` for the channel noise (same seed ⇒ same output).

    ``stats``: ``{"bits", "flipped", "erased", "already_erased"}`` counted over the positions
    that were not erased in the input.
    """
    stream = unpack(data)
    bits = stream.bits.to(torch.float32)
    old = stream.erased if stream.erased is not None else torch.zeros_like(bits, dtype=torch.bool)
    with torch.no_grad():
        y = channel(bits, generator=generator)
    if tuple(y.shape) != tuple(bits.shape):
        raise ValueError(f"channel returned shape {list(y.shape)} for bits "
                         f"{list(bits.shape)}")
    y = y.to(torch.float32)
    hard = (y == 0) | (y == 1) | (y == ERASED)
    if not bool(hard.all()):
        raise ValueError(f"channel {getattr(channel, 'name', channel)!r} has real-valued "
                         "(soft) outputs; a bitstream stores only bits and erasures: use a "
                         "hard-decision channel")
    new_erased = (y == ERASED) & ~old
    flipped = (y != bits) & (y != ERASED) & ~old
    erased = old | (y == ERASED)
    received = torch.where(erased, torch.zeros_like(bits), y).to(torch.uint8)
    can_erase = ERASED in tuple(getattr(channel, "alphabet", ()))
    mask = erased if (stream.has_erasures or can_erase or bool(erased.any())) else None
    try:
        out = pack_bits(received, mask, model_id=stream.model_id, data_shape=stream.data_shape)
    except ValueError as e:  # pragma: no cover - would be a bug above
        raise BitstreamError(f"cannot repack the received bits: {e}") from None
    stats = {"bits": int((~old).sum()), "flipped": int(flipped.sum()),
             "erased": int(new_erased.sum()), "already_erased": int(old.sum())}
    return out, stats
