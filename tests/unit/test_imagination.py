"""The 3 C's of imagination: exact values on constructed predictions, 1.0 on real data."""

from __future__ import annotations

import json
import math

import pytest
import torch

from njscc.data import load_dataset
from njscc.data.mnist_a import make_mnist_a
from njscc.evaluation.imagination import (
    chance_correctness,
    correctness,
    coverage,
    imagine,
    train_attribute_classifier,
)
from njscc.models import MODELS

SIZES = (10, 2, 3, 4)


def _queries(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, k, (n,), generator=g) for k in SIZES], 1)


def test_correctness_exact_and_chance():
    q = _queries(50, 0)
    mask = torch.ones(50, 4, dtype=torch.bool)
    mask[:25, 3] = False
    perfect = q.unsqueeze(1).expand(50, 7, 4)
    assert correctness(perfect, q, mask) == 1.0
    wrong = perfect.clone()
    wrong[..., 1] = 1 - wrong[..., 1]  # one of the 3 or 4 specified attributes always wrong
    assert math.isclose(correctness(wrong, q, mask), 0.5 * (2 / 3) + 0.5 * (3 / 4))
    g = torch.Generator().manual_seed(1)
    noise = torch.stack([torch.randint(0, k, (50, 400), generator=g) for k in SIZES], -1)
    assert abs(correctness(noise, q, mask) - chance_correctness(SIZES, mask)) < 0.02
    with pytest.raises(ValueError, match="expected pred"):
        correctness(perfect[:, 0], q, mask)


def test_coverage_uniform_is_one_and_constant_is_closed_form():
    q = _queries(4, 2)
    mask = torch.tensor([[True, True, True, False]] * 4)
    balanced = q.unsqueeze(1).repeat(1, 8, 1)
    balanced[..., 3] = torch.arange(8) % 4  # every location equally often
    assert math.isclose(coverage(balanced, q, mask, SIZES), 1.0, abs_tol=1e-12)
    const = balanced.clone()
    const[..., 3] = 2
    k = 4
    jsd = 0.5 * (math.log(2 * k / (k + 1))
                 + (1 / k) * math.log(2 / (k + 1)) + ((k - 1) / k) * math.log(2))
    assert math.isclose(coverage(const, q, mask, SIZES), 1 - jsd, rel_tol=1e-9)
    assert coverage(balanced, q, torch.ones(4, 4, dtype=torch.bool), SIZES) == 1.0


def test_real_data_scores_one():
    """Real MNIST-A images read by an ideal reader (their true attributes) as the answers to
    queries with one attribute left out: correctness 1 and coverage ≈ 1 (the data's values
    of the missing attribute are uniform)."""
    d = load_dataset("embedded", "train")
    a = make_mnist_a(d.images[:6000], d.labels[:6000], "train", canvas=32, seed=0)["attributes"]
    queries, masks, preds = [], [], []
    for combo in {tuple(r) for r in a[:300, :3].tolist()}:
        rows = a[(a[:, :3] == torch.tensor(combo)).all(1)][:16]
        if rows.shape[0] < 16:
            continue
        queries.append(torch.tensor([*combo, 0]))
        masks.append(torch.tensor([True, True, True, False]))
        preds.append(rows)
    q, m, p = torch.stack(queries), torch.stack(masks), torch.stack(preds)
    assert q.shape[0] >= 10
    assert correctness(p, q, m) == 1.0
    assert coverage(p, q, m, SIZES) > 0.85


def test_classifier_reads_real_mnist_a_and_not_noise():
    d = load_dataset("embedded", "train")
    tr = make_mnist_a(d.images[:6000], d.labels[:6000], "train", canvas=32, seed=0)
    te = make_mnist_a(d.images[:6000], d.labels[:6000], "test", canvas=32, seed=0)
    clf = train_attribute_classifier(tr["images"], tr["attributes"], SIZES, epochs=2)
    y = te["attributes"]
    mask = torch.ones_like(y, dtype=torch.bool)
    pred = clf.predict(te["images"])
    real = correctness(pred.unsqueeze(1), y, mask)
    g = torch.Generator().manual_seed(0)
    noise = torch.bernoulli(torch.full_like(te["images"], 0.05), generator=g)
    fake = correctness(clf.predict(noise).unsqueeze(1), y, mask)
    chance = chance_correctness(SIZES, mask)
    assert float((pred[:, 3] == y[:, 3]).double().mean()) > 0.9  # location: easy to read
    assert real > chance + 0.2, (real, chance)
    assert fake < chance + 0.15, (fake, chance)


def test_imagine_shapes_and_determinism():
    torch.manual_seed(0)
    m = MODELS.get("joint_vae", data_shape=(1, 32, 32), enc_hidden=(32,), dec_hidden=(32,))
    q = _queries(3, 4)
    mask = torch.tensor([[True, True, False, True]] * 3)
    a = imagine(m, q, mask, 5, torch.Generator().manual_seed(7))
    b = imagine(m, q, mask, 5, torch.Generator().manual_seed(7))
    assert a.shape == (3, 5, 1, 32, 32) and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    means = imagine(m, q, mask, 5, torch.Generator().manual_seed(7), sample=False)
    assert means.shape == a.shape and 0 < means.min() and means.max() < 1  # sigmoid means
    # the samples are Bernoulli draws from those means: ≈ equal on average (±5σ)
    many = imagine(m, q, mask, 200, torch.Generator().manual_seed(8)).mean(1)
    mean_of_means = imagine(m, q, mask, 200, torch.Generator().manual_seed(8),
                            sample=False).mean(1)
    assert (many - mean_of_means).abs().mean() < 5 * 0.5 / 200 ** 0.5


def test_attribute_classifier_cache_reloads_and_retrains_on_change(tmp_path):
    g = torch.Generator().manual_seed(3)
    x = torch.bernoulli(torch.full((64, 1, 32, 32), 0.2), generator=g)
    y = torch.stack([torch.randint(0, k, (64,), generator=g) for k in SIZES], -1)
    cache = tmp_path / "judge.safetensors"
    a = train_attribute_classifier(x, y, SIZES, epochs=1, cache=cache, data_id="a")
    b = train_attribute_classifier(x, y, SIZES, epochs=1, cache=cache, data_id="a")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    # a different training set (named by data_id) or seed is not served from the cache
    c = train_attribute_classifier(x, y, SIZES, epochs=1, cache=cache, data_id="b", seed=1)
    assert not torch.equal(c.state_dict()["body.net.0.weight"], a.state_dict()["body.net.0.weight"])
    assert json.loads((tmp_path / "judge.safetensors.meta").read_text())["data"] == "b"
