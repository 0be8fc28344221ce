"""The FFVAE study end to end from the CLI (tiny budget): generated dSprites and real Adult."""

from __future__ import annotations

import json

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_ffvae_study_measures_every_method_on_every_subgroup(data_dir, tmp_path):
    out = tmp_path / "ffvae"
    sets = ["--set", f'data_dir="{data_dir}"', "--set", "epochs=1", "--set", "dsprites_n=400",
            "--set", "ffvae_alpha=[10.0]", "--set", "ffvae_gamma=[10.0]",
            "--set", "factorvae_gamma=[10.0]", "--set", "cvae_beta=[1.0]",
            "--set", "clf_epochs=1", "--set", "max_conjunction=2",
            "--set", f'runs_dir="{tmp_path / "runs"}"']
    assert main(["experiment", "ffvae", *sets, "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    m = json.loads((out / "ffvae.json").read_text())["metrics"]
    rows = m["rows"]
    # dSprites: 2 targets × (3 singles + 3 pairs); Adult: 1 target × (2 + 1); 4 variants each
    for dataset, n_tasks in (("dsprites_unfair", 12), ("adult", 3)):
        here = [r for r in rows if r["dataset"] == dataset]
        assert len(here) == 4 * n_tasks
        assert {r["method"] for r in here} == {"ffvae", "ffvae_keep", "factorvae", "cvae"}
        for r in here:
            assert 0 <= r["dp"] <= 1 and 0 < r["accuracy"] <= 1
            assert 0 < r["subgroup_rate"] < 1 and 0.5 <= r["majority"] < 1
    pair = next(r for r in rows if r["subgroup"] == ["shape", "scale"])
    assert pair["task"] == "x_pos | shape∧scale"
    ff = [x for x in m["models"] if x["method"] == "ffvae"]
    assert {x["dataset"] for x in ff} == {"dsprites_unfair", "adult"}
    assert set(ff[0]["b_accuracy"]) == {"shape", "scale", "rotation"}
    # the frontier is read off the rows: best accuracy among points with ΔDP ≤ τ
    for f in m["frontier"]:
        pts = [r for r in rows if r["task"] == f["task"] and r["method"] == f["method"]
               and r["dataset"] == f["dataset"]]
        ok = [r["accuracy"] for r in pts if r["dp"] <= f["tau"]]
        assert f["acc_at_tau"] == (max(ok) if ok else None)
        assert f["min_dp"] == min(r["dp"] for r in pts)
    assert (out / "ffvae_dsprites_unfair.png").is_file() and (out / "ffvae_adult.png").is_file()
    assert main(["experiment", "ffvae", "--set", 'datasets=["celeba"]', "--out",
                 str(tmp_path)]) != 0
