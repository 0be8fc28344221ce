"""Total-correlation penalties by a density-ratio discriminator: FactorVAE (Kim & Mnih, ICML
2018) and FFVAE (Creager et al., ICML 2019).

Both add to the (β-)ELBO a penalty γ · TC on the aggregate posterior q(z) of a Gaussian-latent
VAE, TC = KL(q(z) ‖ Π_blocks q(z_block)), estimated with the density-ratio trick: a
discriminator D tells samples of q(z) (class 0) from samples of the product of its block
marginals (class 1; each block's columns permuted over the batch, :func:`permute_blocks`),
and TC ≈ E_q[logit_0(z) − logit_1(z)] (:func:`tc_estimate`). The discriminator is the
objective's parameter: its cross-entropy sees the samples detached, the codec's penalty sees
the discriminator frozen (:func:`~njscc.objectives.base.frozen_call`), so one backward pass
trains both (as the adversaries of :mod:`njscc.objectives.fair`). Differences from the papers:
the permuted samples come from the same batch (FactorVAE draws a second one), and the
discriminator is smaller (two hidden layers of 256 leaky-ReLU units; FactorVAE: six of 1 000)
and shares the codec's optimiser.

* ``factorvae`` — every latent dimension its own block: −ELBO_β + γ · TC.
* ``ffvae`` — the codec's first k dimensions b_j each a block, the remaining z one block
  (TC = KL(q(z, b) ‖ q(z) Π_j q(b_j))), plus the predictive term −α Σ_j log p(a_j | b_j) with
  the attributes a_j read from the batch fields named by ``attributes`` (0/1, int64 ``[B]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.nn.mlp import mlp
from njscc.objectives.base import Objective, frozen_call, to_floats
from njscc.validation import check_int_tuple, check_number

__all__ = ["FFVAEObjective", "FactorVAE", "TCDiscriminator", "permute_blocks", "tc_estimate"]


def permute_blocks(z: Tensor, blocks: Sequence[Sequence[int]],
                   generator: torch.Generator | None = None) -> Tensor:
    """Samples of Π_blocks q(z_block) from samples of q(z): ``z`` ``[B, d]`` with the rows of
    each block of columns permuted by its own random permutation (the columns of one block
    move together) → ``[B, d]``. Each block's marginal sample is kept exactly."""
    out = z.clone()
    n = z.shape[0]
    for cols in blocks:
        idx = torch.randperm(n, generator=generator, device="cpu").to(z.device)
        c = list(cols)
        out[:, c] = z[idx][:, c]
    return out


class TCDiscriminator(nn.Module):
    """D(z): ``[N, d]`` → logits ``[N, 2]`` (class 0: joint q(z), class 1: product)."""

    def __init__(self, d: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.net = nn.Sequential(*mlp((d, *hidden, 2), "leaky_relu", negative_slope=0.2))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


def tc_estimate(logits: Tensor) -> Tensor:
    """Density-ratio estimate of TC from the discriminator's logits on samples of q(z):
    mean of logit_0 − logit_1 = log D/(1 − D) ≈ log q(z) / Π q(z_block). ``[N, 2]`` → 0-dim."""
    return (logits[:, 0] - logits[:, 1]).mean()


class FactorVAE(Objective):
    """−E log p(x | z) + β KL(q(z | x) ‖ p(z)) + γ TC (see the module docstring).

    Args:
        gamma: the TC weight γ (FactorVAE: 10–100 on dSprites).
        beta: the KL weight (1: the ELBO).
        disc_hidden: hidden widths of the discriminator.
    """

    def __init__(self, gamma: float = 10.0, beta: float = 1.0,
                 disc_hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.gamma = check_number(gamma, "gamma", min=0)
        self.beta = check_number(beta, "beta", min=0)
        self.disc_hidden = check_int_tuple(disc_hidden, "disc_hidden", allow_empty=True)
        self.discriminator: TCDiscriminator | None = None

    def supports(self, codec: LatentCodec) -> Support:
        if codec.latent.kind != "real" or not codec.variational or not codec.reconstructs:
            return Support.no("it needs a VAE with a real latent, q(z | x) and p(x | z); the "
                              f"model has a {codec.latent.kind} latent")
        return Support.yes()

    def prepare(self, codec: LatentCodec) -> None:
        """Build the discriminator for the codec's latent width (seeded by the caller)."""
        if self.discriminator is None:
            self.discriminator = TCDiscriminator(int(codec.m), self.disc_hidden)

    def blocks(self, codec: Any) -> list[list[int]]:
        """Column blocks of the product distribution: every dimension alone."""
        return [[i] for i in range(int(codec.m))]

    def extra_terms(self, codec: Any, batch: Batch, z: Tensor
                    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Further loss terms (none here): (0-dim loss, stats)."""
        return z.new_zeros(()), {}

    def loss(self, codec: Any, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        if self.discriminator is None:
            raise RuntimeError(f"{self.name}: call prepare(codec) before training (it builds "
                               "the discriminator)")
        out = codec(batch.x, n_samples=1, generator=generator)
        rec, kl, z = out["log_p"][0], out["rate"], out["z"][0]
        disc = self.discriminator
        tc = tc_estimate(frozen_call(disc, type(disc).forward, z))
        zd = z.detach()
        perm = permute_blocks(zd, self.blocks(codec), generator)
        both = disc(torch.cat([zd, perm]))
        target = torch.cat([torch.zeros(len(zd)), torch.ones(len(zd))]).long().to(z.device)
        disc_ce = nn.functional.cross_entropy(both, target)
        extra, extra_stats = self.extra_terms(codec, batch, z)
        objective = -rec.mean() + self.beta * kl.mean() + self.gamma * tc + extra
        elbo = (rec - kl).mean().detach()
        stats = {"loss": objective.detach(), "bound": elbo, "distortion": -rec.mean().detach(),
                 "rate_nats": kl.mean().detach(), "tc": tc.detach(), "disc_ce": disc_ce.detach(),
                 "disc_acc": (both.argmax(1) == target).float().mean(), **extra_stats}
        return objective + disc_ce, to_floats(**stats)


class FFVAEObjective(FactorVAE):
    """FFVAE: :class:`FactorVAE` over the blocks (b_1, …, b_k, z) plus −α Σ_j log p(a_j | b_j)
    for the codec's attribute heads (``ffvae`` codec).

    Args:
        attributes: the batch fields holding a_1 … a_k (0/1 int64 ``[B]`` each), in the order
            of the codec's sensitive dimensions, e.g. ``("shape", "scale", "rotation")``.
        alpha: the predictive weight α.
        gamma, beta, disc_hidden: as :class:`FactorVAE`.
    """

    def __init__(self, attributes: Sequence[str] = ("shape", "scale", "rotation"),
                 alpha: float = 100.0, gamma: float = 10.0, beta: float = 1.0,
                 disc_hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__(gamma, beta, disc_hidden)
        if isinstance(attributes, str) or not attributes:
            raise ValueError(f"attributes: expected a non-empty list of batch field names, got "
                             f"{attributes!r}")
        self.attributes = tuple(str(a) for a in attributes)
        if len(set(self.attributes)) != len(self.attributes):
            raise ValueError(f"attributes: names repeat in {list(self.attributes)}")
        self.alpha = check_number(alpha, "alpha", min=0)

    @property
    def needs(self) -> tuple[str, ...]:
        return ("x", *self.attributes)

    def supports(self, codec: LatentCodec) -> Support:
        base = FactorVAE.supports(self, codec)
        if not base:
            return base
        k = getattr(codec, "n_sensitive", None)
        if k is None or not hasattr(codec, "attribute_logits"):
            return Support.no("it needs a codec with attribute-predictive latent dimensions "
                              "(ffvae)")
        if k != len(self.attributes):
            return Support.no(f"the model has {k} sensitive dimensions, the objective names "
                              f"{len(self.attributes)} attributes ({', '.join(self.attributes)})")
        return Support.yes()

    def blocks(self, codec: Any) -> list[list[int]]:
        """Each b_j alone, z (the remaining dimensions) as one block."""
        k = int(codec.n_sensitive)
        return [[j] for j in range(k)] + [list(range(k, int(codec.m)))]

    def extra_terms(self, codec: Any, batch: Batch, z: Tensor
                    ) -> tuple[Tensor, dict[str, Tensor]]:
        a = torch.stack([batch.extra[n] for n in self.attributes], -1)
        if a.dtype != torch.int64 or (len(a) and (int(a.min()) < 0 or int(a.max()) > 1)):
            raise ValueError(f"{self.name}: attributes {list(self.attributes)} must be 0/1 "
                             "int64 fields")
        logits = codec.attribute_logits(z)
        ce = nn.functional.binary_cross_entropy_with_logits(logits, a.to(logits.dtype),
                                                            reduction="none").sum(-1).mean()
        acc = ((logits > 0).long() == a).float().mean(0)
        stats = {"attr_ce": ce.detach(), "attr_acc": acc.mean()}
        stats.update({f"acc_{n}": v for n, v in zip(self.attributes, acc, strict=True)})
        return self.alpha * ce, stats
