"""The experiment contract: one dataclass per study, one registry, seeds as an axis.

A study is a dataclass whose fields are its configuration; it is registered in
:data:`EXPERIMENTS` and

* ``run(out, log=None) -> {stem: result}`` does the work and returns one or more
  ``njscc.result/1`` dicts (``out`` is where it may put artifacts such as checkpoints or
  image grids; the results themselves are written by :func:`execute`);
* ``plot(results, out) -> [paths]`` draws its figures *from those results* (a classmethod, so
  ``njscc ... --plots-only`` can redraw from the JSON files);
* ``summary(results) -> str`` renders its table.

:func:`execute` is what every CLI command calls: it runs the study once, or once per seed
(``--seeds 0,1,2``: seed ``s`` works in ``out/seed_<s>/`` and its models under
``runs_dir/seed_<s>/``), writes ``out/<stem>.json`` — for several seeds the mean over seeds in
``metrics``, σ in ``metrics_std``, every seed's metrics in ``per_seed`` — and draws the plots.

    >>> from njscc.experiments import EXPERIMENTS, execute
    >>> study = EXPERIMENTS.get("rd_sweep", betas=[0.5, 1.0], epochs=1)
    >>> results, files = execute(study, out="results/rd", seeds=[0, 1, 2])
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from njscc.codec import LatentCodec, Support
from njscc.evaluation.stats import mean_std
from njscc.io.results import load_result, write_result
from njscc.registry import Registry
from njscc.training.seeds import seed_dir

__all__ = ["EXPERIMENTS", "Study", "aggregate_seeds", "execute", "fmt_pm", "load_results",
           "rows_with_std"]

#: the experiment registry (entry-point group ``njscc.experiments``)
EXPERIMENTS: Registry[Study] = Registry("experiment", "njscc.experiments", strict_config=False)

Log = Callable[[str], None] | None


class Study:
    """Base class of experiments (subclasses are dataclasses; see the module docstring).

    Every study has a ``seed`` field (all of its randomness derives from it); studies that
    keep trained models have a ``runs_dir`` field.
    """

    seed: int
    #: short description for listings (defaults to the first docstring line)
    title: ClassVar[str] = ""
    #: result stems that illustrate one run (image galleries): with several seeds they are
    #: kept from the first seed, not averaged (each seed's own stays in ``out/seed_<s>/``)
    illustrations: ClassVar[tuple[str, ...]] = ()

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    @classmethod
    def supports(cls, codec: LatentCodec) -> Support:
        """Whether this study can use ``codec`` (override; default: yes)."""
        return Support.yes()

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return []

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        return ""

    def for_seed(self, seed: int) -> Study:
        """This study with ``seed`` (and its ``runs_dir``, if any, under ``seed_<seed>/``)."""
        changes: dict[str, Any] = {"seed": int(seed)}
        names = {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        if "runs_dir" in names and getattr(self, "runs_dir", None):
            changes["runs_dir"] = str(seed_dir(self.runs_dir, seed))  # type: ignore[attr-defined]
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def config_dict(self) -> dict[str, Any]:
        """The fields as JSON-able values (for the results' ``config``)."""
        from njscc.validation import jsonable

        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            try:
                out[f.name] = jsonable(v, f.name)
            except (TypeError, ValueError):
                out[f.name] = repr(v)
        return out


# --------------------------------------------------------------------------- seeds
def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _aggregate(values: Sequence[Any]) -> tuple[Any, Any]:
    """(mean tree, σ tree) of structurally equal trees; non-numbers are kept when equal."""
    first = values[0]
    if all(_is_num(v) or v is None for v in values) and any(_is_num(v) for v in values):
        nums = [float(v) for v in values if _is_num(v) and math.isfinite(float(v))]
        if not nums:
            return None, None
        if all(v == nums[0] for v in nums):  # a setting shared by every seed: kept exactly
            kept = next(v for v in values if _is_num(v) and math.isfinite(float(v)))
            return kept, 0.0  # (its type too: an int stays an int)
        m, s = mean_std(nums)
        return m, s
    if all(isinstance(v, Mapping) for v in values) and all(
            set(v) == set(first) for v in values):
        pairs = {k: _aggregate([v[k] for v in values]) for k in first}
        return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
    if all(isinstance(v, list) for v in values) and all(len(v) == len(first) for v in values):
        pairs_l = [_aggregate([v[i] for v in values]) for i in range(len(first))]
        return [p[0] for p in pairs_l], [p[1] for p in pairs_l]
    if all(v == first for v in values):
        return first, None
    return list(values), None


def aggregate_seeds(per_seed: Sequence[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """One result from the results of several seeds: ``metrics`` = mean over seeds (same
    structure, so the plots work unchanged), ``metrics_std`` = σ over seeds (sample std,
    ``None`` for non-numbers), ``per_seed`` = each seed's metrics, ``seeds``."""
    if len(per_seed) != len(seeds) or not per_seed:
        raise ValueError("aggregate_seeds: one result per seed is needed")
    mean, std = _aggregate([r["metrics"] for r in per_seed])
    out = dict(per_seed[0])
    out["metrics"] = mean
    out["metrics_std"] = std
    out["seeds"] = [int(s) for s in seeds]
    out["per_seed"] = [r["metrics"] for r in per_seed]
    out["config"] = {**dict(out.get("config", {})), "seeds": [int(s) for s in seeds]}
    return out


def rows_with_std(result: Mapping[str, Any], key: str = "rows"
                  ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(row, σ of that row)`` for each entry of ``result["metrics"][key]`` — the σ over seeds
    from ``metrics_std`` when the result aggregates several seeds, else ``{}``."""
    rows = result["metrics"][key]
    std = (result.get("metrics_std") or {}).get(key) or []
    return [(row, (std[i] or {}) if i < len(std) else {}) for i, row in enumerate(rows)]


def fmt_pm(mean: Any, std: Any = None, fmt: str = "{:.2f}") -> str:
    """``"12.37"`` or ``"12.37 ± 0.05"`` (σ over seeds); ``"–"`` for a missing value."""
    if not _is_num(mean) or not math.isfinite(float(mean)):
        return "–"
    text = fmt.format(mean)
    if _is_num(std) and math.isfinite(float(std)):
        text += " ± " + fmt.format(std)
    return text


# --------------------------------------------------------------------------- running
def execute(study: Study, *, out: str | os.PathLike[str], seeds: Sequence[int] | None = None,
            log: Log = None, plot: bool = True) -> tuple[dict[str, dict[str, Any]], list[Path]]:
    """Run ``study`` (once, or once per seed), write ``out/<stem>.json`` and the plots.

    Returns ``(results, written files)``; with several seeds the results are the aggregates
    and each seed's own files are in ``out/seed_<s>/``.
    """
    out = Path(out)
    files: list[Path] = []
    if not seeds or len(seeds) == 1:
        one = study if not seeds else dataclasses.replace(study, seed=int(seeds[0]))  # type: ignore[type-var]
        results = one.run(out, log)
    else:
        runs = []
        for s in seeds:
            if log:
                log(f"seed {s} ({len(runs) + 1}/{len(seeds)})")
            d = seed_dir(out, s)
            res = study.for_seed(s).run(d, log)
            files += [write_result(d / f"{stem}.json", r) for stem, r in res.items()]
            runs.append(res)
        results = {stem: (dict(runs[0][stem], seeds=[int(seeds[0])])
                          if stem in study.illustrations
                          else aggregate_seeds([r[stem] for r in runs], seeds))
                   for stem in runs[0]}
    files += [write_result(out / f"{stem}.json", r) for stem, r in results.items()]
    if plot:
        files += type(study).plot(results, out)
    return results, files


def load_results(out: str | os.PathLike[str], stems: Sequence[str] | None = None
                 ) -> dict[str, dict[str, Any]]:
    """Read back the results files of a study from ``out`` (all ``*.json``, or ``stems``)."""
    out = Path(out)
    paths = ([out / f"{s}.json" for s in stems] if stems is not None
             else sorted(out.glob("*.json")))
    missing = [p for p in paths if not p.is_file()]
    if missing or not paths:
        raise FileNotFoundError(f"{out}: no results file {missing[0] if missing else '*.json'}")
    return {p.stem: load_result(p) for p in paths}
