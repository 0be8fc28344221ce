"""MFCVAE on real MNIST (tiny budget): the ELBO rises, the deep facet clusters digits well
above chance, the study writes its results and galleries and redraws them from the JSON."""

from __future__ import annotations

import json

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_mfcvae_study_learns_clusters_on_mnist(data_dir, tmp_path):
    out = tmp_path / "mf"
    sets = ["--set", f'data_dir="{data_dir}"', "--set", "train_size=6000",
            "--set", "test_size=1000", "--set", "epochs_per_stage=3",
            "--set", "fade_in_epochs=2", "--set", "batch_size=200",
            "--set", "gallery_clusters=3", "--set", "gallery_images=4",
            "--set", f'runs_dir="{tmp_path / "runs"}"']
    assert main(["experiment", "mfcvae", *sets, "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    res = json.loads((out / "mfcvae.json").read_text())
    m = res["metrics"]
    log = (tmp_path / "runs" / "mfcvae_mnist" / "log.jsonl").read_text().splitlines()
    losses = [json.loads(line)["loss"] for line in log]
    assert len(m["facets"]) == 2 and m["best_facet"] in (0, 1)
    # majority-mapped accuracy of 25 random clusters on 10 balanced digits is ≈ 0.12
    assert m["accuracy"] > 0.2, m["facets"]
    assert m["schedule_end"] == {"alpha": [1.0, 1.0], "gamma": [1.0, 1.0]}
    assert m["training"]["epochs"] == 6 and m["elbo"] > -400
    assert len(losses) == 6 and losses[-1] < losses[0]
    gallery = json.loads((out / "mfcvae_gallery.json").read_text())["metrics"]
    assert [len(f["rows"]) for f in gallery["facets"]] == [3, 3]
    assert len(gallery["compose"]["grid"]) == 4 and len(gallery["compose"]["grid"][0]) == 4
    for name in ("mfcvae_clusters_facet0.png", "mfcvae_clusters_facet1.png",
                 "mfcvae_compose.png"):
        assert (out / name).stat().st_size > 1000
        (out / name).unlink()
    assert main(["experiment", "mfcvae", "--plots-only", "--out", str(out)]) == 0
    assert (out / "mfcvae_compose.png").is_file()
    # bad settings are refused with a message, not a traceback
    assert main(["experiment", "mfcvae", "--set", "epochs_per_stage=2", "--set",
                 "fade_in_epochs=5", "--out", str(tmp_path / "bad")]) != 0
