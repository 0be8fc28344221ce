"""A joint VAE over images x and discrete attribute vectors y (Vedantam, Fischer, Huang &
Murphy, ICLR 2018, "Generative models of visually grounded imagination").

One latent z ~ N(0, I) with two decoders, p(x|z) (Bernoulli pixels) and p(y|z) = Π_j p(y_j|z)
(one categorical per attribute), and three inference networks:

==================  ================================================================  =======
network             how                                                               method
==================  ================================================================  =======
q(z | x)            MLP on the image (the codec's own :meth:`encode`)                  encode
q(z | y)            product of experts: the prior N(0, I) times one Gaussian expert    encode_
                    per attribute that is *present* (an embedding of its value), so     attributes
                    partially specified ("abstract") queries have a posterior too
q(z | x, y)         MLP on the image and the one-hot attributes                        encode_joint
==================  ================================================================  =======

Shapes: images ``[B, C, H, W]``; attributes int64 ``[B, J]`` (column j in ``0 … K_j − 1``);
a presence mask bool ``[B, J]`` (``True`` = given); posterior parameters ``[B, 2d]`` =
(mean, log-variance) as in :class:`~njscc.models.vae.base.GaussianLatentCodec`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.models import register
from njscc.models.vae.base import LOGVAR_RANGE, GaussianLatentCodec
from njscc.nn.mlp import mlp
from njscc.validation import LIMITS, check_int_tuple

__all__ = ["JointVAE", "product_of_experts"]


def product_of_experts(means: Tensor, logvars: Tensor, mask: Tensor | None = None
                       ) -> tuple[Tensor, Tensor]:
    """The product of Gaussian experts N(μ_j, σ_j²) ``[B, J, d]`` and the prior N(0, I), over
    the experts with ``mask`` ``[B, J]`` True (all if ``None``): precision Λ = 1 + Σ_j σ_j⁻²,
    mean Λ⁻¹ Σ_j μ_j σ_j⁻² → ``(mean, logvar)`` ``[B, d]`` (with no expert present: the
    prior)."""
    prec = torch.exp(-logvars)
    if mask is not None:
        if mask.shape != means.shape[:2]:
            raise ValueError(f"mask: expected shape {list(means.shape[:2])}, got "
                             f"{list(mask.shape)}")
        prec = prec * mask.to(prec.dtype).unsqueeze(-1)
    total = 1.0 + prec.sum(1)
    mean = (means * prec).sum(1) / total
    return mean, -torch.log(total)


@register("joint_vae", aliases=("telbo_vae",))
class JointVAE(GaussianLatentCodec):
    """Joint VAE over images and attributes (see the module doc).

    Args:
        m: latent dimensions d (the reference uses 10).
        data_shape: ``(C, H, W)`` of the images.
        attribute_sizes: K_j, the number of values of each attribute (MNIST-A: 10, 2, 3, 4).
        enc_hidden, dec_hidden: hidden widths of the image encoder / decoder MLPs (the joint
            encoder uses ``enc_hidden`` too; the attribute decoder ``attr_hidden``).
        attr_hidden: hidden widths of the attribute decoder.
        activation: one of :data:`njscc.nn.ACTIVATIONS`.
    """

    def __init__(self, m: int = 10, data_shape: Sequence[int] = (1, 64, 64),
                 attribute_sizes: Sequence[int] = (10, 2, 3, 4),
                 enc_hidden: Sequence[int] = (512, 512), dec_hidden: Sequence[int] = (512, 512),
                 attr_hidden: Sequence[int] = (128,), activation: str = "relu") -> None:
        super().__init__(m, data_shape, "bernoulli", "normal", 1)
        sizes = check_int_tuple(attribute_sizes, "attribute_sizes", max=LIMITS["hidden"])
        if not sizes or min(sizes) < 2:
            raise ValueError(f"attribute_sizes: expected attributes with >= 2 values each, got "
                             f"{list(attribute_sizes)}")
        self.attribute_sizes = sizes
        enc = check_int_tuple(enc_hidden, "enc_hidden", allow_empty=True, max=LIMITS["hidden"])
        dec = check_int_tuple(dec_hidden, "dec_hidden", allow_empty=True, max=LIMITS["hidden"])
        att = check_int_tuple(attr_hidden, "attr_hidden", allow_empty=True,
                              max=LIMITS["hidden"])
        n_onehot = sum(sizes)
        self.encoder = nn.Sequential(nn.Flatten(), *mlp((self.data_dim, *enc, 2 * self.m),
                                                        activation))
        self.joint_encoder = nn.Sequential(*mlp((self.data_dim + n_onehot, *enc, 2 * self.m),
                                                activation))
        self.experts = nn.ModuleList(nn.Embedding(k, 2 * self.m) for k in sizes)
        for e in self.experts:  # start the experts broad (σ ≈ 1): a near-prior q(z | y)
            nn.init.normal_(e.weight, std=0.1)
        self.decoder = nn.Sequential(*mlp((self.m, *dec, self.data_dim), activation))
        self.attribute_decoder = nn.Sequential(*mlp((self.m, *att, n_onehot), activation))
        self._setup()

    # ------------------------------------------------------------------ attributes
    def _check_attributes(self, y: Tensor) -> None:
        j = len(self.attribute_sizes)
        if y.dim() != 2 or y.shape[1] != j or y.dtype != torch.int64:
            raise ValueError(f"attributes: expected int64 [B, {j}], got {y.dtype} "
                             f"{list(y.shape)}")
        hi = torch.tensor(self.attribute_sizes, device=y.device)
        if bool(((y < 0) | (y >= hi)).any()):
            raise ValueError(f"attributes: values out of range for sizes "
                             f"{list(self.attribute_sizes)}")

    def one_hot(self, y: Tensor) -> Tensor:
        """``[B, J]`` → concatenated one-hot ``[B, Σ K_j]``."""
        self._check_attributes(y)
        return torch.cat([nn.functional.one_hot(y[:, j], k).to(torch.get_default_dtype())
                          for j, k in enumerate(self.attribute_sizes)], -1)

    def encode_attributes(self, y: Tensor, mask: Tensor | None = None) -> Tensor:
        """q(z | y) as a product of experts over the present attributes → ``[B, 2d]``."""
        self._check_attributes(y)
        h = torch.stack([e(y[:, j]) for j, e in enumerate(self.experts)], 1)  # [B, J, 2d]
        means, logvars = h[..., :self.m], h[..., self.m:].clamp(*LOGVAR_RANGE)
        mean, logvar = product_of_experts(means, logvars, mask)
        return torch.cat([mean, logvar], -1)

    def encode_joint(self, x: Tensor, y: Tensor) -> Tensor:
        """q(z | x, y) → ``[B, 2d]``."""
        self._check_x(x)
        h = self.joint_encoder(torch.cat([x.reshape(x.shape[0], -1), self.one_hot(y)], -1))
        mean, logvar = h.chunk(2, -1)
        return torch.cat([mean, logvar.clamp(*LOGVAR_RANGE)], -1)

    def decode_attributes(self, z: Tensor) -> list[Tensor]:
        """``z`` ``[..., d]`` → per-attribute logits, ``[..., K_j]`` each."""
        out = self.attribute_decoder(z.reshape(-1, self.m))
        return [t.reshape(*z.shape[:-1], t.shape[-1])
                for t in out.split(list(self.attribute_sizes), -1)]

    def attribute_log_prob(self, y: Tensor, logits: Sequence[Tensor],
                           mask: Tensor | None = None) -> Tensor:
        """log p(y | z) = Σ_j log p(y_j | z) over the present attributes: ``y`` ``[B, J]``,
        logits ``[..., B, K_j]`` → ``[..., B]``."""
        total = 0.0
        for j, lg in enumerate(logits):
            lp = torch.log_softmax(lg, -1)
            idx = y[:, j].expand(*lp.shape[:-1]).unsqueeze(-1)
            term = lp.gather(-1, idx).squeeze(-1)
            if mask is not None:
                term = term * mask[:, j].to(term.dtype)
            total = total + term
        return total  # type: ignore[return-value]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``encoder``: the three inference networks; ``decoder``: both decoders."""
        enc = [*self.encoder.parameters(), *self.joint_encoder.parameters(),
               *self.experts.parameters()]
        dec = [*self.decoder.parameters(), *self.attribute_decoder.parameters()]
        return {"encoder": enc, "decoder": dec}
