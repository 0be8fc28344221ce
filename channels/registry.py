"""Channel registry: build a channel from a CLI name and one scalar parameter.

>>> import channels
>>> channels.available()
('awgn', 'awgn_soft', 'bec', 'bsc', 'ge', 'z')
>>> channels.get("bsc", 0.1)            # crossover probability
BinarySymmetricChannel(eps=0.1)
>>> channels.get("awgn", 0.0, output="soft").param   # Es/N0 in dB
0.0

``param`` means: ε for ``bsc``/``bec``/``z``, Es/N0 in dB for ``awgn`` and ``awgn_soft`` (BPSK
with real outputs), the mean error rate for ``ge`` (with ``p_bg``, ``eps_good``, ``eps_bad``
from :data:`channels.gilbert_elliott.GE_DEFAULTS` unless given). Extra keyword arguments go
to the channel's ``from_param``.
"""

from __future__ import annotations

from typing import Any

from channels.analog import AWGN, AnalogChannel, RayleighBlockFading
from channels.awgn import AWGNChannel
from channels.base import BinaryChannel
from channels.discrete import BinaryErasureChannel, BinarySymmetricChannel, ZChannel
from channels.gilbert_elliott import GilbertElliottChannel
from njscc.registry import Registry

__all__ = ["ANALOG_CHANNELS", "CHANNELS", "PARAM_DOC", "available", "available_analog", "get",
           "get_analog"]

#: what ``param`` means for each channel (for help texts and plots)
PARAM_DOC: dict[str, str] = {
    "bsc": "crossover probability eps",
    "bec": "erasure probability eps",
    "z": "1->0 probability eps",
    "awgn": "Es/N0 [dB]",
    "awgn_soft": "Es/N0 [dB]",
    "ge": "mean error rate",
}

#: the channel registry (entry-point group ``njscc.channels``): name → ``(param, **kwargs)``
CHANNELS: Registry[BinaryChannel] = Registry("channel", "njscc.channels", strict_config=False)
for _cls, _doc in ((BinarySymmetricChannel, "binary symmetric channel, param = crossover eps"),
                   (BinaryErasureChannel, "binary erasure channel, param = erasure eps"),
                   (ZChannel, "Z channel (1 -> 0 with probability eps)"),
                   (AWGNChannel, "BPSK over AWGN, param = Es/N0 in dB (hard or soft output)"),
                   (GilbertElliottChannel, "Gilbert-Elliott bursts, param = mean error rate")):
    CHANNELS.register(_cls.name, _cls.from_param, summary=_doc, source="channels")
CHANNELS.register("awgn_soft", AWGNChannel.soft_from_param,
                  summary="BPSK over AWGN, soft (real) outputs, param = Es/N0 in dB",
                  source="channels")


def available() -> tuple[str, ...]:
    """Names accepted by :func:`get` (plugins included), sorted."""
    return tuple(CHANNELS.available())


def _build(registry: Registry[Any], what: str, name: str, param: float, kwargs: dict[str, Any]
           ) -> Any:
    try:
        return registry.get(name, param, **kwargs)
    except TypeError as e:
        if "unexpected keyword argument" in str(e):
            raise TypeError(f"{what} {name!r}: {e}") from None
        raise


def get(name: str, param: float, **kwargs: Any) -> BinaryChannel:
    """Build the channel ``name`` with its scalar ``param`` (see the module docstring)."""
    return _build(CHANNELS, "channel", name, param, kwargs)

#: analog channels (real/complex symbols; entry-point group ``njscc.analog_channels``):
#: name → ``(snr_db, **kwargs)``. A separate kind: they carry symbols, not bits.
ANALOG_CHANNELS: Registry[AnalogChannel] = Registry("analog channel", "njscc.analog_channels",
                                                    strict_config=False)
ANALOG_CHANNELS.register("awgn_complex", lambda snr_db, **kw: AWGN(snr_db, **kw),
                         summary="complex AWGN, param = SNR in dB (capacity log2(1 + SNR))",
                         source="channels")
ANALOG_CHANNELS.register("awgn_real", lambda snr_db, **kw: AWGN(snr_db, complex_symbols=False,
                                                                 **kw),
                         summary="real AWGN, param = SNR in dB", source="channels")
ANALOG_CHANNELS.register("rayleigh", lambda snr_db, **kw: RayleighBlockFading(snr_db, **kw),
                         summary="block Rayleigh fading + complex AWGN, param = SNR in dB "
                         "(csi='receiver' or 'none')", source="channels")
ANALOG_CHANNELS.register("rayleigh_real", lambda snr_db, **kw: RayleighBlockFading(
    snr_db, complex_symbols=False, **kw), summary="block Rayleigh amplitude fading (no phase) "
    "+ real AWGN, param = SNR in dB", source="channels")


def available_analog() -> tuple[str, ...]:
    """Names accepted by :func:`get_analog` (plugins included), sorted."""
    return tuple(ANALOG_CHANNELS.available())


def get_analog(name: str, snr_db: float, **kwargs: Any) -> AnalogChannel:
    """Build the analog channel ``name`` at ``snr_db`` (see :mod:`channels.analog`)."""
    return _build(ANALOG_CHANNELS, "analog channel", name, snr_db, kwargs)
