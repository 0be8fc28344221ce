"""The experiment contract: execute() once or per seed, aggregation over seeds, redraw."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import ClassVar

import pytest

from njscc.experiments import EXPERIMENTS, Study, aggregate_seeds, execute, fmt_pm, load_results
from njscc.io.results import make_result


@dataclasses.dataclass
class Toy(Study):
    """A study whose numbers are a known function of the seed."""

    scale: float = 1.0
    seed: int = 0
    runs_dir: str = "runs/toy"

    def run(self, out: Path, log=None):  # noqa: ANN001, ANN201
        metrics = {"value": self.scale * (self.seed + 1), "curve": [self.seed, 2.0 * self.seed],
                   "name": "toy", "nested": {"a": float(self.seed)}, "runs": self.runs_dir}
        return {"toy": make_result("toy", metrics, config={"study": self.config_dict()})}

    @classmethod
    def plot(cls, results, out):  # noqa: ANN001, ANN206
        p = Path(out) / "toy.txt"
        p.write_text(str(results["toy"]["metrics"]["value"]))
        return [p]

    @classmethod
    def summary(cls, results):  # noqa: ANN001, ANN206
        m, s = results["toy"]["metrics"], results["toy"].get("metrics_std") or {}
        return fmt_pm(m["value"], s.get("value"))


def test_single_run_writes_result_and_plot(tmp_path: Path) -> None:
    results, files = execute(Toy(scale=2.0, seed=4), out=tmp_path)
    assert results["toy"]["metrics"]["value"] == 10.0
    assert {p.name for p in files} == {"toy.json", "toy.txt"}
    assert load_results(tmp_path)["toy"]["metrics"]["value"] == 10.0
    assert "metrics_std" not in results["toy"]


def test_seeds_give_mean_and_sample_std_and_per_seed_files(tmp_path: Path) -> None:
    results, files = execute(Toy(), out=tmp_path, seeds=[0, 1, 2])
    r = results["toy"]
    assert r["seeds"] == [0, 1, 2] and r["config"]["seeds"] == [0, 1, 2]
    assert r["metrics"]["value"] == pytest.approx(2.0)          # mean of 1, 2, 3
    assert r["metrics_std"]["value"] == pytest.approx(1.0)      # sample std (ddof 1)
    assert r["metrics"]["curve"] == pytest.approx([1.0, 2.0])
    assert r["metrics_std"]["curve"] == pytest.approx([1.0, 2.0])
    assert r["metrics"]["name"] == "toy" and r["metrics_std"]["name"] is None
    assert r["metrics"]["nested"]["a"] == pytest.approx(1.0)
    assert [m["value"] for m in r["per_seed"]] == [1.0, 2.0, 3.0]
    # each seed in its own folder, its models under runs_dir/seed_<s>
    for s in (0, 1, 2):
        one = json.loads((tmp_path / f"seed_{s}" / "toy.json").read_text())
        assert one["metrics"]["value"] == s + 1
        assert one["metrics"]["runs"] == f"runs/toy/seed_{s}"
    assert r["metrics"]["runs"] == ["runs/toy/seed_0", "runs/toy/seed_1", "runs/toy/seed_2"]
    assert Toy.summary(results) == "2.00 ± 1.00"
    assert (tmp_path / "toy.txt").read_text() == "2.0"


@dataclasses.dataclass
class ToyWithGallery(Toy):
    """Toy plus an image gallery, which illustrates one seed and is not averaged."""

    illustrations: ClassVar[tuple[str, ...]] = ("gallery",)

    def run(self, out: Path, log=None):  # noqa: ANN001, ANN201
        import torch

        from njscc.experiments.robustness._plots import as_u8

        img = torch.full((1, 4, 4), self.seed / 4.0)
        return {**super().run(out, log),
                "gallery": make_result("gallery", {"images": as_u8(img)})}


def test_illustrations_are_kept_from_the_first_seed_not_averaged(tmp_path: Path) -> None:
    from njscc.experiments.robustness._plots import u8_image

    results, _ = execute(ToyWithGallery(), out=tmp_path, seeds=[1, 2, 3])
    gal = results["gallery"]
    assert gal["seeds"] == [1] and "metrics_std" not in gal
    assert u8_image(gal["metrics"]["images"][0], 4) == pytest.approx(64 / 255, abs=1e-12)
    assert results["toy"]["metrics"]["value"] == pytest.approx(3.0)   # still averaged
    seed3 = json.loads((tmp_path / "seed_3" / "gallery.json").read_text())
    assert u8_image(seed3["metrics"]["images"][0], 4).max() == pytest.approx(191 / 255)
    with pytest.raises(ValueError, match="expected 5×5"):
        u8_image(gal["metrics"]["images"][0], 5)
    assert u8_image([[0, 255], [255, 0]], 2).tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_one_seed_is_a_plain_run_with_that_seed(tmp_path: Path) -> None:
    results, _ = execute(Toy(), out=tmp_path, seeds=[7])
    assert results["toy"]["metrics"]["value"] == 8.0 and "seeds" not in results["toy"]


def test_aggregate_ignores_missing_values_and_checks_counts() -> None:
    per = [make_result("t", {"x": v}) for v in (1.0, None, 3.0)]
    agg = aggregate_seeds(per, [0, 1, 2])
    assert agg["metrics"]["x"] == pytest.approx(2.0)
    assert agg["metrics_std"]["x"] == pytest.approx(math.sqrt(2.0))
    with pytest.raises(ValueError, match="one result per seed"):
        aggregate_seeds(per, [0, 1])


def test_fmt_pm() -> None:
    assert fmt_pm(12.3456) == "12.35" and fmt_pm(12.3456, 0.051) == "12.35 ± 0.05"
    assert fmt_pm(None) == "–" and fmt_pm(float("nan"), 1.0) == "–"


def test_registered_studies_round_trip_their_config() -> None:
    for name in EXPERIMENTS.available():
        study = EXPERIMENTS.get(name)
        again = EXPERIMENTS.get(name, **{k: v for k, v in study.config["kwargs"].items()})
        assert again.config == study.config


def test_rows_with_std_pairs_each_row_with_its_sigma():
    from njscc.experiments.base import aggregate_seeds, rows_with_std

    one = {"metrics": {"rows": [{"a": 1.0, "n": "x"}, {"a": 3.0, "n": "y"}]}}
    two = {"metrics": {"rows": [{"a": 2.0, "n": "x"}, {"a": 5.0, "n": "y"}]}}
    assert [s for _, s in rows_with_std(one)] == [{}, {}]
    agg = aggregate_seeds([one, two], [0, 1])
    pairs = rows_with_std(agg)
    assert [r["a"] for r, _ in pairs] == [1.5, 4.0]
    assert [round(s["a"], 6) for _, s in pairs] == [round(2 ** -0.5, 6), round(2 * 2 ** -0.5, 6)]
