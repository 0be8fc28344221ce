"""MIFR and L-MIFR: mutual-information fair representations with fixed or learned Lagrange
multipliers (Song, Kalluri, Grover, Zhao & Ermon, AISTATS 2019; reference code
ermongroup/lag-fairness).

Maximise the expressiveness I_q(x; z | u) subject to

* C1 = E KL(q(z | x, u) ‖ p(z)) ≤ ε1 (an upper bound on I_q(x, u; z));
* demographic parity I_q(z; u) ≤ ε_dp, equalised odds I_q(z; u | y) ≤ ε_eo, equal
  opportunity I_q(z; u | y = 1) ≤ ε_eopp, each estimated by an adversary,
  E[log p_ψ(u | z[, y]) − log p(u[ | y])], whose ψ is fitted by maximum likelihood alongside.

The Lagrangian (minimised over the codec, the multipliers λ ≥ 0 held fixed in that step)::

    L = E[−log p(x | z, u)] + Σ_i λ_i (C_i − ε_i)

E[log p(x | z, u)] is I_q(x; z | u) − H(x | u), so minimising the first term maximises the
expressiveness. **MIFR** keeps λ fixed (chosen by grid search); **L-MIFR** learns them by dual
ascent, λ_i ← clip(λ_i + η (C_i − ε_i), λ_min, λ_max) with an RMSProp step size, once per
training step, on the batch's constraint values — a violated constraint raises its
multiplier, a slack one lowers it. The multipliers live in the objective's state (buffers,
checkpointed with it) and are logged every step (``lambda_kl``, ``lambda_dp``, …).

The adversaries are this objective's parameters (one Adam, trained with the codec): their
cross-entropy sees z detached, and the codec's constraint terms see the adversaries frozen
(:func:`~njscc.objectives.base.frozen_call`), so one backward pass trains both sides of the
min-max game. As in the reference, I(z; u | y) is the mean over y ∈ {0, 1} of the bounds of
two adversaries fitted on the examples of each label, and I(z; u | y = 1) reuses the second.
Differences from the reference, both in the estimator's favour of correctness: each label's
adversary is fitted on that label's examples only (the reference fits them on every
example), and the bound subtracts log p(u | y) (the reference subtracts log p(u), which adds
I(u; y) to its EO / EOpp estimates). p(·) are the batch's frequencies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch
from njscc.evaluation.fairness import Adversary, combine_bounds, log_frequencies
from njscc.objectives.base import Objective, frozen_call, to_floats
from njscc.validation import check_number

__all__ = ["CONSTRAINTS", "LMIFR", "MIFR", "dual_step"]

#: the constraint names, in the order of the paper's table
CONSTRAINTS = ("kl", "dp", "eo", "eopp")


def dual_step(lam: Tensor, violation: Tensor, sq_avg: Tensor, lr: float, *,
              alpha: float = 0.99, eps: float = 1e-8, bounds: tuple[float, float] = (0.01, 100.0)
              ) -> None:
    """One RMSProp ascent step on the multipliers, in place: g = C − ε (``violation``),
    v ← α v + (1 − α) g², λ ← clip(λ + lr · g / (√v + eps), *bounds). Tensors ``[k]``."""
    sq_avg.mul_(alpha).addcmul_(violation, violation, value=1 - alpha)
    lam.add_(lr * violation / (sq_avg.sqrt() + eps)).clamp_(*bounds)


class MIFR(Objective):
    """MIFR / L-MIFR (see the module docstring). ``objective-arg``s:

    Args:
        budgets: ε per constraint, e.g. ``{"kl": 10, "dp": 0.1}``; only the constraints named
            here are active (``kl``, ``dp``, ``eo``, ``eopp``).
        multipliers: initial (L-MIFR) or fixed (MIFR) λ per active constraint (default 1).
        learn_multipliers: False → MIFR (fixed λ), True → L-MIFR (dual ascent; the
            ``lmifr`` objective).
        dual_lr: the multipliers' RMSProp step size (reference: 1e-4 per step).
        bounds: the multipliers' clipping range.
        adversary_hidden: hidden widths of the adversaries.
    """

    conditional: ClassVar[bool] = True

    def __init__(self, budgets: Mapping[str, float] | None = None,
                 multipliers: Mapping[str, float] | None = None,
                 learn_multipliers: bool = False, dual_lr: float = 1e-4,
                 bounds: Sequence[float] = (0.01, 100.0),
                 adversary_hidden: Sequence[int] = (50,)) -> None:
        super().__init__()
        budgets = dict(budgets if budgets is not None else
                       {"kl": 10.0, "dp": 0.1, "eo": 0.1, "eopp": 0.1})
        unknown = sorted(set(budgets) - set(CONSTRAINTS))
        if unknown or not budgets:
            raise ValueError(f"budgets: constraint names are {', '.join(CONSTRAINTS)}; got "
                             f"{sorted(budgets)}")
        self.active = tuple(c for c in CONSTRAINTS if c in budgets)
        mults = dict(multipliers or {})
        extra = sorted(set(mults) - set(self.active))
        if extra:
            raise ValueError(f"multipliers: {extra} are not active constraints "
                             f"({', '.join(self.active)})")
        lo, hi = (check_number(b, "bounds", min=0) for b in bounds)
        if not lo < hi:
            raise ValueError(f"bounds: expected (low, high) with low < high, got {list(bounds)}")
        self.bounds = (lo, hi)
        self.learn = bool(learn_multipliers)
        self.dual_lr = check_number(dual_lr, "dual_lr", min=0)
        self.hidden = tuple(int(h) for h in adversary_hidden)
        self.register_buffer("budget", torch.tensor([float(budgets[c]) for c in self.active]))
        init = [check_number(mults.get(c, 1.0), f"multipliers[{c}]", min=0)
                for c in self.active]
        self.register_buffer("lam", torch.tensor(init).clamp(lo, hi) if self.learn
                             else torch.tensor(init))
        self.register_buffer("sq_avg", torch.zeros(len(self.active)))
        self.adversaries = nn.ModuleDict()

    @property
    def needs(self) -> tuple[str, ...]:
        return ("x", "sensitive", "labels") if {"eo", "eopp"} & set(self.active) else (
            "x", "sensitive")

    def supports(self, codec: LatentCodec) -> Support:
        if "sensitive" not in getattr(codec, "conditions", ()) or not codec.variational:
            return Support.no("it needs a VAE conditioned on u, q(z | x, u) and p(x | z, u) "
                              f"(fair_vae); the model has a {codec.latent.kind} latent and "
                              f"conditions {list(getattr(codec, 'conditions', ()))}")
        return Support.yes()

    def prepare(self, codec: LatentCodec) -> None:
        """Build the adversaries the active constraints need (seeded by the caller): ``dp``
        on every example, ``y0`` / ``y1`` on the examples with that label (EO uses both,
        EOpp ``y1``, as in the reference)."""
        if len(self.adversaries):
            return
        self.n_groups = int(codec.n_groups)  # type: ignore[attr-defined]
        names = (["dp"] if "dp" in self.active else []) + (
            ["y0"] if "eo" in self.active else []) + (
            ["y1"] if {"eo", "eopp"} & set(self.active) else [])
        for name in names:
            self.adversaries[name] = Adversary(int(codec.m), self.n_groups, self.hidden)

    def multipliers(self) -> dict[str, float]:
        """The current λ per active constraint."""
        return dict(zip(self.active, self.lam.tolist(), strict=True))

    def adversary_terms(self, z: Tensor, u: Tensor, y: Tensor | None
                         ) -> tuple[dict[str, Tensor], Tensor]:
        """(constraint estimates ``{dp, eo, eopp}`` for the codec, the adversaries' own
        cross-entropy) on ``z`` ``[N, d]``, u and y ``[N]``; p(u) from these data."""
        bounds, fit = {}, z.new_zeros(())
        for name, adv in self.adversaries.items():
            keep = None if name == "dp" else (y == int(name[1]))
            zc, uc = (z, u) if keep is None else (z[keep], u[keep])
            if not len(uc):
                bounds[name] = z.new_zeros(())
                continue
            fit = fit + nn.functional.cross_entropy(adv(zc.detach()), uc)
            log_p = torch.log_softmax(frozen_call(adv, type(adv).forward, zc), -1)
            prior = log_frequencies(uc, self.n_groups).to(z.dtype)
            bounds[name] = (log_p.gather(1, uc[:, None]).squeeze(1) - prior[uc]).mean()
        return combine_bounds(bounds), fit

    def loss(self, codec: Any, batch: Batch, channel: Any,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x, u = batch.x, batch.sensitive
        y = batch.labels if "labels" in batch.fields else None
        if y is not None and len(y) and (int(y.max()) > 1 or int(y.min()) < 0):
            raise ValueError(f"{self.name}: labels must be binary (0/1) for the EO / EOpp "
                             f"constraints, got values up to {int(y.max())}")
        if set(self.active) - {"kl"} and not len(self.adversaries):
            raise RuntimeError("MIFR: call prepare(codec) before training (it builds the "
                               "adversaries)")
        out = codec(x, n_samples=1, generator=generator, sensitive=u)
        rec = out["log_p"][0]                                   # [B]
        kl = out["rate"]                                       # [B] closed form
        z = out["z"][0]
        values, fit = self.adversary_terms(z, u, y)
        values["kl"] = kl.mean()
        c = torch.stack([values[k] for k in self.active])       # [k]
        lam = self.lam.clone()  # this step's λ (the dual step below updates the buffer)
        lagrangian = -rec.mean() + (lam * (c - self.budget)).sum()
        if self.training and self.learn and self.dual_lr > 0:
            with torch.no_grad():
                dual_step(self.lam, c.detach() - self.budget, self.sq_avg, self.dual_lr,
                          bounds=self.bounds)
        elbo = (rec - kl).mean().detach()
        stats = {"loss": lagrangian.detach(), "bound": elbo,
                 "distortion": -rec.mean().detach(), "adversary_ce": fit.detach()}
        for k, v in zip(self.active, c.detach(), strict=True):
            stats[f"c_{k}"] = v
        for k, v in zip(self.active, lam, strict=True):
            stats[f"lambda_{k}"] = v
        return lagrangian + fit, to_floats(**stats)



class LMIFR(MIFR):
    """L-MIFR: :class:`MIFR` with the multipliers learned by dual ascent (``lmifr``; the
    default objective of ``fair_vae``)."""

    default_for = ("real",)

    def __init__(self, budgets: Mapping[str, float] | None = None,
                 multipliers: Mapping[str, float] | None = None,
                 learn_multipliers: bool = True, dual_lr: float = 1e-4,
                 bounds: Sequence[float] = (0.01, 100.0),
                 adversary_hidden: Sequence[int] = (50,)) -> None:
        super().__init__(budgets, multipliers, learn_multipliers, dual_lr, bounds,
                         adversary_hidden)
