"""The robustness package: latents, attacks, r-robustness, Lipschitz layers and certificates,
the scikit-learn classifiers, and the studies end to end on the embedded digits."""

from __future__ import annotations

import json
import math

import pytest
import torch

import channels
from njscc import models
from njscc.data import load_dataset
from njscc.evaluation.classifiers import CLASSIFIERS, fit_score, make_classifier
from njscc.experiments import EXPERIMENTS, execute
from njscc.nn.lipschitz import BjorckLinear, GroupSort, bjorck, lipschitz_mlp, lipschitz_upper_bound
from njscc.robustness import attacks as A
from njscc.robustness.certify import certified_radius, solve_radius
from njscc.robustness.latents import differentiable_code, latent_features
from njscc.robustness.rrobust import margin, r_robust_probability
from njscc.training import load_model
from njscc.training.runs import fit_codec


@pytest.fixture(scope="module")
def digits():
    tr, te = load_dataset("embedded", "train"), load_dataset("embedded", "test")
    return tr.images, tr.labels, te.images[:300], te.labels[:300]


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    """Small NECST (BSC 0.05), VAE and Lipschitz VAE trained briefly on real digits."""
    torch.set_num_threads(1)
    xtr = digits[0]
    root = tmp_path_factory.mktemp("robust_runs")
    bsc = channels.get("bsc", 0.05)
    fit_codec("necst_mlp", {"m": 32, "enc_hidden": [128], "dec_hidden": [128]}, "vimco", {},
              xtr, root / "embedded_m32_bsc_0.05", epochs=3, batch_size=50, seed=0, channel=bsc,
              run_info={"channel": {"name": "bsc", "train_param": 0.05}})
    fit_codec("vae_mlp", {"m": 8, "enc_hidden": [128], "dec_hidden": [128]}, "elbo", {},
              xtr[:6000], root / "embedded_vae8", epochs=3, seed=0)
    fit_codec("vae_lipschitz", {"m": 8, "enc_hidden": [64], "dec_hidden": [64],
                                "lipschitz_mean": 2.0, "lipschitz_std": 0.5,
                                "lipschitz_decoder": 4.0, "iters": 4}, "elbo", {},
              xtr[:6000], root / "embedded_lvae8", epochs=2, seed=0)
    return root


def _load(root, name):
    m = load_model(root / name)
    for p in m.parameters():
        p.requires_grad_(False)
    return m


# ------------------------------------------------------------------ latents
def test_straight_through_code_is_hard_forward_and_has_gradients(trained, digits):
    model = _load(trained, "embedded_m32_bsc_0.05")
    x = digits[2][:16].clone().requires_grad_(True)
    code = differentiable_code(model, x)
    assert torch.equal(code.detach(), model.compress(x.detach()).float())
    code.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    # through a BSC: forward = the channel's output for the same draw; flipped bits reverse
    bsc = channels.get("bsc", 0.3)
    y = differentiable_code(model, x, channel=bsc, generator=torch.Generator().manual_seed(5))
    ref = bsc(model.compress(x.detach()).float(), generator=torch.Generator().manual_seed(5))
    assert torch.equal(y.detach(), ref)


def test_relaxed_code_is_the_expected_decoder_input(trained, digits):
    model = _load(trained, "embedded_m32_bsc_0.05")
    x = digits[2][:8]
    p = torch.sigmoid(model.encode(x))
    eps = 0.2
    got = differentiable_code(model, x, channel=channels.get("bsc", eps), gradient="relaxed")
    assert torch.allclose(got, eps + (1 - 2 * eps) * p, atol=1e-6)
    got = differentiable_code(model, x, channel=channels.get("bec", eps), gradient="relaxed")
    assert torch.allclose(got, 0.5 + (1 - eps) * (p - 0.5), atol=1e-6)


def test_gaussian_code_and_features(trained, digits):
    vae = _load(trained, "embedded_vae8")
    x = digits[2][:8]
    mean, _ = vae.split(vae.encode(x))
    assert torch.allclose(differentiable_code(vae, x), mean)
    assert torch.allclose(latent_features(vae, x), mean)
    with pytest.raises(ValueError, match="binary channel"):
        latent_features(vae, x, channel=channels.get("bsc", 0.1))
    necst = _load(trained, "embedded_m32_bsc_0.05")
    f01 = latent_features(necst, x)
    fpm = latent_features(necst, x, values="pm1")
    assert torch.equal(fpm, 2 * f01 - 1)
    erased = latent_features(necst, x, channel=channels.get("bec", 1.0))
    assert torch.all(erased == 0.5)
    with pytest.raises(ValueError, match="values"):
        latent_features(necst, x, values="bits")


# ------------------------------------------------------------------ PGD and attacks
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_respects_the_ball_and_the_box_and_reaches_the_optimum(norm):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 4, 4, generator=g)
    target = torch.rand(6, 1, 4, 4, generator=g)
    budget = torch.tensor([0.0, 0.1, 0.3, 0.5, 1.0, 5.0])

    def obj(xa):
        return (xa - target).square().flatten(1).sum(1)

    delta, val = A.pgd(obj, x, budget, norm=norm, steps=200)
    n = A.norms(delta)[norm]
    assert torch.all(n <= budget + 1e-5)
    assert torch.all(x + delta >= -1e-7) and torch.all(x + delta <= 1 + 1e-7)
    assert torch.all(val <= obj(x) + 1e-6)
    assert float(n[0]) == 0.0
    # a huge ball contains the target: PGD reaches it (L∞ sign steps of α = 2.5·5/200 hover
    # within α of it per pixel: SSE ≤ 16 α²)
    assert float(obj(x + delta)[-1]) < (1e-3 if norm == "l2" else 16 * (2.5 * 5 / 200) ** 2)
    with pytest.raises(ValueError, match="norm"):
        A.pgd(obj, x, 1.0, norm="l1")
    with pytest.raises(ValueError, match="budget"):
        A.pgd(obj, x, -1.0)


@pytest.mark.parametrize("which", ["necst", "vae"])
def test_each_attack_lowers_its_own_objective(trained, digits, which):
    from njscc.robustness.oracle import latent_classifier

    xtr, ytr, xte, yte = digits
    model = _load(trained, "embedded_m32_bsc_0.05" if which == "necst" else "embedded_vae8")
    x, tgt_img = xte[:40], xte[40:80]
    tgt = yte[40:80]
    victim = latent_classifier(model, xtr[:2000], ytr[:2000], epochs=2)
    ch = channels.get("bsc", 0.05) if which == "necst" else None
    objs = {
        "classifier": A.classifier_objective(model, victim, tgt, channel=ch, n_draws=2,
                                             generator=torch.Generator().manual_seed(1)),
        "reconstruction": A.reconstruction_objective(model, tgt_img, channel=ch, n_draws=2,
                                                     generator=torch.Generator().manual_seed(2)),
        "latent": A.latent_objective(model, tgt_img),
    }
    for name, obj in objs.items():
        with torch.no_grad():
            start = obj(x)
        _, end = A.pgd(obj, x, 3.0, steps=30)
        assert float(end.mean()) < 0.9 * float(start.mean()), (name, start.mean(), end.mean())


# ------------------------------------------------------------------ r-robustness
def test_r_robust_probability_is_monotone_and_bounded(trained, digits):
    model = _load(trained, "embedded_vae8")
    x = digits[2][:20]
    g = torch.Generator().manual_seed(0)
    ps = [float(r_robust_probability(model, x, None, r, n_samples=40, generator=g).mean())
          for r in (0.5, 2.0, 5.0, 50.0)]
    assert all(0 <= p <= 1 for p in ps)
    assert ps == sorted(ps) and ps[-1] == 1.0
    with pytest.raises(ValueError, match="r must"):
        r_robust_probability(model, x, None, 0.0)


def test_margin_bisection_brackets(trained, digits):
    model = _load(trained, "embedded_vae8")
    x = digits[2][:10]
    out = margin(model, x, 6.0, max_radius=6.0, n_bisect=4, steps=10, n_samples=32,
                 generator=torch.Generator().manual_seed(0))
    m, up = out["margin"], out["upper"]
    assert torch.all(m >= 0) and torch.all(m <= 6.0)
    assert torch.all((up > m) | torch.isinf(up))
    assert torch.all(m[out["p0"] <= 0.5] == 0)


# ------------------------------------------------------------------ Lipschitz layers
@pytest.mark.parametrize("shape", [(20, 20), (50, 10), (10, 50)])
def test_bjorck_spectral_norm_is_at_most_one_and_converges(shape):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 3
    for iters in (1, 3, 30):
        s = torch.linalg.svdvals(bjorck(w, iters))
        assert float(s.max()) <= 1 + 1e-5
    assert float(s.min()) > 0.999  # 30 steps: orthonormal


def test_lipschitz_mlp_is_lipschitz_empirically():
    torch.manual_seed(0)
    net = lipschitz_mlp((30, 64, 64, 5), 2.5, iters=3)
    bound = lipschitz_upper_bound(net)
    assert bound <= 2.5 + 1e-4
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(500, 30, generator=g), torch.randn(500, 30, generator=g)
    b = a + 0.1 * b
    with torch.no_grad():
        ratio = (net(a) - net(b)).norm(dim=1) / (a - b).norm(dim=1)
    assert float(ratio.max()) <= bound + 1e-5
    x = torch.randn(7, 10)
    assert torch.allclose(GroupSort(2)(x).norm(dim=1), x.norm(dim=1))
    assert isinstance(net[1], BjorckLinear)
    with pytest.raises(ValueError, match="divisible"):
        lipschitz_mlp((4, 5, 2), 1.0)


def test_solve_radius_closed_form():
    s = torch.tensor([0.1, 0.5, 3.0], dtype=torch.float64)
    t = solve_radius(s, 2.0, 1.0, 0.5, 1.5)
    # the root satisfies the bound with equality where it is positive
    a, b, c = 1.25, 2 * 0.5 * s, 2 * s ** 2 - 4.0 / (2 * 1.5 ** 2)
    pos = t > 0
    assert torch.allclose((a * t ** 2 + b * t + c)[pos], torch.zeros(int(pos.sum()),
                                                                      dtype=t.dtype), atol=1e-9)
    assert float(t[2]) == 0.0  # 2 s² alone exceeds r²/(2 L²)
    ref = solve_radius(s, 2.0, 1.0, 0.5, 1.5, bound="reference")
    assert torch.all(ref <= t + 1e-12)


def test_certificate_is_never_broken_by_the_attack(trained, digits):
    lvae = _load(trained, "embedded_lvae8")
    lc = lvae.lipschitz_constants()
    assert lc["mean"] <= 2.0 + 1e-4 and lc["std"] <= 0.5 + 1e-4 and lc["decoder"] <= 1.0 + 1e-4
    x = digits[2][:30]
    r = 4.0
    cert = certified_radius(lvae, x, r)
    assert float(cert.max()) > 0, "the certificate should be non-trivial for some image"
    out = margin(lvae, x, r, max_radius=8.0, n_bisect=6, steps=30, n_samples=64,
                 generator=torch.Generator().manual_seed(0))
    assert torch.all(out["margin"] >= cert - 1e-6), (out["margin"], cert)
    with pytest.raises(ValueError, match="Lipschitz"):
        certified_radius(_load(trained, "embedded_vae8"), x, r)


# ------------------------------------------------------------------ classifiers + studies
def test_classifiers_fit_and_validate():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (300,), generator=g)
    x = torch.randn(300, 5, generator=g) * 0.3 + torch.nn.functional.one_hot(y, 5).float() * 2
    for name in CLASSIFIERS:
        acc = fit_score(make_classifier(name), x[:200], y[:200], x[200:], y[200:])
        assert acc > 0.8, (name, acc)
    with pytest.raises(ValueError, match="classifier"):
        make_classifier("lda")
    with pytest.raises(ValueError, match="differ"):
        fit_score(make_classifier("knn"), x[:10], y[:9], x, y)


def test_downstream_table_end_to_end(trained, tmp_path):
    study = EXPERIMENTS.get("downstream_table", runs_dir=str(trained), dataset="embedded", m=32,
                            train_eps=[0.05], vae=str(trained / "embedded_vae8"),
                            n_train=600, n_test=300, noise=["none", "both"])
    results, files = execute(study, out=tmp_path)
    met = results["downstream_table"]["metrics"]
    assert [c["noise"] for c in met["cells"]] == ["none", "both", "none"]
    for c in met["cells"]:
        assert set(c["accuracy"]) == set(CLASSIFIERS)
        assert c["accuracy"]["knn"] > 0.4, met["cells"]  # ten classes: chance is ≈ 0.1
    assert (tmp_path / "downstream_table.png").is_file()
    text = type(study).summary(results)
    assert "closest first" in text and "NECST ε=0.05" in text
    saved = json.loads((tmp_path / "downstream_table.json").read_text())
    assert saved["metrics"]["paper"]["0.1"]["knn"] == [0.95, 0.86]
    with pytest.raises(FileNotFoundError, match="no such run"):
        execute(EXPERIMENTS.get("downstream_table", runs_dir=str(tmp_path)), out=tmp_path / "x")


def test_attack_and_rrobustness_studies_end_to_end(trained, tmp_path):
    att = EXPERIMENTS.get("codec_attacks", models=[str(trained / "embedded_m32_bsc_0.05"),
                                                   str(trained / "embedded_vae8")],
                          dataset="embedded", n_pairs=20, budgets=[2.0, 5.0], steps=10,
                          n_draws=1, oracle_epochs=1, classifier_epochs=1)
    results, _ = execute(att, out=tmp_path / "att")
    rows = [r for r in results["attacks"]["metrics"]["rows"] if not r.get("summary")]
    assert {r["attack"] for r in rows} == {"classifier", "reconstruction", "latent"}
    assert all(r["objective_end"] <= r["objective_start"] + 1e-6 for r in rows)
    assert all(r["l2"] <= r["budget"] + 1e-5 for r in rows)
    assert any(r["through_channel"] for r in rows)
    assert (tmp_path / "att" / "attacks_gallery.png").is_file()
    rr = EXPERIMENTS.get("r_robustness", models=[str(trained / "embedded_lvae8"),
                                                 str(trained / "embedded_m32_bsc_0.05")],
                         dataset="embedded", n_images=8, r=[4.0], max_radius=6.0, n_bisect=3,
                         steps=8, n_samples=24)
    res, _ = execute(rr, out=tmp_path / "rr")
    rows = res["r_robustness"]["metrics"]["rows"]
    assert rows[0]["violations"] == 0 and "certified" not in rows[1]
    assert math.isfinite(rows[1]["margin_mean"])
    assert "certified" in type(rr).summary(res)


def test_robust_cli(trained, tmp_path, capsys):
    from njscc.cli import main

    assert main(["robust", "table", "--set", "nope=1"]) == 2
    assert "has no field" in capsys.readouterr().err
    out = tmp_path / "cli"
    rc = main(["robust", "rrobust", "--dataset", "embedded", "--model",
               str(trained / "embedded_vae8"), "--set", "n_images=4", "--set", "r=[6.0]",
               "--set", "n_bisect=2", "--set", "steps=4", "--set", "n_samples=16",
               "--out", str(out), "--quiet", "--threads", "1"])
    assert rc == 0
    assert "r-robustness margins" in capsys.readouterr().out
    assert json.loads((out / "r_robustness.json").read_text())["task"] == "r_robustness"


# ------------------------------------------------------------------ noise injections
def test_explicit_gni_regulariser_matches_monte_carlo(digits, tmp_path):
    from njscc.experiments.robustness.gni import regulariser_check

    xtr, ytr, xte, yte = digits
    res = fit_codec("mlp_classifier", {"hidden": [64, 64]}, "gni", {"sigma": 0.1},
                    load_dataset("embedded", "train"), tmp_path / "gni", epochs=1, seed=0)
    model = res["model"].eval()
    for sigma in (0.02, 0.05):
        c = regulariser_check(model, xte, yte, sigma, draws=400,
                              generator=torch.Generator().manual_seed(0))
        # second order in σ: the remainder is O(σ³) plus ReLU kinks; 15 % + 3 s.e.
        assert abs(c["explicit"] - c["mc"]) < 0.15 * c["mc"] + 3 * c["mc_se"], c
    # the hidden-only regulariser is part of the all-layers one
    from njscc.objectives.noise_injection import explicit_regulariser

    r_all, _ = explicit_regulariser(model, xte[:50], 0.1, create_graph=False)
    r_hid, _ = explicit_regulariser(model, xte[:50], 0.1, layers="hidden", create_graph=False)
    assert torch.all(r_hid <= r_all + 1e-9) and torch.all(r_hid >= 0)


def test_gni_study_end_to_end(tmp_path):
    study = EXPERIMENTS.get("gni", dataset="embedded", runs_dir=str(tmp_path / "runs"),
                            hidden=[32], sigmas=[0.2], epochs=1, check_sigmas=[0.05],
                            check_draws=20, check_images=200, n_test=500)
    results, _ = execute(study, out=tmp_path / "out")
    rows = results["gni"]["metrics"]["rows"]
    assert [r["objective"] for r in rows] == ["gni", "gni", "gni_explicit"]
    for r in rows:
        assert r["accuracy"] > 0.5 and 0 <= r["ece"] <= 1 and r["margin_mean"] > 0
    # the same seed, clean CE retrained is reproducible (resumes the finished run)
    again, _ = execute(study, out=tmp_path / "out2")
    assert again["gni"]["metrics"]["rows"][0]["accuracy"] == rows[0]["accuracy"]
    assert (tmp_path / "out" / "gni.png").is_file()


# ------------------------------------------------------------------ smoothness
def test_smoothness_measures_on_closed_forms():
    from njscc.robustness.smoothness import high_frequency_fraction, jacobian_spectral_norm

    w = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
    z = torch.randn(5, 3)
    est = jacobian_spectral_norm(lambda v: v @ w.T, z, iters=50)
    assert torch.allclose(est, torch.linalg.matrix_norm(w, 2).expand(5), rtol=1e-4)
    z1 = torch.randn(6, 1)
    fast = high_frequency_fraction(lambda v: torch.sin(2 * math.pi * 2.0 * v), z1)
    slow = high_frequency_fraction(lambda v: torch.sin(2 * math.pi * 0.1 * v), z1)
    assert torch.all(fast > 0.99) and torch.all(slow < 0.01)
    with pytest.raises(ValueError, match="cutoff"):
        high_frequency_fraction(lambda v: v, z1, cutoff=100.0)


def test_fixed_variance_vae_and_smoothness_study(tmp_path):
    vae = models.get("vae_mlp", m=3, fixed_variance=0.25)
    h = vae.encode(torch.rand(2, 1, 28, 28))
    assert torch.allclose(h[:, 3:], torch.full((2, 3), math.log(0.25)))
    with pytest.raises(ValueError, match="fixed_variance"):
        models.get("vae_mlp", fixed_variance=0.0)
    study = EXPERIMENTS.get("vae_smoothness", dataset="embedded", runs_dir=str(tmp_path / "r"),
                            m=4, variances=[0.01, 1.0], hidden=[64], epochs=2, n_latent=40,
                            power_iters=10)
    res, _ = execute(study, out=tmp_path / "o")
    rows = res["smoothness"]["metrics"]["rows"]
    assert [r["variance"] for r in rows] == [0.01, 1.0]
    # the large-variance decoder is the smoother one (what the study is about)
    assert rows[1]["lipschitz_mean"] < rows[0]["lipschitz_mean"]


# ------------------------------------------------------------------ channel mismatch
def test_mismatch_heatmap_grows_with_test_eps(trained, tmp_path):
    import shutil

    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(trained / "embedded_m32_bsc_0.05", runs / "embedded_m32_bsc_0.05")
    study = EXPERIMENTS.get("channel_mismatch", runs_dir=str(runs), m=32, channels=["bsc"],
                            train_eps=[0.05], test_eps=[0.0, 0.1, 0.3], cross=["bsc>ge"],
                            dataset="embedded", n_images=400)
    res, _ = execute(study, out=tmp_path / "o")
    met = res["mismatch"]["metrics"]
    row = met["heatmaps"]["bsc"][0]
    assert row["sse"][0] < row["sse"][1] < row["sse"][2]
    for a, b, sa, sb in zip(row["sse"], row["sse"][1:], row["sse_se"], row["sse_se"][1:],
                            strict=False):
        assert b - a > 2 * math.hypot(sa, sb)
    assert met["cross"][0]["tested"] == "ge" and met["cross"][0]["sse_other"] > 0
    assert (tmp_path / "o" / "mismatch.png").is_file()
    with pytest.raises(FileNotFoundError, match="njscc train"):
        execute(EXPERIMENTS.get("channel_mismatch", runs_dir=str(runs), m=32,
                                channels=["bec"], train_eps=[0.1], cross=[],
                                dataset="embedded"), out=tmp_path / "x")


# ------------------------------------------------------------------ ATN
def test_rerank_and_atn_study(tmp_path):
    from njscc.robustness.atn import ATN, rerank

    p = torch.tensor([[0.7, 0.2, 0.1]])
    r = rerank(p, 2, alpha=2.0)
    assert torch.allclose(r, torch.tensor([[0.7, 0.2, 1.4]]) / 2.3)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        d = ATN(kind="perturbation", max_perturbation=0.1)(x) - x
    assert float(d.abs().max()) <= 0.1 + 1e-6
    study = EXPERIMENTS.get("atn", dataset="embedded", targets=[3], epochs=2, n_train=3000,
                            n_test=500, classifier_epochs=1, classifier_train=3000,
                            betas=[0.01], pgd_eps=[0.5, 3.0], pgd_steps=20, pgd_n=200)
    res, _ = execute(study, out=tmp_path)
    rows = res["atn"]["metrics"]["rows"]
    assert [r["kind"] for r in rows] == ["perturbation", "autoencoder", "pgd_l2", "pgd_l2"]
    for row in rows[:2]:  # a trained ATN fools the victim far more often than chance (≈ 1 %)
        assert row["success"] > 0.2, row
        assert 0 <= row["fooled"] <= min(row["success"], row["judge_true_class"]) + 1e-12
    small, large = rows[2:]
    # the library attack stays inside its budget, and a larger budget succeeds more often
    assert small["l2"] <= 0.5 + 1e-4 and large["l2"] <= 3.0 + 1e-4
    assert large["success"] > max(small["success"], 0.5), (small, large)
    assert (tmp_path / "atn_gallery.png").is_file() and (tmp_path / "atn.png").is_file()


def test_robust_cli_fields_fit_every_study():
    import dataclasses

    from njscc.cli.commands.robust import STUDIES

    for cli, (name, model_field, _) in STUDIES.items():
        fields = {f.name for f in dataclasses.fields(EXPERIMENTS.entry(name).factory)}
        assert {"dataset", "data_dir", "seed"} <= fields, cli
        assert model_field is None or model_field in fields, cli
