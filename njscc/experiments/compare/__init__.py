"""NECST head-to-head against separation (JPEG/WebP + 5G LDPC or an ideal code).

:class:`CompareStudy` (``njscc compare``) runs the experiments of
:mod:`~njscc.experiments.compare.comparison` — ``bits``, ``budget``, ``cliff`` — and, given
learned source codecs, of :mod:`~njscc.experiments.compare.short` — ``short``, ``matched`` —
per channel;
results ``<dataset>_<channel>_<experiment>.json``; plots and ``summary.md``
(:mod:`~njscc.experiments.compare.plots`) are drawn from every compare result in the folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from njscc.experiments.base import EXPERIMENTS, Log, Study

__all__ = ["DATASET_DEFAULTS", "EXPERIMENT_NAMES", "LEARNED_EXPERIMENTS", "CompareStudy",
           "redraw"]

#: per-dataset defaults: NECST architecture, main code length, sweep, test images
DATASET_DEFAULTS = {
    "mnist": {"model": "necst_mlp", "m": 100, "m_sweep": (50, 200, 400), "n_images": 1000},
    "kodak": {"model": "necst_conv", "m": 200, "m_sweep": (), "n_images": 500},
}
EXPERIMENT_NAMES = ("budget", "bits", "cliff", "short", "matched")
#: the experiments that need learned source codecs (left out of the default run without them)
LEARNED_EXPERIMENTS = ("short", "matched")


@EXPERIMENTS.register("compare")
@dataclass
class CompareStudy(Study):
    """NECST vs separation: fixed-budget distortion, bits needed, the cliff."""

    dataset: str = "mnist"
    data_dir: str | None = None
    channels: Sequence[str] = ("bsc", "bec")
    eps: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2)
    n_images: int | None = None
    checkpoints: Sequence[str] = ()
    runs_dir: str = "runs/compare"
    m: int | None = None
    m_sweep: Sequence[int] | None = None
    train_eps: float = 0.1
    train_missing: bool = False
    epochs: int = 3
    patience: int | None = None  # --train-missing: early stopping on 10 % held-out images
    train_size: int | None = None
    model_args: Mapping[str, Any] | None = None
    budgets: Sequence[int] = ()
    experiments: Sequence[str] | None = None  # None: all (short/matched only with learned)
    decoder: str = "cpp"
    ldpc_k: int = 400
    ppv_pe: float = 1e-3
    ppv_bound: str = "achievability"
    learned_source: Sequence[str] = ()  # checkpoints of bit codecs used as source codes
    learned_m: Sequence[int] = ()  # or: noiseless-trained runs of these code lengths
    rd_eps: float = 0.1
    cliff_design_eps: Sequence[float] = (0.02, 0.05, 0.1)
    cliff_eps: Sequence[float] = (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2)
    cliff_quality: int | None = None
    check_eps: Sequence[float] = (0.05, 0.1)
    short_eps: Sequence[float] = (0.05, 0.1, 0.2)
    short_bler: Sequence[float] = (0.1, 0.01)
    short_words: int = 4000
    short_block_rows: bool = True
    seed: int = 0
    quiet: bool = False

    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        import channels as chs
        from njscc.experiments.compare.comparison import (
            CompareConfig,
            Comparison,
            load_compare_data,
            load_necst,
            necst_run_name,
            train_necst,
        )

        if self.dataset not in DATASET_DEFAULTS:
            raise ValueError(f"dataset: expected one of {', '.join(DATASET_DEFAULTS)}, got "
                             f"{self.dataset!r}")
        dflt = DATASET_DEFAULTS[self.dataset]
        for c in self.channels:
            if c not in ("bsc", "bec", "z"):
                raise ValueError(f"channels: expected bsc, bec or z, got {c!r}")
            for e in self.eps:
                chs.get(c, e)
        has_learned = bool(self.learned_source or self.learned_m)
        experiments = (list(self.experiments) if self.experiments is not None else
                       [x for x in EXPERIMENT_NAMES
                        if has_learned or x not in LEARNED_EXPERIMENTS])
        for x in experiments:
            if x not in EXPERIMENT_NAMES:
                raise ValueError(f"experiments: expected {', '.join(EXPERIMENT_NAMES)}, got "
                                 f"{x!r}")
            if x in LEARNED_EXPERIMENTS and not has_learned:
                raise ValueError(f"experiments: {x!r} sends learned source codes as short "
                                 "codewords; pass --learned-source RUN (a noiseless-trained "
                                 "bit codec) or --learned-m M")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.train_size is not None and self.train_size < 100:
            raise ValueError(f"train_size must be >= 100 (one batch), got {self.train_size}")
        if self.n_images is not None and self.n_images < 1:
            raise ValueError(f"n_images must be >= 1, got {self.n_images}")
        m_main = self.m or dflt["m"]
        m_sweep = list(dflt["m_sweep"] if self.m_sweep is None else self.m_sweep)
        for pth in (*self.checkpoints, *self.learned_source):
            if not Path(pth).exists():
                raise FileNotFoundError(f"checkpoint {pth} does not exist")
        cfg = CompareConfig(
            eps=tuple(self.eps), budgets=tuple(self.budgets), ldpc_k=self.ldpc_k,
            decoder=self.decoder, rd_eps=self.rd_eps, ppv_pe=self.ppv_pe,
            ppv_bound=self.ppv_bound,
            cliff_design_eps=tuple(self.cliff_design_eps), cliff_eps=tuple(self.cliff_eps),
            cliff_quality=self.cliff_quality, check_eps=tuple(self.check_eps),
            short_eps=tuple(self.short_eps), short_bler=tuple(self.short_bler),
            short_words=self.short_words, short_block_rows=self.short_block_rows,
            seed=self.seed)
        necst = [load_necst(p) for p in self.checkpoints]  # checked before any data is read
        learned = [load_necst(p) for p in self.learned_source]
        data = load_compare_data(self.dataset, self.data_dir, self.n_images or dflt["n_images"],
                                 seed=self.seed)
        if log:
            log(data["description"])

        def find_or_train(m: int, ch: str, train_eps: float, required: bool) -> Any:
            """The default-named run of (m, ch, train_eps), trained with --train-missing."""
            path = Path(self.runs_dir) / necst_run_name(self.dataset, m, ch, train_eps)
            what = "source" if train_eps == 0 else "NECST"
            if (path / "checkpoints").exists() and not self.train_missing:
                return load_necst(path)
            if self.train_missing:
                if log:
                    log(f"training {dflt['model']} ({what}) m={m} on {ch} {train_eps:g} "
                        f"({self.epochs} epochs) -> {path}")
                return train_necst(
                    data["train"][:self.train_size], data["test"], dataset=self.dataset,
                    model_name=dflt["model"], m=m, channel=ch, train_eps=train_eps,
                    epochs=self.epochs, out=path, seed=self.seed,
                    model_kwargs=dict(self.model_args or {}), quiet=self.quiet,
                    patience=self.patience)
            if required:
                raise FileNotFoundError(
                    f"no {what} run {path}: train it with `njscc train --dataset "
                    f"{self.dataset} --data-dir DATA --m {m} --channel {ch} --train-eps "
                    f"{train_eps:g} --out {path}`, pass --checkpoint / --learned-source, or "
                    "add --train-missing")
            if log:
                log(f"note: no run {path}; left out")
            return None

        # NECST models: explicit checkpoints, else the default-named runs (trained on request):
        # every m at the training ε, and the main m at each design ε of the matched cliff
        if not self.checkpoints:
            for ch in self.channels:
                for m in [m_main, *[x for x in m_sweep if x != m_main]]:
                    necst.append(find_or_train(m, ch, self.train_eps, m == m_main))
                if "matched" in experiments:
                    for d in self.cliff_design_eps:
                        if float(d) != float(self.train_eps):
                            necst.append(find_or_train(m_main, ch, float(d), False))
            necst = [n for n in necst if n is not None]
        # learned sources: explicit runs, and/or noiseless-trained runs of the given lengths
        for m in self.learned_m:
            found = find_or_train(int(m), "bsc", 0.0, True)
            learned.append(found)
        for nm in necst:
            if tuple(nm.model.data_shape) != tuple(data["test"].shape[1:]):
                raise ValueError(f"checkpoint {nm.path}: the model expects images "
                                 f"{tuple(nm.model.data_shape)}, {self.dataset} has "
                                 f"{tuple(data['test'].shape[1:])}")
            if log:
                log(f"NECST m={nm.m} trained on {nm.channel} {nm.train_eps:g} "
                    f"({nm.epochs} epochs): {nm.path}")

        results: dict[str, dict[str, Any]] = {}
        for ch in self.channels:
            cmp = Comparison(data["test"], data["fallback"], ch, necst, cfg,
                             dataset=self.dataset, main_m=m_main, log=log,
                             data_description=data["description"], learned=learned)
            for x in ("bits", "budget", "cliff", "short", "matched"):  # bits first: reused
                if x in experiments:
                    if log:
                        log(f"{self.dataset} {ch}: {x}")
                    run = {"bits": cmp.run_bits, "budget": cmp.run_budget,
                           "cliff": cmp.run_cliff, "short": cmp.run_short,
                           "matched": cmp.run_matched}[x]
                    results[f"{self.dataset}_{ch}_{x}"] = run()
        return results

    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        return redraw(out)

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        from njscc.experiments.compare.plots import summary_markdown

        return summary_markdown(list(results.values()))


def redraw(out: str | Path) -> list[Path]:
    """Redraw every plot and ``summary.md`` from the compare results files in ``out``."""
    from njscc.experiments.compare.plots import plot_all, summary_markdown
    from njscc.io.results import atomic_write_text

    out = Path(out)
    paths = sorted(p for p in out.glob("*.json")
                   if p.stem.rsplit("_", 1)[-1] in EXPERIMENT_NAMES)
    if not paths:
        raise FileNotFoundError(f"{out}: no compare results "
                                f"(*_{{{','.join(EXPERIMENT_NAMES)}}}.json)")
    pngs = plot_all(paths)
    order = {"bits": 0, "budget": 1, "cliff": 2, "short": 3, "matched": 4, "bsc": 0, "bec": 1}

    def key(p: Path) -> tuple:
        parts = p.stem.rsplit("_", 2)  # dataset, channel, experiment
        return (-len(parts), parts[0] != "mnist", parts[0], order.get(parts[1], 2),
                parts[1], order[parts[2]]) if len(parts) == 3 else (0, p.stem)

    text = summary_markdown(sorted(paths, key=key))
    return [*pngs, atomic_write_text(out / "summary.md", text + "\n")]
