"""The embedded MNIST subset shipped in ``njscc/data/embedded/`` (no data directory needed).

12 000 training images (1 200 per digit) and 2 300 test images (230 per digit), selected by
:func:`njscc.data.make_embedded.select_balanced`; see ``embedded/README.md`` for the rule, the
license (MNIST, CC BY-SA 3.0) and how to rebuild. Every file's SHA256 is checked at load time.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np

from njscc.data.idx import parse_idx

__all__ = ["EMBEDDED_SHA256", "EMBEDDED_SPLITS", "embedded_file", "read_embedded"]

EMBEDDED_SPLITS = ("train", "test")

#: data file name -> SHA256, as printed by ``python -m njscc.data.make_embedded``
EMBEDDED_SHA256 = {
    "train-images-idx3-ubyte.xz":
        "8abd505786503334d998cd08f8f0f3403851d013b155fad512899e22e7ebea0d",
    "train-labels-idx1-ubyte.xz":
        "92daba49fe54fabdd3b3c193ae7fa4439851e861931737f60f72f0c95b4a34d8",
    "train-indices-idx1-int.xz":
        "f492058115c9a546c71d066b84c4f56e5a53921eb509b1858b294cd9bf26202e",
    "test-images-idx3-ubyte.xz":
        "cee64f8b8ce5916d25868bb8a3e9a215e74ab8d20b00b045fb6b4c542c0ca363",
    "test-labels-idx1-ubyte.xz":
        "92af0cf8831645a40dcf4bf1663af5f0c25f1534b6fb627c23e691b1cbeda919",
    "test-indices-idx1-int.xz":
        "6c7fa774b26f731baec606b72638a924071bfb1ded0ce35411d67a7fd3a6a05c",
}


def embedded_file(name: str) -> bytes:
    """Bytes of one packaged file, after checking its SHA256.

    Raises:
        FileNotFoundError: the file is not installed (broken installation).
        ValueError: SHA256 mismatch (corrupt or modified file).
    """
    if name not in EMBEDDED_SHA256:
        raise ValueError(f"unknown embedded file {name!r}; have {sorted(EMBEDDED_SHA256)}")
    ref = resources.files("njscc.data").joinpath("embedded", name)
    try:
        data = ref.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"embedded dataset file {name} is missing from the njscc "
                                "installation; reinstall njscc") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != EMBEDDED_SHA256[name]:
        raise ValueError(f"embedded dataset file {name} is corrupt: sha256 {digest}, expected "
                         f"{EMBEDDED_SHA256[name]}; reinstall njscc")
    return data


def _read(name: str) -> np.ndarray:
    return parse_idx(embedded_file(name), f"njscc/data/embedded/{name}")


def read_embedded(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The embedded subset of one split.

    Returns:
        ``images`` uint8 ``[N, 28, 28]``, ``labels`` uint8 ``[N]`` (0..9) and ``indices``
        int32 ``[N]`` (positions in the official MNIST file of that split, increasing).
    """
    if split not in EMBEDDED_SPLITS:
        raise ValueError(f"embedded MNIST has splits {EMBEDDED_SPLITS}, got {split!r} "
                         "(use valid_size=N for a validation holdout from 'train')")
    images = _read(f"{split}-images-idx3-ubyte.xz")
    labels = _read(f"{split}-labels-idx1-ubyte.xz")
    indices = _read(f"{split}-indices-idx1-int.xz")
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1] or \
            indices.shape != labels.shape:
        raise ValueError(f"embedded {split} files have inconsistent shapes {images.shape}, "
                         f"{labels.shape}, {indices.shape}")
    return images, labels, indices
