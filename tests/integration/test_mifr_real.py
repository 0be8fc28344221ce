"""The MIFR / L-MIFR study on real Adult, end to end from the CLI (tiny budget)."""

from __future__ import annotations

import json

import pytest

from njscc.cli import main

pytestmark = pytest.mark.data


def test_mifr_study_checks_constraints_on_the_test_split(data_dir, tmp_path):
    out = tmp_path / "mifr"
    sets = ["--set", f'data_dir="{data_dir}"', "--set", "epochs=1", "--set", "mifr_kl=[1.0]",
            "--set", "mifr_fair=[1.0, 16.0]", "--set", "sweep=[0.5]",
            "--set", "adversary_epochs=1", "--set", f'runs_dir="{tmp_path / "runs"}"']
    assert main(["experiment", "mifr", *sets, "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    r = json.loads((out / "mifr.json").read_text())
    rows = r["metrics"]["rows"]
    assert [x["method"] for x in rows] == ["lmifr", "mifr", "mifr_grid", "mifr_grid", "sweep"]
    assert rows[1]["run"] in (rows[2]["run"], rows[3]["run"])  # MIFR = a grid point
    assert rows[-1]["budgets"]["dp"] == 0.5 and rows[0]["budgets"]["dp"] == 0.1
    for x in rows:
        assert x["c1"] >= 0 and x["mi_xz_u"] == x["mi_xz_u"]          # finite
        # the verdicts are the test-split values against the budgets, not the validation's
        assert x["holds"]["kl"] == (x["c1"] <= x["budgets"]["kl"])
        for c in ("dp", "eo", "eopp"):
            assert x["holds"][c] == (x[c] <= x["budgets"][c])
            assert f"fresh_{c}" in x and f"valid_{c}" in x and x[f"valid_{c}"] != x[c]
        assert 0.5 < x["logreg_accuracy"] <= 1
    assert set(r["config"]["estimators"]) >= {"mi_xz_u", "c1", "dp/eo/eopp", "fresh_*"}
    assert (out / "mifr.png").is_file()
