"""Objectives of joint image–attribute VAEs (:class:`~njscc.models.multimodal.JointVAE`), as
in Vedantam et al. (ICLR 2018) and their reference code (google/joint_vae):

``telbo``   the triple ELBO: ELBO(x, y; q(z|x, y)) + ELBO(x; q(z|x)) + ELBO(y; q(z|y)), mean of
            the three; with ``stop_unimodal_decoder`` the two unimodal ELBOs train only their
            inference networks (the decoders are fitted by the joint term), as the reference's
            ICLR runs do
``jmvae``   JMVAE-kl (Suzuki et al. 2017): ELBO(x, y; q(z|x, y)) − α [KL(q(z|x,y) ‖ q(z|x)) +
            KL(q(z|x,y) ‖ q(z|y))]
``bivcca``  bi-VCCA (Wang et al. 2016): μ·ELBO(x, y; q(z|x)) + (1 − μ)·ELBO(x, y; q(z|y)) —
            both modalities decoded from either unimodal posterior

Likelihoods are scaled: α_x · log p(x|z) and α_y · log p(y|z) (the reference uses α_x = 1 and
α_y ∈ {1, 10, 50}, and may scale log p(y|z) under q(z|y) by a separate ``alpha_y_unimodal``).
``attribute_dropout`` hides each attribute from q(z|y) with that probability in training
(its product of experts then ignores it), so partially specified queries are trained too.
The batch needs ``x`` and ``attributes`` (int64 ``[B, J]``; dataset ``mnist_a``).

Stats: ``loss`` (= −bound), ``bound``, ``elbo_xy``, ``elbo_x``, ``elbo_y`` (each with the
α-scaled likelihoods), ``distortion`` (−log p(x|z) under q(z|x, y)).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.objectives.base import Objective, frozen_call, to_floats
from njscc.validation import check_bool, check_number

__all__ = ["JMVAE", "TELBO", "BiVCCA", "gaussian_kl"]


def gaussian_kl(h_q: Tensor, h_p: Tensor) -> Tensor:
    """KL(N_q ‖ N_p) of diagonal Gaussians given as ``[B, 2d]`` (mean, logvar) → ``[B]``."""
    mq, lq = h_q.chunk(2, -1)
    mp, lp = h_p.chunk(2, -1)
    return 0.5 * (lp - lq + (torch.exp(lq) + (mq - mp).square()) * torch.exp(-lp) - 1).sum(-1)


def _image(codec: Any, x: Tensor, z: Tensor) -> Tensor:
    return codec.log_prob(x, codec.decode(z))


def _attrs(codec: Any, y: Tensor, z: Tensor) -> Tensor:
    return codec.attribute_log_prob(y, codec.decode_attributes(z))


class _Multimodal(Objective):
    uses_channel = False

    def __init__(self, alpha_x: float = 1.0, alpha_y: float = 1.0,
                 attribute_dropout: float = 0.0) -> None:
        super().__init__()
        self.alpha_x = check_number(alpha_x, "alpha_x", min=0)
        self.alpha_y = check_number(alpha_y, "alpha_y", min=0)
        self.attribute_dropout = check_number(attribute_dropout, "attribute_dropout", min=0,
                                              max=1, max_open=True)

    @property
    def needs(self) -> tuple[str, ...]:
        return ("x", "attributes")

    def supports(self, codec: LatentCodec) -> Support:
        if not hasattr(codec, "encode_attributes"):
            return Support.no(f"it needs a joint image–attribute codec (joint_vae), the model "
                              f"is {type(codec).__name__}")
        return Support.yes()

    def _posteriors(self, codec: Any, batch: Batch, generator: torch.Generator | None
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]:
        x, y = batch.x, batch.extra["attributes"]
        mask = None
        if self.attribute_dropout > 0 and self.training:
            keep = torch.rand(y.shape, generator=generator, device=y.device)
            mask = keep >= self.attribute_dropout
        return (x, y, codec.encode(x), codec.encode_attributes(y, mask),
                codec.encode_joint(x, y))

    def _draw(self, codec: Any, h: Tensor, generator: torch.Generator | None) -> Tensor:
        return codec.sample_latent(h, 1, generator)[0]

    def _finish(self, loss: Tensor, stats: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        return loss, to_floats(loss=loss.detach(), bound=-loss.detach(), **stats)


class TELBO(_Multimodal):
    """The triple ELBO (see the module doc)."""

    def __init__(self, alpha_x: float = 1.0, alpha_y: float = 50.0,
                 alpha_y_unimodal: float | None = None, stop_unimodal_decoder: bool = True,
                 attribute_dropout: float = 0.0) -> None:
        super().__init__(alpha_x, alpha_y, attribute_dropout)
        self.alpha_y_unimodal = (self.alpha_y if alpha_y_unimodal is None else
                                 check_number(alpha_y_unimodal, "alpha_y_unimodal", min=0))
        self.stop_unimodal_decoder = check_bool(stop_unimodal_decoder, "stop_unimodal_decoder")

    def loss(self, codec: Any, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x, y, hx, hy, hxy = self._posteriors(codec, batch, generator)
        zxy, zx, zy = (self._draw(codec, h, generator) for h in (hxy, hx, hy))
        lx_xy = _image(codec, x, zxy)
        e_xy = self.alpha_x * lx_xy + self.alpha_y * _attrs(codec, y, zxy) - codec.rate(hxy)
        call = frozen_call if self.stop_unimodal_decoder else (lambda c, f, *a: f(c, *a))
        e_x = self.alpha_x * call(codec, _image, x, zx) - codec.rate(hx)
        e_y = self.alpha_y_unimodal * call(codec, _attrs, y, zy) - codec.rate(hy)
        loss = -(e_xy + e_x + e_y).mean() / 3
        return self._finish(loss, {"elbo_xy": e_xy.detach().mean(), "elbo_x": e_x.detach().mean(),
                                   "elbo_y": e_y.detach().mean(),
                                   "distortion": -lx_xy.detach().mean()})


class JMVAE(_Multimodal):
    """JMVAE-kl (see the module doc): ``alpha`` weighs the two KL terms that pull the unimodal
    posteriors toward the joint one."""

    def __init__(self, alpha_x: float = 1.0, alpha_y: float = 50.0, alpha: float = 1.0,
                 attribute_dropout: float = 0.0) -> None:
        super().__init__(alpha_x, alpha_y, attribute_dropout)
        self.alpha = check_number(alpha, "alpha", min=0)

    def loss(self, codec: Any, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x, y, hx, hy, hxy = self._posteriors(codec, batch, generator)
        zxy = self._draw(codec, hxy, generator)
        lx = _image(codec, x, zxy)
        e_xy = self.alpha_x * lx + self.alpha_y * _attrs(codec, y, zxy) - codec.rate(hxy)
        kx, ky = gaussian_kl(hxy, hx), gaussian_kl(hxy, hy)
        loss = -(e_xy - self.alpha * (kx + ky)).mean()
        return self._finish(loss, {"elbo_xy": e_xy.detach().mean(),
                                   "kl_joint_x": kx.detach().mean(),
                                   "kl_joint_y": ky.detach().mean(),
                                   "distortion": -lx.detach().mean()})


class BiVCCA(_Multimodal):
    """bi-VCCA (see the module doc): ``mu`` weighs the image-encoder ELBO against the
    attribute-encoder one (the reference uses 0.7)."""

    def __init__(self, alpha_x: float = 1.0, alpha_y: float = 50.0, mu: float = 0.7,
                 attribute_dropout: float = 0.0) -> None:
        super().__init__(alpha_x, alpha_y, attribute_dropout)
        self.mu = check_number(mu, "mu", min=0, max=1)

    def loss(self, codec: Any, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x, y, hx, hy, _ = self._posteriors(codec, batch, generator)
        out = {}
        for name, h in (("x", hx), ("y", hy)):
            z = self._draw(codec, h, generator)
            lx = _image(codec, x, z)
            out[name] = (self.alpha_x * lx + self.alpha_y * _attrs(codec, y, z) - codec.rate(h),
                         lx)
        loss = -(self.mu * out["x"][0] + (1 - self.mu) * out["y"][0]).mean()
        return self._finish(loss, {"elbo_x": out["x"][0].detach().mean(),
                                   "elbo_y": out["y"][0].detach().mean(),
                                   "distortion": -out["x"][1].detach().mean()})
