"""The TELBO study (MNIST-A, TELBO / JMVAE / bi-VCCA, the 3 C's) end to end from the CLI."""

from __future__ import annotations

import json

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_telbo_study_runs_from_the_cli(data_dir, tmp_path):
    out = tmp_path / "telbo"
    sets = ["--set", "n_source=1500", "--set", "epochs=1", "--set", "classifier_epochs=1",
            "--set", "n_samples=3", "--set", "max_queries=40", "--set", "hidden=[32]",
            "--set", 'objectives=["telbo","bivcca"]', "--set", f'data_dir="{data_dir}"',
            "--set", "canvas=32", "--set", f'runs_dir="{tmp_path / "runs"}"',
            "--set", f'judge_dir="{tmp_path / "judges"}"']
    assert main(["experiment", "telbo", *sets, "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    r = json.loads((out / "telbo.json").read_text())
    rows = r["metrics"]["rows"]
    assert [(x["split_type"], x["objective"]) for x in rows] == [
        ("iid", "telbo"), ("iid", "bivcca"), ("comp", "telbo"), ("comp", "bivcca")]
    for x in rows:
        for k in ("correctness_4", "correctness_3", "coverage_3"):
            assert 0 <= x[k] <= 1, (k, x)
        assert 0 < x["chance_3"] < x["chance_4"] + 0.2 and x["queries_3"] > 0
        assert x["judge_accuracy"]["location"] > 0.5  # the judge reads the easy attribute
    assert (out / "telbo.png").is_file() and (out / "telbo_gallery.png").is_file()
    gal = json.loads((out / "telbo_gallery.json").read_text())["metrics"]["rows"]
    assert {g["images_are"] for g in gal} == {"means of p(x | z)"}
    assert all(len(g["images"]) == 4 * len(g["query"]) for g in gal)
    assert len({q[0] for q in gal[0]["query"]}) > 1   # queries spread over the digits
    assert sorted(p.name for p in (tmp_path / "judges").glob("*.safetensors")) == [
        "judge_comp_c32_d0.safetensors", "judge_iid_c32_d0.safetensors"]
