"""Separation baselines: image codecs (JPEG/WebP) + channel codes (LDPC, ideal).

* :mod:`baselines.source` — :class:`SourceCodec` (:class:`JPEGCodec`, :class:`WebPCodec`):
  bytes in memory through Pillow, whole-file and header-known payload sizes, budget search.
* :mod:`baselines.codes` — :class:`ChannelCode` (:class:`LDPC5G` via Sionna, :class:`PyLDPC`,
  :class:`RepetitionCode`, :class:`IdealCode`), :func:`bits_needed`, :func:`pick_rate`.
* :mod:`baselines.finite_blocklength` — :class:`FiniteBlocklengthCode` (``"ppv"``): the
  ideal code at finite length (channel uses for L bits at block error ≤ pe, PPV 2010).
* :mod:`baselines.learned` — :class:`LearnedBitSource` (``"learned"``): trained bit codecs
  (noiseless NECST, …) as the source code of a separation scheme.
* :mod:`baselines.polar` — :class:`Polar5G` (``"polar"``): 5G NR polar codes, CRC-aided SCL
  decoding (Sionna).
* :mod:`baselines.scheme` — :class:`SeparationScheme`: image → bytes → codewords → channel →
  decode → image, counting failures.
* :mod:`baselines.simulate` — :func:`simulate_code_ber` (BER/BLER with confidence intervals).

Sionna and pyldpc are imported only when an LDPC code is built.
"""

from baselines.bits import bits_to_bytes, bytes_to_bits, segment, unsegment
from baselines.codes import (
    LDPC5G,
    ChannelCode,
    IdealCode,
    PyLDPC,
    RepetitionCode,
    bits_needed,
    get_code,
    pick_rate,
)
from baselines.finite_blocklength import FiniteBlocklengthCode
from baselines.learned import LearnedBitSource
from baselines.polar import Polar5G
from baselines.scheme import SeparationScheme, summarize
from baselines.simulate import simulate_code_ber
from baselines.source import (
    BudgetError,
    DecodeError,
    JPEGCodec,
    SourceCodec,
    WebPCodec,
    get_source,
)

__all__ = ["LDPC5G", "BudgetError", "ChannelCode", "DecodeError", "FiniteBlocklengthCode",
           "IdealCode", "JPEGCodec", "LearnedBitSource",
           "Polar5G", "PyLDPC", "RepetitionCode", "SeparationScheme", "SourceCodec", "WebPCodec",
           "bits_needed", "bits_to_bytes", "bytes_to_bits", "get_code", "get_source",
           "pick_rate", "segment", "simulate_code_ber", "summarize", "unsegment"]
