"""Dataset readers and in-memory datasets.

Readers (numpy, validating; errors are ``ValueError`` naming the file):
    :func:`read_idx` / :func:`write_idx` (MNIST-style IDX, raw/gz/xz), :func:`read_amat` /
    :func:`read_binarized_npz` (binarized MNIST), :func:`read_image_folder` (PNG/JPEG),
    :func:`read_adult` + :class:`AdultEncoder` (UCI Adult).

Datasets (torch): one registry, :data:`DATASETS` (plus ``idx:DIR`` and ``images:DIR``);
:func:`load_dataset` returns an :class:`ImageDataset` (``.images`` float32
``[N, C, H, W]`` in [0, 1], ``.labels`` int64 ``[N]``) or, for Adult, a
:class:`TabularDataset`; :class:`PatchDataset` cuts grid patches or seeded random crops.
The ``"embedded"`` dataset is an MNIST subset shipped in the package (no data directory).
"""

from __future__ import annotations

from njscc.data.adult import AdultEncoder, AdultTable, read_adult
from njscc.data.amat import read_amat, read_binarized_npz, write_amat
from njscc.data.batch import Batch, as_batch
from njscc.data.datasets import (
    ImageDataset,
    TabularDataset,
    holdout_indices,
    images_to_tensor,
    joint_code,
)
from njscc.data.embedded import read_embedded
from njscc.data.idx import parse_idx, read_idx, write_idx
from njscc.data.images import (
    PatchDataset,
    extract_patches,
    random_crops,
    read_image,
    read_image_folder,
)
from njscc.data.load import (
    DATASETS,
    ENV_VAR,
    DatasetInfo,
    dataset,
    dataset_info,
    load_dataset,
    resolve_data_dir,
)

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "DatasetInfo",
    "AdultEncoder",
    "AdultTable",
    "Batch",
    "ImageDataset",
    "PatchDataset",
    "TabularDataset",
    "as_batch",
    "dataset",
    "dataset_info",
    "extract_patches",
    "holdout_indices",
    "images_to_tensor",
    "joint_code",
    "load_dataset",
    "parse_idx",
    "random_crops",
    "read_adult",
    "read_amat",
    "read_binarized_npz",
    "read_embedded",
    "read_idx",
    "read_image",
    "read_image_folder",
    "resolve_data_dir",
    "write_amat",
    "write_idx",
]
