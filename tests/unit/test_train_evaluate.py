"""Evaluation library: exact noiseless ε = 0, reproducible channel draws, standard errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import channels
from njscc import models
from njscc.evaluation.distortion import (
    evaluate_codec,
    evaluate_sweep,
    plot_results,
    save_reconstruction_grid,
    sweep_results,
    write_sweep,
)
from njscc.io.results import load_result


@pytest.fixture
def model():
    torch.manual_seed(0)
    return models.get("necst_mlp", m=24, enc_hidden=[32], dec_hidden=[32])


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(150, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_zero_noise_is_exactly_noiseless(model, images) -> None:
    clean = evaluate_codec(model, images, None)
    for name in ("bsc", "bec", "z"):
        r = evaluate_codec(model, images, channels.get(name, 0.0),
                           generator=torch.Generator().manual_seed(5))
        assert r == clean


def test_matches_a_direct_computation(model, images) -> None:
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    ch = channels.get("bsc", 0.2)
    r = evaluate_codec(model, images, ch, generator=g1, batch_size=1000)
    with torch.no_grad():
        y = ch(model.compress(images).float(), generator=g2)
        sse = (model.decompress(y) - images).square().flatten(1).sum(1).double()
    assert r["sse"] == pytest.approx(float(sse.mean()), rel=1e-12)
    assert r["sse_se"] == pytest.approx(float(sse.std() / math.sqrt(150)), rel=1e-9)
    psnr = 10 * torch.log10(784 / sse)
    assert r["psnr"] == pytest.approx(float(psnr.mean()), rel=1e-6)
    assert r["n_images"] == 150 and r["n_draws"] == 1 and "bce" not in r


def test_reproducible_and_batch_size_independent_for_hard_codes_noiseless(model, images) -> None:
    ch = channels.get("bsc", 0.1)
    a = evaluate_codec(model, images, ch, generator=torch.Generator().manual_seed(0))
    b = evaluate_codec(model, images, ch, generator=torch.Generator().manual_seed(0))
    c = evaluate_codec(model, images, ch, generator=torch.Generator().manual_seed(1))
    assert a == b and a != c
    assert evaluate_codec(model, images, None, batch_size=7)["sse"] == pytest.approx(
        evaluate_codec(model, images, None)["sse"], rel=1e-12)


def test_more_draws_shrink_the_channel_noise(model, images) -> None:
    """The draw-averaged per-image SSE varies less between seeds than single draws."""
    ch = channels.get("bsc", 0.3)
    one = [evaluate_codec(model, images, ch, generator=torch.Generator().manual_seed(s))["sse"]
           for s in range(6)]
    many = [evaluate_codec(model, images, ch, n_draws=8,
                           generator=torch.Generator().manual_seed(s))["sse"] for s in range(6)]
    assert torch.tensor(many).std() < torch.tensor(one).std()


def test_sampled_codes(model, images) -> None:
    hard = evaluate_codec(model, images, None)
    samp = evaluate_codec(model, images, None, code="sample",
                          generator=torch.Generator().manual_seed(0))
    assert samp["sse"] != hard["sse"]  # untrained: logits near 0, samples differ from 1[ℓ>0]
    with torch.no_grad():  # saturated encoder: samples are (almost all) the hard code
        model.encoder[-1].weight.mul_(1e4)
    samp = evaluate_codec(model, images, None, code="sample",
                          generator=torch.Generator().manual_seed(0))
    assert samp["sse"] == pytest.approx(evaluate_codec(model, images, None)["sse"], rel=1e-3)
    with pytest.raises(ValueError, match="code"):
        evaluate_codec(model, images, None, code="soft")


def test_bce_for_binary_data(images) -> None:
    torch.manual_seed(0)
    m = models.get("necst_mlp", m=8, enc_hidden=[16], dec_hidden=[16], likelihood="bernoulli")
    x = (images > 0.5).float()
    r = evaluate_codec(m, x, None)
    assert r["bce"] > 0 and r["bce_se"] > 0


def test_sweep_files_and_plots(model, images, tmp_path: Path) -> None:
    sweep = evaluate_sweep(model, images, ["bsc", "bec"], [0.0, 0.2], seed=0)
    assert sweep["bsc"][0]["sse"] == sweep["bec"][0]["sse"]
    res = sweep_results(sweep, model=model, dataset="toy", config={"seed": 0})
    paths = write_sweep(res, tmp_path)
    r = load_result(paths[0])
    assert r["metrics"]["param"] == [0.0, 0.2] and r["m"] == 24
    assert r["config"]["model"]["name"] == "necst_mlp"
    png = plot_results(paths, tmp_path / "d.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    grid = save_reconstruction_grid(model, images[:5],
                                    [("BSC 0.2", channels.get("bsc", 0.2)), ("clean", None)],
                                    tmp_path / "g.png", scale=1)
    from PIL import Image

    with Image.open(grid) as im:
        assert im.size == (80 + 5 * 30 + 2, 3 * 30 + 2)


def test_unknown_channel_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="pigeon"):
        channels.get("pigeon", 0.1)
