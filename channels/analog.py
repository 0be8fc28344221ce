"""Analog channels for real/complex channel symbols (DeepJSCC): AWGN and block Rayleigh fading.

Conventions (shared by every channel here; the binary channels are in :mod:`channels.discrete`):

* A transmitter sends ``k`` symbols per example, a tensor ``x`` ``[..., k]`` — complex
  (``torch.complex64``/``complex128``) for the complex channels, real floats for the ``_real``
  ones. The power constraint is an *average* one per example: mean |x|² = P = 1 over its k
  symbols, which :func:`power_normalize` enforces exactly at an encoder's output.
* ``snr_db`` is P / σ² in dB with P = 1: the complex channels add circular noise
  CN(0, σ²) (σ²/2 per real dimension), the real ones N(0, σ²). The SNR is per channel use
  (per complex symbol, resp. per real symbol), as in the DeepJSCC papers.
* Fading (``rayleigh``, ``rayleigh_real``) is *slow / block* fading: one coefficient h per
  example, constant over its k symbols, drawn afresh per example. Complex: h ~ CN(0, 1) (phase
  and amplitude); real: h = |g|, g ~ CN(0, 1) (a Rayleigh amplitude, E h² = 1, no phase
  rotation). ``csi="receiver"``: the receiver knows h and returns the zero-forcing estimate
  y / h (its noise is σ²/|h|²); ``csi="none"``: it returns y = h x + n as received.
* ``snr_db`` may be overridden per call with a tensor of one SNR per example (``sample(x,
  generator, snr_db=t)``, ``t`` broadcast against ``x.shape[:-1]``): how an SNR-adaptive
  codec is trained over a range of SNRs with one channel object.
* Every draw takes an optional ``torch.Generator`` (same seed ⇒ same output); dtype and device
  follow the input.

Capacities (bits per channel use, Gaussian inputs): AWGN complex log2(1 + SNR), real
½ log2(1 + SNR); ergodic Rayleigh E_h[log2(1 + |h|² SNR)] (complex; ½ of it for the real
variant, where h² ~ Exp(1) as well), by numerical integration
(:func:`rayleigh_ergodic_capacity`; closed form log2(e)·e^{1/SNR}·E1(1/SNR), checked in the
tests).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor, nn

from njscc.validation import check_choice, check_number

__all__ = ["CSI", "AWGN", "AnalogChannel", "RayleighBlockFading", "awgn_capacity",
           "power_normalize", "rayleigh_ergodic_capacity"]

CSI = ("receiver", "none")
_MAX_ABS_DB = 300.0


def power_normalize(z: Tensor, power: float = 1.0) -> Tensor:
    """Scale each example of ``z`` ``[B, ...]`` (real or complex) to average symbol power
    ``power``: z · √(P·k / ‖z‖²) with k = the example's number of symbols. Differentiable;
    an all-zero example stays zero."""
    if z.dim() < 2:
        raise ValueError(f"z: expected [B, ...] with one example per row, got {list(z.shape)}")
    power = check_number(power, "power", min=0, min_open=True)
    flat = z.reshape(z.shape[0], -1)
    energy = (flat.abs() ** 2).sum(1, keepdim=True)
    safe = torch.where(energy > 0, energy, torch.ones_like(energy))
    scale = torch.where(energy > 0, torch.sqrt(power * flat.shape[1] / safe),
                        torch.zeros_like(energy))
    return (flat * scale.to(flat.dtype)).reshape(z.shape)


def awgn_capacity(snr_db: float, complex_symbols: bool = True) -> float:
    """log2(1 + SNR) bits per complex use (½ of it per real use), SNR = 10^(snr_db/10)."""
    c = math.log2(1.0 + 10.0 ** (float(snr_db) / 10.0))
    return c if complex_symbols else 0.5 * c


@functools.lru_cache(maxsize=1024)
def rayleigh_ergodic_capacity(snr_db: float, complex_symbols: bool = True) -> float:
    """E_h[log2(1 + |h|²·SNR)] with |h|² ~ Exp(1) (Rayleigh fading, receiver CSI, Gaussian
    inputs), by numerical integration over t = |h|²: ∫₀^∞ log2(1 + t·SNR) e^{−t} dt; ½ of it
    per real use."""
    from scipy import integrate

    snr = 10.0 ** (float(snr_db) / 10.0)
    value, _ = integrate.quad(lambda t: math.log1p(t * snr) * math.exp(-t), 0.0, math.inf,
                              limit=200, epsabs=1e-13, epsrel=1e-11)
    c = value / math.log(2.0)
    return c if complex_symbols else 0.5 * c


class AnalogChannel(nn.Module):
    """Base of the analog channels: ``forward(x, generator) → y`` on ``[..., k]`` symbols.

    Subclasses set ``name`` and ``complex_symbols`` and implement :meth:`sample`.
    """

    name: str = "analog"
    #: True: complex symbols (complex dtype in and out); False: real symbols
    complex_symbols: bool = True

    def __init__(self, snr_db: float) -> None:
        super().__init__()
        self.snr_db = check_number(snr_db, "snr_db", min=-_MAX_ABS_DB, max=_MAX_ABS_DB)

    @classmethod
    def from_param(cls, param: float, **kwargs: Any) -> AnalogChannel:
        """The registry's constructor: ``param`` is the SNR in dB."""
        return cls(param, **kwargs)

    @property
    def param(self) -> float:
        return self.snr_db

    @property
    def snr(self) -> float:
        """P / σ² (linear)."""
        return 10.0 ** (self.snr_db / 10.0)

    @property
    def noise_var(self) -> float:
        """σ², the noise power per channel use (P = 1)."""
        return 1.0 / self.snr

    @property
    def symbols(self) -> str:
        """``"complex"`` or ``"real"``: what the channel carries."""
        return "complex" if self.complex_symbols else "real"

    def _check(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"x: expected a tensor of channel symbols, got {type(x).__name__}")
        if self.complex_symbols and not x.is_complex():
            raise TypeError(f"{self.name}: expected complex symbols (complex64/complex128), got "
                            f"{x.dtype}; use the '{self.name}_real' channel for real symbols")
        if not self.complex_symbols and not x.is_floating_point():
            raise TypeError(f"{self.name}: expected real floating-point symbols, got {x.dtype}")
        if x.dim() < 1 or x.shape[-1] < 1:
            raise ValueError(f"x: expected [..., k] with k ≥ 1 symbols, got {list(x.shape)}")
        if not bool(torch.isfinite(torch.view_as_real(x) if x.is_complex() else x).all()):
            raise ValueError("x: symbols must be finite")

    def noise_std(self, like: Tensor, snr_db: Tensor | float | None = None) -> Tensor | float:
        """σ per channel use: a float, or ``[..., 1]`` for a per-example ``snr_db`` tensor."""
        if snr_db is None:
            return math.sqrt(self.noise_var)
        if not isinstance(snr_db, Tensor):
            snr = check_number(snr_db, "snr_db", min=-_MAX_ABS_DB, max=_MAX_ABS_DB)
            return 10.0 ** (-snr / 20.0)
        real = like.real.dtype if like.is_complex() else like.dtype
        t = snr_db.to(device=like.device, dtype=real)
        if not bool(torch.isfinite(t).all()) or bool((t.abs() > _MAX_ABS_DB).any()):
            raise ValueError(f"snr_db: expected finite values within ±{_MAX_ABS_DB:g} dB")
        try:
            t = torch.broadcast_to(t, like.shape[:-1])
        except RuntimeError:
            raise ValueError(f"snr_db: shape {list(snr_db.shape)} does not broadcast to the "
                             f"examples {list(like.shape[:-1])}") from None
        return torch.pow(10.0, -t / 20.0).unsqueeze(-1)

    def noise(self, like: Tensor, generator: torch.Generator | None = None,
              snr_db: Tensor | float | None = None) -> Tensor:
        """Noise of variance σ² per channel use, shaped and typed like ``like`` (σ from
        ``snr_db`` when given, see :meth:`noise_std`)."""
        std = self.noise_std(like, snr_db)
        if like.is_complex():
            real = torch.randn(*like.shape, 2, generator=generator, device=like.device,
                               dtype=like.real.dtype)
            s = std.unsqueeze(-1) if isinstance(std, Tensor) else std
            return torch.view_as_complex((real * s * math.sqrt(0.5)).contiguous())
        return torch.randn(like.shape, generator=generator, device=like.device,
                           dtype=like.dtype) * std

    def sample(self, x: Tensor, generator: torch.Generator | None = None,
               snr_db: Tensor | float | None = None) -> tuple[Tensor, Tensor | None]:
        """(received symbols, fading coefficients ``[...]`` or ``None``); ``snr_db``
        overrides the channel's SNR (one per example, see the module doc)."""
        raise NotImplementedError

    def forward(self, x: Tensor, generator: torch.Generator | None = None,
                snr_db: Tensor | float | None = None) -> Tensor:
        """Received symbols ``[..., k]`` (what the decoder is given; see the module doc)."""
        return self.sample(x, generator, snr_db)[0]

    @property
    def capacity(self) -> float:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"snr_db={self.snr_db:g}"


class AWGN(AnalogChannel):
    """y = x + n, n ~ CN(0, σ²) (complex) or N(0, σ²) (real), σ² = 1 / SNR."""

    name = "awgn_complex"

    def __init__(self, snr_db: float, complex_symbols: bool = True) -> None:
        super().__init__(snr_db)
        self.complex_symbols = bool(complex_symbols)
        self.name = "awgn_complex" if self.complex_symbols else "awgn_real"

    def sample(self, x: Tensor, generator: torch.Generator | None = None,
               snr_db: Tensor | float | None = None) -> tuple[Tensor, None]:
        self._check(x)
        return x + self.noise(x, generator, snr_db), None

    @property
    def capacity(self) -> float:
        return awgn_capacity(self.snr_db, self.complex_symbols)


class RayleighBlockFading(AnalogChannel):
    """Slow (block) Rayleigh fading + AWGN: y = h x + n, one h per example (module doc).

    Args:
        snr_db: average SNR (E|h|² = 1) in dB.
        csi: ``"receiver"`` — the output is the zero-forcing estimate y / h — or ``"none"``
            (y as received).
        complex_symbols: complex h ~ CN(0, 1), or the real variant h = |g| (no phase).
    """

    name = "rayleigh"

    def __init__(self, snr_db: float, csi: str = "receiver", complex_symbols: bool = True
                 ) -> None:
        super().__init__(snr_db)
        self.csi = check_choice(csi, "csi", CSI)
        self.complex_symbols = bool(complex_symbols)
        self.name = "rayleigh" if self.complex_symbols else "rayleigh_real"

    def gains(self, lead: torch.Size, like: Tensor, generator: torch.Generator | None = None
              ) -> Tensor:
        """One fading coefficient per example ``lead`` (complex CN(0, 1), or its amplitude)."""
        real = like.real.dtype if like.is_complex() else like.dtype
        g = torch.view_as_complex(torch.randn(*lead, 2, generator=generator, device=like.device,
                                              dtype=real) * math.sqrt(0.5))
        return g if self.complex_symbols else g.abs()

    def sample(self, x: Tensor, generator: torch.Generator | None = None,
               snr_db: Tensor | float | None = None) -> tuple[Tensor, Tensor]:
        self._check(x)
        h = self.gains(x.shape[:-1], x, generator)
        y = h.unsqueeze(-1) * x + self.noise(x, generator, snr_db)
        if self.csi == "receiver":
            y = y / h.unsqueeze(-1)
        return y, h

    @property
    def capacity(self) -> float:
        """The ergodic capacity (receiver CSI); without CSI it is an upper bound."""
        return rayleigh_ergodic_capacity(self.snr_db, self.complex_symbols)

    def extra_repr(self) -> str:
        return f"snr_db={self.snr_db:g}, csi={self.csi!r}"
