"""DeepJSCC codecs (analog, SNR-adaptive, binary), the ``jscc`` objective, the analog latent
declaration, GDN, tiling, and the CLI path of analog channels."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

import channels
from channels.analog import AWGN, RayleighBlockFading
from njscc import models, objectives
from njscc.codec import LatentSpec
from njscc.experiments.deepjscc.data import tile, untile
from njscc.experiments.deepjscc.study import qpsk_crossover
from njscc.models.deepjscc import c_for_ratio
from njscc.nn.gdn import GDN


def _mnist_model(name: str = "deepjscc", **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return models.get(name, c=2, data_shape=(1, 28, 28), **kw)


# ----------------------------------------------------------------------------- latent spec
def test_channel_symbols_spec() -> None:
    spec = LatentSpec.channel_symbols(49)
    assert (spec.kind, spec.size, spec.analog, spec.channel_uses) == ("real", 98, "complex", 49)
    assert spec.crosses_channel and not spec.sendable and spec.channel_bits is None
    assert spec.as_dict()["channel_uses"] == 49
    assert LatentSpec.channel_symbols(10, complex_symbols=False).channel_uses == 10
    assert LatentSpec.bits(5).crosses_channel and not LatentSpec.real(5).crosses_channel
    with pytest.raises(ValueError, match="even"):
        LatentSpec("real", 7, analog="complex")
    with pytest.raises(ValueError, match="analog"):
        LatentSpec("bits", 8, analog="complex")


# ----------------------------------------------------------------------------- codecs
@pytest.mark.parametrize("name,kw", [("deepjscc", {}), ("adjscc", {}),
                                     ("deepjscc", {"symbols": "real"}),
                                     ("deepjscc", {"activation": "gdn"})])
def test_power_constraint_is_exact(name: str, kw: dict, generator: torch.Generator) -> None:
    model = models.get(name, c=4, data_shape=(3, 32, 32), **kw)
    x = torch.rand(5, 3, 32, 32, generator=generator)
    z = model.encode(x, 7.0)
    assert z.shape == (5, model.k) and z.is_complex() == (kw.get("symbols") != "real")
    power = z.abs().square().mean(1)
    torch.testing.assert_close(power, torch.ones(5), rtol=1e-5, atol=1e-6)
    assert model.latent.channel_uses == model.k


def test_bandwidth_ratio_and_c_for_ratio() -> None:
    for ratio, shape in ((1 / 12, (3, 32, 32)), (1 / 6, (3, 32, 32)), (1 / 3, (3, 32, 32)),
                         (1 / 16, (1, 28, 28)), (1 / 4, (1, 28, 28))):
        c = c_for_ratio(ratio, shape)
        model = models.get("deepjscc", c=c, data_shape=shape)
        assert math.isclose(model.bandwidth_ratio, ratio)
    with pytest.raises(ValueError, match="not a positive integer"):
        c_for_ratio(1 / 7, (3, 32, 32))
    with pytest.raises(ValueError, match="odd"):
        models.get("deepjscc", c=1, data_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="divisible by 4"):
        models.get("deepjscc", c=2, data_shape=(1, 30, 30))


def test_shapes_and_fully_convolutional_transmit(generator: torch.Generator) -> None:
    model = models.get("deepjscc", c=8, data_shape=(3, 32, 32))
    x = torch.rand(2, 3, 32, 32, generator=generator)
    out = model(x, AWGN(10.0), n_samples=3, generator=generator)
    assert out["y"].shape == (3, 2, model.k) and out["params"].shape == (3, 2, 3, 32, 32)
    assert out["log_p"].shape == (3, 2)
    big = model.transmit(torch.rand(1, 3, 64, 96, generator=generator), AWGN(10.0), generator)
    assert big.shape == (1, 3, 64, 96) and 0 <= float(big.min()) <= float(big.max()) <= 1
    with pytest.raises(TypeError, match="analog channel"):
        model(x, channels.get("bsc", 0.1))
    with pytest.raises(ValueError, match="real symbols"):
        model(x, AWGN(10.0, complex_symbols=False))


def test_noise_level_reaches_the_decoder(generator: torch.Generator) -> None:
    model = models.get("deepjscc", c=8, data_shape=(3, 32, 32))
    z = model.compress(torch.rand(64, 3, 32, 32, generator=generator))
    y = AWGN(0.0)(z, generator=generator)
    # SNR 0 dB: noise power 1 per complex use; χ²-based 5σ bound on the empirical power
    n = z.numel()
    emp = float((y - z).abs().square().mean())
    assert abs(emp - 1.0) < 5 * math.sqrt(1.0 / n)


def test_snr_adaptive_output_depends_on_snr(generator: torch.Generator) -> None:
    model = models.get("adjscc", c=4, data_shape=(3, 32, 32))
    x = torch.rand(3, 3, 32, 32, generator=generator)
    with torch.no_grad():
        z0, z20 = model.encode(x, 0.0), model.encode(x, 20.0)
    assert float((z0 - z20).abs().max()) > 1e-4
    y = z0.detach()
    assert float((model.decode(y, 0.0) - model.decode(y, 20.0)).abs().max()) > 1e-4
    with pytest.raises(ValueError, match="needs the channel SNR"):
        model.encode(x)
    # per-example SNRs: each example's output is the one at its own SNR
    zs = model.encode(x, torch.tensor([0.0, 20.0, 0.0]))
    torch.testing.assert_close(zs[0], z0[0])
    torch.testing.assert_close(zs[1], z20[1])
    # the non-adaptive codec ignores the SNR
    plain = models.get("deepjscc", c=4, data_shape=(3, 32, 32))
    torch.testing.assert_close(plain.encode(x, 0.0), plain.encode(x, 20.0))


def test_binary_deepjscc_bits_and_vimco(generator: torch.Generator) -> None:
    model = _mnist_model("deepjscc_binary")
    assert model.m == 2 * 7 * 7 and model.latent.kind == "bits"
    x = torch.rand(4, 1, 28, 28, generator=generator)
    loss, stats = objectives.get("vimco")(model, x, channels.get("bsc", 0.05), generator)
    loss.backward()
    assert math.isfinite(stats["loss"])
    assert all(p.grad is not None for p in model.encoder.parameters())
    bits = model.compress(x)
    assert bits.shape == (4, 98) and set(bits.unique().tolist()) <= {0, 1}


def test_qpsk_crossover_is_bpsk_at_half_the_snr() -> None:
    from channels.awgn import bpsk_error_probability

    for s in (-5.0, 0.0, 7.5, 12.0):
        assert math.isclose(float(qpsk_crossover(s)),
                            bpsk_error_probability(s - 10 * math.log10(2)), rel_tol=1e-9)


# ----------------------------------------------------------------------------- objective
def test_jscc_objective(generator: torch.Generator) -> None:
    model = _mnist_model(likelihood="bernoulli")
    obj = objectives.get("jscc", snr_range=[0, 20])
    x = torch.rand(8, 1, 28, 28, generator=generator)
    loss, stats = obj(model, x, AWGN(10.0), generator)
    loss.backward()
    assert {"loss", "bound", "distortion", "psnr"} <= set(stats)
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all())
               for p in model.parameters() if p.requires_grad)
    assert objectives.default_for(model) == "jscc"
    with pytest.raises(ValueError, match="analog channel symbols"):
        obj.check(models.get("necst_mlp", m=20))
    with pytest.raises(ValueError, match="lo <= hi"):
        objectives.get("jscc", snr_range=[10, 0])


def test_training_reduces_distortion_and_psnr_is_monotone_in_snr() -> None:
    from njscc.data import load_dataset
    from njscc.evaluation.distortion import evaluate_codec

    data = load_dataset("embedded", "train").inputs[:3200]
    model = _mnist_model(likelihood="bernoulli")
    obj = objectives.get("jscc")
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    g = torch.Generator().manual_seed(0)
    test = load_dataset("embedded", "test").inputs[:300]
    before = evaluate_codec(model, test, AWGN(10.0), generator=torch.Generator().manual_seed(1))
    for step in range(150):
        x = data[(step * 64) % 3200:(step * 64) % 3200 + 64]
        loss, _ = obj(model, x, AWGN(10.0), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    psnr = [evaluate_codec(model, test, AWGN(s), n_draws=4,
                           generator=torch.Generator().manual_seed(2))["psnr"]
            for s in (-5.0, 5.0, 15.0)]
    after = evaluate_codec(model, test, AWGN(10.0), generator=torch.Generator().manual_seed(1))
    assert after["sse"] < 0.8 * before["sse"]
    assert psnr[0] < psnr[1] < psnr[2]


def test_trainer_scores_analog_codecs_over_the_channel(tmp_path) -> None:
    from njscc.data import load_dataset
    from njscc.training import TrainConfig, Trainer

    data = load_dataset("embedded", "train").inputs[:640]
    model = _mnist_model(likelihood="bernoulli")
    tr = Trainer(model, objectives.get("jscc"), AWGN(5.0), data,
                 TrainConfig(epochs=1, batch_size=64, encoder_l2=0.0),
                 test_data=data[:100], test_channel=RayleighBlockFading(5.0), quiet=True)
    tr.fit()
    assert "test_psnr" in tr.history[-1] and math.isfinite(tr.history[-1]["test_sse"])


# ----------------------------------------------------------------------------- pieces
def test_gdn_identity_at_zero_gamma_and_inverse() -> None:
    x = torch.randn(2, 4, 5, 5)
    g = GDN(4, gamma_init=0.0)
    with torch.no_grad():
        g.b.fill_(1.0)
    torch.testing.assert_close(g(x), x / math.sqrt(1 + 1e-6))
    gd, ig = GDN(4), GDN(4, inverse=True)
    ig.load_state_dict(gd.state_dict())
    # IGDN(GDN(x)) ≈ x when the normalisation is mild
    small = 0.1 * x
    torch.testing.assert_close(ig(gd(small)), small, rtol=0.05, atol=1e-3)


def test_tile_untile_round_trip(generator: torch.Generator) -> None:
    img = torch.rand(3, 64, 96, generator=generator)
    tiles = tile(img, 32)
    assert tiles.shape == (6, 3, 32, 32)
    torch.testing.assert_close(tiles[1], img[:, :32, 32:64])
    torch.testing.assert_close(untile(tiles, (3, 64, 96)), img)
    torch.testing.assert_close(untile(tiles.unsqueeze(0).repeat(2, 1, 1, 1, 1), (3, 64, 96))[1],
                               img)
    with pytest.raises(ValueError, match="tile"):
        tile(img, 40)


# ----------------------------------------------------------------------------- CLI
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "njscc.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_train_and_eval_analog(tmp_path) -> None:
    run = tmp_path / "run"
    common = ["train", "--model", "deepjscc", "--model-arg", "c=2", "--model-arg",
              "data_shape=[1,28,28]", "--dataset", "embedded", "--epochs", "1",
              "--max-steps", "20", "--quiet", "--out", str(run)]
    r = _cli(*common)
    assert r.returncode == 2 and "name an analog channel" in r.stderr
    assert "Traceback" not in r.stderr
    r = _cli(*common, "--channel", "awgn_complex", "--train-eps", "10")
    assert r.returncode == 0, r.stderr
    r = _cli("eval", "--checkpoint", str(run), "--channel", "awgn_complex,rayleigh",
             "--eps", "0,10", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (run / "eval" / "eval_rayleigh.json").is_file()
    r = _cli("eval", "--checkpoint", str(run), "--channel", "bsc", "--eps", "0.1")
    assert r.returncode == 2 and "expected an analog channel" in r.stderr


# ----------------------------------------------------------------------------- the study
@pytest.mark.sionna
def test_study_end_to_end_small(tmp_path, data_dir) -> None:
    pytest.importorskip("sionna.phy")
    from njscc.experiments import EXPERIMENTS, execute

    study = EXPERIMENTS.get("deepjscc", dataset="mnist", data_dir=str(data_dir),
                            runs_dir=str(tmp_path / "runs"), epochs=1, train_size=640,
                            n_test=16, n_draws=2, bler_words=40, code_rates=(0.5, 0.75),
                            modulations=("qpsk", "16qam"), test_snrs=(0.0, 10.0, 20.0),
                            sources=("jpeg",), ratios=(1 / 16, 1 / 4), learned_bits=(16, 24))
    specs = study.model_specs()
    k = 49  # MNIST at k/n = 1/16
    assert specs["necst_snr10"]["kwargs"]["m"] == 2 * k          # QPSK: 2 bits per use
    assert models.get("deepjscc_binary", **specs["binary_snr10"]["kwargs"]).m == 2 * k
    # soft decisions: each Gray-QPSK bit is BPSK at Es/N0 = SNR / 2, fed as soft bits
    soft = study._train_channel(specs["binary_soft_snr10"])
    assert soft.name == "awgn_soft" and soft.param == pytest.approx(10 - 3.0103, abs=1e-4)
    assert study._train_channel(specs["binary_snr10"]).name == "bsc"
    results, files = execute(study, out=tmp_path / "out")
    names = {p.name for p in files}
    assert {"deepjscc_mnist_awgn_snr.json", "deepjscc_mnist_awgn_ratio.json",
            "deepjscc_mnist_awgn_separation.json", "deepjscc_mnist_awgn_snr.png"} <= names
    snr = results["deepjscc_mnist_awgn_snr"]["metrics"]
    assert snr["test_snr_db"] == [0.0, 10.0, 20.0]
    for name in ("deepjscc_snr0", "adjscc", "binary_snr10", "binary_soft_snr10", "necst_snr10",
                 "jpeg+ideal",
                 "jpeg+ldpc best", "jpeg+ldpc @10 dB", "learned+ldpc best", "learned+ideal"):
        assert len(snr["schemes"][name]["psnr"]) == 3
    ideal = snr["schemes"]["jpeg+ideal"]["psnr"]
    assert ideal == sorted(ideal)  # more capacity never hurts the bound
    ratio = results["deepjscc_mnist_awgn_ratio"]["metrics"]
    assert ratio["ratios"] == [1 / 16, 1 / 4] and len(ratio["psnr"]["deepjscc"]) == 2
    sep = results["deepjscc_mnist_awgn_separation"]["metrics"]
    assert set(sep["schemes"]["jpeg"]["designs"]) == {"0", "10", "20"}
    # learned separation: one 5G codeword of k = m_s bits in the image's 49 channel uses
    for cfg in sep["schemes"]["learned"]["configs"]:
        assert cfg["m"] in (16, 24) and cfg["m"] / cfg["rate"] <= 49 * 4 + 1e-9
    assert sep["throughput"]["deepjscc_decoder_images_per_s"] > 0
    assert "PSNR" in type(study).summary(results)
