"""Build the embedded MNIST subset shipped in ``njscc/data/embedded/`` (deterministic).

Usage::

    python -m njscc.data.make_embedded /path/to/data/mnist [--out njscc/data/embedded]

Selection rule (class-balanced, spread over the whole file): for each digit ``c`` with ``n_c``
images in the official order, take the images at positions ``floor(j * n_c / k)``,
``j = 0 .. k-1``, of that digit's list (``k`` = ``--train-per-class`` / ``--test-per-class``).
Indices are stored with the images, in increasing order. Files are IDX, xz-compressed (preset
9e, CRC32), which compresses MNIST ~15 % better than gzip. The output is byte-for-byte
reproducible; after a rebuild, copy the printed hashes into ``EMBEDDED_SHA256`` in
``njscc/data/embedded.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from njscc.data.idx import read_idx, write_idx

__all__ = ["build_embedded", "main", "select_balanced"]

TRAIN_PER_CLASS = 1200
TEST_PER_CLASS = 230
_SOURCES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

README = """\
# Embedded MNIST subset

A class-balanced subset of MNIST shipped inside njscc so that `njscc demo` and the unit tests run
without downloads: `load_dataset("embedded", split)`.

| split | images | per digit | source file | indices |
| --- | --- | --- | --- | --- |
| train | {n_train} | {k_train} | train-images-idx3-ubyte (60000) | `train-indices-idx1-int.xz` |
| test | {n_test} | {k_test} | t10k-images-idx3-ubyte (10000) | `test-indices-idx1-int.xz` |

Selection: for each digit c with n_c images in the official file order, the images at positions
floor(j * n_c / k), j = 0..k-1, of that digit's list (spread evenly over the file, so the test
subset draws from both halves of the official test set). The exact indices into the official
files are stored next to the images (IDX int32), in increasing order; images and labels are in
the same order. Pixels and labels are unchanged (uint8 0..255, labels 0..9).

Files: IDX format, xz-compressed (read with `njscc.data.read_idx`). The loader checks the
SHA256 of every file (`SHA256SUMS`, also hard-coded in `njscc/data/embedded.py`).
Rebuild (byte-identical): `python -m njscc.data.make_embedded /path/to/mnist`.

## License

MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, "The MNIST database of
handwritten digits", http://yann.lecun.com/exdb/mnist/ — made available under the Creative
Commons Attribution-Share Alike 3.0 license (CC BY-SA 3.0,
https://creativecommons.org/licenses/by-sa/3.0/). This subset is a derivative of MNIST
(a selection of its images and labels, recompressed) and is distributed under the same license.
"""


def select_balanced(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices (sorted int64) of ``per_class`` images of each label, spread evenly over the file.

    For label ``c`` with occurrences ``pos_c`` (in file order, ``n_c`` of them), takes
    ``pos_c[floor(j * n_c / per_class)]`` for ``j < per_class``.
    """
    out = []
    for c in np.unique(labels):
        pos = np.flatnonzero(labels == c)
        if per_class > pos.size:
            raise ValueError(f"label {c} has only {pos.size} images, asked for {per_class}")
        out.append(pos[(np.arange(per_class, dtype=np.int64) * pos.size) // per_class])
    return np.sort(np.concatenate(out))


def _find(mnist_dir: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (mnist_dir / name).is_file():
            return mnist_dir / name
    raise FileNotFoundError(f"expected {mnist_dir / stem}.gz (or without .gz)")


def build_embedded(mnist_dir: str | Path, out_dir: str | Path,
                   train_per_class: int = TRAIN_PER_CLASS,
                   test_per_class: int = TEST_PER_CLASS) -> dict[str, str]:
    """Write the embedded subset into ``out_dir``; returns ``{file name: sha256}``."""
    mnist_dir, out_dir = Path(mnist_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"train": train_per_class, "test": test_per_class}
    files: list[Path] = []
    n = {}
    for split, (img_stem, lab_stem) in _SOURCES.items():
        images, labels = read_idx(_find(mnist_dir, img_stem)), read_idx(_find(mnist_dir, lab_stem))
        if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ValueError(f"{mnist_dir}: unexpected MNIST shapes {images.shape}, {labels.shape}")
        idx = select_balanced(labels, counts[split])
        n[split] = idx.size
        files.append(write_idx(out_dir / f"{split}-images-idx3-ubyte.xz", images[idx]))
        files.append(write_idx(out_dir / f"{split}-labels-idx1-ubyte.xz", labels[idx]))
        files.append(write_idx(out_dir / f"{split}-indices-idx1-int.xz", idx.astype(np.int32)))
    readme = README.format(n_train=n["train"], n_test=n["test"], k_train=train_per_class,
                           k_test=test_per_class)
    files.append(out_dir / "README.md")
    files[-1].write_text(readme, encoding="utf-8")
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    (out_dir / "SHA256SUMS").write_text("".join(f"{h}  {k}\n" for k, h in sums.items()),
                                        encoding="utf-8")
    return sums


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mnist_dir", help="folder with train-images-idx3-ubyte.gz etc.")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "embedded"),
                   help="output folder")
    p.add_argument("--train-per-class", type=int, default=TRAIN_PER_CLASS)
    p.add_argument("--test-per-class", type=int, default=TEST_PER_CLASS)
    args = p.parse_args(argv)
    sums = build_embedded(args.mnist_dir, args.out, args.train_per_class, args.test_per_class)
    total = sum((Path(args.out) / k).stat().st_size for k in sums) + \
        (Path(args.out) / "SHA256SUMS").stat().st_size
    print(f"wrote {len(sums)} files, {total} bytes, to {args.out}", file=sys.stderr)
    print("EMBEDDED_SHA256 = {")
    for k, h in sums.items():
        if k.endswith(".xz"):
            print(f'    "{k}":\n        "{h}",')
    print("}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
