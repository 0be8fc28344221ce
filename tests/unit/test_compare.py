"""The NECST-vs-separation comparison (njscc.experiments.compare) on a tiny synthetic setting.

Untrained NECST models from the registry, a few embedded MNIST images, the ideal code and a
repetition code (no Sionna): the results files follow ``njscc.result/1``, "cannot fit" is
reported when the budget is too small, the bits-needed search returns the cheapest point,
and the plots and summary are written from the JSON files.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import channels
from baselines import IdealCode, JPEGCodec, SeparationScheme, bits_needed
from njscc import models
from njscc.cli import main
from njscc.experiments.compare.comparison import (
    CompareConfig,
    Comparison,
    NecstModel,
    design_rate,
    load_compare_data,
    min_bits_for,
    necst_run_name,
    scheme_label,
    source_table,
    timeshare_bits,
)
from njscc.experiments.compare.plots import plot_all, summary_markdown
from njscc.io.results import SCHEMA, load_result, write_result


# --------------------------------------------------------------------------- pure functions
def test_min_bits_for_monotone_curve() -> None:
    bits = [100, 200, 300, 400, 500]
    dist = [50.0, 20.0, 10.0, 5.0, 2.0]  # decreasing with bits
    for target, want in [(60.0, 0), (50.0, 0), (49.9, 1), (10.0, 2), (9.99, 3), (2.0, 4)]:
        i = min_bits_for(bits, dist, target)
        assert i == want
        # minimal: every cheaper point misses the target
        assert all(d > target for b, d in zip(bits, dist, strict=True) if b < bits[i])
    assert min_bits_for(bits, dist, 1.0) is None


def test_min_bits_for_ties_and_gaps() -> None:
    # same cost: the lower distortion wins; non-monotone curves are fine
    assert min_bits_for([1200, 1200, 2400], [9.0, 4.0, 1.0], 10.0) == 1
    assert min_bits_for([300, 100, 200], [5.0, 20.0, 8.0], 10.0) == 2
    assert min_bits_for([100, 200], [None, 3.0], 5.0) == 1
    with pytest.raises(ValueError, match="lengths differ"):
        min_bits_for([1, 2], [1.0], 1.0)


def test_timeshare_bits_closed_form() -> None:
    # send a fraction f at (571 bits, SSE 10), the rest as the mean image (SSE 50):
    # f·10 + (1 − f)·50 = 14 → f = 0.9
    assert timeshare_bits(571, 10.0, 50.0, 14.0) == pytest.approx(0.9 * 571)
    assert timeshare_bits(571, 10.0, 50.0, 10.0) == pytest.approx(571)
    assert timeshare_bits(571, 10.0, 50.0, 60.0) == 0.0  # the fallback alone is good enough
    assert timeshare_bits(571, 15.0, 50.0, 14.0) is None


def test_design_rate() -> None:
    assert design_rate(channels.get("bsc", 0.1)) == (pytest.approx(1 / 3), "pick_rate")
    rate, rule = design_rate(channels.get("bsc", 0.2))  # pick_rate has none: the lowest rate
    assert rate == pytest.approx(1 / 5) and rule.startswith("lowest")
    assert design_rate(channels.get("bec", 0.1))[0] <= 0.7 * 0.9


def test_scheme_label_and_run_name() -> None:
    assert scheme_label("jpeg", "ideal") == "JPEG+ideal"
    assert scheme_label("webp", "ldpc", "file") == "WebP+LDPC (file)"
    assert necst_run_name("mnist", 100, "bsc", 0.1) == "mnist_m100_bsc_0.1"


# --------------------------------------------------------------------------- source table
@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_compare_data("embedded", None, 6)
    return data["test"], data["fallback"]


def test_source_table_matches_the_scheme(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, _ = images
    tab = source_table(x, "jpeg", (5, 1, 50))
    assert tab.quality.tolist() == [1, 5, 50]
    assert tab.payload_bytes.shape == tab.file_bytes.shape == tab.sse.shape == (3, 6)
    # 28x28 grey JPEG: the known header + EOI is 330 bytes at every quality
    assert (tab.file_bytes - tab.payload_bytes == 330).all()
    assert (np.diff(tab.sse.mean(1)) < 0).all()  # better quality, lower distortion
    # same sizes and SSE as sending the payload error-free through the scheme
    bsc = channels.get("bsc", 0.1)
    res = SeparationScheme(JPEGCodec(5, header_known=True), IdealCode(bsc), bsc).run(x)
    np.testing.assert_array_equal(res["source_bytes"].numpy(), tab.payload_bytes[1])
    np.testing.assert_allclose(res["sse"].numpy(), tab.sse[1], rtol=1e-9)
    want = [bits_needed(8 * int(b), bsc.capacity) for b in tab.payload_bytes[1]]
    np.testing.assert_array_equal(res["channel_bits"].numpy(), want)


def test_source_table_adds_the_lowest_quality(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    tab = source_table(images[0][:2], "webp", (10,))
    assert tab.quality.tolist() == [0, 10]


# --------------------------------------------------------------------------- the pipeline
@pytest.fixture(scope="module")
def results(images: tuple[torch.Tensor, torch.Tensor], tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, object]:
    x, fallback = images
    torch.manual_seed(0)
    necst = [NecstModel(models.get("necst_mlp", m=m, enc_hidden=[32], dec_hidden=[32]).eval(),
                        m, "bsc", 0.1, path=f"untrained-m{m}") for m in (16, 100)]
    cfg = CompareConfig(eps=(0.0, 0.1), codes=("ideal", "ppv", "repetition"),
                        qualities={"jpeg": (1, 5, 30), "webp": (0, 20)},
                        rd_sim_qualities={"jpeg": (1,), "webp": ()}, budgets=(100, 800),
                        cliff_design_eps=(0.05,), cliff_eps=(0.0, 0.05, 0.1),
                        cliff_code="repetition", check_eps=(), max_tries=2, seed=3)
    learned = [NecstModel(models.get("necst_mlp", m=m, enc_hidden=[32], dec_hidden=[32]).eval(),
                          m, "bsc", 0.0, path=f"untrained-source-m{m}") for m in (48, 16)]
    cmp = Comparison(x, fallback, "bsc", necst, cfg, dataset="embedded", main_m=100,
                     learned=learned)
    out = tmp_path_factory.mktemp("compare")
    paths = {name: write_result(out / f"embedded_bsc_{name}.json", getattr(cmp, f"run_{name}")())
             for name in ("bits", "budget", "cliff")}
    return {"paths": paths, "out": out, "cmp": cmp}


def test_results_follow_the_schema(results: dict) -> None:
    for name, path in results["paths"].items():
        r = load_result(path)
        assert r["schema"] == SCHEMA and r["task"] == f"compare_{name}"
        assert r["dataset"] == "embedded" and r["m"] == 100
        assert r["channel"]["name"] == "bsc"
        assert set(r["env"]) >= {"torch", "device", "git", "time"}
        assert r["config"]["n_images"] == 6
        assert r["config"]["fallback"].startswith("dataset mean image")
        assert r["metrics"]["fallback_sse"] > 0


def test_budget_reports_cannot_fit(results: dict) -> None:
    m = load_result(results["paths"]["budget"])["metrics"]
    assert m["budgets"] == [100, 800] and m["param"] == [0.0, 0.1]
    labels = {(c["scheme"], c["budget"]) for c in m["curves"]}
    for s in ("JPEG+ideal", "JPEG+repetition", "WebP+ideal", "WebP+repetition"):
        assert {(s, 100), (s, 800)} <= labels  # never dropped
    assert ("NECST", 100) in labels
    for c in m["curves"]:
        assert {"sse", "sse_se", "failure_rate", "cannot_fit_rate"} <= set(c)
        if (c["kind"] == "separation" and c["budget"] == 100
                and not c["scheme"].startswith("learned")):
            # no JPEG/WebP stream fits 100 channel bits: every image is the fallback
            assert c["cannot_fit_rate"] == [1.0, 1.0]
            assert c["sse"] == pytest.approx([m["fallback_sse"]] * 2)
    # a learned source code does fit: 16 bits + the quality byte through the ideal code
    learned = next(c for c in m["curves"]
                   if c["scheme"] == "learned+ideal" and c["budget"] == 100)
    assert learned["cannot_fit_rate"] == [0.0, 0.0]
    jpeg = next(c for c in m["curves"] if c["scheme"] == "JPEG+ideal" and c["budget"] == 800)
    assert jpeg["cannot_fit_rate"][0] < 1.0  # 800 noiseless bits hold a low-quality payload
    assert jpeg["sse"][0] < m["fallback_sse"]
    assert jpeg["channel_bits_mean"][0] <= 800


def test_bits_needed_is_the_cheapest_point(results: dict) -> None:
    r = load_result(results["paths"]["bits"])
    m = r["metrics"]
    target = m["target"]["sse"]
    cap = [channels.get("bsc", e).capacity for e in m["param"]]
    src = m["source"]["jpeg"]
    tab = results["cmp"].table("jpeg")
    ideal = next(c for c in m["needed"] if c["scheme"] == "JPEG+ideal")
    for i, t in enumerate(target):
        per_q = [np.mean([bits_needed(8 * int(b), cap[i]) for b in row])
                 for row in tab.payload_bytes]
        j = min_bits_for(per_q, src["sse"], t)
        if j is None:
            assert ideal["bits"][i] is None
        else:
            assert ideal["bits"][i] == pytest.approx(per_q[j])
            assert ideal["quality"][i] == src["quality"][j]
    # the untrained NECST is worse than the mean image: the lowest quality already beats it
    assert all(ideal["floor"])
    file_ = next(c for c in m["needed"] if c["scheme"] == "JPEG+ideal (file)")
    assert all(f > p for f, p in zip(file_["bits"], ideal["bits"], strict=True))
    rep = next(c for c in m["needed"] if c["scheme"] == "JPEG+repetition")
    assert rep["bits"][1] is None or rep["sse"][1] <= target[1]
    assert {"rd", "necst", "source"} <= set(m)
    assert [n["m"] for n in m["necst"]] == [16, 100]


def test_finite_blocklength_rows_cost_more_than_capacity(results: dict) -> None:
    # the PPV code charges each image's payload min_blocklength(L) channel uses: ≥ ⌈L/C⌉,
    # equal on the noiseless channel; it is exact (never simulated), like the ideal code
    from channels import finite_blocklength as fbl

    m = load_result(results["paths"]["bits"])["metrics"]
    tab = results["cmp"].table("jpeg")
    curve = {c["scheme"]: c for c in m["rd"]["curves"]}
    ideal, ppv = curve["JPEG+ideal"], curve["JPEG+PPV"]
    assert "simulated" not in ppv
    per_q = [np.mean([fbl.min_blocklength("bsc", 0.1, 8 * int(b), 1e-3, "achievability")
                      for b in row]) for row in tab.payload_bytes]
    assert ppv["channel_bits_mean"] == pytest.approx(per_q)
    assert all(p > i for p, i in zip(ppv["channel_bits_mean"], ideal["channel_bits_mean"],
                                     strict=True))
    need = {c["scheme"]: c for c in m["needed"]}
    assert need["JPEG+PPV"]["bits"][0] == need["JPEG+ideal"]["bits"][0]  # ε = 0
    assert need["JPEG+PPV"]["bits"][1] > need["JPEG+ideal"]["bits"][1]
    budget = load_result(results["paths"]["budget"])["metrics"]
    fit = {(c["scheme"], c["budget"]): c["cannot_fit_rate"] for c in budget["curves"]}
    assert fit[("JPEG+PPV", 800)][1] >= fit[("JPEG+ideal", 800)][1]


def test_learned_source_rows(results: dict) -> None:
    # the learned source's stream is its m code bits in ⌈m/8⌉ bytes; through the ideal code
    # that costs ⌈8·⌈m/8⌉ / C⌉ channel bits, and its distortion is the codec's own
    m = load_result(results["paths"]["bits"])["metrics"]
    cap = channels.get("bsc", 0.1).capacity
    curve = {c["scheme"]: c for c in m["rd"]["curves"]}
    ideal = curve["learned+ideal"]
    assert ideal["quality"] == [1, 2]  # shortest code first: m = 16, then 48
    assert ideal["channel_bits_mean"] == [bits_needed(16, cap), bits_needed(48, cap)]
    cmp = results["cmp"]
    tab = cmp.table("learned")
    assert (tab.payload_bytes == np.array([[2], [6]])).all()
    codec = cmp.learned[0].model
    x = cmp.images
    with torch.no_grad():
        x_hat = codec.decompress(codec.compress(x.reshape(len(x), -1))).reshape(x.shape)
    sse = ((torch.round(x_hat.clamp(0, 1) * 255) / 255 - x) ** 2).flatten(1).sum(1)
    assert tab.sse[0] == pytest.approx(sse.double().numpy(), abs=1e-4)
    assert {"learned+PPV", "learned+repetition"} <= set(curve)
    budget = load_result(results["paths"]["budget"])["metrics"]
    labels = {c["scheme"] for c in budget["curves"]}
    assert "learned+ideal" in labels
    config = load_result(results["paths"]["bits"])["config"]
    assert [d["m"] for d in config["learned_source"]] == [16, 48]


def test_cliff_curves(results: dict) -> None:
    m = load_result(results["paths"]["cliff"])["metrics"]
    kinds = [c["kind"] for c in m["curves"]]
    assert kinds == ["necst", "separation"]
    sep = m["curves"][1]
    assert sep["design_eps"] == 0.05 and sep["rate"] == pytest.approx(0.5)
    assert len(sep["sse"]) == len(sep["failure_rate"]) == 3
    assert sep["failure_rate"][0] == 0.0  # noiseless
    assert all(0.0 <= f <= 1.0 for f in sep["failure_rate"])


def test_same_seed_same_numbers(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, fallback = images
    model = models.get("necst_mlp", m=16, enc_hidden=[8], dec_hidden=[8]).eval()
    cfg = CompareConfig(eps=(0.1,), codes=("repetition",), qualities={"jpeg": (1,), "webp": (0,)},
                        sources=("jpeg",), seed=5)
    runs = [Comparison(x, fallback, "bsc", [NecstModel(model, 16, "bsc", 0.1)], cfg)
            .simulate("jpeg", 1, "payload", "repetition", 0.1) for _ in range(2)]
    assert runs[0]["sse"] == runs[1]["sse"] and runs[0]["bit_errors_total"] == runs[1][
        "bit_errors_total"]


def test_plots_and_summary_from_json(results: dict, tmp_path) -> None:
    paths = list(results["paths"].values())
    pngs = plot_all(paths)
    assert len(pngs) == 4  # budget, bits, bits_rd, cliff
    for p in pngs:
        assert p.exists() and p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = summary_markdown(paths)
    assert "cannot fit" in text and "JPEG+ideal" in text and "the cliff" in text


def test_cli_plots_only(results: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--plots-only", "--out", str(results["out"]), "--quiet"]) == 0
    assert (results["out"] / "summary.md").exists()
    assert (results["out"] / "embedded_bsc_cliff.png").exists()


def test_cli_errors(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--dataset", "cifar"]) == 2
    assert "dataset: expected one of mnist, kodak" in capsys.readouterr().err
    assert main(["compare", "--plots-only", "--out", str(tmp_path)]) == 2
    assert "no compare results" in capsys.readouterr().err
    assert main(["compare", "--checkpoint", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compare", "--channel", "awgn"]) == 2
    capsys.readouterr()
    assert main(["compare", "--learned-source", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "nope does not exist" in err and len(err.strip().splitlines()) == 1


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="decoder"):
        CompareConfig(decoder="fast")
    with pytest.raises(ValueError, match="eps"):
        CompareConfig(eps=(0.6,))
    with pytest.raises(ValueError, match="codes"):
        CompareConfig(codes=("turbo",))
    with pytest.raises(ValueError, match="ppv_pe"):
        CompareConfig(ppv_pe=0.0)
    with pytest.raises(ValueError, match="ppv_bound"):
        CompareConfig(ppv_bound="sphere")


def test_comparison_validation(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, fallback = images
    with pytest.raises(ValueError, match="necst"):
        Comparison(x, fallback, "bsc", [])
    with pytest.raises(ValueError, match="fallback"):
        Comparison(x, fallback[:, :5], "bsc", [NecstModel(None, 16, "bsc", 0.1)])
    assert math.isfinite(float(fallback.sum()))


def test_train_necst_early_stopping_holds_out_a_split(tmp_path) -> None:
    from njscc.experiments.compare.comparison import train_necst
    from njscc.training.checkpoint import load_checkpoint

    data = load_compare_data("embedded", None, 50)
    nm = train_necst(data["train"][:600], data["test"], dataset="embedded", model_name="necst_mlp",
                     m=16, channel="bsc", train_eps=0.1, epochs=2, out=tmp_path / "run",
                     model_kwargs={"enc_hidden": [16], "dec_hidden": [16]}, patience=1,
                     n_samples=2)
    assert nm.path.endswith("run") and nm.train_eps == 0.1
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / "last")
    assert ck.extra["run"]["valid"] == {"size": 60, "split": "random", "patience": 1}
    assert all("valid_sse" in row for row in ck.extra["history"])
    assert (tmp_path / "run" / "checkpoints" / "best").is_dir()
