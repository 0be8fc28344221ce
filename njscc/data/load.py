"""``load_dataset(name, split, data_dir)``: every dataset of the package behind one call.

Data directory layout (``--data-dir DIR`` or ``$NJSCC_DATA_DIR``)::

    DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz      (or uncompressed)
    DIR/fashion_mnist/  same four names                             (optional)
    DIR/binarized_mnist/binarized_mnist_{train,valid,test}.amat.gz  (or .amat, or one
                                                                     binarized_mnist.npz)
    DIR/kodak/kodim01.png .. kodim24.png
    DIR/adult/adult.data, adult.test

torchvision's ``MNIST/raw`` and ``FashionMNIST/raw`` folders are accepted too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from njscc.data.datasets import ImageDataset, TabularDataset, holdout_indices, images_to_tensor

__all__ = ["DATASETS", "ENV_VAR", "SPLITS", "load_dataset", "resolve_data_dir"]

ENV_VAR = "NJSCC_DATA_DIR"
SPLITS = ("train", "valid", "test")
_LAYOUT_HINT = (f"pass --data-dir DIR (or set {ENV_VAR}=DIR) where DIR holds e.g. "
                "mnist/train-images-idx3-ubyte.gz (layout in docs/data.md)")

#: dataset name -> one-line description
DATASETS: dict[str, str] = {
    "embedded": "MNIST subset shipped with njscc (12000 train / 2300 test), no data dir needed",
    "mnist": "MNIST 60000 train / 10000 test, 1x28x28 (IDX files)",
    "fashion_mnist": "Fashion-MNIST 60000 train / 10000 test, 1x28x28 (IDX files)",
    "binarized_mnist": "fixed binarization of MNIST, 50000 / 10000 / 10000, unlabelled",
    "kodak": "Kodak 24 RGB images as patches (test split only)",
    "adult": "UCI Adult census income, tabular 32561 / 16281",
}

_IDX_FOLDERS = {"mnist": ("mnist", "MNIST/raw"),
                "fashion_mnist": ("fashion_mnist", "fashion-mnist", "FashionMNIST/raw")}
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


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


def _find(root: Path, folders: tuple[str, ...], names: tuple[str, ...], what: str) -> Path:
    for folder in folders:
        for name in names:
            p = root / folder / name
            if p.is_file():
                return p
    raise FileNotFoundError(f"{what}: expected file {root / folders[0] / names[0]} (not found); "
                            f"{_LAYOUT_HINT}")


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


def _load_idx_images(name: str, split: str, root: Path, valid_size: int, seed: int
                     ) -> ImageDataset:
    from njscc.data.idx import read_idx

    _check_split(name, split, SPLITS)
    src = "test" if split == "test" else "train"
    img_stem, lab_stem = _IDX_FILES[src]
    img_path = _find(root, _IDX_FOLDERS[name], (f"{img_stem}.gz", img_stem), name)
    lab_path = _find(root, _IDX_FOLDERS[name], (f"{lab_stem}.gz", lab_stem), name)
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{img_path}: expected uint8 images [N, 28, 28], got {images.dtype} "
                         f"{images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{lab_path}: expected uint8 labels [N], got {labels.dtype} "
                         f"{labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{lab_path}: {labels.shape[0]} labels for {images.shape[0]} images "
                         f"in {img_path}")
    _label_check(labels, lab_path)
    rows = None if src == "test" else _with_holdout(name, split, valid_size, seed, len(labels))
    meta: dict[str, Any] = {"files": [str(img_path), str(lab_path)]}
    if rows is not None:
        images, labels = images[rows.numpy()], labels[rows.numpy()]
        meta.update(indices=rows, valid_size=valid_size, seed=seed)
    return ImageDataset(images_to_tensor(images), torch.from_numpy(labels.astype(np.int64)),
                        name=name, split=split, meta=meta, validate=False)


def _load_embedded(split: str, valid_size: int, seed: int) -> ImageDataset:
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


def _load_binarized(split: str, root: Path, valid_size: int) -> ImageDataset:
    from njscc.data.amat import read_amat, read_binarized_npz

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


def _load_kodak(split: str, root: Path, patch_size: int | tuple[int, int] = 64,
                stride: int | tuple[int, int] | None = None, num_crops: int | None = None,
                generator: torch.Generator | None = None,
                resize: float | tuple[int, int] | None = None, mode: str = "RGB"
                ) -> ImageDataset:
    from njscc.data.images import PatchDataset, read_image_folder

    _check_split("kodak", split, ("test",))
    folder = root / "kodak"
    if not folder.is_dir():
        raise FileNotFoundError(f"kodak: expected folder {folder} with kodim01.png .. "
                                f"kodim24.png; {_LAYOUT_HINT}")
    images = read_image_folder(folder, mode=mode)
    return PatchDataset(images, patch_size, stride=stride, num_crops=num_crops,
                        generator=generator, resize=resize, name="kodak", split=split)


def _load_adult(split: str, root: Path, valid_size: int, seed: int, sensitive: str = "sex",
                include_sensitive: bool = False) -> TabularDataset:
    from njscc.data.adult import AdultEncoder, read_adult

    _check_split("adult", split, SPLITS)
    if sensitive not in ("sex", "race"):
        raise ValueError(f"adult: sensitive must be 'sex' or 'race', got {sensitive!r}")
    train_path = _find(root, ("adult",), ("adult.data", "adult.data.gz"), "adult")
    train = read_adult(train_path)
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
    else:
        path = train_path
        table = train.take(rows[split].numpy()) if rows else train
    exclude = () if include_sensitive else (sensitive,)
    features = encoder.transform(table, exclude=exclude)
    attributes, values = {}, {}
    for col in ("sex", "race"):
        codes, vals = encoder.attribute(table, col)
        attributes[col] = torch.from_numpy(codes)
        values[col] = vals
    meta: dict[str, Any] = {"files": [str(path)], "encoder": encoder}
    if rows and split != "test":
        meta.update(indices=rows[split], valid_size=valid_size, seed=seed)
    return TabularDataset(torch.from_numpy(features), torch.from_numpy(table.labels),
                          attributes[sensitive], feature_names=encoder.feature_names(exclude),
                          sensitive_name=sensitive, attributes=attributes,
                          attribute_values=values, name="adult", split=split, meta=meta)


def load_dataset(name: str, split: str = "train",
                 data_dir: str | os.PathLike[str] | None = None, *, valid_size: int = 0,
                 seed: int = 0, **options: Any) -> ImageDataset | TabularDataset:
    """Load one split of a dataset into memory.

    Args:
        name: one of :data:`DATASETS` (``"embedded"``, ``"mnist"``, ``"fashion_mnist"``,
            ``"binarized_mnist"``, ``"kodak"``, ``"adult"``).
        split: ``"train"``, ``"valid"`` or ``"test"``. MNIST, Fashion-MNIST, embedded and Adult
            have no validation file: ``valid_size=N`` holds out N training examples
            (``torch.randperm`` seeded with ``seed``), and ``"train"`` then excludes them.
            Binarized MNIST has its own three files; Kodak only ``"test"``.
        data_dir: the data directory (CLI ``--data-dir``); ``None`` -> ``$NJSCC_DATA_DIR``.
            Unused for ``"embedded"``.
        options: Kodak: ``patch_size`` (64), ``stride``, ``num_crops`` + ``generator`` for
            random crops, ``resize``, ``mode`` (``"RGB"``/``"L"``), see
            :class:`~njscc.data.images.PatchDataset`. Adult: ``sensitive`` (``"sex"`` or
            ``"race"``), ``include_sensitive`` (False: the sensitive column is left out of the
            features).

    Returns:
        :class:`ImageDataset` (``.images`` float32 ``[N, C, H, W]`` in [0, 1], ``.labels``
        int64 ``[N]`` or ``None`` for binarized MNIST; Kodak: labels = source image index) or,
        for Adult, :class:`TabularDataset` (``.features``, ``.labels``, ``.sensitive``).

    Raises:
        ValueError: unknown name/split/option value, or invalid file content.
        TypeError: an option the dataset does not take.
        FileNotFoundError: missing data directory or file (the message names the expected file).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    if not isinstance(valid_size, int) or valid_size < 0:
        raise ValueError(f"valid_size must be an int >= 0, got {valid_size!r}")
    allowed = {"kodak": {"patch_size", "stride", "num_crops", "generator", "resize", "mode"},
               "adult": {"sensitive", "include_sensitive"}}.get(name, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"load_dataset({name!r}): unexpected option(s) {unknown}; "
                        f"accepted: {sorted(allowed) or 'none'}")
    if name == "embedded":
        return _load_embedded(split, valid_size, seed)
    root = resolve_data_dir(data_dir)
    if name in _IDX_FOLDERS:
        return _load_idx_images(name, split, root, valid_size, seed)
    if name == "binarized_mnist":
        return _load_binarized(split, root, valid_size)
    if name == "kodak":
        if valid_size:
            raise ValueError("kodak has only a 'test' split; valid_size does not apply")
        return _load_kodak(split, root, **options)
    return _load_adult(split, root, valid_size, seed, **options)
