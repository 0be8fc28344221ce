"""The CLI's promise on bad input: exit 2, exactly one stderr line, no traceback, nothing left
behind — for every option of every command (generated from the parsers) and for the bad files,
paths and checkpoints users actually meet; plus a seeded fuzz of the bitstream decoder."""

from __future__ import annotations

import argparse
import errno
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import njscc
from njscc.cli import _build_parser, main
from njscc.cli import options as opt
from njscc.io.bitstream import Bitstream, BitstreamError, pack_bits

# positionals a command needs so that parsing reaches its options
POSITIONALS = {"encode": ["in.npz", "-o", "x.njs"], "decode": ["x.njs", "-o", "y.png"],
               "transmit": ["x.njs", "-o", "y.njs"], "experiment": ["demo"]}


def _bad_values(action: argparse.Action) -> list[str]:
    t = action.type
    bounds = getattr(t, "bounds", None)
    if t is None:
        return []
    if bounds is not None and isinstance(bounds[0], int) and t.__name__.startswith("int_"):
        lo, hi = bounds
        return [str(lo - 1), str(hi + 1), "1e30", "nan", "inf", "1.5", "x"]
    if bounds is not None:
        lo, hi = bounds
        return [repr(lo - 1.0), repr(hi + 1.0), "nan", "inf"]
    name = t.__name__
    return {
        "positive_int": ["0", "-1", "nan", "inf", "1.5", "x"],
        "nonneg_int": ["-1", "nan", "inf", "x"],
        "positive_float": ["0", "-1", "nan", "inf", "x"],
        "nonneg_float": ["-1", "nan", "inf", "-inf"],
        "finite_float": ["nan", "inf", "-inf", "x"],
        "probability": ["-0.1", "1.5", "nan"],
        "seed_value": ["-1", str(2**70), "nan", "1.5"],
        "channel_spec": ["bsc:nan", "bsc:inf", ":0.1"],
        "name_list": [",", ""],
        "numbers_list": ["a", "1,nan", "inf", ""],
        "seeds_list": ["-1", "0,1.5", str(2**70), ""],
        "positive_integers_list": ["0", "a", "1,-2", ""],
    }.get(name, ["0", "-1", "nan", "a"] if name.endswith("_list") else [])


def _cases() -> list[tuple[str, str, str]]:
    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cases = []
    for cmd, sp in sub.choices.items():
        for action in sp._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            for v in _bad_values(action):
                cases.append((cmd, action.option_strings[0], v))
    return cases


CASES = _cases()


def _one_line_error(rc: int, err: str, cmd: str) -> str:
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"njscc {cmd}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_every_numeric_option_is_covered() -> None:
    assert len(CASES) > 400
    assert {c[0] for c in CASES} >= {"demo", "simulate", "train", "eval", "encode", "decode",
                                     "transmit", "compare", "bench", "rd-sweep", "vib", "gilbo",
                                     "downstream", "experiment"}


@pytest.mark.parametrize(("cmd", "flag", "value"), CASES)
def test_bad_option_value_is_one_line_exit_2(cmd: str, flag: str, value: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    rc = main([cmd, *POSITIONALS.get(cmd, []), f"{flag}={value}"])
    line = _one_line_error(rc, capsys.readouterr().err, cmd)
    assert flag in line
    assert not os.listdir(tmp_path)  # nothing written


# --------------------------------------------------------------------------- files and paths
@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edge") / "run"
    assert main(["train", "--preset", "embedded", "--m", "8", "--model-arg", "enc_hidden=[16]",
                 "--model-arg", "dec_hidden=[16]", "--train-size", "200", "--test-size", "50",
                 "--batch-size", "50", "--epochs", "1", "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    return out


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A plain file: every output placed below it cannot be written (ENOTDIR)."""
    f = tmp_path / "a_file"
    f.write_text("x")
    return f


def _digits(tmp_path: Path, n: int = 4) -> Path:
    from njscc.data import load_dataset

    p = tmp_path / "in.npz"
    np.savez(p, images=load_dataset("embedded", "test").images[:n].numpy())
    return p


def test_unwritable_outputs_are_refused_before_any_work(run: Path, blocker: Path, tmp_path: Path,
                                                        capsys) -> None:
    src = _digits(tmp_path)
    njs = tmp_path / "x.njs"
    assert main(["encode", str(src), "-o", str(njs), "--checkpoint", str(run)]) == 0
    capsys.readouterr()
    under = str(blocker / "sub" / "out")
    for argv in (["encode", str(src), "-o", under + ".njs", "--checkpoint", str(run)],
                 ["decode", str(njs), "-o", under + ".png", "--checkpoint", str(run)],
                 ["transmit", str(njs), "--channel", "bsc:0.1", "-o", under + ".njs"],
                 ["simulate", "--channel", "bsc", "--eps", "0.1", "--json", under + ".json"],
                 ["simulate", "--channel", "bsc", "--sweep", "0:0.1:0.1", "--out", under],
                 ["train", "--preset", "embedded", "--out", under],
                 ["eval", "--checkpoint", str(run), "--out", under],
                 ["demo", "--out", under],
                 ["bench", "--quick", "--out", under],
                 ["gilbo", "--checkpoint", str(run), "--out", under],
                 ["rd-sweep", "--out", under],
                 ["vib", "--out", under],
                 ["downstream", "--checkpoint", str(run), "--out", under],
                 ["compare", "--out", under],
                 ["experiment", "demo", "--out", under]):
        rc = main(argv)
        line = _one_line_error(rc, capsys.readouterr().err, argv[0])
        assert str(blocker) in line and "nothing can be written below it" in line, line


def test_a_full_disk_is_a_user_error(run: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    import njscc.io.results as results

    def full(path, data):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(results, "atomic_write_bytes", full)
    rc = main(["encode", str(_digits(tmp_path)), "-o", str(tmp_path / "x.njs"),
               "--checkpoint", str(run)])
    line = _one_line_error(rc, capsys.readouterr().err, "encode")
    assert "No space left on device" in line and "x.njs" in line


def _npy_header(shape: tuple[int, ...], dtype: str = "|u1") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _bad_npz(tmp_path: Path, kind: str) -> Path:
    import zipfile

    p = tmp_path / f"{kind}.npz"
    good = tmp_path / "good.npz"
    np.savez_compressed(good, images=np.zeros((50, 28, 28), np.uint8))
    blob = good.read_bytes()
    if kind == "truncated":
        p.write_bytes(blob[:len(blob) // 2])
    elif kind == "random":
        p.write_bytes(np.random.default_rng(0).bytes(4000))
    elif kind == "bad_crc":
        b = bytearray(blob)
        b[60] ^= 0xFF  # inside the compressed member
        p.write_bytes(bytes(b))
    elif kind == "huge_header":  # claims 10^13 × 28 × 28 bytes, holds 16
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("images.npy", _npy_header((10**13, 28, 28)) + bytes(16))
    elif kind == "bomb_wrong_shape":  # 300 MB of zeros in the wrong shape, compressed small
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
            with z.open("images.npy", "w", force_zip64=True) as f:
                f.write(_npy_header((300, 1000, 1000)))
                chunk = bytes(1 << 20)
                for _ in range(300):
                    f.write(chunk)
    elif kind == "pickled":
        np.savez(p, images=np.array([{"a": 1}], dtype=object))
    elif kind == "no_images":
        np.savez(p, pixels=np.zeros((2, 28, 28), np.uint8))
    return p


@pytest.mark.parametrize("kind", ["truncated", "random", "bad_crc", "huge_header",
                                  "pickled", "no_images"])
def test_bad_npz_inputs(kind: str, run: Path, tmp_path: Path, capsys) -> None:
    src = _bad_npz(tmp_path, kind)
    out = tmp_path / "x.njs"
    rc = main(["encode", str(src), "-o", str(out), "--checkpoint", str(run)])
    line = _one_line_error(rc, capsys.readouterr().err, "encode")
    assert str(src) in line and not out.exists()


def _png_header(width: int, height: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(
            ">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(20000, 20000), (12000, 12000), (56, 28)])
def test_oversized_pictures_are_refused_from_the_header(size, run: Path, tmp_path: Path,
                                                        capsys) -> None:
    src = tmp_path / "big.png"
    src.write_bytes(_png_header(*size))  # no pixel data at all: decoding would fail
    rc = main(["encode", str(src), "-o", str(tmp_path / "x.njs"), "--checkpoint", str(run)])
    line = _one_line_error(rc, capsys.readouterr().err, "encode")
    assert "big.png" in line and ("too many pixels" in line or "the model expects 28×28" in line)


def test_max_pixels_is_a_stated_ceiling(run: Path, tmp_path: Path, capsys) -> None:
    src = _digits(tmp_path, n=4)  # 4 × 784 values
    rc = main(["encode", str(src), "-o", str(tmp_path / "x.njs"), "--checkpoint", str(run),
               "--max-pixels", "3000"])
    assert "more than the limit of 3000" in _one_line_error(rc, capsys.readouterr().err,
                                                            "encode")
    assert main(["encode", str(src), "-o", str(tmp_path / "x.njs"), "--checkpoint", str(run),
                 "--max-pixels", "3136"]) == 0


def _peak_rss_mb(argv: list[str]) -> tuple[int, float, str]:
    code = ("import resource, sys; from njscc.cli import main; rc = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024); sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    return res.returncode, float(res.stdout.strip().splitlines()[-1]), res.stderr


def test_memory_stays_bounded_before_a_refusal(run: Path, tmp_path: Path) -> None:
    ok = _digits(tmp_path)
    rc0, base, _ = _peak_rss_mb(["encode", str(ok), "-o", str(tmp_path / "ok.njs"),
                                 "--checkpoint", str(run)])
    assert rc0 == 0
    for kind in ("bomb_wrong_shape", "huge_header"):
        src = _bad_npz(tmp_path, kind)
        rc, peak, err = _peak_rss_mb(["encode", str(src), "-o", str(tmp_path / "x.njs"),
                                      "--checkpoint", str(run)])
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        # the 300 MB array is never inflated: the refusal costs (much) less than the input
        assert peak < base + 2 * src.stat().st_size / 2**20 + 64, (kind, peak, base)
    big = tmp_path / "bomb.png"
    big.write_bytes(_png_header(12000, 12000))
    rc, peak, err = _peak_rss_mb(["encode", str(big), "-o", str(tmp_path / "x.njs"),
                                  "--checkpoint", str(run)])
    assert rc == 2 and peak < base + 64, (peak, base, err)


# --------------------------------------------------------------------------- checkpoints
def test_crafted_checkpoint_configs_are_refused(run: Path, tmp_path: Path, capsys) -> None:
    from njscc.training import find_checkpoint

    src = find_checkpoint(run) / "model.safetensors"
    blob = src.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    cfg = json.loads(header["__metadata__"]["model_config"])
    for key, value in (("m", 10**9), ("m", 300_000), ("m", 9), ("data_shape", [1, 10**5, 10**5])):
        bad = {**cfg, "kwargs": {**cfg["kwargs"], key: value}}
        header["__metadata__"]["model_config"] = json.dumps(bad)
        head = json.dumps(header).encode()
        head += b" " * (-len(head) % 8)
        target = tmp_path / "crafted.safetensors"
        target.write_bytes(len(head).to_bytes(8, "little") + head + blob[8 + n:])
        rc = main(["encode", str(_digits(tmp_path)), "-o", str(tmp_path / "x.njs"),
                   "--checkpoint", str(target)])
        line = _one_line_error(rc, capsys.readouterr().err, "encode")
        assert "crafted.safetensors" in line


def test_device_meta_and_null_manifest(run: Path, tmp_path: Path, capsys) -> None:
    import shutil

    rc = main(["eval", "--checkpoint", str(run), "--device", "meta"])
    assert "--device" in _one_line_error(rc, capsys.readouterr().err, "eval")
    copy = tmp_path / "copy"
    shutil.copytree(run / "checkpoints" / "last", copy)
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    manifest["files"]["model.safetensors"] = None
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    rc = main(["eval", "--checkpoint", str(copy)])
    assert "corrupt checkpoint" in _one_line_error(rc, capsys.readouterr().err, "eval")


def test_no_progress_bars_off_a_terminal(tmp_path: Path, capsys) -> None:
    assert main(["train", "--preset", "embedded", "--m", "8", "--train-size", "200",
                 "--test-size", "50", "--batch-size", "50", "--epochs", "1", "--threads", "1",
                 "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "it/s" not in err


# --------------------------------------------------------------------------- bitstreams
def test_hand_built_bitstreams_are_validated() -> None:
    ok = torch.zeros(2, 5, dtype=torch.uint8)
    with pytest.raises(BitstreamError, match="values must be 0/1"):
        Bitstream(ok + 2, None, bytes(8), (1, 2, 2))
    with pytest.raises(TypeError, match="uint8"):
        Bitstream(ok.float(), None, bytes(8), (1, 2, 2))
    with pytest.raises(TypeError, match="erased"):
        Bitstream(ok, torch.zeros(2, 4, dtype=torch.bool), bytes(8), (1, 2, 2))
    with pytest.raises(TypeError, match="erased"):
        Bitstream(ok, torch.zeros(2, 5), bytes(8), (1, 2, 2))
    with pytest.raises(TypeError, match="model_id"):
        Bitstream(ok, None, b"short", (1, 2, 2))
    with pytest.raises(TypeError, match="data_shape"):
        Bitstream(ok, None, bytes(8), (0, 2))


def _fuzz(n: int, seed: int) -> None:
    """Mutate a valid stream ``n`` times; each result is refused with BitstreamError or
    decodes to images in [0, 1] — never another exception."""
    torch.manual_seed(0)
    model = njscc.models.get("necst_mlp", m=13, enc_hidden=[8], dec_hidden=[8]).eval()
    x = torch.rand(5, 1, 28, 28)
    good = njscc.encode(model, x)
    rng = np.random.default_rng(seed)
    outcomes = {"refused": 0, "decoded": 0}
    for _ in range(n):
        b = bytearray(good)
        kind = rng.integers(0, 6)
        if kind == 0:  # flip bits
            for _ in range(rng.integers(1, 4)):
                i = rng.integers(0, len(b))
                b[i] ^= 1 << rng.integers(0, 8)
        elif kind == 1:  # truncate
            b = b[:rng.integers(0, len(b))]
        elif kind == 2:  # append
            b += rng.bytes(int(rng.integers(1, 9)))
        elif kind == 3:  # random bytes
            b = bytearray(rng.bytes(int(rng.integers(0, 2 * len(b)))))
        else:  # a field changed and the CRC made valid again: the structure must catch it
            i = int(rng.integers(0, len(b) - 4))
            b[i] = int(rng.integers(0, 256))
            b[-4:] = struct.pack(">I", zlib.crc32(bytes(b[:-4])))
        try:
            y = njscc.decode(model, bytes(b))
        except BitstreamError:
            outcomes["refused"] += 1
            continue
        assert y.shape[1:] == (1, 28, 28) and bool(((y >= 0) & (y <= 1)).all())
        outcomes["decoded"] += 1
    assert outcomes["refused"] > n // 2 and sum(outcomes.values()) == n


def test_bitstream_fuzz() -> None:
    _fuzz(2000, seed=0)


@pytest.mark.slow
def test_bitstream_fuzz_long() -> None:
    _fuzz(10000, seed=1)


def test_pack_bits_refuses_bad_bits() -> None:
    with pytest.raises(ValueError, match="values must be 0, 1"):
        pack_bits(np.array([[0, 2]]))
    assert opt.positive_int("3") == 3


# --------------------------------------------------------------------------- semantic errors
@pytest.fixture(scope="module")
def zoo(run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A NECST run, a VAE and a VIB checkpoint, a bitstream and a few bad files."""
    from njscc import models
    from njscc.training import save_checkpoint

    root = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    save_checkpoint(root / "vae", models.get("vae_mlp", m=4, enc_hidden=[8], dec_hidden=[8]))
    save_checkpoint(root / "vib", models.get("vib_mlp", m=4, enc_hidden=[8]))
    np.savez(root / "in.npz", images=np.zeros((3, 28, 28), np.uint8))
    assert main(["encode", str(root / "in.npz"), "-o", str(root / "x.njs"),
                 "--checkpoint", str(run)]) == 0
    (root / "notastream.njs").write_bytes(b"hello")
    (root / "empty").mkdir()
    return {"necst": run, "vae": root / "vae", "vib": root / "vib", "root": root}


SEMANTIC = [
    ["train", "--dataset", "nope"], ["train", "--dataset", "idx:/nonexistent"],
    ["train", "--dataset", "images:{root}/empty"],
    ["train", "--preset", "embedded", "--model", "x"],
    ["train", "--preset", "embedded", "--objective", "x"],
    ["train", "--preset", "embedded", "--model-arg", "enc_hidden=-1"],
    ["train", "--preset", "embedded", "--objective-arg", 'bound="sideways"'],
    ["train", "--preset", "embedded", "--channel", "pigeon"],
    ["train", "--preset", "embedded", "--train-eps", "2"],
    ["train", "--preset", "embedded", "--channel", "ge", "--train-eps", "0.9"],
    ["train", "--preset", "embedded", "--train-size", "10"],
    ["train", "--preset", "embedded", "--model", "necst_conv", "--model-arg", "base_channels=0"],
    ["train", "--preset", "embedded", "--model", "vib", "--objective", "beta_vae"],
    ["eval", "--checkpoint", "/nonexistent"], ["eval", "--checkpoint", "{necst}", "--dataset", "x"],
    ["eval", "--checkpoint", "{necst}", "--eps", "2"],
    ["eval", "--checkpoint", "{vae}", "--dataset", "embedded", "--code", "sample"],
    ["eval", "--checkpoint", "{vib}", "--dataset", "embedded"], ["eval", "--checkpoint", "{vae}"],
    ["encode", "{root}/missing.npz", "-o", "{root}/y.njs", "--checkpoint", "{necst}"],
    ["encode", "{root}/empty", "-o", "{root}/y.njs", "--checkpoint", "{necst}"],
    ["encode", "{root}/in.npz", "-o", "{root}/in.npz", "--checkpoint", "{necst}"],
    ["encode", "{root}/in.npz", "-o", "{root}/y.njs", "--checkpoint", "{vae}"],
    ["decode", "{root}/notastream.njs", "-o", "{root}/y.png", "--checkpoint", "{necst}"],
    ["decode", "{root}/x.njs", "-o", "{root}/y.txt", "--checkpoint", "{necst}"],
    ["decode", "{root}/x.njs", "-o", "{root}/y.png", "--checkpoint", "{vae}"],
    ["transmit", "{root}/x.njs", "-o", "{root}/y.njs"],
    ["transmit", "{root}/x.njs", "-o", "{root}/y.njs", "--eps", "2"],
    ["transmit", "{root}/notastream.njs", "-o", "{root}/y.njs", "--eps", "0.1"],
    ["simulate", "--channel", "nope", "--eps", "0.1"], ["simulate", "--sweep", "0:1:0"],
    ["simulate", "--eps", "0.1", "--channel-arg", "colour=red"],
    ["simulate", "--code", "nope", "--eps", "0.1"], ["simulate", "--eps", "0.1", "--rate", "0.5"],
    ["compare", "--dataset", "cifar"], ["compare", "--channel", "awgn"],
    ["compare", "--experiments", "nope"], ["compare", "--device", "cuda"],
    ["compare", "--plots-only", "--out", "{root}/empty"],
    ["compare", "--checkpoint", "{vae}", "--dataset", "mnist"],
    ["bench", "--quick", "--checkpoint", "/nonexistent"],
    ["rd-sweep", "--prior", "nope"], ["rd-sweep", "--checkpoint", "/nonexistent"],
    ["rd-sweep", "--checkpoint", "{vae}"],
    ["vib", "--ood", "nope"], ["vib", "--dataset", "embedded", "--betas", "-1"],
    ["gilbo", "--checkpoint", "{vib}", "--steps", "1"],
    ["downstream", "--checkpoint", "{vae}", "--dataset", "embedded"],
    ["downstream", "--checkpoint", "{necst}", "--dataset", "embedded", "--eps", "2"],
    ["experiment", "nope"], ["experiment", "demo", "--set", 'epochs="x"'],
    ["experiment", "demo", "--set", "nonsense"], ["experiment", "demo", "--set", "eps=[2]"],
    ["experiment", "demo", "--set", 'channels=["pigeon"]'],
    ["experiment", "demo", "--plots-only", "--out", "{root}/empty"],
    ["demo", "--channel", "pigeon"], ["demo", "--eps", "2"], ["demo", "--train-eps", "2"],
]


@pytest.mark.parametrize("argv", SEMANTIC, ids=[" ".join(a[:4]) for a in SEMANTIC])
def test_semantic_errors_are_one_line_exit_2(argv: list[str], zoo: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(zoo["root"] / "empty")
    argv = [a.format(**{k: str(v) for k, v in zoo.items()}) for a in argv]
    before = sorted(os.listdir(zoo["root"]))
    rc = main(argv)
    _one_line_error(rc, capsys.readouterr().err, argv[0])
    assert sorted(os.listdir(zoo["root"])) == before and not os.listdir(zoo["root"] / "empty")
