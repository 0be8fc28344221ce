"""The platform through the CLI: --seeds on train/eval/experiments, idx:/images: datasets,
capability checks, njscc list, the old spellings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from njscc.cli import main
from njscc.data import write_idx

TINY = ["--preset", "embedded", "--m", "8", "--model-arg", "enc_hidden=[16]",
        "--model-arg", "dec_hidden=[16]", "--train-size", "400", "--test-size", "100",
        "--batch-size", "50", "--K", "2", "--threads", "1", "--quiet", "--epochs", "1"]


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seeds") / "run"
    assert main(["train", *TINY, "--seeds", "0,1", "--out", str(out)]) == 0
    return out


def test_train_seeds_writes_one_run_per_seed_and_a_summary(seeds_run: Path) -> None:
    for s in (0, 1):
        info = json.loads((seeds_run / f"seed_{s}" / "run.json").read_text())
        assert info["train_config"]["seed"] == s
    summary = json.loads((seeds_run / "seeds.json").read_text())
    assert summary["seeds"] == [0, 1] and len(summary["per_seed"]) == 2
    assert (summary["dataset"], summary["m"]) == ("embedded", 8)
    assert summary["channel"] == {"name": "bsc", "param": 0.1}
    a, b = (r["last_epoch"]["test_sse"] for r in summary["per_seed"])
    assert a != b  # different seeds, different models
    assert summary["metrics"]["last_epoch"]["test_sse"] == pytest.approx((a + b) / 2)
    assert summary["metrics_std"]["last_epoch"]["test_sse"] == pytest.approx(abs(a - b) / 2**0.5)


def test_eval_of_a_multi_seed_run_aggregates(seeds_run: Path, capsys) -> None:
    assert main(["eval", "--checkpoint", str(seeds_run), "--eps", "0,0.1", "--threads", "1"]) == 0
    r = json.loads((seeds_run / "eval" / "eval_bsc.json").read_text())
    per = [json.loads((seeds_run / "eval" / f"seed_{s}" / "eval_bsc.json").read_text())
           for s in (0, 1)]
    assert r["seeds"] == [0, 1]
    assert r["metrics"]["sse"][1] == pytest.approx(
        (per[0]["metrics"]["sse"][1] + per[1]["metrics"]["sse"][1]) / 2)
    assert len(r["metrics_std"]["sse"]) == 2
    assert "mean ± σ over seeds" in capsys.readouterr().out
    assert main(["eval", "--checkpoint", str(seeds_run), "--seeds", "5"]) == 2
    assert "no run for seed(s) [5]" in capsys.readouterr().err


def test_experiment_command_runs_a_study_per_seed(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["experiment", "demo", "--set", "max_steps=5", "--set", "epochs=1",
                 "--set", "eps=[0,0.1]", "--set", "channels=[\"bsc\"]", "--seeds", "0,1",
                 "--threads", "1", "--quiet", "--out", str(out)]) == 0
    r = json.loads((out / "demo_bsc.json").read_text())
    assert r["seeds"] == [0, 1] and (out / "seed_1" / "checkpoints" / "last").is_dir()
    assert (out / "distortion.png").is_file()
    assert main(["experiment", "demo", "--set", "colour=1", "--out", str(out)]) == 2
    assert "has no field(s) colour" in capsys.readouterr().err


def _idx_folder(root: Path, labels: bool) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for stem, n in (("train", 300), ("t10k", 100)):
        img = (rng.random((n, 28, 28)) < 0.2).astype(np.uint8) * 255
        write_idx(root / f"{stem}-images-idx3-ubyte.gz", img)
        if labels:  # labels far outside 0..9 (Omniglot-like ids): fine for idx:DIR
            write_idx(root / f"{stem}-labels-idx1-ubyte", rng.integers(0, 200, n).astype(np.uint8))
    return root


@pytest.mark.parametrize("labels", [True, False])
def test_any_idx_folder_trains_and_evaluates(tmp_path: Path, labels: bool) -> None:
    folder = _idx_folder(tmp_path / "fashion-like", labels)
    out = tmp_path / "run"
    spec = f"idx:{folder}"
    args = [a for a in TINY if a not in ("--preset", "embedded")]
    assert main(["train", "--dataset", spec, *args, "--out", str(out)]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["dataset"] == spec and info["preset"] is None
    assert main(["eval", "--checkpoint", str(out), "--eps", "0", "--threads", "1"]) == 0
    assert json.loads((out / "eval" / "eval_bsc.json").read_text())["dataset"] == spec


def test_image_folder_dataset(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(120):
        Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "run"
    args = [a for a in TINY if a not in ("--preset", "embedded")]
    args[args.index("--train-size") + 1] = "100"
    assert main(["train", "--dataset", f"images:{folder}", *args, "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["n_train"] == 100


def test_objective_needing_labels_on_unlabelled_data_is_refused(tmp_path: Path, capsys) -> None:
    folder = _idx_folder(tmp_path / "nolabels", labels=False)
    assert main(["train", "--dataset", f"idx:{folder}", "--model", "vib", "--epochs", "1",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert "objective 'vib' needs field(s) labels; the data provides x" in err


def test_list_shows_registries(capsys) -> None:
    assert main(["list", "models", "datasets"]) == 0
    out = capsys.readouterr().out
    assert "necst_mlp" in out and "idx:DIR" in out and "objectives" not in out
    assert main(["list", "nonsense"]) == 2


def test_old_spelling_warns_once_and_works(seeds_run: Path, capsys) -> None:
    assert main(["eval", "--checkpoint", str(seeds_run / "seed_0"), "--channels", "bsc",
                 "--eps", "0", "--threads", "1"]) == 0
    err = capsys.readouterr().err.strip()
    assert err == "njscc eval: warning: --channels is deprecated; use --channel"
