"""rd-sweep and vib commands on the real datasets (tiny budgets; ``data_dir`` fixture)."""

from __future__ import annotations

import json
import math

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_rd_sweep_places_necst_on_the_plane(data_dir, tmp_path):
    necst = tmp_path / "necst"
    assert main(["train", "--preset", "binarized_mnist", "--data-dir", str(data_dir),
                 "--m", "8", "--epochs", "1", "--train-size", "300", "--test-size", "100",
                 "--threads", "1", "--quiet", "--out", str(necst)]) == 0
    out = tmp_path / "rd"
    assert main(["rd-sweep", "--data-dir", str(data_dir), "--betas", "0.5,4", "--m", "4",
                 "--hidden", "16", "--epochs", "1", "--train-size", "300", "--iwae-k", "5",
                 "--iwae-images", "50", "--gilbo-steps", "10", "--necst", str(necst),
                 "--runs-dir", str(tmp_path / "runs"), "--out", str(out), "--quiet"]) == 0
    r = json.loads((out / "rd_sweep.json").read_text())
    assert r["schema"] == "njscc.result/1" and r["task"] == "rd_sweep"
    m = r["metrics"]
    assert [p["beta"] for p in m["vae"]] == [0.5, 4.0]
    for p in m["vae"]:
        assert p["rate_nats"] >= 0 and p["nll_iwae_nats"] > 0 and math.isfinite(p["gilbo_nats"])
    n = m["necst"][0]
    assert n["channel"] == "bsc" and n["param"] == 0.1
    assert n["rate_capacity_nats"] == pytest.approx(8 * (1 - 0.4689955935892812) * math.log(2))
    assert n["rate_variational_nats"] <= n["rate_capacity_nats"] + 1e-9
    assert n["gilbo_nats"] <= 8 * math.log(2)
    assert m["entropy_proxy_nats"] == min(p["nll_iwae_nats"] for p in m["vae"])
    assert (out / "rd_plane.png").stat().st_size > 0
    assert "NECST m=8" in (out / "rd_table.md").read_text()


def test_vib_with_kodak_ood(data_dir, tmp_path):
    out = tmp_path / "vib"
    assert main(["vib", "--data-dir", str(data_dir), "--betas", "1e-3", "--m", "16",
                 "--hidden", "64", "--epochs", "1", "--train-size", "10000", "--test-size", "500",
                 "--n-ood", "100", "--runs-dir", str(tmp_path / "runs"), "--out", str(out),
                 "--quiet"]) == 0
    r = json.loads((out / "vib.json").read_text())
    assert r["metrics"]["ood_sets"] == {"kodak_grey_crops": 100, "pixel_shuffled_mnist": 100,
                                        "uniform_noise": 100}
    for row in r["metrics"]["models"]:
        assert row["test_error"] < 0.4  # chance: 0.9
        for a in row["auroc"].values():
            assert 0 <= a["entropy"] <= 1
