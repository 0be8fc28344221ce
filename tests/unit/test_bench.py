"""The throughput experiment: timing helpers, FLOPs, the fused NECST decoder, the C++ BP code, the
separation receiver, the suite's files and the ``njscc bench`` command. No speed asserts."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from njscc import models
from njscc.cli import main
from njscc.experiments import throughput as bench
from njscc.experiments.throughput import FusedMLPDecoder, measure, mlp_flops
from njscc.io.results import SCHEMA, load_result


@pytest.fixture(scope="module")
def necst() -> nn.Module:
    torch.manual_seed(0)
    return models.get("necst_mlp", m=100).eval()


# -- FLOPs / roofline arithmetic ----------------------------------------------------------------
def test_mlp_flops_small_mlp() -> None:
    dec = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2))
    f = mlp_flops(dec)
    # linear 2·(3·4 + 4·2) = 40; bias 2 (second layer only); ReLU 4 + output sigmoid 2
    assert f == {"linear": 40, "bias": 2, "activation": 6, "total": 48}
    assert mlp_flops(dec, output_sigmoid=False)["activation"] == 4


def test_mlp_flops_necst_mnist(necst: nn.Module) -> None:
    f = mlp_flops(necst.decoder)
    assert f["linear"] == 2 * (100 * 500 + 500 * 500 + 500 * 784) == 1_384_000
    assert f["bias"] == 0
    assert f["activation"] == 500 + 500 + 784
    assert f["total"] == 1_385_784


def test_mlp_flops_rejects_non_mlp() -> None:
    with pytest.raises(TypeError, match="unsupported module"):
        mlp_flops(nn.Sequential(nn.Linear(2, 2), nn.Dropout()))
    with pytest.raises(TypeError, match="nn.Sequential"):
        mlp_flops(nn.Linear(2, 2))


# -- timing -------------------------------------------------------------------------------------
def test_measure_orders_quartiles_and_counts_calls() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        time.sleep(0.002)

    t = measure(fn, warmup=1, rounds=5, min_round_s=0.01)
    assert t.q1_s <= t.median_s <= t.q3_s
    assert t.median_s >= 0.002  # a sleep never finishes early
    assert t.calls >= 1 and t.rounds == 5
    assert len(calls) == 1 + 1 + 5 * t.calls  # warm-up + calibration + rounds
    r = t.rates(10, "images_per_s")
    assert r["images_per_s_q1"] <= r["images_per_s"] <= r["images_per_s_q3"]
    assert math.isclose(r["images_per_s"], 10 / t.median_s)


def test_measure_budget_keeps_min_rounds() -> None:
    t = measure(lambda: time.sleep(0.005), warmup=0, rounds=50, min_round_s=0.0, budget_s=0.0,
                min_rounds=3)
    assert t.rounds == 3


def test_rss_reported() -> None:
    r = bench.rss_mb()
    assert r is None or r > 0
    assert bench.maxrss_mb() > 0


# -- fused decoder == model.decompress ------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 513, 1100])
def test_fused_matches_decompress_bits(necst: nn.Module, n: int) -> None:
    g = torch.Generator().manual_seed(n)
    y = torch.randint(0, 2, (n, 100), generator=g, dtype=torch.uint8)
    with torch.inference_mode():
        ref = necst.decompress(y)
    fused = FusedMLPDecoder(necst, chunk=256)
    out = fused(y)
    assert out.shape == ref.shape == (n, 1, 28, 28)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=2e-6, rtol=0)
    torch.testing.assert_close(fused(y.float()), ref, atol=2e-6, rtol=0)


def test_fused_erasures_leading_dims_and_out(necst: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    y = torch.randint(-1, 2, (3, 5, 100), generator=g).float()  # {-1 erased, 0, 1}
    assert (y == -1).any()
    with torch.inference_mode():
        ref = necst.decompress(y)
    out = torch.empty(3, 5, 1, 28, 28)
    got = FusedMLPDecoder(necst, chunk=4)(y, out=out)
    assert got.shape == (3, 5, 1, 28, 28)
    assert got.data_ptr() == out.data_ptr()
    torch.testing.assert_close(got, ref, atol=2e-6, rtol=0)


def test_fused_with_biases_and_relu() -> None:
    torch.manual_seed(3)
    model = models.get("necst_mlp", m=12, data_shape=[1, 4, 4], dec_hidden=[9], bias=True,
                       negative_slope=0.0).eval()
    for p in model.parameters():  # non-zero biases
        nn.init.normal_(p)
    y = torch.randint(0, 2, (33, 12), dtype=torch.uint8)
    with torch.inference_mode():
        ref = model.decompress(y)
    torch.testing.assert_close(FusedMLPDecoder(model, chunk=8)(y), ref, atol=1e-5, rtol=1e-5)


def test_fused_validates(necst: nn.Module) -> None:
    fused = FusedMLPDecoder(necst)
    with pytest.raises(ValueError, match="m=100"):
        fused(torch.zeros(2, 99))
    with pytest.raises(ValueError, match="out"):
        fused(torch.zeros(2, 100), out=torch.empty(3, 784))
    with pytest.raises(ValueError, match="chunk"):
        FusedMLPDecoder(necst, chunk=0)
    conv = models.get("necst_conv", m=16) if "necst_conv" in models.available() else None
    if conv is not None:
        with pytest.raises(TypeError):
            FusedMLPDecoder(conv)


def test_fused_bfloat16_is_close(necst: nn.Module) -> None:
    y = torch.randint(0, 2, (64, 100), dtype=torch.uint8)
    with torch.inference_mode():
        ref = necst.decompress(y)
    out = FusedMLPDecoder(necst, dtype=torch.bfloat16)(y)
    assert out.dtype == torch.float32
    assert (out - ref).abs().max() < 0.05  # bf16 keeps 8 mantissa bits


def test_compiled_matches_eager(necst: nn.Module) -> None:
    """torch.compile(model.decompress) gives the eager numbers (skips if compile is broken)."""
    y = torch.randint(0, 2, (16, 100), dtype=torch.uint8)
    try:
        compiled = torch.compile(necst.decompress)
        with torch.inference_mode():
            out = compiled(y)
    except Exception as e:  # noqa: BLE001 - no compiler on this machine: nothing to compare
        pytest.skip(f"torch.compile unavailable: {type(e).__name__}: {e}")
    with torch.inference_mode():
        ref = necst.decompress(y)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(FusedMLPDecoder(necst)(y), out, atol=1e-5, rtol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fused_cuda_matches_cpu(necst: nn.Module) -> None:  # pragma: no cover - no GPU in CI
    y = torch.randint(0, 2, (300, 100), dtype=torch.uint8)
    with torch.inference_mode():
        ref = necst.decompress(y)
    model = necst.to("cuda")
    try:
        out = FusedMLPDecoder(model, chunk=1 << 20)(y.cuda()).cpu()
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)  # TF32 may be on
        half = FusedMLPDecoder(model, dtype=torch.float16)(y.cuda()).cpu()
        assert (half - ref).abs().max() < 0.02
    finally:
        necst.to("cpu")


# -- separation side ---------------------------------------------------------------------------
@pytest.mark.sionna
def test_five_g_layout_consistent() -> None:
    pytest.importorskip("sionna.phy")
    from baselines.codes import LDPC5G

    code = LDPC5G(100, 200)
    lay = bench.five_g_layout(code._encoder)
    rx = lay["rx_cols"]
    assert len(rx) == 200 and len(set(rx.tolist())) == 200
    assert rx.max() < lay["n_cols"] == lay["pcm"].shape[1]
    assert not set(rx.tolist()) & set(lay["known_zero_cols"].tolist())
    # every codeword of the 5G encoder satisfies the pruned checks at its columns
    u = torch.randint(0, 2, (8, 100), generator=torch.Generator().manual_seed(0))
    cw = code.encode(u).to(torch.uint8).numpy()
    full = np.zeros((8, lay["n_cols"]), np.int64)
    full[:, rx] = cw
    full[:, :100] = u.numpy()  # info bits, including the punctured first 2z
    assert not ((lay["pcm"] @ full.T) % 2).any()


@pytest.mark.sionna
@pytest.mark.parametrize("which", ["5g", "pyldpc"])
def test_cpp_bp_code_decodes(which: str) -> None:
    pytest.importorskip("ldpc")
    pytest.importorskip("pyldpc")
    import channels
    from baselines.codes import LDPC5G, get_code

    base = LDPC5G(100, 200) if which == "5g" else get_code("pyldpc", 0.5, 100)
    code = bench.CppBpCode(base, max_iter=20)
    assert (code.k, code.n) == (base.k, base.n)
    g = torch.Generator().manual_seed(5)
    u = torch.randint(0, 2, (40, code.k), generator=g, dtype=torch.uint8)
    cw = code.encode(u)
    bsc = channels.get("bsc", 0.02)
    # noiseless: exact
    assert torch.equal(code.decode(bsc.llr(cw)), u)
    # one flipped bit per word: corrected on the 5G code; Gallager's (3, 6) construction has
    # 4-cycles and fails on a few single flips, so there compare with pyldpc's own decoder
    y = cw.clone()
    y[torch.arange(40), torch.randint(0, code.n, (40,), generator=g)] += 1
    y = y % 2
    wrong = int((code.decode(bsc.llr(y)) != u).any(1).sum())
    if which == "5g":
        assert wrong == 0
    else:
        assert wrong <= int((base.decode(bsc.llr(y)) != u).any(1).sum())
    assert code.last_iterations >= 1
    # per-word LLR magnitudes (not a BSC) take the slow path and still decode
    llr = bsc.llr(cw) * torch.linspace(0.5, 2.0, 40).unsqueeze(1)
    assert torch.equal(code.decode(llr), u)


@pytest.mark.sionna
def test_separation_receiver_noiseless_equals_jpeg() -> None:
    pytest.importorskip("sionna.phy")
    import channels
    from baselines.codes import LDPC5G
    from baselines.source import JPEGCodec

    imgs, _ = bench.bench_images(3)
    jpeg = JPEGCodec(50, header_known=True)
    rx = bench.SeparationReceiver(jpeg, LDPC5G(100, 200), channels.get("bsc", 0.0))
    batch = rx.transmit(imgs)
    assert batch.images == 3
    assert batch.received.shape == (sum(batch.counts), 200)
    assert batch.lengths == [8 * len(jpeg.encode(im)) for im in imgs]
    out = rx.receive(batch)
    assert rx.failures == 0
    for i, im in enumerate(imgs):
        ref = jpeg.decode(jpeg.encode(im), im.shape).astype(np.float32) / 255
        np.testing.assert_allclose(out[i, 0].numpy(), ref, atol=1e-7)


# -- the suite, its files and the command -----------------------------------------------------
def _tiny_cfg(**kw: object) -> bench.BenchConfig:
    base: dict[str, object] = {"batches": (1, 8), "sep_batches": (1,), "cw_batches": (1, 4),
                               "threads": 1, "budget_s": 0.02, "stream": 3000,
                               "stream_chunk": 1000}
    return bench.BenchConfig.make_quick(**{**base, **kw})


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for mod in ("sionna.phy", "ldpc", "pyldpc"):
        pytest.importorskip(mod)
    out = tmp_path_factory.mktemp("tp")
    res = bench.run_suite(_tiny_cfg())
    bench.write_suite(res, out)
    bench.plot_throughput(out)
    return out


@pytest.mark.sionna
def test_suite_files_validate(suite_dir: Path) -> None:
    names = {p.stem for p in suite_dir.glob("*.json")}
    assert names == {"necst_decode", "roofline", "ldpc_codewords", "separation_decode", "encode",
                     "stream_memory", "summary"}
    for p in suite_dir.glob("*.json"):
        res = load_result(p)
        assert res["schema"] == SCHEMA and res["task"] == f"throughput/{p.stem}"
        assert res["channel"] == {"name": "bsc", "param": 0.03} and res["m"] == 100
        for key in ("torch", "device", "git", "time", "threads"):
            assert key in res["env"]
        for key in ("device_name", "threads", "versions"):
            assert key in res["config"]
    nd = load_result(suite_dir / "necst_decode.json")["metrics"]
    assert {(r["variant"], r["batch"]) for r in nd["rows"]} == {
        ("eager", 1), ("eager", 8), ("fused", 1), ("fused", 8)}
    for r in nd["rows"]:
        assert r["threads"] == 1 and r["dtype"] == "float32" and r["images_per_s"] > 0
        assert r["images_per_s_q1"] <= r["images_per_s"] <= r["images_per_s_q3"]
        assert math.isclose(r["info_bits_per_s"], 100 * r["images_per_s"], rel_tol=1e-4)
    assert nd["accuracy_vs_eager_fp32"]["fused-float32"]["max_abs_pixel_diff"] < 1e-5
    assert nd["compile"]["ok"] is False  # quick mode does not compile
    sep = load_result(suite_dir / "separation_decode.json")["metrics"]
    assert {r["decoder"] for r in sep["rows"]} == {f"{d}+jpeg" for d in bench.suite.LDPC_DECODERS}
    for r in sep["rows"]:
        assert r["channel_bits_per_image"] == r["codewords_per_image"] * 200 or \
            r["decoder"].startswith("pyldpc")
    mem = load_result(suite_dir / "stream_memory.json")["metrics"]
    assert mem["images"] == 3000 and mem["tracemalloc_peak_kb"] >= 0


@pytest.mark.sionna
def test_roofline_arithmetic(suite_dir: Path) -> None:
    roof = load_result(suite_dir / "roofline.json")["metrics"]
    flops = roof["flops_per_image"]["total"]
    assert flops == 1_385_784
    nd = load_result(suite_dir / "necst_decode.json")["metrics"]["rows"]
    r = roof["roofline"]["float32"]
    best = max(nd, key=lambda x: x["images_per_s"])
    assert r["best_images_per_s"] == best["images_per_s"]
    assert math.isclose(r["achieved_flops_per_s"], best["images_per_s"] * flops, rel_tol=1e-9)
    assert math.isclose(r["fraction_of_peak"], r["achieved_flops_per_s"] / r["peak_flops_per_s"],
                        rel_tol=1e-9)
    assert math.isclose(r["attainable_images_per_s"], r["peak_flops_per_s"] / flops,
                        rel_tol=1e-9)
    pk = roof["peaks"]["float32"]
    assert pk["n"] in (1024, 2048) and pk["flops_per_s"] > 0
    # the attainable peak is the fastest matmul round (never below the median)
    assert r["peak_flops_per_s"] == max(pk["flops_per_s_best"], pk["flops_per_s"])


@pytest.mark.sionna
def test_speedups_are_ratios_of_the_rows(suite_dir: Path) -> None:
    res = bench.load_suite(suite_dir)
    s = bench.speedups(res)
    nd = res["necst_decode"]["metrics"]["rows"]
    best = max(nd, key=lambda x: x["images_per_s"])["images_per_s"]
    sep = res["separation_decode"]["metrics"]["rows"]
    sion = max((r for r in sep if r["decoder"] == "sionna-bp20-boxplus-phi+jpeg"),
               key=lambda r: r["images_per_s"])["images_per_s"]
    key = "necst / (sionna-bp20-boxplus-phi+jpeg) images/s"
    assert math.isclose(s["ratios"][key], best / sion, rel_tol=1e-9)
    cw = [r for r in res["ldpc_codewords"]["metrics"]["rows"] if r["decoder"] == "cpp-minsum"]
    cpp = max(cw, key=lambda r: r["codewords_per_s"])["codewords_per_s"]
    assert math.isclose(s["ratios"]["necst images/s / cpp-minsum (100,200) codewords/s"],
                        best / cpp, rel_tol=1e-9)
    text = bench.format_table(res)
    assert "necst-fused" in text and "Roofline" in text and "target >=" in text


@pytest.mark.sionna
def test_plot_written_from_files(suite_dir: Path, tmp_path: Path) -> None:
    png = suite_dir / "throughput.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the plot needs only the JSON files
    for p in suite_dir.glob("*.json"):
        (tmp_path / p.name).write_text(p.read_text())
    out = bench.plot_throughput(tmp_path, tmp_path / "x.png")
    assert out.stat().st_size > 1000


def test_load_suite_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no results"):
        bench.load_suite(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ValueError, match="not an"):
        bench.load_suite(tmp_path)


def test_stream_decode_no_growth(necst: nn.Module) -> None:
    fused = FusedMLPDecoder(necst)
    mem = bench.stream_decode(fused, 40_000, 100, chunk=2000, eps=0.1)
    assert mem["images"] == 40_000
    assert len(mem["rss_samples"]) >= 2
    if mem["rss_growth_after_first_chunk_mb"] is not None:
        # 20 chunks of 2000 images (6 MB of pixels each): no per-chunk leak
        assert mem["rss_growth_after_first_chunk_mb"] < 30


@pytest.mark.sionna
def test_cli_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for mod in ("sionna.phy", "ldpc", "pyldpc"):
        pytest.importorskip(mod)
    rc = main(["bench", "--quick", "--threads", "1", "--batches", "1,4", "--budget", "0.02",
               "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Speed-ups measured in this run" in out and "wrote 7 files" in out
    assert (tmp_path / "throughput.png").exists()
    assert load_result(tmp_path / "summary.json")["metrics"]["ratios"]


@pytest.mark.parametrize("argv, msg", [
    (["--batches", "0,4"], "batch sizes in [1, 1048576]"),
    (["--batches", "a"], "comma-separated"),
])
def test_cli_bad_batches(argv: list[str], msg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1


def test_cli_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--eps", "0.7", "--out", str(tmp_path)]) == 2
    assert "eps" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["bench", "--quick", "--device", "cuda", "--out", str(tmp_path)]) == 2
        assert "no CUDA device" in capsys.readouterr().err


def test_suite_without_fec_libraries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Missing LDPC libraries: NECST is still measured, the decoders are listed as unavailable."""
    from njscc.experiments.throughput import suite

    monkeypatch.setattr(suite, "_available_decoders",
                        lambda: ([], {d: "not installed: test" for d in suite.LDPC_DECODERS}))
    res = bench.run_suite(_tiny_cfg(stream=0))
    assert res["ldpc_codewords"]["metrics"]["rows"] == []
    assert res["separation_decode"]["metrics"]["rows"] == []
    assert res["summary"]["metrics"]["ratios"] == {}
    assert set(res["necst_decode"]["config"]["ldpc_unavailable"]) == set(suite.LDPC_DECODERS)
    assert [r["encoder"] for r in res["encode"]["metrics"]["rows"]][:2] == ["necst-compress",
                                                                           "jpeg-only"]
    bench.write_suite(res, tmp_path)
    assert "necst-fused" in bench.format_table(bench.load_suite(tmp_path))
    assert bench.plot_throughput(tmp_path).exists()


def test_matched_quality_is_the_cheapest_at_necst_distortion(necst: nn.Module) -> None:
    from baselines.source import JPEGCodec
    from njscc.experiments.throughput.suite import _matched_quality, bench_images

    images = bench_images(64)[0]
    cfg = bench.BenchConfig.make_quick()
    untrained = _matched_quality(necst, images, cfg, trained=False)
    assert untrained["quality"] == 1 and "lowest" in untrained["rule"]
    given = bench.BenchConfig.make_quick(jpeg_quality=30)
    assert _matched_quality(necst, images, given, trained=True)["quality"] == 30
    got = _matched_quality(necst, images, cfg, trained=True)
    assert got["jpeg_sse"] <= got["necst_sse"]
    # the untrained decoder is far worse than any JPEG quality: the cheapest one is chosen
    assert got["quality"] == 1 and got["floor"]
    codec = JPEGCodec(1, header_known=True)
    dec = np.stack([codec.decode(codec.encode(im), im.shape) for im in images])
    sse = ((dec.astype(np.float64) - images) ** 2 / 255 ** 2).reshape(64, -1).sum(1).mean()
    assert got["jpeg_sse"] == pytest.approx(sse)


@pytest.mark.parametrize("name", ["necst_mlp", "necst_mlp_tf"])
def test_fused_matches_every_mlp_codec(name: str) -> None:
    # necst_mlp reads ±1 (erasures 0) without biases; necst_mlp_tf (the default recipe) reads
    # the 0/1 bits (erasures ½) with biases: both fused paths must equal decompress
    torch.manual_seed(1)
    model = models.get(name, m=40).eval()
    with torch.no_grad():  # non-zero biases, so a missing or wrong fold would show
        for p in model.decoder.parameters():
            if p.dim() == 1:
                p.uniform_(-0.5, 0.5)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (300, 40), generator=g, dtype=torch.uint8)
    fused = FusedMLPDecoder(model, chunk=128)
    with torch.inference_mode():
        torch.testing.assert_close(fused(y), model.decompress(y), atol=2e-6, rtol=0)
        erased = y.float().masked_fill(torch.rand(300, 40, generator=g) < 0.2, -1.0)
        torch.testing.assert_close(fused(erased), model.decompress(erased), atol=2e-6, rtol=0)
