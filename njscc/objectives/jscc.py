"""Distortion through an analog channel: the DeepJSCC training objective.

For a codec whose latent *is* the channel signal (``latent.analog``, e.g. ``deepjscc``)::

    loss = −E_{n} log p(x | y),   y = channel(encode(x)) = h·z + n

with the codec's likelihood (``"sse"``: the per-image squared error, the DeepJSCC papers'
MSE up to the constant C·H·W). The channel is sampled directly — it is differentiable in the
symbols (additive noise, a fixed fading gain), so the gradient is the pathwise one; no
marginal or score function is needed. ``snr_range=(lo, hi)`` draws one SNR per example,
uniform in dB, and tells it to the codec: how the SNR-adaptive ``adjscc`` is trained over a
range (Xu et al. 2021 train over 0–20 dB).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from channels.analog import AnalogChannel
from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.objectives.base import Objective, check_n_samples, distortion, to_floats
from njscc.validation import check_number

__all__ = ["JSCC"]


class JSCC(Objective):
    """−log p(x | y) through an analog channel (pathwise gradient).

    Args:
        n_samples: channel draws per input (K).
        snr_range: ``(lo, hi)`` in dB: one SNR per example, uniform, overriding the channel's
            (and given to SNR-adaptive codecs); ``None``: the channel's SNR.

    Stats: ``loss`` (mean −log p), ``bound`` (its negative), ``distortion`` (mean per-image
    SSE), ``psnr`` (mean per-image PSNR in dB, peak 1).
    """

    default_for = ("real",)
    uses_channel = True

    def __init__(self, n_samples: int = 1, snr_range: Sequence[float] | None = None) -> None:
        super().__init__()
        self.n_samples = check_n_samples(n_samples)
        if snr_range is not None:
            lo, hi = (check_number(v, "snr_range", min=-300, max=300) for v in snr_range)
            if lo > hi:
                raise ValueError(f"snr_range: expected lo <= hi, got ({lo:g}, {hi:g})")
            self.snr_range: tuple[float, float] | None = (lo, hi)
        else:
            self.snr_range = None

    def supports(self, codec: LatentCodec) -> Support:
        if codec.latent.analog is None:
            return Support.no(f"it needs a latent sent as analog channel symbols (DeepJSCC), "
                              f"the model has {codec.latent}")
        if not codec.reconstructs:
            return Support.no("it needs a reconstruction decoder p(x | y)")
        return Support.yes()

    def loss(self, codec: LatentCodec, batch: Batch, channel: AnalogChannel | None,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x = batch.x
        snr = None
        if self.snr_range is not None:
            if channel is None:
                raise ValueError("objective 'jscc': snr_range needs a channel to draw SNRs for")
            lo, hi = self.snr_range
            u = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype)
            snr = lo + (hi - lo) * u
        out = codec(x, channel, n_samples=self.n_samples, generator=generator, snr_db=snr)
        value = out["log_p"].mean()
        with torch.no_grad():
            x_hat = codec.reconstruct(out["params"])
            mse = (x_hat - x.reshape(x.shape[0], *codec.data_shape)).square().flatten(2).mean(-1)
            psnr = (-10.0 * torch.log10(mse.clamp_min(1e-10))).mean()
        return -value, to_floats(loss=-value, bound=value, psnr=psnr,
                                 distortion=distortion(codec, x, out["params"], out["log_p"]))

    def extra_repr(self) -> str:
        rng = "" if self.snr_range is None else f", snr_range={self.snr_range}"
        return f"n_samples={self.n_samples}{rng}"


