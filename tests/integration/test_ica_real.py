"""The identifiability study end to end from the CLI (tiny budget): synthetic sources and
real binarized MNIST."""

from __future__ import annotations

import json

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_ica_study_measures_mcc_for_every_method(data_dir, tmp_path):
    out = tmp_path / "ica"
    sets = ["--set", f'data_dir="{data_dir}"', "--set", "epochs=2", "--set", "n_train=600",
            "--set", "n_test=300", "--set", "mnist_epochs=1", "--set", "mnist_train_size=600",
            "--set", "n_models=2", "--set", f'runs_dir="{tmp_path / "runs"}"']
    assert main(["experiment", "ica", *sets, "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    rows = json.loads((out / "ica.json").read_text())["metrics"]["rows"]
    assert [(r["part"], r["method"]) for r in rows] == [
        (p, m) for p in ("synthetic", "mnist") for m in ("vae", "mog_vae", "ivae")]
    for r in rows:
        assert 0 <= r["mcc_seeds"] <= 1 and 0 <= r["cca_seeds"] <= 1
        assert len(r["mcc_seeds_pairs"]) == 1 and r["n_models"] == 2
        assert ("mcc_true" in r) == (r["part"] == "synthetic")
        assert ("cluster_acc" in r) == (r["method"] == "mog_vae")
    assert (out / "ica.png").is_file()
    assert main(["experiment", "ica", "--set", 'parts=["cifar"]', "--out",
                 str(tmp_path)]) != 0
