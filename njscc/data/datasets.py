"""In-memory datasets: whole splits held as tensors.

Training loops on MNIST-sized data index ``.images`` / ``.labels`` directly (no DataLoader
overhead); both classes are also ordinary ``torch.utils.data.Dataset`` objects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from njscc.data.batch import Batch

__all__ = ["ImageDataset", "TabularDataset", "holdout_indices", "images_to_tensor", "joint_code"]


def images_to_tensor(images: np.ndarray | Tensor, channels_last: bool = False) -> Tensor:
    """Images -> float32 ``[N, C, H, W]``: uint8 is divided by 255, other dtypes are cast as is.

    Args:
        images: ``[N, H, W]`` (one channel), ``[N, C, H, W]``, or ``[N, H, W, C]`` when
            ``channels_last``. Pass 0/1 binarized pixels as a non-uint8 dtype (they are kept).
    """
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 4 and channels_last:
        x = x.permute(0, 3, 1, 2)
    elif x.ndim != 4:
        raise ValueError(f"images must be [N, H, W] or [N, C, H, W], got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.contiguous().to(torch.float32).div_(255.0)
    return x.contiguous().to(torch.float32)


def holdout_indices(n: int, valid_size: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Split ``range(n)`` into (train, valid) index tensors, both sorted, disjoint.

    The validation indices are the first ``valid_size`` of ``torch.randperm(n)`` drawn from a
    CPU ``torch.Generator`` seeded with ``seed`` (same seed => same split).
    """
    if not 0 < valid_size < n:
        raise ValueError(f"valid_size must be in 1..{n - 1} (the training set has {n} items), "
                         f"got {valid_size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid = perm[:valid_size].sort().values
    train = perm[valid_size:].sort().values
    return train, valid


def joint_code(columns: list[Tensor], radices: list[int]) -> Tensor:
    """The mixed-radix code Σ_j a_j Π_{i<j} r_i of attribute columns (int64 ``[N]`` each,
    values in ``0 … r_j − 1``) → int64 ``[N]`` in ``0 … Π r_j − 1``: one group per combination
    (a conjunction of sensitive attributes as a single ``sensitive`` field)."""
    if not columns or len(columns) != len(radices):
        raise ValueError(f"joint_code: {len(columns)} column(s) for {len(radices)} radices")
    code = torch.zeros_like(columns[0])
    mult = 1
    for j, (col, r) in enumerate(zip(columns, radices, strict=True)):
        if col.dtype != torch.int64 or col.shape != columns[0].shape or col.dim() != 1:
            raise ValueError(f"joint_code: column {j} must be int64 {list(columns[0].shape)}")
        if len(col) and (int(col.min()) < 0 or int(col.max()) >= r):
            raise ValueError(f"joint_code: column {j} has values outside 0…{r - 1}")
        code = code + col * mult
        mult *= int(r)
    return code


class ImageDataset(Dataset):
    """A split of images held in memory.

    Attributes:
        images: float32 ``[N, C, H, W]`` in [0, 1].
        labels: int64 ``[N]`` or ``None`` (unlabelled data such as binarized MNIST).
        name, split: where it came from (e.g. ``"mnist"``, ``"train"``).
        meta: free-form provenance (files, indices, ...).
        extra: further per-image fields by name (``[N, ...]`` tensors, e.g. MNIST-A's
            ``"attributes"`` ``[N, 4]``), carried into :meth:`batch` as ``Batch.extra``.
        sensitive: int64 ``[N]`` or ``None``: the batch field ``sensitive`` (a conditional
            codec's u; :meth:`with_sensitive` sets it from binary ``extra`` attributes).

    ``ds[i]`` is ``(image [C, H, W], label)`` when labelled, else the image alone.
    """

    def __init__(self, images: Tensor, labels: Tensor | None = None, *, name: str = "",
                 split: str = "", meta: dict[str, Any] | None = None,
                 validate: bool = True, extra: dict[str, Tensor] | None = None,
                 sensitive: Tensor | None = None) -> None:
        if not isinstance(images, Tensor) or images.dtype != torch.float32 or images.ndim != 4:
            raise TypeError("images must be a float32 tensor [N, C, H, W], got "
                            f"{type(images).__name__} "
                            f"{getattr(images, 'dtype', '')} {tuple(getattr(images, 'shape', ()))}")
        if labels is not None:
            if (not isinstance(labels, Tensor) or labels.dtype != torch.int64
                    or labels.shape != images.shape[:1]):
                raise TypeError(f"labels must be an int64 tensor [{images.shape[0]}], got "
                                f"{getattr(labels, 'dtype', type(labels).__name__)} "
                                f"{tuple(getattr(labels, 'shape', ()))}")
        if validate and images.numel():
            lo, hi = float(images.min()), float(images.max())
            if not (0.0 <= lo and hi <= 1.0):
                raise ValueError(f"{name or 'images'}: values must lie in [0, 1], got "
                                 f"[{lo}, {hi}]")
        extra = dict(extra or {})
        for k, v in extra.items():
            if not isinstance(v, Tensor) or v.dim() < 1 or v.shape[0] != images.shape[0]:
                raise TypeError(f"extra[{k!r}] must be a tensor with {images.shape[0]} rows, "
                                f"got {type(v).__name__} {tuple(getattr(v, 'shape', ()))}")
        if sensitive is not None and (not isinstance(sensitive, Tensor)
                                      or sensitive.dtype != torch.int64
                                      or sensitive.shape != images.shape[:1]):
            raise TypeError(f"sensitive must be an int64 tensor [{images.shape[0]}], got "
                            f"{getattr(sensitive, 'dtype', type(sensitive).__name__)} "
                            f"{tuple(getattr(sensitive, 'shape', ()))}")
        self.images = images
        self.labels = labels
        self.sensitive = sensitive
        self.name = name
        self.split = split
        self.meta = dict(meta or {})
        self.extra = extra

    @property
    def inputs(self) -> Tensor:
        """Alias of :attr:`images` (the model input), shared with :class:`TabularDataset`."""
        return self.images

    @property
    def fields(self) -> frozenset[str]:
        """Batch fields this dataset provides (``x``, ``labels`` when labelled, every
        ``extra`` name)."""
        base = {"x"} if self.labels is None else {"x", "labels"}
        if self.sensitive is not None:
            base.add("sensitive")
        return frozenset(base | set(self.extra))

    def batch(self) -> Batch:
        """The whole split as a :class:`~njscc.data.Batch` (``x`` = images)."""
        return Batch(self.images, self.labels, self.sensitive, extra=self.extra)

    def with_sensitive(self, names: list[str] | tuple[str, ...]) -> ImageDataset:
        """A view whose ``sensitive`` is the joint code (:func:`joint_code`) of the binary
        (0/1) ``extra`` attributes ``names`` — e.g. the 8 groups of three attributes, for a
        VAE conditioned on all of them."""
        missing = [n for n in names if n not in self.extra]
        if missing or not names:
            raise ValueError(f"with_sensitive: no attribute(s) {missing or list(names)}; "
                             f"this dataset has {', '.join(sorted(self.extra)) or 'none'}")
        code = joint_code([self.extra[n] for n in names], [2] * len(names))
        out = ImageDataset(self.images, self.labels, name=self.name, split=self.split,
                           meta={**self.meta, "sensitive": list(names)}, validate=False,
                           extra=self.extra, sensitive=code)
        if hasattr(self, "config"):
            out.config = self.config
        return out

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> Tensor | tuple[Tensor, Tensor]:
        if self.labels is None:
            return self.images[i]
        return self.images[i], self.labels[i]

    def to(self, device: torch.device | str) -> ImageDataset:
        """A copy with the tensors on ``device`` (e.g. the whole of MNIST on the GPU)."""
        labels = None if self.labels is None else self.labels.to(device)
        sens = None if self.sensitive is None else self.sensitive.to(device)
        return ImageDataset(self.images.to(device), labels, name=self.name, split=self.split,
                            meta=self.meta, validate=False,
                            extra={k: v.to(device) for k, v in self.extra.items()},
                            sensitive=sens)

    def subset(self, indices: Tensor | np.ndarray | list[int]) -> ImageDataset:
        """A new dataset with the given rows (copied)."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        labels = None if self.labels is None else self.labels[idx]
        sens = None if self.sensitive is None else self.sensitive[idx]
        return ImageDataset(self.images[idx], labels, name=self.name, split=self.split,
                            meta=self.meta, validate=False,
                            extra={k: v[idx] for k, v in self.extra.items()}, sensitive=sens)

    def __repr__(self) -> str:
        lab = "unlabelled" if self.labels is None else "labelled"
        return (f"ImageDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
                f"shape={self.shape}, {lab})")


class TabularDataset(Dataset):
    """A split of a tabular dataset (e.g. UCI Adult) held in memory.

    Attributes:
        features: float32 ``[N, D]`` (model input), with ``feature_names`` (``D`` strings).
        labels: int64 ``[N]`` target.
        sensitive: int64 ``[N]`` the chosen sensitive attribute (``sensitive_name``), coded as
            indices into ``attribute_values[sensitive_name]``.
        attributes: every available protected attribute -> int64 ``[N]`` codes, with their
            category names in ``attribute_values``.

    ``ds[i]`` is ``(features [D], label, sensitive)``.
    """

    def __init__(self, features: Tensor, labels: Tensor, sensitive: Tensor, *,
                 feature_names: list[str], sensitive_name: str,
                 attributes: dict[str, Tensor] | None = None,
                 attribute_values: dict[str, list[str]] | None = None,
                 name: str = "", split: str = "", meta: dict[str, Any] | None = None) -> None:
        n = features.shape[0]
        if features.dtype != torch.float32 or features.ndim != 2:
            raise TypeError(f"features must be float32 [N, D], got {features.dtype} "
                            f"{tuple(features.shape)}")
        if features.shape[1] != len(feature_names):
            raise ValueError(f"{len(feature_names)} feature names for {features.shape[1]} columns")
        for what, t in (("labels", labels), ("sensitive", sensitive)):
            if t.dtype != torch.int64 or t.shape != (n,):
                raise TypeError(f"{what} must be int64 [{n}], got {t.dtype} {tuple(t.shape)}")
        self.features = features
        self.labels = labels
        self.sensitive = sensitive
        self.feature_names = list(feature_names)
        self.sensitive_name = sensitive_name
        self.attributes = dict(attributes or {sensitive_name: sensitive})
        self.attribute_values = dict(attribute_values or {})
        self.name = name
        self.split = split
        self.meta = dict(meta or {})

    @property
    def inputs(self) -> Tensor:
        """Alias of :attr:`features` (the model input), shared with :class:`ImageDataset`."""
        return self.features

    @property
    def fields(self) -> frozenset[str]:
        """Batch fields provided: ``x``, ``labels``, ``sensitive`` (the chosen attribute) and
        every protected attribute by name (``extra``, e.g. ``sex``, ``race``)."""
        return frozenset({"x", "labels", "sensitive", *self.attributes})

    def batch(self) -> Batch:
        """The whole split as a :class:`~njscc.data.Batch` (``x`` = features, ``labels``,
        ``sensitive``, every attribute by name in ``extra``)."""
        return Batch(self.features, self.labels, self.sensitive, dict(self.attributes))

    def with_sensitive(self, names: list[str] | tuple[str, ...]) -> TabularDataset:
        """A view whose ``sensitive`` is the joint code (:func:`joint_code`) of the protected
        attributes ``names`` (each attribute's radix: its number of values), named
        ``"sex*age"`` etc. — a conjunction of attributes as one sensitive field."""
        missing = [n for n in names if n not in self.attributes]
        if missing or not names:
            raise ValueError(f"with_sensitive: no attribute(s) {missing or list(names)}; "
                             f"this dataset has {', '.join(sorted(self.attributes))}")
        radices = [len(self.attribute_values.get(n, ())) or 2 for n in names]
        code = joint_code([self.attributes[n] for n in names], radices)
        out = TabularDataset(self.features, self.labels, code, feature_names=self.feature_names,
                             sensitive_name="*".join(names), attributes=self.attributes,
                             attribute_values=self.attribute_values, name=self.name,
                             split=self.split, meta=self.meta)
        if hasattr(self, "config"):
            out.config = self.config
        return out

    def __len__(self) -> int:
        return self.features.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        return self.features[i], self.labels[i], self.sensitive[i]

    def to(self, device: torch.device | str) -> TabularDataset:
        """A copy with the tensors on ``device``."""
        attrs = {k: v.to(device) for k, v in self.attributes.items()}
        return TabularDataset(self.features.to(device), self.labels.to(device),
                              self.sensitive.to(device), feature_names=self.feature_names,
                              sensitive_name=self.sensitive_name, attributes=attrs,
                              attribute_values=self.attribute_values, name=self.name,
                              split=self.split, meta=self.meta)

    def __repr__(self) -> str:
        return (f"TabularDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
                f"features={self.features.shape[1]}, sensitive={self.sensitive_name!r})")
