"""Checkpoints: round trips, atomic replacement, corruption → clear ValueError, fallback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from njscc import models
from njscc.training.checkpoint import (
    find_checkpoint,
    load_checkpoint,
    load_model,
    save_checkpoint,
    verify_checkpoint,
)


def tiny_model(seed: int = 0, **kw):
    torch.manual_seed(seed)
    return models.get("necst_mlp", m=12, enc_hidden=[16], dec_hidden=[16], **kw)


def trained_optimizer(model) -> torch.optim.Optimizer:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        x = torch.rand(4, 1, 28, 28)
        loss = model.decode(torch.sigmoid(model.encode(x))).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
    return opt


def assert_state_equal(a, b) -> None:
    assert type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float)))
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_state_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_state_equal(x, y)
    else:
        assert a == b


def test_round_trip_weights_config_optimizer_and_extra(tmp_path: Path) -> None:
    model = tiny_model(likelihood="bernoulli")
    opt = trained_optimizer(model)
    extra = {"epoch": 3, "step": 41, "lr": 1e-3, "name": "run", "flag": True, "none": None,
             "rng": torch.get_rng_state(), "nested": {"t": (1, 2.5), 7: [torch.arange(3)]},
             "history": [{"epoch": 1, "loss": 2.0}]}
    extra["nested"] = {"t": (1, 2.5), "l": [torch.arange(3)]}
    path = save_checkpoint(tmp_path / "ck", model, optimizer_states={"enc": opt}, extra=extra)
    assert sorted(os.listdir(path)) == ["MANIFEST.json", "model.safetensors", "state.json",
                                        "state.safetensors"]

    loaded = load_model(path)
    assert loaded.config == model.config
    assert not loaded.training
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items(),
                                strict=True):
        assert k == k2 and torch.equal(v, v2)

    ck = load_checkpoint(path)
    assert ck.model_config == model.config
    assert_state_equal(ck.extra, extra)
    # the optimiser state loads into a fresh optimiser and matches the original exactly
    fresh = torch.optim.Adam(loaded.parameters(), lr=0.5)
    fresh.load_state_dict(ck.optimizer_states["enc"])
    assert_state_equal(fresh.state_dict(), opt.state_dict())
    assert fresh.param_groups[0]["lr"] == 1e-3
    assert isinstance(fresh.param_groups[0]["betas"], tuple)


def test_optimizer_state_continues_identically(tmp_path: Path) -> None:
    """Two more steps after a save/load equal two more steps without it."""
    model = tiny_model()
    opt = trained_optimizer(model)
    save_checkpoint(tmp_path / "ck", model, optimizer_states={"o": opt})
    m2 = load_model(tmp_path / "ck").train()
    o2 = torch.optim.Adam(m2.parameters(), lr=1e-3)
    o2.load_state_dict(load_checkpoint(tmp_path / "ck").optimizer_states["o"])
    x = torch.rand(4, 1, 28, 28)
    for mod, o in ((model, opt), (m2, o2)):
        for _ in range(2):
            mod.decode(torch.sigmoid(mod.encode(x))).square().mean().backward()
            o.step()
            o.zero_grad()
    for a, b in zip(model.parameters(), m2.parameters(), strict=True):
        assert torch.equal(a, b)


def test_weights_only_checkpoint_and_lone_file(tmp_path: Path) -> None:
    model = tiny_model()
    path = save_checkpoint(tmp_path / "ck", model)
    assert not (path / "state.json").exists()
    assert load_checkpoint(path).extra == {}
    # the weights file alone is self-describing (config in the safetensors header)
    lone = tmp_path / "copy.safetensors"
    lone.write_bytes((path / "model.safetensors").read_bytes())
    assert load_model(lone).config == model.config


def test_no_pickle_in_checkpoint(tmp_path: Path) -> None:
    model = tiny_model()
    path = save_checkpoint(tmp_path / "ck", model, optimizer_states={"o": trained_optimizer(model)},
                           extra={"x": 1})
    for f in path.iterdir():
        head = f.read_bytes()[:2]
        assert head != b"\x80\x04" and head != b"\x80\x02", f"{f.name} looks like a pickle"
        assert not f.read_bytes().startswith(b"PK"), f"{f.name} looks like a torch zip"


def test_replace_keeps_previous(tmp_path: Path) -> None:
    ckdir = tmp_path / "checkpoints"
    a, b = tiny_model(0), tiny_model(1)
    save_checkpoint(ckdir / "last", a, extra={"epoch": 1}, previous=ckdir / "prev")
    save_checkpoint(ckdir / "last", b, extra={"epoch": 2}, previous=ckdir / "prev")
    assert load_checkpoint(ckdir / "last").extra["epoch"] == 2
    assert load_checkpoint(ckdir / "prev").extra["epoch"] == 1
    assert find_checkpoint(tmp_path) == ckdir / "last"
    assert [p.name for p in ckdir.iterdir() if p.name.startswith(".")] == []


def _corruptions():
    def truncate(p: Path) -> None:
        f = p / "model.safetensors"
        f.write_bytes(f.read_bytes()[:-100])

    def truncate_state(p: Path) -> None:
        f = p / "state.safetensors"
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])

    def flip(p: Path) -> None:
        f = p / "model.safetensors"
        data = bytearray(f.read_bytes())
        data[-5] ^= 0xFF
        f.write_bytes(bytes(data))

    def empty_file(p: Path) -> None:
        (p / "model.safetensors").write_bytes(b"")

    def no_manifest(p: Path) -> None:
        (p / "MANIFEST.json").unlink()

    def bad_manifest(p: Path) -> None:
        (p / "MANIFEST.json").write_text("{not json")

    def missing_file(p: Path) -> None:
        (p / "state.json").unlink()

    return [("truncated", truncate), ("truncated", truncate_state), ("sha256", flip),
            ("truncated", empty_file), ("incomplete", no_manifest), ("unreadable", bad_manifest),
            ("missing", missing_file)]


@pytest.mark.parametrize(("word", "corrupt"), _corruptions(),
                         ids=[f.__name__ for _, f in _corruptions()])
def test_corrupt_checkpoint_raises_clear_error(tmp_path: Path, word: str, corrupt) -> None:
    model = tiny_model()
    path = save_checkpoint(tmp_path / "ck", model, optimizer_states={"o": trained_optimizer(model)},
                           extra={"epoch": 1})
    corrupt(path)
    for fn in (verify_checkpoint, load_checkpoint, load_model):
        with pytest.raises(ValueError, match=word) as exc:
            fn(path)
        assert str(path) in str(exc.value)


def test_fallback_to_previous_when_last_is_corrupt(tmp_path: Path) -> None:
    ckdir = tmp_path / "checkpoints"
    save_checkpoint(ckdir / "last", tiny_model(0), extra={"epoch": 1}, previous=ckdir / "prev")
    save_checkpoint(ckdir / "last", tiny_model(1), extra={"epoch": 2}, previous=ckdir / "prev")
    f = ckdir / "last" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:50])
    assert find_checkpoint(tmp_path) == ckdir / "prev"
    assert load_checkpoint(tmp_path).extra["epoch"] == 1
    # both bad: a ValueError that names both
    g = ckdir / "prev" / "state.json"
    g.write_text("[]")
    with pytest.raises(ValueError, match="no intact checkpoint") as exc:
        load_checkpoint(tmp_path)
    assert "last" in str(exc.value) and "prev" in str(exc.value)


def test_crash_during_save_leaves_a_loadable_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """Kill the save at each rename: afterwards last or prev is intact and no half checkpoint
    is ever accepted."""
    import njscc.training.checkpoint as ckmod

    ckdir = tmp_path / "checkpoints"
    save_checkpoint(ckdir / "last", tiny_model(0), extra={"epoch": 1}, previous=ckdir / "prev")
    save_checkpoint(ckdir / "last", tiny_model(1), extra={"epoch": 2}, previous=ckdir / "prev")
    real_replace = os.replace
    for fail_at in (0, 1):
        calls = {"n": 0}

        def flaky(src, dst, _fail_at=fail_at, _calls=calls):
            if _calls["n"] == _fail_at:
                raise OSError("simulated crash")
            _calls["n"] += 1
            return real_replace(src, dst)

        monkeypatch.setattr(ckmod.os, "replace", flaky)
        with pytest.raises(OSError, match="simulated"):
            save_checkpoint(ckdir / "last", tiny_model(2), extra={"epoch": 3},
                            previous=ckdir / "prev")
        monkeypatch.setattr(ckmod.os, "replace", real_replace)
        epoch = load_checkpoint(tmp_path).extra["epoch"]
        assert epoch in (1, 2)
        assert not [p for p in ckdir.iterdir() if p.name.endswith(".tmp")]
    # a complete save afterwards works again
    save_checkpoint(ckdir / "last", tiny_model(3), extra={"epoch": 4}, previous=ckdir / "prev")
    assert load_checkpoint(tmp_path).extra["epoch"] == 4


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="config"):
        save_checkpoint(tmp_path / "x", torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="cannot store"):
        save_checkpoint(tmp_path / "x", tiny_model(), extra={"obj": object()})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_model(tmp_path / "empty")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ValueError, match="junk"):
        load_model(junk)


def test_load_model_exported_from_package(tmp_path: Path) -> None:
    import njscc

    model = tiny_model()
    save_checkpoint(tmp_path / "ck", model)
    assert njscc.load_model(tmp_path / "ck").config == model.config


DATA = Path(__file__).resolve().parents[1] / "data"


def test_checkpoint_written_by_njscc_0_1_still_loads_and_decodes_the_same() -> None:
    """A checkpoint saved by the code before the platform refactor (format njscc.checkpoint/1,
    with the config.json it used to write): same config, same outputs (to float32 rounding:
    the fixture was written on another CPU, whose kernels sum in another order)."""
    import numpy as np

    model = load_model(DATA / "checkpoint_v0_1")
    assert model.config["name"] == "necst_mlp" and model.config["kwargs"]["m"] == 6
    ref = np.load(DATA / "checkpoint_v0_1_expected.npz")
    with torch.no_grad():
        y = model.decompress(model.compress(torch.from_numpy(ref["x"])).float())
    torch.testing.assert_close(y, torch.from_numpy(ref["y"]), atol=1e-6, rtol=0)


def test_same_content_gives_the_same_bytes(tmp_path: Path) -> None:
    model = tiny_model()
    a = save_checkpoint(tmp_path / "a", model, extra={"epoch": 1, "x": torch.arange(3)})
    b = save_checkpoint(tmp_path / "b", model, extra={"epoch": 1, "x": torch.arange(3)})
    for name in os.listdir(a):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_config_and_weights_that_disagree_are_refused_in_one_line(tmp_path: Path) -> None:
    model = tiny_model()
    path = save_checkpoint(tmp_path / "ck", model)
    blob = (path / "model.safetensors").read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    cfg = json.loads(header["__metadata__"]["model_config"])
    for change, match in ((("m", 10**9), "m: expected a positive integer ≤ 65536"),
                          (("m", 7), "weights do not match model 'necst_mlp': "),
                          (("enc_hidden", [1 << 20]), "enc_hidden"),
                          (("colour", 1), "unknown argument")):
        bad = {**cfg, "kwargs": {**cfg["kwargs"], change[0]: change[1]}}
        header["__metadata__"]["model_config"] = json.dumps(bad)
        head = json.dumps(header).encode()
        head += b" " * (-len(head) % 8)
        target = tmp_path / f"bad_{change[0]}.safetensors"
        target.write_bytes(len(head).to_bytes(8, "little") + head + blob[8 + n:])
        with pytest.raises(ValueError, match=match) as info:
            load_model(target)
        assert "\n" not in str(info.value)


def test_a_manifest_with_a_null_entry_is_corrupt(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "ck", tiny_model())
    manifest = json.loads((path / "MANIFEST.json").read_text())
    manifest["files"]["model.safetensors"] = None
    (path / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="corrupt checkpoint.*entry 'model.safetensors'"):
        load_model(path)

