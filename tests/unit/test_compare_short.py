"""Short codes in the comparison (njscc.experiments.compare.short): learned sources sent as one
5G LDPC / polar codeword per image, the channel bits per target block error rate beside the
finite-blocklength bounds, and the matched-design cliff (same design ε and channel bits on
both sides, asserted from the results JSON)."""

from __future__ import annotations

import math

import pytest
import torch

import channels
from channels import finite_blocklength as fbl
from njscc import models
from njscc.experiments.compare.comparison import (
    CompareConfig,
    Comparison,
    NecstModel,
    load_compare_data,
)
from njscc.experiments.compare.plots import plot_all, summary_markdown
from njscc.experiments.compare.short import _bound_bits, fewest, n_range, short_code
from njscc.io.results import SCHEMA, load_result, write_result

pytest.importorskip("sionna")


def test_fewest_is_the_smallest_passing_length() -> None:
    calls: list[int] = []

    def ok(n: int) -> bool:
        calls.append(n)
        return n >= 37
    assert fewest(ok, 10, 100) == 37
    assert len(calls) <= 2 + math.ceil(math.log2(91))  # bisection, not a scan
    assert fewest(lambda n: n >= 10, 10, 100) == 10
    assert fewest(lambda n: False, 10, 100) is None
    assert fewest(lambda n: True, 5, 4) is None


def test_n_range_and_codes() -> None:
    cap = channels.get("bsc", 0.1).capacity
    lo, hi = n_range("ldpc", 40, cap)
    assert lo == math.ceil(40 / cap) and hi == 200
    assert n_range("polar", 400, 0.9)[1] == 1088
    assert short_code("ldpc", 40, lo) is not None
    assert short_code("ldpc", 40, 1000) is None  # below 5G's lowest rate 1/5
    assert short_code("polar", 40, 100).n == 100
    with pytest.raises(ValueError, match="kind"):
        short_code("turbo", 40, 100)


def test_bound_bits_detect_and_replace() -> None:
    # target between free and fallback: block errors up to p* = (fb − t) / (fb − free) allowed
    got = _bound_bits("bsc", 0.1, 32, free=10.0, fallback=50.0, target=14.0,
                      bound="achievability")
    assert got is not None and got["pe"] <= (50 - 14) / (50 - 10)
    assert got["bits"] == fbl.min_blocklength("bsc", 0.1, 32, got["pe"], "achievability")
    tighter = _bound_bits("bsc", 0.1, 32, free=10.0, fallback=50.0, target=11.0,
                          bound="achievability")
    assert tighter["bits"] >= got["bits"]  # less room for errors: longer codes
    assert _bound_bits("bsc", 0.1, 32, free=15.0, fallback=50.0, target=14.0,
                       bound="converse") is None


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data = load_compare_data("embedded", None, 40)
    torch.manual_seed(0)

    def net(m: int) -> torch.nn.Module:
        return models.get("necst_mlp", m=m, enc_hidden=[32], dec_hidden=[32]).eval()
    necst = [NecstModel(net(40), 40, "bsc", e, path=f"necst-{e}") for e in (0.1, 0.05)]
    learned = [NecstModel(net(m), m, "bsc", 0.0, path=f"src-{m}") for m in (12, 20)]
    cfg = CompareConfig(eps=(0.1,), codes=("ideal", "ldpc"), sources=("jpeg",), ldpc_k=24,
                        qualities={"jpeg": (1, 5), "webp": (0,)}, short_eps=(0.1,),
                        short_bler=(0.1,), short_words=400, cliff_design_eps=(0.05, 0.1, 0.02),
                        cliff_eps=(0.0, 0.1), max_tries=1, seed=1)
    cmp = Comparison(data["test"], data["fallback"], "bsc", necst, cfg, dataset="embedded",
                     main_m=40, learned=learned)
    out = tmp_path_factory.mktemp("short")
    paths = {x: write_result(out / f"embedded_bsc_{x}.json", getattr(cmp, f"run_{x}")())
             for x in ("short", "matched")}
    return {"paths": paths, "cmp": cmp, "out": out}


def test_short_per_bler_rows(short: dict) -> None:
    r = load_result(short["paths"]["short"])
    assert r["schema"] == SCHEMA and r["task"] == "compare_short"
    rows = r["metrics"]["per_bler"]
    assert {row["k"] for row in rows} == {12, 20, 24}  # the sources, and JPEG's LDPC blocks
    for row in rows:
        assert row["converse"] <= row["achievability"]
        assert row["capacity"] == math.ceil(row["k"] / channels.get("bsc", 0.1).capacity)
        for kind in ("ldpc", "polar"):
            if row[kind] is not None:
                assert row[f"{kind}_bler"] <= row["target_bler"]
                # no code beats the converse (BLER measured on 400 words: a margin of 1 bit)
                assert row[kind] >= row["converse"] - 1


def test_short_end_to_end_and_needed(short: dict) -> None:
    m = load_result(short["paths"]["short"])["metrics"]
    (row,) = m["learned"]
    target = row["target_sse"]
    assert row["necst"]["bits"] == 40 and row["necst"]["trained_on"]["param"] == 0.1
    for s in row["sources"]:
        for kind in ("ldpc", "polar"):
            hit = s[kind]
            if hit["bits"] is not None:
                assert hit["at_target"]["sse"] <= target and hit["at_target"]["n"] == hit["bits"]
                fails = [p for p in hit["tried"] if p["n"] < hit["bits"]]
                assert all(p["sse"] > target for p in fails if p["n"] == hit["bits"] - 1)
            if hit["at_budget"]:
                assert hit["at_budget"]["n"] == 40
    (need,) = m["needed"]
    assert need["necst"] == 40 and "jpeg+ldpc" in need and "learned+polar" in need


def test_matched_designs_are_matched(short: dict) -> None:
    m = load_result(short["paths"]["matched"])["metrics"]
    # a NECST model exists for 0.05 and 0.1, not for 0.02: that design is reported, not run
    notes = [d for d in m["designs"] if "note" in d]
    assert [d["design_eps"] for d in notes] == [0.02]
    for d in (0.05, 0.1):
        curves = [c for c in m["curves"] if c["design_eps"] == d]
        necst = [c for c in curves if c["kind"] == "necst"]
        sep = [c for c in curves if c["kind"] == "separation"]
        assert len(necst) == 1 and necst[0]["trained_on"]["param"] == d
        for c in sep:  # same design ε, same channel bits, rate chosen at the design ε
            assert c["channel_bits"] == necst[0]["m"] == 40
            assert c["design_bler"] <= c["target_bler"]
            assert len(c["sse"]) == len(m["param"])


def test_short_plots_and_summary(short: dict) -> None:
    pngs = plot_all(short["paths"].values())
    assert len(pngs) == 2 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    text = summary_markdown(list(short["paths"].values()))
    assert "NECST's distortion" in text and "matched cliff" in text


def test_short_needs_learned_sources() -> None:
    data = load_compare_data("embedded", None, 4)
    nm = NecstModel(models.get("necst_mlp", m=16).eval(), 16, "bsc", 0.1)
    cmp = Comparison(data["test"], data["fallback"], "bsc", [nm])
    with pytest.raises(ValueError, match="learned source"):
        cmp.run_short()


def test_cli_short_without_learned_source(capsys: pytest.CaptureFixture[str]) -> None:
    from njscc.cli import main

    assert main(["compare", "--experiments", "short", "--dataset", "mnist"]) == 2
    err = capsys.readouterr().err
    assert "--learned-source" in err and len(err.strip().splitlines()) == 1


def test_short_summary_over_seeds_shows_sigma(short: dict) -> None:
    from njscc.experiments.base import aggregate_seeds
    from njscc.experiments.compare.plots import short_markdown

    r = load_result(short["paths"]["short"])
    agg = aggregate_seeds([r, r], [0, 1])
    text = "\n".join(short_markdown(agg))
    assert "Mean ± σ over seeds 0, 1" in text and "± 0.00" in text


def test_block_rows_can_be_left_out(short: dict) -> None:
    import dataclasses

    from njscc.experiments.compare.short import run_short

    cmp = short["cmp"]
    cmp.cfg = dataclasses.replace(cmp.cfg, short_block_rows=False)
    try:
        rows = run_short(cmp)["metrics"]["per_bler"]
    finally:
        cmp.cfg = dataclasses.replace(cmp.cfg, short_block_rows=True)
    assert {row["k"] for row in rows} == {12, 20}
