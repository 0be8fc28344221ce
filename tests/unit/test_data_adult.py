"""UCI Adult reader and encoder on small hand-written files in the UCI format."""
# ruff: noqa: E501  (rows copied verbatim from the UCI files)

from __future__ import annotations

import numpy as np
import pytest
import torch

from njscc.data import AdultEncoder, load_dataset, read_adult
from njscc.data.adult import ADULT_NUMERICAL

TRAIN = """\
39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K
50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, 13, United-States, <=50K
38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, White, Male, 0, 0, 40, United-States, <=50K
53, Private, 234721, 11th, 7, Married-civ-spouse, Handlers-cleaners, Husband, Black, Male, 0, 0, 40, United-States, <=50K
28, Private, 338409, Bachelors, 13, Married-civ-spouse, Prof-specialty, Wife, Black, Female, 0, 0, 40, Cuba, <=50K
37, Private, 284582, Masters, 14, Married-civ-spouse, Exec-managerial, Wife, White, Female, 0, 0, 40, United-States, <=50K
52, Self-emp-not-inc, 209642, HS-grad, 9, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, 45, United-States, >50K
31, Private, 45781, Masters, 14, Never-married, Prof-specialty, Not-in-family, White, Female, 14084, 0, 50, United-States, >50K
42, Private, 159449, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 5178, 0, 40, United-States, >50K
54, ?, 180211, Some-college, 10, Married-civ-spouse, ?, Husband, Asian-Pac-Islander, Male, 0, 0, 60, South, >50K

"""

TEST = """\
|1x3 Cross validator
25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40, United-States, <=50K.
38, Private, 89814, HS-grad, 9, Married-civ-spouse, Farming-fishing, Husband, White, Male, 0, 0, 50, United-States, <=50K.
28, Local-gov, 336951, Assoc-acdm, 12, Married-civ-spouse, Protective-serv, Husband, White, Female, 0, 0, 40, ?, >50K.

"""


@pytest.fixture
def adult_dir(tmp_path):
    (tmp_path / "adult").mkdir()
    (tmp_path / "adult" / "adult.data").write_text(TRAIN)
    (tmp_path / "adult" / "adult.test").write_text(TEST)
    return tmp_path


def test_read_rows_labels_missing(adult_dir):
    train = read_adult(adult_dir / "adult" / "adult.data")
    test = read_adult(adult_dir / "adult" / "adult.test")
    assert len(train) == 10 and len(test) == 3  # header line and empty lines skipped
    assert train.labels.tolist() == [0] * 6 + [1] * 4
    assert test.labels.tolist() == [0, 0, 1]  # trailing '.' stripped
    assert train.categorical["workclass"][-1] == "?"
    assert test.categorical["native-country"][-1] == "?"
    assert train.numerical["age"][0] == 39.0 and train.numerical["fnlwgt"].dtype == np.float64


def test_encoder_uses_train_statistics(adult_dir):
    train = read_adult(adult_dir / "adult" / "adult.data")
    test = read_adult(adult_dir / "adult" / "adult.test")
    enc = AdultEncoder.fit(train)
    names = enc.feature_names()
    xtr, xte = enc.transform(train), enc.transform(test)
    assert xtr.dtype == np.float32 and xtr.shape == (10, len(names)) and xte.shape[1] == len(names)
    for j, col in enumerate(ADULT_NUMERICAL):
        v = train.numerical[col]
        np.testing.assert_allclose(xtr[:, j].mean(), 0, atol=1e-6)
        if v.std() > 0:
            np.testing.assert_allclose(xtr[:, j].std(), 1, rtol=1e-5)
        expected = (test.numerical[col] - v.mean()) / (v.std() if v.std() > 0 else 1.0)
        np.testing.assert_allclose(xte[:, j], expected, rtol=1e-5)  # train mean/std on test
    # capital-loss is constant 0 in train -> std 1, column all zeros
    assert enc.std["capital-loss"] == 1.0
    # one-hot: every categorical block sums to 1 per row in train
    cat = xtr[:, len(ADULT_NUMERICAL):]
    assert set(np.unique(cat)) <= {0.0, 1.0} and np.all(cat.sum(1) == 8)
    assert "workclass=?" in names and "occupation=?" in names
    # test categories unseen in training encode as zeros: 'Local-gov', 'Assoc-acdm', '?' country
    assert xte[2, len(ADULT_NUMERICAL):].sum() == 8 - 4  # workclass, education, occ, country
    row0 = dict(zip(names, xte[0], strict=True))
    assert row0["race=Black"] == 1 and row0["sex=Male"] == 1 and row0["education=11th"] == 1


def test_attributes(adult_dir):
    train = read_adult(adult_dir / "adult" / "adult.data")
    enc = AdultEncoder.fit(train)
    sex, sex_values = enc.attribute(train, "sex")
    assert sex_values == ["Male", "Female"] and sex.tolist() == [0] * 4 + [1, 1, 0, 1, 0, 0]
    race, race_values = enc.attribute(train, "race")
    assert race_values == ["Asian-Pac-Islander", "Black", "White"]
    assert race.tolist()[3:5] == [1, 1] and race[-1] == 0
    with pytest.raises(ValueError, match="unknown Adult attribute"):
        enc.attribute(train, "age")


def test_load_dataset_adult(adult_dir):
    tr = load_dataset("adult", "train", adult_dir)
    te = load_dataset("adult", "test", adult_dir)
    assert tr.features.dtype == torch.float32 and tr.labels.dtype == torch.int64
    assert tr.features.shape[1] == te.features.shape[1] == len(tr.feature_names)
    assert not any(n.startswith("sex=") for n in tr.feature_names)
    assert tr.sensitive.tolist() == [0] * 4 + [1, 1, 0, 1, 0, 0]
    assert te.sensitive.tolist() == [0, 0, 1] and te.labels.tolist() == [0, 0, 1]
    assert set(tr.attributes) == {"sex", "race", "age"}
    assert torch.equal(tr.to("cpu").features, tr.features) and tr.inputs is tr.features
    x, y, s = tr[4]
    assert x.shape == (tr.features.shape[1],) and y == 0 and s == 1
    with_sex = load_dataset("adult", "train", adult_dir, include_sensitive=True)
    assert with_sex.features.shape[1] == tr.features.shape[1] + 2
    by_race = load_dataset("adult", "test", adult_dir, sensitive="race")
    assert by_race.attribute_values["race"] == ["Asian-Pac-Islander", "Black", "White"]
    assert by_race.sensitive.tolist() == [1, 2, 2]
    assert any(n.startswith("sex=") for n in by_race.feature_names)
    assert not any(n.startswith("race=") for n in by_race.feature_names)


def test_adult_validation_holdout(adult_dir):
    tr = load_dataset("adult", "train", adult_dir, valid_size=3, seed=1)
    va = load_dataset("adult", "valid", adult_dir, valid_size=3, seed=1)
    assert len(tr) == 7 and len(va) == 3
    assert set(tr.meta["indices"].tolist()).isdisjoint(va.meta["indices"].tolist())
    # standardisation fitted on the 7 training rows only
    np.testing.assert_allclose(tr.features[:, 0].mean().item(), 0, atol=1e-6)
    with pytest.raises(ValueError, match="valid_size"):
        load_dataset("adult", "valid", adult_dir)
    with pytest.raises(ValueError, match="sensitive"):
        load_dataset("adult", "train", adult_dir, sensitive="age")


@pytest.mark.parametrize(("bad", "match"), [
    ("39, State-gov, 77516, Bachelors\n", "line 1 has 4 fields, expected 15"),
    (TRAIN.splitlines()[0].replace("<=50K", "maybe") + "\n", "income label 'maybe'"),
    (TRAIN.splitlines()[0].replace("39,", "old,", 1) + "\n", "column age: 'old' is not a number"),
    (TRAIN.splitlines()[0].replace("39,", "-3,", 1) + "\n", "out of range"),
    (TRAIN.splitlines()[0].replace("Male", "M") + "\n", "column sex"),
    ("\n\n", "no data rows"),
])
def test_read_errors(tmp_path, bad, match):
    p = tmp_path / "bad.data"
    p.write_text(bad)
    with pytest.raises(ValueError, match=match) as e:
        read_adult(p)
    assert "bad.data" in str(e.value)


def test_binary_encoding_of_the_fair_representation_papers(adult_dir):
    from njscc.data.adult import BinaryAdultEncoder

    train = read_adult(adult_dir / "adult" / "adult.data")
    complete = train.complete()
    assert complete.tolist() == [True] * 9 + [False]          # the row with '?' goes
    enc = BinaryAdultEncoder.fit(train)
    assert enc.median["age"] == 39.0                           # median of the complete rows
    assert "sex" not in enc.categories                         # two categories: u, not x
    x = enc.transform(train.take(np.flatnonzero(complete)))
    assert set(np.unique(x).tolist()) <= {0.0, 1.0}
    names = enc.feature_names()
    assert x.shape == (9, len(names)) and names[0] == "age>39"
    age = train.numerical["age"][complete]
    np.testing.assert_array_equal(x[:, 0], (age > 39).astype(np.float32))
    for col, cats in enc.categories.items():                  # one-hot: one 1 per column
        cols = [i for i, n in enumerate(names) if n.startswith(col + "=")]
        assert len(cols) == len(cats) and (x[:, cols].sum(1) == 1).all()
    with pytest.raises(ValueError, match="complete rows"):
        enc.transform(train)
    ds = load_dataset("adult", "train", adult_dir, encoding="binary")
    assert len(ds) == 9 and ds.features.shape[1] == len(names)
    assert ds.sensitive.tolist() == [0, 0, 0, 0, 1, 1, 0, 1, 0]  # sex (Female = 1), not in x
    with pytest.raises(ValueError, match="not seen in training"):  # test-only categories
        load_dataset("adult", "test", adult_dir, encoding="binary")
    with pytest.raises(ValueError, match="encoding"):
        load_dataset("adult", "train", adult_dir, encoding="ordinal")
