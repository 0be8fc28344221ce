"""Trainer: determinism, exact resume (epoch boundary and mid-epoch), logs, optimisers, L2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

import channels
from njscc import models, objectives
from njscc.training import TrainConfig, Trainer, mix_seed
from njscc.training.checkpoint import load_checkpoint


def synthetic_images(n: int = 240, seed: int = 0) -> torch.Tensor:
    """Blurry random blobs in [0, 1], [n, 1, 28, 28] (structure for the codec to learn)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 1, 7, 7, generator=g)
    return torch.nn.functional.interpolate(low, size=(28, 28), mode="bilinear").clamp(0, 1)


def make_trainer(out: Path | None = None, *, seed: int = 0, epochs: int = 3,
                 objective: str = "vimco", l2: float = 1e-4, n: int = 240,
                 on_epoch=None) -> Trainer:
    torch.manual_seed(seed)
    model = models.get("necst_mlp", m=16, enc_hidden=[32], dec_hidden=[32])
    obj = objectives.get(objective, n_samples=3)
    x = synthetic_images(n)
    cfg = TrainConfig(epochs=epochs, batch_size=40, seed=seed, encoder_l2=l2, test_every=1)
    return Trainer(model, obj, channels.get("bsc", 0.1), x, cfg, test_data=x[:80],
                   test_channel=channels.get("bsc", 0.05), out_dir=out, device="cpu",
                   quiet=True, on_epoch=on_epoch)


def weights(t: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in t.model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_same_seed_identical_losses_and_weights() -> None:
    a, b = make_trainer(seed=3), make_trainer(seed=3)
    ha, hb = a.fit(), b.fit()
    for ra, rb in zip(ha, hb, strict=True):
        for k in ("loss", "distortion", "l2", "test_sse"):
            assert ra[k] == rb[k], k
    assert_same_weights(weights(a), weights(b))
    c = make_trainer(seed=4)
    assert c.fit()[0]["loss"] != ha[0]["loss"]


def test_epoch_order_is_a_pure_function_and_batches_shard() -> None:
    t = make_trainer()
    o1, o2 = t.epoch_order(5), t.epoch_order(5)
    assert torch.equal(o1, o2) and not torch.equal(o1, t.epoch_order(6))
    assert torch.equal(o1.sort().values, torch.arange(240))
    # with 2 ranks, the two shards of a global batch partition it
    from njscc.training import DistInfo

    t.dist = DistInfo(rank=0, world=2)
    s0 = t.batch_indices(o1, 2)
    t.dist = DistInfo(rank=1, world=2)
    s1 = t.batch_indices(o1, 2)
    assert torch.equal(torch.cat([s0, s1]).sort().values, o1[80:120].sort().values)
    assert mix_seed(1, 2) != mix_seed(2, 1) and mix_seed(0) == mix_seed(0)


def test_resume_at_epoch_boundary_is_exact(tmp_path: Path) -> None:
    ref = make_trainer(epochs=3)
    ref.fit()
    first = make_trainer(tmp_path / "run", epochs=1)
    first.fit()
    second = make_trainer(tmp_path / "run", epochs=3)
    used = second.resume()
    assert used == tmp_path / "run" / "checkpoints" / "last"
    assert second.epoch == 1 and second.global_step == first.global_step
    second.fit()
    assert_same_weights(weights(second), weights(ref))
    for name, opt in second.optimizers.items():
        st_a, st_b = opt.state_dict()["state"], ref.optimizers[name].state_dict()["state"]
        for i in st_a:
            assert torch.equal(st_a[i]["exp_avg"], st_b[i]["exp_avg"])
    assert [r["loss"] for r in second.history] == [r["loss"] for r in ref.history]


def test_stop_mid_epoch_saves_and_resumes_exactly(tmp_path: Path) -> None:
    """A stop request (what SIGTERM/SIGINT do) mid-epoch finishes the step, saves, returns;
    resuming continues from that step with identical results."""
    ref = make_trainer(epochs=2)
    ref.fit()
    t = make_trainer(tmp_path / "run", epochs=2)
    real_step = t.train_step

    def signal_during_step(x):
        if t.global_step == 7:  # the signal arrives during step 8 = epoch 2 (6 steps), step 2
            t._stop_signal = 15
        return real_step(x)

    t.train_step = signal_during_step
    t.fit()
    assert t.stopped_by_signal == 15
    ck = load_checkpoint(tmp_path / "run")
    assert ck.extra["epoch"] == 1 and ck.extra["step_in_epoch"] == 2
    assert ck.extra["global_step"] == 8

    r = make_trainer(tmp_path / "run", epochs=2)
    r.resume()
    hist = r.fit()
    assert r.stopped_by_signal is None
    assert_same_weights(weights(r), weights(ref))
    assert [h["loss"] for h in hist] == pytest.approx([h["loss"] for h in ref.history],
                                                      rel=1e-12)


def test_time_budget_stops_mid_epoch_and_resumes(tmp_path: Path) -> None:
    ref = make_trainer(epochs=2)
    ref.fit()
    t = make_trainer(tmp_path / "run", epochs=2)
    t.cfg.max_seconds = 0.0
    t.fit()
    assert t.stop_reason == "time" and t.stopped_by_signal is None
    assert (t.epoch, t.step_in_epoch, t.global_step) == (0, 1, 1)
    r = make_trainer(tmp_path / "run", epochs=2)
    r.resume()
    r.fit()
    assert r.stop_reason is None
    assert_same_weights(weights(r), weights(ref))


def test_resume_falls_back_to_prev_when_last_is_corrupt(tmp_path: Path) -> None:
    t = make_trainer(tmp_path / "run", epochs=2)
    t.fit()
    f = tmp_path / "run" / "checkpoints" / "last" / "state.safetensors"
    f.write_bytes(f.read_bytes()[:-10])
    r = make_trainer(tmp_path / "run", epochs=2)
    used = r.resume()
    assert used.name == "prev" and r.epoch == 1


def test_resume_rejects_other_seed(tmp_path: Path) -> None:
    make_trainer(tmp_path / "run", epochs=1).fit()
    with pytest.raises(ValueError, match="seed"):
        make_trainer(tmp_path / "run", seed=9).resume()


def test_logs_json_lines_and_csv(tmp_path: Path) -> None:
    rows = []
    t = make_trainer(tmp_path / "run", epochs=2, on_epoch=rows.append)
    t.fit()
    run = tmp_path / "run"
    lines = [json.loads(s) for s in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2] and lines == rows
    for r in lines:
        assert r["epoch_seconds"] > 0 and r["test_sse"] > 0 and r["test_sse_se"] > 0
        assert {"loss", "distortion", "l2", "step"} <= r.keys()
    with open(run / "log.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in table] == [1, 2]
    assert float(table[1]["test_sse"]) == pytest.approx(lines[1]["test_sse"], rel=1e-5)
    info = json.loads((run / "run.json").read_text())
    assert info["train_config"]["batch_size"] == 40 and info["model"]["name"] == "necst_mlp"


def test_separate_optimizers_include_objective_parameters() -> None:
    t = make_trainer(objective="nvil")
    assert set(t.optimizers) == {"encoder", "decoder", "objective"}
    enc = {id(p) for p in t.model.encoder.parameters()}
    assert {id(p) for g in t.optimizers["encoder"].param_groups for p in g["params"]} == enc
    assert len(list(t.objective.parameters())) > 0
    before = [p.clone() for p in t.objective.parameters()]
    t.cfg.epochs = 1
    t.fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, t.objective.parameters(),
                                                      strict=True))
    assert set(make_trainer(objective="vimco").optimizers) == {"encoder", "decoder"}


def test_l2_penalty_reaches_only_encoder_weights() -> None:
    """With the same samples, the first step differs only in encoder weight matrices."""
    a, b = make_trainer(l2=0.0), make_trainer(l2=10.0)
    assert all(p.dim() >= 2 for p in a.l2_params)
    assert {id(p) for p in a.l2_params} <= {id(p) for p in a.model.encoder.parameters()}
    x = a.train_x[:40]
    a.train_step(x)
    b.train_step(x)
    enc_w = {n for n, p in a.model.named_parameters() if n.startswith("encoder") and p.dim() >= 2}
    for (n, pa), pb in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb) == (n not in enc_w), n


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        make_trainer(n=20)


def test_fit_flushes_subnormals_on_the_cpu_and_restores() -> None:
    """Subnormal floats are 0 during fit() (collapsed importance weights made them 4x slower
    steps), and ordinary arithmetic is back afterwards."""
    supported = torch.set_flush_denormal(False)  # True on x86 with SSE3
    tiny = torch.tensor([1e-39], dtype=torch.float32)
    seen: list[float] = []
    x = torch.rand(20, 1, 28, 28)
    for flush in (True, False):
        trainer = Trainer(models.get("necst_mlp", m=8, enc_hidden=(8,), dec_hidden=(8,)),
                          objectives.get("vimco"), channels.get("bsc", 0.1), x,
                          TrainConfig(epochs=1, batch_size=10, flush_denormal=flush),
                          on_epoch=lambda row: seen.append(float(tiny * 1.0)))
        trainer.fit()
    assert seen[0] == (0.0 if supported else pytest.approx(1e-39, rel=1e-3))
    assert seen[1] == pytest.approx(1e-39, rel=1e-3)  # flush_denormal=False: untouched
    assert float(tiny * 1.0) == pytest.approx(1e-39, rel=1e-3)  # restored after fit()


def _early_trainer(out: Path, *, lr: float, patience: int | None, epochs: int = 6) -> Trainer:
    torch.manual_seed(0)
    model = models.get("necst_mlp", m=16, enc_hidden=[32], dec_hidden=[32])
    x = synthetic_images(320)
    cfg = TrainConfig(epochs=epochs, batch_size=40, seed=0, lr=lr, test_every=0,
                      patience=patience)
    return Trainer(model, objectives.get("vimco", n_samples=3), channels.get("bsc", 0.1),
                   x[:240], cfg, valid_data=x[240:], out_dir=out, device="cpu", quiet=True)


def test_early_stopping_keeps_the_best_epoch_and_stops(tmp_path: Path) -> None:
    from njscc.training import find_checkpoint, load_model

    # a learning rate so small that the weights cannot change: no epoch beats the first
    # (ties are not improvements), so patience 2 stops after epoch 3
    t = _early_trainer(tmp_path / "frozen", lr=1e-30, patience=2)
    hist = t.fit()
    assert t.stop_reason == "early" and len(hist) == 3 and t.best_epoch == 1
    assert [r["best"] for r in hist] == [True, False, False]
    assert find_checkpoint(tmp_path / "frozen").name == "best"
    assert find_checkpoint(tmp_path / "frozen", best=False).name == "last"
    # resuming a run that stopped early does not train on
    again = _early_trainer(tmp_path / "frozen", lr=1e-30, patience=2)
    again.resume()
    assert again.fit() == hist and again.stop_reason == "early"

    # a learning run: valid SSE falls, best tracks the minimum, best weights are what loads
    t = _early_trainer(tmp_path / "learn", lr=3e-3, patience=None, epochs=4)
    hist = t.fit()
    assert t.stop_reason is None and len(hist) == 4
    scores = [r["valid_sse"] for r in hist]
    assert scores[-1] < scores[0]
    assert t.best_epoch == 1 + scores.index(min(scores))
    best = load_model(find_checkpoint(tmp_path / "learn"))
    ck = load_checkpoint(tmp_path / "learn" / "checkpoints" / "best")
    assert ck.extra["epoch"] == t.best_epoch
    assert best.config == t.model.config


def test_patience_needs_validation_data() -> None:
    torch.manual_seed(0)
    model = models.get("necst_mlp", m=16, enc_hidden=[32], dec_hidden=[32])
    with pytest.raises(ValueError, match="validation data"):
        Trainer(model, objectives.get("vimco"), channels.get("bsc", 0.1), synthetic_images(80),
                TrainConfig(epochs=2, batch_size=40, patience=2), device="cpu", quiet=True)
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=0)


def test_fit_codec_stops_the_whole_study_on_a_signal(tmp_path, monkeypatch) -> None:
    """A Ctrl-C during one model of a multi-model study must not start the next model."""
    from njscc.training import runs
    from njscc.training import trainer as trainer_mod

    monkeypatch.setattr(trainer_mod.Trainer, "stop_reason", property(lambda self: "signal"))
    with pytest.raises(KeyboardInterrupt, match="checkpoint saved"):
        runs.fit_codec("necst_mlp", {"m": 8}, "vimco", {}, torch.rand(200, 1, 28, 28),
                       tmp_path / "run", epochs=1, batch_size=100)
    assert (tmp_path / "run" / "checkpoints").exists()
