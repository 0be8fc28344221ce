"""The objective contract: ``(codec, batch, channel) → (surrogate loss, logged statistics)``.

An objective declares what it can train (:meth:`Objective.supports`, with a reason when it
cannot) and which fields of the :class:`~njscc.data.Batch` it reads (:attr:`Objective.needs`);
:meth:`Objective.check` turns either mismatch into a one-line ``ValueError`` naming both sides.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from channels.base import BinaryChannel
from njscc.codec import LatentCodec, Support
from njscc.data.batch import Batch, as_batch, check_fields
from njscc.registry import Configurable
from njscc.validation import LIMITS, check_positive_int

__all__ = ["Objective", "Support", "check_n_samples", "condition_kwargs", "distortion",
           "frozen_call", "to_floats"]


def check_n_samples(n_samples: object, minimum: int = 1) -> int:
    """``n_samples`` as an int ≥ ``minimum`` (``TypeError``/``ValueError`` naming it)."""
    k = check_positive_int(n_samples, "n_samples", max=LIMITS["samples"])
    if k < minimum:
        raise ValueError(f"n_samples: expected an integer >= {minimum}, got {k}")
    return k


def _codec_name(codec: Any) -> str:
    name = getattr(codec, "config", {}).get("name") if isinstance(codec, LatentCodec) else None
    return name or type(codec).__name__


@torch.no_grad()
def distortion(codec: LatentCodec, x: Tensor, params: Tensor, log_p: Tensor) -> Tensor:
    """Mean per-image squared error Σ (x − x̂)² over the batch and the K samples (0-dim)."""
    if codec.likelihood == "sse":
        return -log_p.mean()
    x_hat = codec.reconstruct(params)
    x = x.reshape(x.shape[0], *x_hat.shape[-len(codec.data_shape):])
    return (x_hat - x).square().flatten(-len(codec.data_shape)).sum(-1).mean()


def to_floats(**stats: Tensor | float) -> dict[str, float]:
    """Detached 0-dim tensors → Python floats with one device sync."""
    device = next((v.device for v in stats.values() if isinstance(v, Tensor)), None)
    vals = torch.stack([torch.as_tensor(v, device=device).detach().reshape(()).to(torch.float64)
                        for v in stats.values()])
    return dict(zip(stats, vals.tolist(), strict=True))


class _Method(nn.Module):
    """``forward`` = one bound method of ``codec`` (so its weights can be swapped)."""

    def __init__(self, codec: nn.Module, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.codec, self._fn = codec, fn

    def forward(self, *args: Any) -> Any:
        return self._fn(self.codec, *args)


def frozen_call(codec: nn.Module, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(codec, *args)`` with every weight of ``codec`` detached: gradients flow to the
    arguments (e.g. a reparameterised z from an encoder) but to none of the codec's
    parameters — a decoder term that trains only the inference network that fed it."""
    frozen = {f"codec.{n}": p.detach() for n, p in codec.named_parameters()}
    return torch.func.functional_call(_Method(codec, fn), frozen, args)


def condition_kwargs(codec: Any, batch: Batch) -> dict[str, Tensor]:
    """The batch fields a conditional codec is conditioned on (its
    :attr:`~njscc.codec.LatentCodec.conditions`), as keyword arguments of its methods."""
    return {name: batch.get(name) for name in getattr(codec, "conditions", ())}


def _refuse_conditional(objective: Objective, codec: LatentCodec) -> Support | None:
    """``Support.no`` if ``codec`` is conditioned on batch fields ``objective`` does not pass."""
    cond = getattr(codec, "conditions", ())
    if cond and not objective.conditional:
        return Support.no(f"the model is conditioned on {', '.join(cond)} (a conditional "
                          f"codec), which this objective does not pass")
    return None


class Objective(Configurable, nn.Module, ABC):
    """An estimator of the gradient of a bound, as a surrogate loss to minimise.

    ``forward(codec, batch, channel=None, generator=None)`` returns ``(loss, stats)``:

    * ``batch``: a :class:`~njscc.data.Batch` (a plain tensor is taken as ``Batch(x=...)``);
    * ``loss``: a 0-dim tensor whose gradient w.r.t. the codec parameters is the estimator's
      gradient of −bound (batch mean). It is *not* in general equal to −bound; read
      ``stats["loss"]`` for that. Objectives with parameters of their own (NVIL's baseline
      network) add their training loss to it; it reaches only those parameters.
    * ``stats``: floats, at least ``"loss"`` (= −bound), ``"bound"`` and ``"distortion"``.

    Subclasses implement :meth:`loss` and declare :meth:`supports`, :attr:`needs` (batch
    fields read), :attr:`uses_channel` (whether a channel enters the objective) and
    :attr:`default_for` (latent kinds it is the default objective of, see
    :func:`njscc.objectives.default_for`).

    Every random draw uses ``generator``; same seed ⇒ identical loss and gradients. Stateful
    objectives (running baselines) update their state only in ``training`` mode.
    Call :meth:`prepare` with the codec before building optimisers so that objective
    parameters (if any) exist; train them too (``list(objective.parameters())``).
    """

    _config_kind: ClassVar[str] = "objective"
    #: latent kinds for which this objective is the default (``njscc train`` without --objective)
    default_for: ClassVar[tuple[str, ...]] = ()
    #: whether the objective sends codes through the channel it is given
    uses_channel: ClassVar[bool] = True
    #: whether the objective passes a conditional codec's :attr:`~njscc.codec.LatentCodec.
    #: conditions` (batch fields such as ``sensitive``); if not, it refuses such codecs
    conditional: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every ``supports`` first refuses conditional codecs the objective cannot feed, so
        no subclass has to repeat that check."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("supports")
        if own is not None and not getattr(own, "_checks_conditions", False):
            def supports(self: Objective, codec: LatentCodec) -> Support:
                refused = _refuse_conditional(self, codec)
                return refused if refused is not None else own(self, codec)

            supports.__doc__ = own.__doc__
            supports._checks_conditions = True  # type: ignore[attr-defined]
            cls.supports = supports  # type: ignore[method-assign]

    @property
    def needs(self) -> tuple[str, ...]:
        """Batch fields the objective reads (see :class:`~njscc.data.Batch`)."""
        return ("x",)

    @property
    def name(self) -> str:
        """The registered name (or the class name)."""
        return self.config.get("name") or type(self).__name__

    def supports(self, codec: LatentCodec) -> Support:
        """Whether this objective can train ``codec`` (override; default: yes)."""
        refused = _refuse_conditional(self, codec)
        return refused if refused is not None else Support.yes()

    def check(self, codec: LatentCodec, fields: Any = None, channel: Any = None) -> None:
        """``ValueError`` naming objective and codec if ``codec`` is not supported, if
        ``fields`` (the batch's or a dataset's) lack one this objective needs, or if a channel
        is given to an objective that does not use one."""
        ok = self.supports(codec)
        if not ok:
            name = self.name
            raise ValueError(f"objective {name!r} cannot train model {_codec_name(codec)!r} "
                             f"({codec.latent}): {ok.reason}")
        if fields is not None:
            check_fields(self.needs, fields, f"objective {self.name!r}", "the data")
        if channel is not None and not self.uses_channel:
            name = self.name
            raise ValueError(f"objective {name!r} does not use a channel (model "
                             f"{_codec_name(codec)!r} has a {codec.latent.kind} latent), got "
                             f"{getattr(channel, 'name', channel)!r}")

    def prepare(self, codec: LatentCodec) -> None:  # noqa: B027 - optional hook
        """Create codec-dependent parameters (no-op unless the objective has some)."""

    def forward(
        self,
        codec: LatentCodec,
        batch: Batch | Tensor,
        channel: BinaryChannel | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        """Check the codec and batch, then :meth:`loss`."""
        batch = as_batch(batch)
        self.check(codec, batch.fields, channel)
        return self.loss(codec, batch, channel, generator)

    @abstractmethod
    def loss(
        self,
        codec: LatentCodec,
        batch: Batch,
        channel: BinaryChannel | None,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, dict[str, float]]:
        """``batch.x`` ``[B, *data_shape]`` → (surrogate loss 0-dim, stats)."""


class BitObjective(Objective):
    """Base of the objectives for codecs whose codes cross a binary channel (NECST)."""

    def supports(self, codec: LatentCodec) -> Support:
        if codec.latent.kind != "bits":
            return Support.no(f"it needs a bits latent (codes sent over a binary channel), "
                              f"the model has {codec.latent.kind}")
        if not codec.reconstructs:
            return Support.no("it needs a reconstruction decoder p(x | y)")
        return Support.yes()


class ScoreFunctionObjective(BitObjective):
    """Shared skeleton of the score-function estimators (VIMCO, NVIL, REINFORCE).

    K codes are drawn from the closed-form channel marginal (``codec(x, channel, K)``), so
    ``log_q`` = log q(y | x) carries the encoder gradient; a subclass turns ``log_p``/``log_q``
    ``[K, B]`` into its surrogate with :meth:`surrogate`. The stats always hold ``loss``
    (= −value), ``bound`` (the value), ``distortion`` (mean per-image SSE of the samples) and
    the subclass's extras.
    """

    n_samples: int

    def loss(self, codec: LatentCodec, batch: Batch, channel: BinaryChannel | None,
             generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        x = batch.x
        out = codec(x, channel, n_samples=self.n_samples, generator=generator)
        surrogate, value, extra = self.surrogate(codec, x, out)
        return surrogate, to_floats(loss=-value, bound=value,
                                    distortion=distortion(codec, x, out["params"], out["log_p"]),
                                    **extra)

    @abstractmethod
    def surrogate(self, codec: LatentCodec, x: Tensor, out: dict[str, Tensor]
                  ) -> tuple[Tensor, Tensor, dict[str, Tensor | float]]:
        """``(surrogate loss, value of the bound (0-dim, detached), extra stats)``."""
