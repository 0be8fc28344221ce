"""5G NR polar codes with CRC-aided successive-cancellation list decoding (Sionna).

The short-blocklength code of 5G's control channels: at the tens to hundreds of bits of one
image's code it is the natural rival of NECST next to 5G LDPC (whose base graphs are built for
longer blocks). Encoding includes the 5G CRC (CRC-11 for 20 ≤ k, CRC-6 for 12 ≤ k ≤ 19 on the
uplink), sub-block interleaving and rate matching; decoding is Sionna's ``Polar5GDecoder``
(``"SCL"`` with list size 8 by default, CRC-aided; ``"SC"`` and ``"BP"`` also available).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from baselines.codes import CODES, ChannelCode, _check_bits, _check_rate, _clean_llr

__all__ = ["Polar5G"]


class Polar5G(ChannelCode):
    """3GPP 5G NR polar code (uplink rate matching) through ``sionna.phy.fec.polar``.

    Args:
        k, n: info and codeword lengths, as 5G allows them (Sionna checks: 12 ≤ k ≤ 1013 on
            the uplink, n ≤ 1088 after rate matching, k + CRC < n).
        dec_type: ``"SCL"`` (CRC-aided list decoding, default), ``"SC"`` or ``"BP"``.
        list_size: SCL list size (8: the 3GPP reference curves').
        num_iter: BP iterations (``dec_type="BP"`` only).
        batch_size: codewords decoded per Sionna call (caps memory).

    LLRs are the package's log p(x=1)/p(x=0), the "logits" Sionna's polar decoder expects.
    """

    name = "polar"

    def __init__(self, k: int, n: int, dec_type: str = "SCL", list_size: int = 8,
                 num_iter: int = 20, batch_size: int = 2000) -> None:
        try:
            from sionna.phy.fec.polar import Polar5GDecoder, Polar5GEncoder
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Polar5G needs sionna-no-rt (pip install 'njscc[fec]')") from e
        k, n = int(k), int(n)
        if dec_type not in ("SCL", "SC", "BP"):
            raise ValueError(f"dec_type: expected 'SCL', 'SC' or 'BP', got {dec_type!r}")
        if int(list_size) < 1 or int(num_iter) < 1 or int(batch_size) < 1:
            raise ValueError("list_size, num_iter and batch_size must be ≥ 1")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self._encoder = Polar5GEncoder(k, n, channel_type="uplink")
                self._decoder = Polar5GDecoder(self._encoder, dec_type=dec_type,
                                               list_size=int(list_size), num_iter=int(num_iter))
        except (AssertionError, ValueError) as e:
            raise ValueError(f"Polar5G(k={k}, n={n}): not a 5G polar configuration ({e})") from e
        self.k, self.n = k, n
        self.dec_type, self.list_size, self.num_iter = dec_type, int(list_size), int(num_iter)
        self.batch_size = int(batch_size)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "dec_type": self.dec_type, "list_size": self.list_size,
                **({"num_iter": self.num_iter} if self.dec_type == "BP" else {})}

    def encode(self, bits: Tensor) -> Tensor:
        bits = _check_bits(bits, self.k)
        shape = bits.shape[:-1]
        with torch.no_grad():
            out = self._encoder(bits.reshape(-1, self.k).to("cpu", torch.float32))
        return out.to(bits.device).reshape(*shape, self.n)

    def decode(self, llr: Tensor) -> Tensor:
        llr = _clean_llr(llr, self.n)
        dev, shape = llr.device, llr.shape[:-1]
        flat = llr.reshape(-1, self.n).to("cpu", torch.float32)
        outs = []
        with torch.no_grad():
            for i in range(0, flat.shape[0], self.batch_size):
                outs.append(self._decoder(flat[i:i + self.batch_size]))
        out = torch.cat(outs) if outs else flat.new_zeros(0, self.k)
        return out.round().to(torch.uint8).to(dev).reshape(*shape, self.k)


@CODES.register("polar", aliases=("polar5g",), source="baselines")
def _polar(rate: float, k: int, channel: Any = None, **kwargs: Any) -> ChannelCode:
    """5G NR polar code, CRC-aided SCL (list 8): exactly k information bits, n = round(k / rate)."""
    return Polar5G(k, int(round(k / _check_rate(rate))), **kwargs)
