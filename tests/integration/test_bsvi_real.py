"""The BSVI study (VAE / IWAE / SVI / BSVI on one VAE) end to end on the real datasets."""

from __future__ import annotations

import json

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_bsvi_study_runs_from_the_cli(data_dir, tmp_path):
    out = tmp_path / "bsvi"
    sets = ['--set', 'objectives=["elbo","bsvi"]', "--set", "epochs=1", "--set", "m=8",
            "--set", "hidden=[32]", "--set", "train_size=600", "--set", "iwae_k=20",
            "--set", "eval_images=50", "--set", "eval_chains=4", "--set", "gap_steps=20",
            "--set", "k=3", "--set", "step_size=0.01", "--set", f'data_dir="{data_dir}"',
            "--set", f'runs_dir="{tmp_path / "runs"}"']
    assert main(["experiment", "bsvi", *sets, "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    r = json.loads((out / "bsvi.json").read_text())
    rows = r["metrics"]["rows"]
    assert [(x["dataset"], x["objective"]) for x in rows] == [
        ("binarized_mnist", "elbo"), ("binarized_mnist", "bsvi"),
        ("omniglot", "elbo"), ("omniglot", "bsvi")]
    for x in rows:
        # ln p(x) estimates of binary 28×28 images: negative, and the importance-weighted
        # estimates sit above the encoder's ELBO; SVI refinement does not lower the ELBO
        assert -600 < x["elbo"] < x["iwae"] < 0, x
        assert x["bsvi_eval"] > x["elbo"], x
        assert x["gap"] > -3 * x["gap_se"], x
    assert rows[2]["paper"] == -89.83 and "paper" not in rows[0]
    assert (out / "bsvi.png").is_file()


def test_bsvi_study_rejects_unknown_names(tmp_path):
    from njscc.experiments import EXPERIMENTS, execute

    with pytest.raises(ValueError, match="objectives"):
        execute(EXPERIMENTS.get("bsvi", objectives=["nope"]), out=tmp_path)
    with pytest.raises(ValueError, match="datasets"):
        execute(EXPERIMENTS.get("bsvi", datasets=["cifar"]), out=tmp_path)
