"""The U-Net HVAE study on real binarized MNIST (tiny budget): both models train, the IWAE
bound sits above the ELBO of the same images, weight sharing has fewer parameters."""

from __future__ import annotations

import json

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_unet_hvae_study(data_dir, tmp_path):
    out = tmp_path / "u"
    sets = ["--set", f'data_dir="{data_dir}"', "--set", "train_size=512",
            "--set", "test_size=200", "--set", "epochs=1", "--set", "channels=4",
            "--set", "z_channels=1", "--set", "iwae_samples=8", "--set", "iwae_images=50",
            "--set", f'runs_dir="{tmp_path / "runs"}"']
    assert main(["experiment", "unet_hvae", *sets, "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    rows = json.loads((out / "unet_hvae.json").read_text())["metrics"]["rows"]
    assert [r["shared"] for r in rows] == [False, True]
    assert rows[1]["parameters"] < rows[0]["parameters"]
    for r in rows:
        assert -800 < r["elbo_nats"] < 0 and r["iwae_nats"] >= r["elbo_subset_nats"] - 2.0
        assert set(r["rate_by_resolution_nats"]) == {"4", "8", "16"}
    assert (out / "unet_hvae.png").is_file()
