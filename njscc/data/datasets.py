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

__all__ = ["ImageDataset", "TabularDataset", "holdout_indices", "images_to_tensor"]


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


class ImageDataset(Dataset):
    """A split of images held in memory.

    Attributes:
        images: float32 ``[N, C, H, W]`` in [0, 1].
        labels: int64 ``[N]`` or ``None`` (unlabelled data such as binarized MNIST).
        name, split: where it came from (e.g. ``"mnist"``, ``"train"``).
        meta: free-form provenance (files, indices, ...).
        extra: further per-image fields by name (``[N, ...]`` tensors, e.g. MNIST-A's
            ``"attributes"`` ``[N, 4]``), carried into :meth:`batch` as ``Batch.extra``.

    ``ds[i]`` is ``(image [C, H, W], label)`` when labelled, else the image alone.
    """

    def __init__(self, images: Tensor, labels: Tensor | None = None, *, name: str = "",
                 split: str = "", meta: dict[str, Any] | None = None,
                 validate: bool = True, extra: dict[str, Tensor] | None = None) -> None:
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
        self.images = images
        self.labels = labels
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
        return frozenset(base | set(self.extra))

    def batch(self) -> Batch:
        """The whole split as a :class:`~njscc.data.Batch` (``x`` = images)."""
        return Batch(self.images, self.labels, extra=self.extra)

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
        return ImageDataset(self.images.to(device), labels, name=self.name, split=self.split,
                            meta=self.meta, validate=False,
                            extra={k: v.to(device) for k, v in self.extra.items()})

    def subset(self, indices: Tensor | np.ndarray | list[int]) -> ImageDataset:
        """A new dataset with the given rows (copied)."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        labels = None if self.labels is None else self.labels[idx]
        return ImageDataset(self.images[idx], labels, name=self.name, split=self.split,
                            meta=self.meta, validate=False,
                            extra={k: v[idx] for k, v in self.extra.items()})

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
