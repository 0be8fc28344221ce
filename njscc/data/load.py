"""Datasets by name: one registry (:data:`DATASETS`) and :func:`load_dataset`.

Names (``njscc train --dataset NAME``; plugins: entry-point group ``njscc.datasets``):

* registered datasets: ``embedded`` (shipped, no data dir), ``mnist``, ``fashion_mnist``,
  ``omniglot``, ``binarized_mnist``, ``kodak``, ``adult``;
* ``idx:DIR`` — any folder of MNIST-style IDX files (``train-images-idx3-ubyte[.gz]``,
  ``t10k-images-idx3-ubyte[.gz]`` and, optionally, the matching ``*-labels-idx1-ubyte`` files:
  Fashion-MNIST, Omniglot 28×28, KMNIST, …); labels of any value, or none;
* ``images:DIR`` — a folder of PNG/JPEG images of one size (with ``train/`` and ``test/``
  sub-folders if it has them, else the whole folder serves every split).

Data directory layout (``--data-dir DIR`` or ``$NJSCC_DATA_DIR``)::

    DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz      (or uncompressed)
    DIR/fashion_mnist/  same four names                             (optional)
    DIR/omniglot/  same four names + {train,test}-chars.npy         (28×28 Omniglot)
    DIR/binarized_mnist/binarized_mnist_{train,valid,test}.amat.gz  (or .amat, or one
                                                                     binarized_mnist.npz)
    DIR/kodak/kodim01.png .. kodim24.png
    DIR/adult/adult.data, adult.test

torchvision's ``MNIST/raw`` and ``FashionMNIST/raw`` folders are accepted too. Every dataset
declares its :class:`DatasetInfo` (fields it provides, splits, whether pixels are binary), so
the CLI can check a model/objective against it before loading anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from njscc.data.datasets import ImageDataset, TabularDataset, holdout_indices, images_to_tensor
from njscc.registry import Registry

__all__ = ["DATASETS", "ENV_VAR", "SPLITS", "DatasetInfo", "dataset", "dataset_info",
           "load_dataset", "resolve_data_dir"]

ENV_VAR = "NJSCC_DATA_DIR"
SPLITS = ("train", "valid", "test")
_LAYOUT_HINT = (f"pass --data-dir DIR (or set {ENV_VAR}=DIR) where DIR holds e.g. "
                "mnist/train-images-idx3-ubyte.gz (layout in docs/data.md)")


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset provides, known before it is loaded.

    Attributes:
        description: one line for listings.
        fields: :class:`~njscc.data.Batch` fields its batches carry.
        splits: splits it has (``"valid"`` is also available through ``valid_size``).
        needs_data_dir: whether it is read from the data directory.
        binary: pixel values are 0/1 (a Bernoulli likelihood is the natural default).
    """

    description: str
    fields: tuple[str, ...] = ("x", "labels")
    splits: tuple[str, ...] = ("train", "test")
    needs_data_dir: bool = True
    binary: bool = False


#: the dataset registry (entry-point group ``njscc.datasets``); factories take
#: ``(split, data_dir, *, valid_size, seed, **options)`` and carry a ``.info``
DATASETS: Registry[ImageDataset | TabularDataset] = Registry(
    "dataset", "njscc.datasets", strict_config=False)


def dataset(name: str, info: DatasetInfo, *, aliases: tuple[str, ...] = ()
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a loader ``(split, data_dir, *, valid_size, seed, **options)``
    under ``name`` with its :class:`DatasetInfo` (plugins use it too)."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.info = info  # type: ignore[attr-defined]
        return DATASETS.register(name, fn, aliases=aliases)

    return deco


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$NJSCC_DATA_DIR``.

    Raises:
        FileNotFoundError: neither is set, or the folder does not exist.
    """
    value = data_dir if data_dir not in (None, "") else os.environ.get(ENV_VAR) or None
    if value is None:
        raise FileNotFoundError(f"no data directory given: {_LAYOUT_HINT}; or use the "
                                "'embedded' dataset, which needs none")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"data directory not found: {path} ({_LAYOUT_HINT})")
    return path


def _find(root: Path, folders: tuple[str, ...], names: tuple[str, ...], what: str,
          hint: str = _LAYOUT_HINT) -> Path:
    for folder in folders:
        for name in names:
            p = root / folder / name
            if p.is_file():
                return p
    raise FileNotFoundError(f"{what}: expected file {root / folders[0] / names[0]} (not found); "
                            f"{hint}")


def _check_split(name: str, split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise ValueError(f"{name}: split must be one of {allowed}, got {split!r}")


def _with_holdout(name: str, split: str, valid_size: int, seed: int, n_train: int
                  ) -> torch.Tensor | None:
    """Row indices of the training file for ``split`` ('train'/'valid'), None = all rows."""
    if split == "valid" and not valid_size:
        raise ValueError(f"{name} has no validation split of its own: pass valid_size=N to hold "
                         "out N training examples (seeded, disjoint from split='train')")
    if not valid_size:
        return None
    train, valid = holdout_indices(n_train, valid_size, seed)
    return valid if split == "valid" else train


def _label_check(labels: np.ndarray, path: Path | str, n_classes: int = 10) -> None:
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"{path}: labels out of range [{int(labels.min())}, "
                         f"{int(labels.max())}], expected 0..{n_classes - 1}")


# --------------------------------------------------------------------------- IDX folders
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _idx_split(name: str, folders: tuple[str, ...], root: Path, split: str, valid_size: int,
               seed: int, *, n_classes: int | None, labels_required: bool,
               label_file: Callable[[str], Path | None] | None = None,
               hint: str = _LAYOUT_HINT, mnist_like: bool = False) -> ImageDataset:
    """One split of an IDX image folder (images ``[N, H, W]`` or ``[N, C, H, W]`` uint8;
    ``mnist_like``: exactly uint8 ``[N, 28, 28]`` images and uint8 labels)."""
    from njscc.data.idx import read_idx

    _check_split(name, split, SPLITS)
    src = "test" if split == "test" else "train"
    img_stem, lab_stem = _IDX_FILES[src]
    img_path = _find(root, folders, (f"{img_stem}.gz", img_stem), name, hint)
    images = read_idx(img_path)
    if mnist_like and (images.dtype != np.uint8 or images.ndim != 3
                       or images.shape[1:] != (28, 28)):
        raise ValueError(f"{img_path}: expected uint8 images [N, 28, 28], got {images.dtype} "
                         f"{images.shape}")
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"{img_path}: expected uint8 images [N, H, W] or [N, C, H, W], got "
                         f"{images.dtype} {images.shape}")
    lab_path = label_file(src) if label_file else None
    if lab_path is None:
        try:
            lab_path = _find(root, folders, (f"{lab_stem}.gz", lab_stem), name, hint)
        except FileNotFoundError:
            if labels_required:
                raise
    labels = None
    if lab_path is not None:
        labels = np.load(lab_path) if lab_path.suffix == ".npy" else read_idx(lab_path)
        if mnist_like and (labels.dtype != np.uint8 or labels.ndim != 1):
            raise ValueError(f"{lab_path}: expected uint8 labels [N], got {labels.dtype} "
                             f"{labels.shape}")
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{lab_path}: expected integer labels [N], got {labels.dtype} "
                             f"{labels.shape}")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{lab_path}: {labels.shape[0]} labels for {images.shape[0]} "
                             f"images in {img_path}")
        if n_classes is not None:
            _label_check(labels, lab_path, n_classes)
    rows = None if src == "test" else _with_holdout(name, split, valid_size, seed,
                                                     images.shape[0])
    meta: dict[str, Any] = {"files": [str(img_path)] + ([str(lab_path)] if lab_path else [])}
    if rows is not None:
        images = images[rows.numpy()]
        labels = None if labels is None else labels[rows.numpy()]
        meta.update(indices=rows, valid_size=valid_size, seed=seed)
    lab_t = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    return ImageDataset(images_to_tensor(images), lab_t, name=name, split=split, meta=meta,
                        validate=False)


def _idx_dataset(name: str, folders: tuple[str, ...], description: str) -> None:
    @dataset(name, DatasetInfo(description))
    def load(split: str = "train", data_dir: str | os.PathLike[str] | None = None, *,
             valid_size: int = 0, seed: int = 0) -> ImageDataset:
        return _idx_split(name, folders, resolve_data_dir(data_dir), split, valid_size, seed,
                          n_classes=10, labels_required=True, mnist_like=True)

    load.__doc__ = description


_idx_dataset("mnist", ("mnist", "MNIST/raw"), "MNIST 60000 train / 10000 test, 1x28x28 (IDX)")
_idx_dataset("fashion_mnist", ("fashion_mnist", "fashion-mnist", "FashionMNIST/raw"),
             "Fashion-MNIST 60000 train / 10000 test, 1x28x28 (IDX)")


@dataset("omniglot", DatasetInfo("Omniglot 28x28 (background 19280 / evaluation 13180 images), "
                                 "labels = character ids"))
def _load_omniglot(split: str = "train", data_dir: str | os.PathLike[str] | None = None, *,
                   valid_size: int = 0, seed: int = 0) -> ImageDataset:
    """Omniglot 28x28: the background set as train, the evaluation set as test (IDX)."""
    root = resolve_data_dir(data_dir)

    def chars(src: str) -> Path | None:
        p = root / "omniglot" / f"{'train' if src == 'train' else 'test'}-chars.npy"
        return p if p.is_file() else None  # the IDX labels hold the ids modulo 256

    return _idx_split("omniglot", ("omniglot",), root, split, valid_size, seed, n_classes=None,
                      labels_required=False, label_file=chars)


def _load_idx_dir(folder: str, split: str, valid_size: int, seed: int) -> ImageDataset:
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"idx:{folder}: not a folder")
    hint = "idx:DIR needs DIR/train-images-idx3-ubyte[.gz] and DIR/t10k-images-idx3-ubyte[.gz]"
    ds = _idx_split(f"idx:{folder}", ("",), path, split, valid_size, seed, n_classes=None,
                    labels_required=False, hint=hint)
    ds.name = f"idx:{path}"
    return ds


def _load_image_dir(folder: str, split: str, valid_size: int, seed: int) -> ImageDataset:
    from njscc.data.images import list_image_files, read_image

    path = Path(folder).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"images:{folder}: not a folder")
    _check_split(f"images:{folder}", split, SPLITS)
    sub = path / ("test" if split == "test" else "train")
    src = sub if sub.is_dir() else path
    files = list_image_files(src)
    if not files:
        raise FileNotFoundError(f"images:{folder}: no PNG/JPEG images in {src}")
    from PIL import Image

    with Image.open(files[0]) as im:
        mode = "L" if im.mode in ("1", "L", "I;16", "I") else "RGB"
    arrays = [read_image(f, mode) for f in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"images:{folder}: images differ in size ({sorted(shapes)[:3]} ...); "
                         "crop or resize them to one size")
    x = np.stack(arrays)  # [N, H, W, C]
    rows = None if split == "test" else _with_holdout(f"images:{folder}", split, valid_size,
                                                      seed, x.shape[0])
    meta: dict[str, Any] = {"folder": str(src), "files": [f.name for f in files],
                            "shared_splits": src == path}
    if rows is not None:
        x = x[rows.numpy()]
        meta.update(indices=rows, valid_size=valid_size, seed=seed)
    return ImageDataset(images_to_tensor(x, channels_last=True), None, name=f"images:{path}",
                        split=split, meta=meta, validate=False)


# --------------------------------------------------------------------------- the others
@dataset("embedded", DatasetInfo("MNIST subset shipped with njscc (12000 train / 2300 test), "
                                 "no data dir needed", needs_data_dir=False))
def _load_embedded(split: str = "train", data_dir: str | os.PathLike[str] | None = None, *,
                   valid_size: int = 0, seed: int = 0) -> ImageDataset:
    """MNIST subset shipped with njscc (no data directory needed)."""
    from njscc.data.embedded import read_embedded

    _check_split("embedded", split, SPLITS)
    images, labels, indices = read_embedded("test" if split == "test" else "train")
    _label_check(labels, "embedded")
    rows = None if split == "test" else _with_holdout("embedded", split, valid_size, seed,
                                                       len(labels))
    if rows is not None:
        images, labels, indices = images[rows.numpy()], labels[rows.numpy()], indices[rows.numpy()]
    meta = {"source": "njscc/data/embedded", "mnist_indices": torch.from_numpy(
        indices.astype(np.int64))}
    return ImageDataset(images_to_tensor(images), torch.from_numpy(labels.astype(np.int64)),
                        name="embedded", split=split, meta=meta, validate=False)


@dataset("binarized_mnist", DatasetInfo(
    "fixed binarization of MNIST, 50000 / 10000 / 10000, unlabelled", fields=("x",),
    splits=SPLITS, binary=True))
def _load_binarized(split: str = "train", data_dir: str | os.PathLike[str] | None = None, *,
                    valid_size: int = 0, seed: int = 0) -> ImageDataset:
    """Binarized MNIST (Larochelle & Murray), its own train/valid/test files."""
    from njscc.data.amat import read_amat, read_binarized_npz

    root = resolve_data_dir(data_dir)
    _check_split("binarized_mnist", split, SPLITS)
    if valid_size:
        raise ValueError("binarized_mnist has its own validation split: use split='valid' "
                         "without valid_size")
    stem = f"binarized_mnist_{split}.amat"
    folders = ("binarized_mnist", "BinarizedMNIST", "")
    try:
        path = _find(root, folders, (f"{stem}.gz", stem), "binarized_mnist")
        arr = read_amat(path)
    except FileNotFoundError:
        try:
            path = _find(root, folders, ("binarized_mnist.npz",), "binarized_mnist")
        except FileNotFoundError:
            raise FileNotFoundError(
                f"binarized_mnist: expected file {root / folders[0] / stem}.gz (or "
                f"{root / folders[0] / 'binarized_mnist.npz'}); {_LAYOUT_HINT}") from None
        splits = read_binarized_npz(path)
        if split not in splits:
            raise ValueError(f"{path}: no {split!r} array (has {sorted(splits)})") from None
        arr = splits[split]
    x = torch.from_numpy(arr).reshape(-1, 1, 28, 28).to(torch.float32)
    return ImageDataset(x, None, name="binarized_mnist", split=split,
                        meta={"files": [str(path)]}, validate=False)


@dataset("kodak", DatasetInfo("Kodak 24 RGB images as patches (test split only; labels = source "
                              "image index)", splits=("test",)))
def _load_kodak(split: str = "test", data_dir: str | os.PathLike[str] | None = None, *,
                valid_size: int = 0, seed: int = 0, patch_size: int | tuple[int, int] = 64,
                stride: int | tuple[int, int] | None = None, num_crops: int | None = None,
                generator: torch.Generator | None = None,
                resize: float | tuple[int, int] | None = None, mode: str = "RGB"
                ) -> ImageDataset:
    """Kodak as grid patches or seeded random crops (see :class:`PatchDataset`)."""
    from njscc.data.images import PatchDataset, read_image_folder

    root = resolve_data_dir(data_dir)
    _check_split("kodak", split, ("test",))
    if valid_size:
        raise ValueError("kodak has only a 'test' split; valid_size does not apply")
    folder = root / "kodak"
    if not folder.is_dir():
        raise FileNotFoundError(f"kodak: expected folder {folder} with kodim01.png .. "
                                f"kodim24.png; {_LAYOUT_HINT}")
    images = read_image_folder(folder, mode=mode)
    return PatchDataset(images, patch_size, stride=stride, num_crops=num_crops,
                        generator=generator, resize=resize, name="kodak", split=split)


#: crops per split of ``kodak_grey`` and the images they come from (1-based kodim numbers)
KODAK_GREY = {"train": (60000, range(1, 21), 20241), "test": (10000, range(21, 25), 20242)}


@dataset("kodak_grey", DatasetInfo(
    "Kodak as grey 28x28 crops: 60000 train (kodim01-20) / 10000 test (kodim21-24), seeded; "
    "labels = source image"))
def _load_kodak_grey(split: str = "train", data_dir: str | os.PathLike[str] | None = None, *,
                     valid_size: int = 0, seed: int = 0) -> ImageDataset:
    """Grey-level natural-image patches: seeded uniform 28×28 crops of the Kodak images
    (train and test from different photographs), pixel values k/255 like MNIST's."""
    from njscc.data.images import _as_chw, random_crops, read_image

    root = resolve_data_dir(data_dir)
    _check_split("kodak_grey", split, SPLITS)
    src = "test" if split == "test" else "train"
    n, numbers, crop_seed = KODAK_GREY[src]
    files = [root / "kodak" / f"kodim{i:02d}.png" for i in numbers]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"kodak_grey: expected file {missing[0]} (not found); "
                                f"{_LAYOUT_HINT}")
    images = [_as_chw(read_image(f, "L"), i) for i, f in enumerate(files)]
    crops, source, _ = random_crops(images, 28, n, torch.Generator().manual_seed(crop_seed))
    labels = source + (numbers[0] - 1)
    rows = None if src == "test" else _with_holdout("kodak_grey", split, valid_size, seed, n)
    meta: dict[str, Any] = {"files": [str(f) for f in files], "crop_seed": crop_seed}
    if rows is not None:
        crops, labels = crops[rows], labels[rows]
        meta.update(indices=rows, valid_size=valid_size, seed=seed)
    return ImageDataset(crops.contiguous(), labels, name="kodak_grey", split=split, meta=meta,
                        validate=False)


@dataset("mnist_a", DatasetInfo(
    "MNIST-A (MNIST with attributes: digit, scale, orientation, location), generated from "
    "MNIST, seeded; iid or compositional split",
    fields=("x", "labels", "attributes", "latents"),
    splits=SPLITS, binary=True))
def _load_mnist_a(split: str = "train", data_dir: str | os.PathLike[str] | None = None, *,
                  valid_size: int = 0, seed: int = 0, canvas: int = 64, replication: int = 1,
                  split_type: str = "iid", binarize: bool = True,
                  n_source: int | None = None) -> ImageDataset:
    """MNIST-A (:mod:`njscc.data.mnist_a`) from the pooled MNIST train + test images (the first
    ``n_source`` of them, for quick runs): ``labels`` = digit, ``extra["attributes"]`` int64
    ``[N, 4]`` (digit, scale, orientation, location). Its own train / valid / test split."""
    from njscc.data.mnist_a import make_mnist_a

    _check_split("mnist_a", split, SPLITS)
    if valid_size:
        raise ValueError("mnist_a has its own valid split (5 % of the images or of the "
                         "attribute combinations); valid_size does not apply")
    root = resolve_data_dir(data_dir)
    tr, te = (_idx_split("mnist", ("mnist", "MNIST/raw"), root, s, 0, 0, n_classes=10,
                         labels_required=True, mnist_like=True) for s in ("train", "test"))
    digits = torch.cat([tr.images, te.images])[:n_source]
    labels = torch.cat([tr.labels, te.labels])[:n_source]
    d = make_mnist_a(digits, labels, split, canvas=canvas, replication=replication,
                     split_type=split_type, binarize=binarize, seed=seed)
    meta = {"canvas": canvas, "replication": replication, "split_type": split_type,
            "binarize": binarize, "seed": seed, "n_source": int(digits.shape[0])}
    return ImageDataset(d["images"], d["attributes"][:, 0].clone(), name="mnist_a", split=split,
                        meta=meta, validate=False,
                        extra={"attributes": d["attributes"], "latents": d["latents"]})


@dataset("dsprites_unfair", DatasetInfo(
    "DSpritesUnfair-like: dSprites shapes rendered in code (32x32 binary), five binary "
    "attributes with correlated pairs (shape~x_pos, scale~y_pos), seeded; no data directory",
    fields=("x", "labels", "attributes", "factors", "shape", "scale", "rotation", "x_pos",
            "y_pos"),
    splits=SPLITS, needs_data_dir=False, binary=True))
def _load_dsprites_unfair(split: str = "train", data_dir: str | os.PathLike[str] | None = None,
                          *, valid_size: int = 0, seed: int = 0, n: int | None = None,
                          size: int = 32, correlations: Any = None, target: str = "x_pos"
                          ) -> ImageDataset:
    """DSpritesUnfair-like images (:mod:`njscc.data.dsprites`): ``n`` per split (default
    20 000 train / 2 000 valid / 5 000 test, each split its own seeded draw), ``labels`` = the
    ``target`` attribute, every attribute bit by name in ``extra`` (int64 ``[N]``), plus
    ``extra["attributes"]`` ``[N, 5]`` and ``extra["factors"]`` ``[N, 5]``."""
    from njscc.data.dsprites import ATTRIBUTES, DEFAULT_CORRELATIONS, make_dsprites_unfair

    _check_split("dsprites_unfair", split, SPLITS)
    if valid_size:
        raise ValueError("dsprites_unfair has its own valid split (an independent draw); "
                         "valid_size does not apply")
    if target not in ATTRIBUTES:
        raise ValueError(f"dsprites_unfair: target must be one of {', '.join(ATTRIBUTES)}, "
                         f"got {target!r}")
    if n is None:
        n = {"train": 20000, "valid": 2000, "test": 5000}[split]
    corr = DEFAULT_CORRELATIONS if correlations is None else correlations
    d = make_dsprites_unfair(split, n, size=size, correlations=corr, seed=seed)
    bits = d["attributes"]
    extra = {"attributes": bits, "factors": d["factors"],
             **{a: bits[:, j].contiguous() for j, a in enumerate(ATTRIBUTES)}}
    meta = {"size": size, "correlations": [list(c) for c in corr], "seed": seed,
            "target": target, "generated": True}
    return ImageDataset(d["images"], extra[target].clone(), name="dsprites_unfair", split=split,
                        meta=meta, validate=False, extra=extra)


@dataset("nonlinear_ica", DatasetInfo(
    "synthetic non-linear ICA: segment-conditional Gaussian sources mixed by a random "
    "invertible leaky-ReLU MLP (iVAE's setup), seeded; labels = sensitive = segment u",
    fields=("x", "labels", "sensitive", "segment"), splits=SPLITS, needs_data_dir=False))
def _load_nonlinear_ica(split: str = "train", data_dir: str | os.PathLike[str] | None = None,
                        *, valid_size: int = 0, seed: int = 0, n: int | None = None,
                        n_sources: int = 5, n_obs: int | None = None, n_segments: int = 10,
                        n_layers: int = 3) -> TabularDataset:
    """Synthetic non-linear ICA data (:func:`njscc.data.ica.make_nonlinear_ica`, its other
    settings at their defaults): x ``[N, n_obs]``, ``labels``
    and ``sensitive`` = the segment u (``extra["segment"]``); the true sources are in
    ``meta["sources"]`` (a float ``[N, n_sources]`` tensor). Each split is its own draw of
    the same distribution (default 10 000 train / 2 000 valid / 5 000 test)."""
    from njscc.data.ica import make_nonlinear_ica

    _check_split("nonlinear_ica", split, SPLITS)
    if valid_size:
        raise ValueError("nonlinear_ica has its own valid split (an independent draw); "
                         "valid_size does not apply")
    if n is None:
        n = {"train": 10000, "valid": 2000, "test": 5000}[split]
    d = make_nonlinear_ica(split, n, n_sources=n_sources, n_obs=n_obs, n_segments=n_segments,
                           n_layers=n_layers, seed=seed)
    u = d["segments"]
    names = [f"x{i}" for i in range(d["x"].shape[1])]
    return TabularDataset(d["x"], u, u.clone(), feature_names=names, sensitive_name="segment",
                          attributes={"segment": u.clone()}, name="nonlinear_ica", split=split,
                          meta={**d["config"], "generated": True, "sources": d["sources"]})


@dataset("adult", DatasetInfo("UCI Adult census income, tabular 32561 / 16281 (x, labels = "
                              "income, sensitive = sex or race)",
                              fields=("x", "labels", "sensitive", "sex", "race", "age"),
                              splits=SPLITS))
def _load_adult(split: str = "train", data_dir: str | os.PathLike[str] | None = None, *,
                valid_size: int = 0, seed: int = 0, sensitive: str = "sex",
                include_sensitive: bool = False, encoding: str = "onehot") -> TabularDataset:
    """UCI Adult: one-hot features, income label, a sensitive attribute.

    ``encoding="onehot"``: standardised numericals + one-hot categoricals, every row;
    ``"binary"``: the 102 binary features of the fair-representation reference code
    (complete rows only, numericals thresholded at the training median, sex and income kept
    out; :class:`~njscc.data.adult.BinaryAdultEncoder`).
    """
    from njscc.data.adult import AdultEncoder, BinaryAdultEncoder, read_adult

    if encoding not in ("onehot", "binary"):
        raise ValueError(f"adult: encoding must be 'onehot' or 'binary', got {encoding!r}")
    if encoding == "binary" and (include_sensitive or sensitive != "sex"):
        raise ValueError("adult: the binary encoding has u = sex and leaves it out of x")

    root = resolve_data_dir(data_dir)
    _check_split("adult", split, SPLITS)
    if sensitive not in ("sex", "race"):
        raise ValueError(f"adult: sensitive must be 'sex' or 'race', got {sensitive!r}")
    train_path = _find(root, ("adult",), ("adult.data", "adult.data.gz"), "adult")
    train = read_adult(train_path)
    if encoding == "binary":
        train = train.take(np.flatnonzero(train.complete()))
    if split == "valid" and not valid_size:
        _with_holdout("adult", split, valid_size, seed, len(train))  # raises the usual message
    rows: dict[str, torch.Tensor] = {}
    fit_table = train
    if valid_size:
        rows["train"], rows["valid"] = holdout_indices(len(train), valid_size, seed)
        fit_table = train.take(rows["train"].numpy())
    encoder = AdultEncoder.fit(fit_table)  # statistics from the training rows only
    if split == "test":
        path = _find(root, ("adult",), ("adult.test", "adult.test.gz"), "adult")
        table = read_adult(path)
        if encoding == "binary":
            table = table.take(np.flatnonzero(table.complete()))
    else:
        path = train_path
        table = train.take(rows[split].numpy()) if rows else train
    exclude = () if include_sensitive else (sensitive,)
    if encoding == "binary":
        binary = BinaryAdultEncoder.fit(fit_table)
        features, names = binary.transform(table), binary.feature_names()
    else:
        features, names = encoder.transform(table, exclude=exclude), encoder.feature_names(
            exclude)
    attributes, values = {}, {}
    for col in ("sex", "race"):
        codes, vals = encoder.attribute(table, col)
        attributes[col] = torch.from_numpy(codes)
        values[col] = vals
    age_cut = float(np.median(fit_table.numerical["age"]))  # training median, as the bit
    attributes["age"] = torch.from_numpy((table.numerical["age"] > age_cut).astype(np.int64))
    values["age"] = [f"age<={age_cut:g}", f"age>{age_cut:g}"]
    meta: dict[str, Any] = {"files": [str(path)], "encoder": encoder, "encoding": encoding}
    if rows and split != "test":
        meta.update(indices=rows[split], valid_size=valid_size, seed=seed)
    return TabularDataset(torch.from_numpy(features), torch.from_numpy(table.labels),
                          attributes[sensitive], feature_names=names,
                          sensitive_name=sensitive, attributes=attributes,
                          attribute_values=values, name="adult", split=split, meta=meta)


# --------------------------------------------------------------------------- front door
_SCHEMES = {
    "idx": (_load_idx_dir, DatasetInfo("MNIST-style IDX folder (labels optional)",
                                       fields=("x", "labels"), needs_data_dir=False)),
    "images": (_load_image_dir, DatasetInfo("folder of PNG/JPEG images of one size, "
                                            "unlabelled", fields=("x",), needs_data_dir=False)),
}


def _scheme(name: str) -> tuple[str, str] | None:
    """``"idx:/data/fashion"`` → ``("idx", "/data/fashion")``; ``None`` for registry names."""
    head, sep, rest = name.partition(":")
    if sep and head in _SCHEMES:
        if not rest:
            raise ValueError(f"dataset {name!r}: expected {head}:DIR")
        return head, rest
    return None


def _first_holdout(name: str, split: str, data_dir: str | os.PathLike[str] | None,
                   valid_size: int, seed: int, options: dict[str, Any]) -> ImageDataset:
    """``split`` of ``name`` with the *first* ``valid_size`` training examples as validation."""
    full = load_dataset(name, "train", data_dir, seed=seed, **options)
    if not isinstance(full, ImageDataset):
        raise ValueError(f"{name}: valid_split='first' is for image datasets")
    n = len(full)
    if not 0 < valid_size < n:
        raise ValueError(f"valid_size must be in 1..{n - 1} (the training set has {n} items), "
                         f"got {valid_size}")
    rows = torch.arange(valid_size) if split == "valid" else torch.arange(valid_size, n)
    ds = full.subset(rows)
    ds.split = split
    ds.meta = {**full.meta, "indices": rows, "valid_size": valid_size, "valid_split": "first"}
    ds.config = {"name": name, "kwargs": {"split": split, "valid_size": valid_size,
                                          "valid_split": "first", **options}}
    return ds


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of a dataset name or ``idx:``/``images:`` spec, without
    loading it."""
    sch = _scheme(name)
    if sch is not None:
        return _SCHEMES[sch[0]][1]
    try:
        entry = DATASETS.entry(name)
    except ValueError:
        raise ValueError(f"unknown dataset {name!r}; available: "
                         f"{', '.join(DATASETS.available())}, idx:DIR, images:DIR") from None
    return getattr(entry.factory, "info", DatasetInfo(entry.summary))


def load_dataset(name: str, split: str = "train",
                 data_dir: str | os.PathLike[str] | None = None, *, valid_size: int = 0,
                 seed: int = 0, valid_split: str = "random", **options: Any
                 ) -> ImageDataset | TabularDataset:
    """Load one split of a dataset into memory.

    Args:
        name: a registered dataset (:data:`DATASETS`: ``"embedded"``, ``"mnist"``,
            ``"fashion_mnist"``, ``"omniglot"``, ``"binarized_mnist"``, ``"kodak"``, ``"mnist_a"``,
            ``"adult"``, plugins), or ``"idx:DIR"`` / ``"images:DIR"``.
        split: ``"train"``, ``"valid"`` or ``"test"``. Datasets without a validation file:
            ``valid_size=N`` holds out N training examples (``torch.randperm`` seeded with
            ``seed``), and ``"train"`` then excludes them. Binarized MNIST has its own three
            files; Kodak only ``"test"``.
        valid_split: how ``valid_size`` examples are held out: ``"random"`` (a seeded random
            subset, the default) or ``"first"`` (the first N training examples, the rest in
            order — what the official NECST code's MNIST converter does).
        data_dir: the data directory (CLI ``--data-dir``); ``None`` -> ``$NJSCC_DATA_DIR``.
            Unused for ``"embedded"``, ``idx:`` and ``images:``.
        options: dataset options, e.g. Kodak: ``patch_size`` (64), ``stride``, ``num_crops`` +
            ``generator`` for random crops, ``resize``, ``mode`` (``"RGB"``/``"L"``); Adult:
            ``sensitive`` (``"sex"``/``"race"``), ``include_sensitive``.

    Returns:
        :class:`ImageDataset` (``.images`` float32 ``[N, C, H, W]`` in [0, 1], ``.labels``
        int64 ``[N]`` or ``None``) or :class:`TabularDataset`. ``.config`` records the name
        and arguments; ``.fields`` the batch fields it provides.

    Raises:
        ValueError: unknown name/split/option value, or invalid file content.
        TypeError: an option the dataset does not take.
        FileNotFoundError: missing data directory or file (the message names the expected file).
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    if isinstance(valid_size, bool) or not isinstance(valid_size, int) or valid_size < 0:
        raise ValueError(f"valid_size must be an int >= 0, got {valid_size!r}")
    if valid_split not in ("random", "first"):
        raise ValueError(f"valid_split: expected 'random' or 'first', got {valid_split!r}")
    if valid_split == "first" and valid_size and split in ("train", "valid"):
        return _first_holdout(name, split, data_dir, valid_size, seed, options)
    sch = _scheme(name)
    if sch is not None:
        if options:
            raise TypeError(f"load_dataset({name!r}): unexpected option(s) {sorted(options)}")
        ds = _SCHEMES[sch[0]][0](sch[1], split, valid_size, seed)
        ds.config = {"name": name, "kwargs": {"split": split, "valid_size": valid_size,
                                              "seed": seed}}
        return ds
    dataset_info(name)  # the unknown-name message lists idx:/images: too
    entry = DATASETS.entry(name)
    params = entry.signature().parameters
    unknown = sorted(k for k in options if k not in params)
    if unknown:
        allowed = [k for k in params if k not in ("split", "data_dir", "valid_size", "seed")]
        raise TypeError(f"load_dataset({name!r}): unexpected option(s) {unknown}; "
                        f"accepted: {allowed or 'none'}")
    return DATASETS.get(name, split, data_dir, valid_size=valid_size, seed=seed, **options)
