"""``njscc train`` / ``njscc eval`` end to end on the bundled subset: kill + resume is exact,
SIGTERM saves and exits cleanly, eval writes valid results, bad input is a one-line exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from njscc.cli import main
from njscc.io.results import SCHEMA, load_result
from njscc.training.checkpoint import load_checkpoint, load_model

# a tiny configuration: 4000 images, 80 steps/epoch of a small MLP
TINY = ["--preset", "embedded", "--m", "16", "--model-arg", "enc_hidden=[64]",
        "--model-arg", "dec_hidden=[64]", "--train-size", "4000", "--test-size", "300",
        "--batch-size", "50", "--K", "3", "--threads", "1", "--seed", "0", "--quiet"]
EPOCHS = 4


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "njscc.cli", *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return e


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run (in process; same code path as the subprocesses). Read-only.

    Under pytest-xdist the workers share one copy (built once, under a file lock)."""
    from filelock import FileLock

    torch.set_num_threads(1)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent  # this session's folder, shared
    else:
        root = tmp_path_factory.mktemp("ref")
    out = root / "njscc_train_cli_reference"
    with FileLock(str(root / "njscc_train_cli_reference.lock")):
        if not (out / "done").exists():
            assert main(["train", *TINY, "--epochs", str(EPOCHS), "--out", str(out)]) == 0
            (out / "done").touch()
    return out


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_model(run).state_dict()


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


def manifest_stamp(out: Path) -> int | None:
    try:
        return (out / "checkpoints" / "last" / "MANIFEST.json").stat().st_mtime_ns
    except FileNotFoundError:
        return None


def start_and_wait_for_new_checkpoint(out: Path, *extra: str) -> subprocess.Popen:
    """Start ``njscc train`` and return once it has written a new checkpoint."""
    before = manifest_stamp(out)
    proc = subprocess.Popen(cli("train", *TINY, "--epochs", str(EPOCHS), "--out", str(out),
                                *extra),
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while manifest_stamp(out) in (None, before):
        if proc.poll() is not None:
            pytest.fail(f"train exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no new checkpoint after 120 s")
        time.sleep(0.005)
    return proc


def test_kill_then_term_then_resume_is_exact(tmp_path: Path, reference_run: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """SIGKILL after the first checkpoint loses at most the current epoch; a resumed run then
    gets SIGTERM (finishes the step, saves mid-epoch, exits 143); the final resume ends with
    weights and logs identical to the uninterrupted reference run."""
    out = tmp_path / "run"
    proc = start_and_wait_for_new_checkpoint(out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    # what survived: a complete checkpoint of >= 1 finished epoch, logs consistent with it
    ck = load_checkpoint(out)
    done = ck.extra["epoch"]
    assert 1 <= done < EPOCHS and ck.extra["step_in_epoch"] == 0
    log = out / "log.jsonl"  # written just after the checkpoint: may lag it by one epoch
    rows = [json.loads(s) for s in log.read_text().splitlines()] if log.exists() else []
    assert [r["epoch"] for r in rows] in (list(range(1, done + 1)), list(range(1, done)))

    # resume; stop it with SIGTERM once it has saved another checkpoint
    proc = start_and_wait_for_new_checkpoint(out, "--resume")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert f"resuming from {out / 'checkpoints' / 'last'} (epoch {done}" in stdout
    if proc.returncode == 0:
        pytest.skip("the resumed run finished before SIGTERM arrived (very slow machine?)")
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted: checkpoint saved" in stdout and "Traceback" not in stderr
    ck = load_checkpoint(out)
    assert ck.extra["epoch"] > done
    assert ck.extra["epoch"] * 80 + ck.extra["step_in_epoch"] == ck.extra["global_step"]

    # final resume (in process) completes the run
    assert main(["train", *TINY, "--epochs", str(EPOCHS), "--out", str(out), "--resume"]) == 0
    assert_same(final_weights(out), final_weights(reference_run))
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    ref_rows = [json.loads(s) for s in (reference_run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1))
    for r, q in zip(rows, ref_rows, strict=True):
        assert r["loss"] == q["loss"] and r["test_sse"] == q["test_sse"]


def test_eval_writes_valid_results_and_plots(tmp_path: Path, reference_run: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    rc = main(["eval", "--checkpoint", str(reference_run), "--channel", "bsc,bec",
               "--eps", "0,0.1,0.3", "--out", str(out), "--n-images", "4"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "BSC SSE" in printed and str(out / "eval_bsc.json") in printed
    for name in ("eval_bsc.json", "eval_bec.json", "distortion.png", "reconstructions_bsc.png",
                 "reconstructions_bec.png"):
        assert (out / name).stat().st_size > 0, name
    bsc, bec = load_result(out / "eval_bsc.json"), load_result(out / "eval_bec.json")
    for r, name in ((bsc, "bsc"), (bec, "bec")):
        assert r["schema"] == SCHEMA and r["task"] == "eval" and r["dataset"] == "embedded"
        assert r["channel"]["name"] == name and r["m"] == 16
        met = r["metrics"]
        assert met["param"] == [0.0, 0.1, 0.3] and met["n_images"] == 2300
        assert all(s > 0 for s in met["sse_se"])
    # ε = 0 is exactly noiseless on both channels; more noise → more distortion on the BSC
    assert bsc["metrics"]["sse"][0] == bec["metrics"]["sse"][0]
    assert bsc["metrics"]["sse"][0] < bsc["metrics"]["sse"][2]
    from PIL import Image

    with Image.open(out / "reconstructions_bsc.png") as im:
        assert im.size[1] == 4 * (28 * 2 + 2) + 2  # originals + 3 rows


def test_eval_default_output_dir(tmp_path: Path, reference_run: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    assert main(["eval", "--checkpoint", str(run), "--eps", "0", "--channel", "bsc",
                 "--n-images", "2"]) == 0
    assert (run / "eval" / "eval_bsc.json").exists()


def test_train_refuses_to_overwrite_without_resume(reference_run: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *TINY, "--epochs", "1", "--out", str(reference_run)]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and len(err.strip().splitlines()) == 1


def test_resume_when_already_done_is_a_no_op(tmp_path: Path, reference_run: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    before = final_weights(run)
    assert main(["train", *TINY, "--epochs", str(EPOCHS), "--out", str(run), "--resume"]) == 0
    assert_same(final_weights(run), before)


@pytest.mark.parametrize(("argv", "words"), [
    (["train", "--preset", "cifar"], ["--preset", "cifar", "embedded"]),
    (["train", "--preset", "embedded", "--channel", "pigeon"], ["pigeon"]),
    (["train", "--preset", "embedded", "--objective", "magic"], ["magic", "vimco"]),
    (["train", "--preset", "embedded", "--train-eps", "1.5"], ["1.5"]),
    (["train", "--preset", "embedded", "--epochs", "0"], ["--epochs"]),
    (["train", "--preset", "embedded", "--model", "nope"], ["nope"]),
    (["train", "--preset", "embedded", "--model-arg", "oops"], ["--model-arg"]),
    (["train", "--preset", "embedded", "--device", "cuda:7"], ["--device"]),
    (["train", "--preset", "embedded", "--patience", "2"], ["--patience", "--valid-size"]),
    (["eval", "--checkpoint", "/nonexistent/run"], ["/nonexistent/run"]),
    (["eval", "--checkpoint", ".", "--eps", "a,b"], ["--eps"]),
    (["eval", "--checkpoint", ".", "--channel", "pigeon"], ["pigeon"]),
    (["demo", "--eps", "x"], ["--eps"]),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str],
                                      argv: list[str], words: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NJSCC_DATA_DIR", raising=False)
    rc = main([*argv, "--out", str(tmp_path / "o")] if argv[0] != "eval" else argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"njscc {argv[0]}: error:")
    for w in words:
        assert w in err


def test_mnist_preset_needs_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("NJSCC_DATA_DIR", raising=False)
    assert main(["train", "--preset", "mnist", "--out", str(tmp_path / "o")]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_demo_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's outputs (a time budget of 2 s keeps it short; the real one trains ~45 s)."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--max-seconds", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "BSC SSE" in printed and "BEC SSE" in printed and str(out) in printed
    for name in ("demo_bsc.json", "demo_bec.json", "distortion.png", "reconstructions.png",
                 "train_log.jsonl"):
        assert (out / name).stat().st_size > 0, name
    r = load_result(out / "demo_bsc.json")
    assert r["task"] == "demo" and r["metrics"]["param"] == [0.0, 0.05, 0.1, 0.2]
    assert r["config"]["train"]["steps"] >= 1
    assert load_model(out).config["kwargs"]["m"] == 100  # the run folder loads as a checkpoint
    from PIL import Image

    with Image.open(out / "reconstructions.png") as im:
        assert im.size == (80 + 10 * 58 + 2, 8 * 58 + 2)  # 10 digits; original + 4 BSC + 3 BEC


def test_patience_stops_early_and_eval_loads_the_best(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "es"
    # lr so small nothing changes: epoch 1 stays best, patience 1 stops after epoch 2
    assert main(["train", *TINY, "--train-size", "1000", "--valid-size", "500", "--patience",
                 "1", "--lr", "1e-30", "--epochs", "5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "early stop after epoch 2" in captured.out + captured.err
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["best"] and "valid_sse" in rows[1]
    assert (out / "checkpoints" / "best").is_dir()
