"""The named batch that travels from datasets through the Trainer to objectives.

A :class:`Batch` holds one tensor per *field*, all with the same leading dimension N:

======================  ==========================================================
field                   meaning
======================  ==========================================================
``x``                   the model input (images ``[N, C, H, W]``, features ``[N, D]``)
``labels``              class labels, int64 ``[N]`` (VIB, probes, clustering)
``sensitive``           the sensitive attribute u, int64 ``[N]`` (fair representations)
``extra[name]``         further modalities or attributes (e.g. ``"attributes"``)
``masks[name]``         bool ``[N, ...]``: which entries of field ``name`` are present
======================  ==========================================================

Datasets say which fields they provide (``dataset.fields``), objectives which they need
(``objective.needs``); a mismatch is a one-line error before any work starts. Field names in
those declarations are ``"x"``, ``"labels"``, ``"sensitive"``, an ``extra`` key, or
``"mask:<name>"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["Batch", "as_batch", "check_fields"]


@dataclass(frozen=True)
class Batch:
    """Named tensors sharing the leading (example) dimension; see the module docstring."""

    x: Tensor
    labels: Tensor | None = None
    sensitive: Tensor | None = None
    extra: Mapping[str, Tensor] = field(default_factory=dict)
    masks: Mapping[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor) or self.x.dim() < 1:
            raise TypeError(f"Batch.x: expected a tensor with a leading example dimension, got "
                            f"{type(self.x).__name__}")
        n = self.x.shape[0]
        for name, t in self._named():
            if not isinstance(t, Tensor):
                raise TypeError(f"Batch.{name}: expected a tensor, got {type(t).__name__}")
            if t.dim() < 1 or t.shape[0] != n:
                raise ValueError(f"Batch.{name}: expected {n} rows like x, got shape "
                                 f"{list(t.shape)}")
        data_fields = self.fields - {f"mask:{k}" for k in self.masks}
        for name in self.masks:
            if name not in data_fields:
                raise ValueError(f"Batch.masks[{name!r}]: no field {name!r} to mask")

    def _named(self) -> Iterable[tuple[str, Tensor]]:
        if self.labels is not None:
            yield "labels", self.labels
        if self.sensitive is not None:
            yield "sensitive", self.sensitive
        for k, v in self.extra.items():
            yield f"extra[{k!r}]", v
        for k, v in self.masks.items():
            yield f"masks[{k!r}]", v

    @property
    def fields(self) -> frozenset[str]:
        """Names of the fields present (``"x"`` always)."""
        out = {"x"}
        if self.labels is not None:
            out.add("labels")
        if self.sensitive is not None:
            out.add("sensitive")
        out.update(self.extra)
        out.update(f"mask:{k}" for k in self.masks)
        return frozenset(out)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _map(self, fn: Any) -> Batch:
        return Batch(fn(self.x),
                     None if self.labels is None else fn(self.labels),
                     None if self.sensitive is None else fn(self.sensitive),
                     {k: fn(v) for k, v in self.extra.items()},
                     {k: fn(v) for k, v in self.masks.items()})

    def __getitem__(self, index: Any) -> Batch:
        """The rows ``index`` (an int tensor, slice, …) of every field."""
        return self._map(lambda t: t[index])

    def to(self, device: torch.device | str) -> Batch:
        """Every field on ``device``."""
        return self._map(lambda t: t.to(device))

    def get(self, name: str) -> Tensor:
        """The field ``name``: ``x``, ``labels``, ``sensitive`` or an ``extra`` entry
        (``ValueError`` naming the fields present when it is missing)."""
        if name in ("x", "labels", "sensitive"):
            value = getattr(self, name)
        else:
            value = self.extra.get(name)
        if value is None:
            raise ValueError(f"the batch has no field {name!r}; it has "
                             f"{', '.join(sorted(self.fields))}")
        return value

    def require(self, names: Iterable[str], who: str) -> None:
        """``ValueError`` naming ``who`` if a field in ``names`` is missing."""
        check_fields(names, self.fields, who, "the batch")


def as_batch(data: Any) -> Batch:
    """A :class:`Batch` from a batch, a tensor (→ ``Batch(x=tensor)``) or a dataset with a
    ``batch()`` method (:class:`~njscc.data.ImageDataset`, :class:`~njscc.data.TabularDataset`)."""
    if isinstance(data, Batch):
        return data
    if isinstance(data, Tensor):
        return Batch(data)
    to_batch = getattr(data, "batch", None)
    if callable(to_batch):
        out = to_batch()
        if isinstance(out, Batch):
            return out
    raise TypeError(f"expected a Batch, a tensor or a dataset, got {type(data).__name__}")


def check_fields(needed: Iterable[str], provided: Iterable[str], who: str, source: str) -> None:
    """``ValueError`` if ``who`` needs a field that ``source`` does not provide."""
    have = set(provided)
    missing = [f for f in needed if f not in have]
    if missing:
        raise ValueError(f"{who} needs field(s) {', '.join(missing)}; {source} provides "
                         f"{', '.join(sorted(have)) or 'none'}")

