"""UCI Adult (Census Income): CSV reader and feature encoding.

``adult.data`` / ``adult.test`` are comma(+space)-separated with 15 fields; ``?`` marks a
missing value; ``adult.test`` starts with ``|1x3 Cross validator`` and its labels end in ``.``;
both end with an empty line. Lines starting with ``|`` and blank lines are skipped.

Encoding (:class:`AdultEncoder`, fitted on the training split only): the 6 numerical columns
are standardised with the training mean and standard deviation (a missing numerical value, which
the UCI files do not contain, becomes the training mean, i.e. 0); the 8 categorical columns are
one-hot encoded over the categories seen in training, ``?`` being a category of its own
(``workclass=?``); a category not seen in training encodes as all zeros. The label is
``income > 50K``; ``sex`` (Female = 1) and ``race`` are kept as protected attributes.

The fair-representation papers' encoding (:class:`BinaryAdultEncoder`, the one of Song et al.
2019's reference code ermongroup/lag-fairness, written anew): rows with a ``?`` anywhere are
dropped (30 162 training / 15 060 test rows remain), every numerical column becomes one bit
``value > training median``, every categorical column with more than two categories is one-hot
over the categories of the complete training rows, and ``sex`` (the sensitive u) and the
income label are kept out: 102 binary features.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from njscc.data._io import read_bytes

__all__ = ["ADULT_CATEGORICAL", "ADULT_COLUMNS", "ADULT_NUMERICAL", "AdultEncoder",
           "AdultTable", "BinaryAdultEncoder", "read_adult"]

ADULT_COLUMNS = ("age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
                 "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
                 "hours-per-week", "native-country", "income")
ADULT_NUMERICAL = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss",
                   "hours-per-week")
ADULT_CATEGORICAL = ("workclass", "education", "marital-status", "occupation", "relationship",
                     "race", "sex", "native-country")
MISSING = "?"
_LABELS = {"<=50K": 0, ">50K": 1}
_SEX = ("Male", "Female")


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


@dataclass
class AdultTable:
    """Parsed rows of an Adult file.

    Attributes:
        numerical: column -> float64 ``[N]`` (NaN where ``?``).
        categorical: column -> str array ``[N]`` (``"?"`` where missing).
        labels: int64 ``[N]``, 1 for ``>50K``.
        path: the file read.
    """

    numerical: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]
    labels: np.ndarray
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def complete(self) -> np.ndarray:
        """bool ``[N]``: rows without a missing (``?``) value in any column."""
        ok = np.ones(len(self), dtype=bool)
        for v in self.numerical.values():
            ok &= np.isfinite(v)
        for v in self.categorical.values():
            ok &= v != MISSING
        return ok

    def take(self, indices: np.ndarray) -> AdultTable:
        """Rows ``indices`` (a new table)."""
        return AdultTable({k: v[indices] for k, v in self.numerical.items()},
                          {k: v[indices] for k, v in self.categorical.items()},
                          self.labels[indices], self.path)


def read_adult(path: str | os.PathLike[str]) -> AdultTable:
    """Read ``adult.data`` or ``adult.test`` (raw or gzip).

    Raises:
        ValueError: a row without 15 fields, a non-numeric value in a numerical column, or an
            unknown income label; the message names the file and line.
    """
    path = Path(path)
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a text file (undecodable byte at offset {e.start})"
                         ) from None
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    lines = text.splitlines()
    for no, fields in enumerate(csv.reader(lines, skipinitialspace=True), start=1):
        if not fields or fields[0].startswith("|") or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != len(ADULT_COLUMNS):
            raise ValueError(f"{path}: line {no} has {len(fields)} fields, expected "
                             f"{len(ADULT_COLUMNS)} ({', '.join(ADULT_COLUMNS)})")
        rows.append(fields)
        line_numbers.append(no)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    table = np.char.strip(np.array(rows, dtype=str))  # [N, 15]
    cols = [np.ascontiguousarray(table[:, j]) for j in range(table.shape[1])]
    numerical: dict[str, np.ndarray] = {}
    categorical: dict[str, np.ndarray] = {}
    for j, name in enumerate(ADULT_COLUMNS[:-1]):
        if name in ADULT_CATEGORICAL:
            categorical[name] = cols[j]
            continue
        col = np.where(cols[j] == MISSING, "nan", cols[j])
        try:
            vals = col.astype(np.float64)
        except ValueError:
            i = next(i for i, v in enumerate(col.tolist()) if not _is_number(v))
            where = f"{path}: line {line_numbers[i]}, column {name}"
            raise ValueError(f"{where}: {str(cols[j][i])!r} is not a number") from None
        bad = ~(np.isnan(vals) & (cols[j] == MISSING)) & ~(np.isfinite(vals) & (vals >= 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            where = f"{path}: line {line_numbers[i]}, column {name}"
            raise ValueError(f"{where}: {str(cols[j][i])!r} out of range (expected a finite "
                             "number >= 0)")
        numerical[name] = vals
    raw_labels = cols[-1]
    dotted = np.char.endswith(raw_labels, ".")
    keys = np.where(dotted, np.char.rstrip(raw_labels, "."), raw_labels)
    labels = (keys == ">50K").astype(np.int64)
    bad = ~np.isin(keys, list(_LABELS)) | (np.char.count(raw_labels, ".") > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: line {line_numbers[i]}: income label {str(raw_labels[i])!r} is "
                         "not one of '<=50K', '>50K' (optionally with a trailing '.')")
    bad_sex = ~np.isin(categorical["sex"], _SEX)
    if bad_sex.any():
        i = int(np.flatnonzero(bad_sex)[0])
        raise ValueError(f"{path}: line {line_numbers[i]}, column sex: "
                         f"{str(categorical['sex'][i])!r} is not one of {_SEX}")
    return AdultTable(numerical, categorical, labels, path)


@dataclass
class AdultEncoder:
    """One-hot + standardisation fitted on a training :class:`AdultTable`.

    Attributes:
        mean, std: numerical column -> training statistics (population std; 1 if constant).
        categories: categorical column -> sorted categories seen in training.
    """

    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, table: AdultTable) -> AdultEncoder:
        enc = cls()
        for name in ADULT_NUMERICAL:
            v = table.numerical[name]
            v = v[np.isfinite(v)]
            enc.mean[name] = float(v.mean()) if v.size else 0.0
            sd = float(v.std()) if v.size else 0.0
            enc.std[name] = sd if sd > 0 else 1.0
        for name in ADULT_CATEGORICAL:
            enc.categories[name] = sorted(set(table.categorical[name].tolist()))
        return enc

    def feature_names(self, exclude: tuple[str, ...] = ()) -> list[str]:
        """Names of the encoded columns: numericals first, then ``column=category``."""
        names = [n for n in ADULT_NUMERICAL if n not in exclude]
        for col in ADULT_CATEGORICAL:
            if col not in exclude:
                names += [f"{col}={c}" for c in self.categories[col]]
        return names

    def transform(self, table: AdultTable, exclude: tuple[str, ...] = ()) -> np.ndarray:
        """Encode ``table`` as float32 ``[N, D]`` (columns as :meth:`feature_names`).

        ``exclude`` drops whole source columns (e.g. ``("sex",)`` to keep the sensitive
        attribute out of the features).
        """
        parts = []
        for name in ADULT_NUMERICAL:
            if name in exclude:
                continue
            z = (table.numerical[name] - self.mean[name]) / self.std[name]
            parts.append(np.nan_to_num(z, nan=0.0)[:, None])
        for col in ADULT_CATEGORICAL:
            if col in exclude:
                continue
            cats = np.array(self.categories[col], dtype=str)
            parts.append(table.categorical[col][:, None] == cats[None, :])
        return np.concatenate([p.astype(np.float32) for p in parts], axis=1)

    def attribute(self, table: AdultTable, name: str) -> tuple[np.ndarray, list[str]]:
        """Integer codes int64 ``[N]`` of a categorical column, and the code -> value list.

        ``sex`` is coded Male = 0, Female = 1; other columns by the sorted training categories
        (a value unseen in training raises ``ValueError``).
        """
        if name not in ADULT_CATEGORICAL:
            raise ValueError(f"unknown Adult attribute {name!r}; choose from {ADULT_CATEGORICAL}")
        values = list(_SEX) if name == "sex" else self.categories[name]
        col = table.categorical[name]
        lookup = {v: i for i, v in enumerate(values)}
        codes = np.array([lookup.get(v, -1) for v in col.tolist()], dtype=np.int64)
        if (codes < 0).any():
            bad = str(col[codes < 0][0])
            raise ValueError(f"{table.path}: {name} value {bad!r} not seen in training")
        return codes, values


@dataclass
class BinaryAdultEncoder:
    """The 102-bit encoding of the fair-representation reference code (see the module
    docstring), fitted on complete training rows.

    Attributes:
        median: numerical column -> training median (the bit is ``value > median``).
        categories: categorical column (more than two categories) -> sorted categories.
    """

    median: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, table: AdultTable) -> BinaryAdultEncoder:
        """Fit on ``table`` (its complete rows only)."""
        rows = table.take(np.flatnonzero(table.complete()))
        if not len(rows):
            raise ValueError("BinaryAdultEncoder.fit: no complete rows")
        enc = cls()
        for name in ADULT_NUMERICAL:
            enc.median[name] = float(np.median(rows.numerical[name]))
        for name in ADULT_CATEGORICAL:
            cats = sorted(set(rows.categorical[name].tolist()))
            if len(cats) > 2:
                enc.categories[name] = cats
        return enc

    def columns(self) -> list[str]:
        """Source columns in file order (numerical → one bit, categorical → one-hot)."""
        return [c for c in ADULT_COLUMNS[:-1] if c in self.median or c in self.categories]

    def feature_names(self) -> list[str]:
        names: list[str] = []
        for col in self.columns():
            names += ([f"{col}>{self.median[col]:g}"] if col in self.median
                      else [f"{col}={c}" for c in self.categories[col]])
        return names

    def transform(self, table: AdultTable) -> np.ndarray:
        """float32 ``[N, 102]`` of 0/1 for a table of complete rows (``ValueError`` on a
        missing value or a category unseen in training)."""
        if not table.complete().all():
            raise ValueError(f"{table.path}: the binary encoding needs complete rows (drop "
                             "the rows with '?' first: table.take(flatnonzero(complete())))")
        parts = []
        for col in self.columns():
            if col in self.median:
                parts.append((table.numerical[col] > self.median[col])[:, None])
                continue
            cats = np.array(self.categories[col], dtype=str)
            hot = table.categorical[col][:, None] == cats[None, :]
            unseen = ~hot.any(1)
            if unseen.any():
                bad = str(table.categorical[col][unseen][0])
                raise ValueError(f"{table.path}: {col} value {bad!r} not seen in training")
            parts.append(hot)
        return np.concatenate(parts, axis=1).astype(np.float32)
