"""Flow feature map + non-square linear ICA: the exact density (against an explicit
orthogonal complement, and normalised on a grid), invertibility, the Stiefel penalty, the
data generator, the study end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from njscc import models, objectives
from njscc.data import Batch
from njscc.data.ica import make_bijective_ica


def flow(**kw):
    torch.manual_seed(0)
    return models.get("flow_ica", **kw).double()


def test_density_matches_the_explicit_orthogonal_complement():
    model = flow(n_sources=2, data_shape=[5], noise=0.3)
    with torch.no_grad():  # orthonormal to float64 precision (the formula assumes AᵀA = I)
        model.mixing.copy_(torch.linalg.qr(model.mixing)[0])
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y, ladj = model.features(x)
    a = model.mixing.detach()
    full, _ = torch.linalg.qr(torch.cat([a, torch.randn(5, 3, dtype=torch.float64)], 1))
    perp = full[:, 2:]
    s, n = y @ a, y @ perp
    log_s = (-s - 2 * torch.nn.functional.softplus(-s)).sum(-1)
    sig = 0.3
    log_n = (-0.5 * (n / sig).square() - math.log(sig) - 0.5 * math.log(2 * math.pi)).sum(-1)
    torch.testing.assert_close(model.log_likelihood(x), log_s + log_n + ladj)


def test_density_integrates_to_one():
    model = flow(n_sources=1, data_shape=[2], noise=0.7, hidden=[8], transforms=2)
    g = torch.linspace(-14, 14, 561, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([xx.flatten(), yy.flatten()], -1)
    with torch.no_grad():
        dens = model.log_likelihood(pts).exp()
    total = float(dens.sum() * (g[1] - g[0]) ** 2)
    assert total == pytest.approx(1.0, abs=0.02)


def test_square_model_inverts_and_penalty_is_zero_at_start():
    model = flow(n_sources=4, data_shape=[4], source_prior="gaussian")
    x = torch.randn(6, 4, dtype=torch.float64)
    torch.testing.assert_close(model.decode(model.encode(x)), x, atol=1e-6, rtol=1e-6)
    assert float(model.penalty().detach()) == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        model.mixing.mul_(1.1)
    assert float(model.penalty().detach()) > 0
    with pytest.raises(ValueError, match="must not exceed"):
        models.get("flow_ica", n_sources=5, data_shape=[4])


def test_generator_is_seeded_and_has_the_stated_structure():
    a = make_bijective_ica("train", 2000, seed=3)
    b = make_bijective_ica("train", 2000, seed=3)
    c = make_bijective_ica("test", 2000, seed=3)
    assert torch.equal(a["x"], b["x"]) and not torch.equal(a["x"], c["x"])
    assert torch.equal(a["mixing"], c["mixing"])
    m = a["mixing"].double()
    torch.testing.assert_close(m.T @ m, torch.eye(3, dtype=torch.float64), atol=1e-6, rtol=0)
    # logistic sources: variance π²/3 (4 s.e. of the sample variance)
    var = a["sources"].var(0).double()
    assert torch.all((var - math.pi ** 2 / 3).abs() < 4 * math.sqrt(2 * 16.2 / 2000) * 3)
    # the features are A s plus noise orthogonal to A
    resid = a["features"].double() - a["sources"].double() @ m.T
    assert float((resid @ m).abs().max()) < 1e-4
    assert float(resid.std()) == pytest.approx(0.1 * math.sqrt(3 / 6), rel=0.1)


def test_nll_objective_trains_flow_ica():
    data = make_bijective_ica("train", 1024, seed=0)
    torch.manual_seed(0)
    model = models.get("flow_ica", hidden=[16], transforms=2)
    objective = objectives.get("nll")
    objective.check(model)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    losses = []
    for i in range(40):
        loss, stats = objective(model, Batch(data["x"][(i % 4) * 256:(i % 4 + 1) * 256]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(stats["loss"])
    assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:4])
    with pytest.raises(ValueError, match="exact log_likelihood"):
        objective.check(models.get("vae_mlp"))


def test_study_end_to_end(tmp_path):
    from njscc.cli import main

    out = tmp_path / "b"
    assert main(["experiment", "bijective_ica", "--set", "epochs=2", "--set", "n_train=1024",
                 "--set", "n_test=500", "--set", f'runs_dir="{tmp_path / "runs"}"',
                 "--threads", "1", "--quiet", "--out", str(out)]) == 0
    rows = json.loads((out / "bijective_ica.json").read_text())["metrics"]["rows"]
    assert [r["method"] for r in rows] == ["flow_ica", "flow_alone", "flow_then_fastica",
                                           "fastica"]
    assert all(0 <= r["mcc"] <= 1 for r in rows)
    assert (out / "bijective_ica.png").is_file()
