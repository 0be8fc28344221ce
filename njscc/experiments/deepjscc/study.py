"""``deepjscc``: DeepJSCC, SNR-adaptive DeepJSCC, binary DeepJSCC and NECST against separation
with modulation, over complex AWGN or block Rayleigh fading (receiver CSI).

Models (all trained here with the shared Trainer, kept under ``runs_dir``, resumable):

* ``deepjscc_snr{s}`` — DeepJSCC at the main bandwidth ratio, trained at each ``train_snrs``;
* ``adjscc`` — the SNR-adaptive variant trained over ``adaptive_range`` (one SNR per example);
* ``deepjscc_r{ratio}`` — DeepJSCC at the other ``ratios``, trained at ``ratio_snr``;
* ``binary_snr{ratio_snr}`` / ``necst_snr{ratio_snr}`` — the binary DeepJSCC encoder and NECST
  with m = 2k bits, i.e. k QPSK symbols: the same channel uses. Their bits see the QPSK
  hard-decision BSC, ε = Q(√SNR) (per image Q(√(SNR·|h|²)) under fading);
* ``binary_soft_snr{ratio_snr}`` — binary DeepJSCC with *soft* decisions: Gray QPSK is, bit by
  bit, BPSK at Es/N0 = SNR/2, and its decoder is fed the soft bits P(b = 1 | y) = σ(llr)
  (trained over ``awgn_soft``, tested with the same per-bit law, the gain |h|² per image
  under fading).

Everything is tested on the same images at every ``test_snrs`` value, ``n_draws`` channel
draws per image (one fading gain per image and draw); separation as in
:mod:`njscc.experiments.deepjscc.separation`. Kodak test frames are tiled into the training
patch size; each patch meets the power constraint, and under fading all patches of a frame see
the same gain.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from njscc.experiments.base import EXPERIMENTS, Log, Study
from njscc.experiments.deepjscc.data import StudyData, load_study_data, tile, untile
from njscc.io.results import make_result

__all__ = ["DeepJSCCStudy", "image_metrics", "qpsk_crossover"]

_DEFAULT_RATIOS = {"kodak": (1 / 12, 1 / 6, 1 / 3), "mnist": (1 / 16, 1 / 8, 1 / 4)}
_DEFAULT_RATIO = {"kodak": 1 / 6, "mnist": 1 / 16}
_CODE_N = {"kodak": 1024, "mnist": 256}
#: code lengths of the learned (noiseless NECST) sources of the learned-separation scheme
_LEARNED_BITS: dict[str, tuple[int, ...]] = {"kodak": (), "mnist": (16, 24, 32, 48, 64, 96)}
CHANNELS = ("awgn", "rayleigh")
#: 10·log10(2): a Gray QPSK bit sees BPSK at Es/N0 = SNR / 2
_QPSK_BIT_DB = 10.0 * math.log10(2.0)


def qpsk_crossover(snr_db: float | np.ndarray) -> np.ndarray:
    """Bit error probability of Gray QPSK with hard decisions at SNR (Es/N0 per complex use,
    Es = 1): Q(√SNR) = erfc(√(SNR/2)) / 2."""
    from scipy.special import erfc

    snr = 10.0 ** (np.asarray(snr_db, dtype=float) / 10.0)
    return 0.5 * erfc(np.sqrt(snr / 2.0))


def image_metrics(x: Tensor, x_hat: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image PSNR (dB, peak 1) and SSIM — MS-SSIM (pytorch-msssim) for images whose
    smaller side exceeds 160 px, single-scale SSIM (7×7 window) for small ones (MNIST).
    ``x``, ``x_hat`` ``[B, C, H, W]`` in [0, 1] → two ``[B]`` tensors."""
    from pytorch_msssim import ms_ssim, ssim

    x_hat = x_hat.clamp(0, 1)
    mse = (x - x_hat).square().flatten(1).mean(1)
    psnr = -10.0 * torch.log10(mse.clamp_min(1e-10))
    if min(x.shape[-2:]) > 160:
        s = ms_ssim(x, x_hat, data_range=1.0, size_average=False)
    else:
        s = ssim(x, x_hat, data_range=1.0, size_average=False, win_size=7)
    return psnr, s


def _ratio_tag(r: float) -> str:
    return f"1/{round(1 / r)}" if abs(1 / r - round(1 / r)) < 1e-9 else f"{r:g}"


@EXPERIMENTS.register("deepjscc")
@dataclass
class DeepJSCCStudy(Study):
    """DeepJSCC family vs separation with modulation: PSNR / SSIM vs SNR and vs bandwidth."""

    title: ClassVar[str] = "DeepJSCC vs JPEG/WebP + 5G LDPC + QAM over AWGN / fading"

    dataset: str = "kodak"
    data_dir: str | None = None
    runs_dir: str = "runs/deepjscc"
    channel: str = "awgn"
    train_channel: str | None = None
    ratio: float | None = None
    ratios: tuple[float, ...] | None = None
    train_snrs: tuple[float, ...] = (0.0, 10.0, 20.0)
    adaptive_range: tuple[float, float] = (0.0, 20.0)
    ratio_snr: float = 10.0
    test_snrs: tuple[float, ...] = tuple(float(s) for s in np.arange(-5.0, 25.01, 2.5))
    epochs: int = 10
    batch_size: int = 64
    lr: float = 5e-4
    valid_fraction: float = 0.1
    max_minutes: float | None = None
    n_crops: int = 20000
    patch: int = 32
    n_test: int | None = None
    train_size: int | None = None
    binary: bool = True
    necst: bool = True
    learned_bits: tuple[int, ...] | None = None
    sources: tuple[str, ...] = ("jpeg", "webp")
    modulations: tuple[str, ...] = ("bpsk", "qpsk", "16qam")
    code_rates: tuple[float, ...] = (1 / 3, 1 / 2, 2 / 3, 3 / 4, 5 / 6)
    code_n: int | None = None
    bler_words: int = 200
    n_draws: int = 10
    device: str = "cpu"
    seed: int = 0
    _data: StudyData | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        from baselines.modulation import MODULATIONS
        from baselines.source import SOURCES
        from njscc.validation import check_choice

        check_choice(self.dataset, "dataset", ("kodak", "mnist"))
        check_choice(self.channel, "channel", CHANNELS)
        self.train_channel = check_choice(self.train_channel or self.channel, "train_channel",
                                          CHANNELS)
        for m in self.modulations:
            check_choice(m, "modulations", tuple(MODULATIONS))
        for src in self.sources:
            check_choice(src, "sources", tuple(SOURCES.available()))
        for r in self.code_rates:
            if not 1 / 5 <= float(r) <= 0.95:
                raise ValueError(f"code_rates: 5G LDPC supports rates 1/5 … 0.95, got {r:g}")
        if not self.test_snrs or not self.train_snrs:
            raise ValueError("test_snrs and train_snrs: expected at least one SNR each")
        if len(self.adaptive_range) != 2 or self.adaptive_range[0] > self.adaptive_range[1]:
            raise ValueError(f"adaptive_range: expected (lo, hi), got {self.adaptive_range}")
        self.ratio = float(self.ratio or _DEFAULT_RATIO[self.dataset])
        self.ratios = tuple(float(r) for r in (self.ratios or _DEFAULT_RATIOS[self.dataset]))
        if self.ratio not in self.ratios:
            self.ratios = tuple(sorted((*self.ratios, self.ratio)))
        self.code_n = int(self.code_n or _CODE_N[self.dataset])
        if self.learned_bits is None:
            self.learned_bits = _LEARNED_BITS[self.dataset]
        self.learned_bits = tuple(int(m) for m in self.learned_bits)
        self.test_snrs = tuple(sorted(float(s) for s in self.test_snrs))

    # ------------------------------------------------------------------ models
    @property
    def likelihood(self) -> str:
        """MNIST: Bernoulli (the SSE through a sigmoid saturates on mostly-black digits and
        the conv decoders collapse to an all-black image); Kodak: SSE (∝ the papers' MSE)."""
        return "bernoulli" if self.dataset == "mnist" else "sse"

    def model_specs(self) -> dict[str, dict[str, Any]]:
        """name → ``{model, kwargs, objective, okw, channel: (kind, snr_db)}``."""
        from njscc.models.deepjscc import c_for_ratio

        assert self.ratio is not None and self.ratios is not None
        shape = (1, 28, 28) if self.dataset == "mnist" else (3, self.patch,
                                                                         self.patch)
        base = {"data_shape": list(shape), "likelihood": self.likelihood}
        c = c_for_ratio(self.ratio, shape)
        specs: dict[str, dict[str, Any]] = {}
        for s in self.train_snrs:
            specs[f"deepjscc_snr{s:g}"] = {"model": "deepjscc", "kwargs": {**base, "c": c},
                                           "objective": "jscc", "okw": {}, "snr": s}
        lo, hi = self.adaptive_range
        specs["adjscc"] = {"model": "adjscc", "kwargs": {**base, "c": c}, "objective": "jscc",
                           "okw": {"snr_range": [lo, hi]}, "snr": 0.5 * (lo + hi)}
        for r in self.ratios:
            if abs(r - self.ratio) > 1e-12 or self.ratio_snr not in self.train_snrs:
                specs[f"deepjscc_r{round(1 / r)}_snr{self.ratio_snr:g}"] = {
                    "model": "deepjscc", "kwargs": {**base, "c": c_for_ratio(r, shape)},
                    "objective": "jscc", "okw": {}, "snr": self.ratio_snr, "ratio": r}
        if self.binary:
            specs[f"binary_snr{self.ratio_snr:g}"] = {
                "model": "deepjscc_binary", "kwargs": {**base, "c": c}, "objective": "vimco",
                "okw": {}, "snr": self.ratio_snr}
            specs[f"binary_soft_snr{self.ratio_snr:g}"] = {
                "model": "deepjscc_binary", "kwargs": {**base, "c": c}, "objective": "vimco",
                "okw": {}, "snr": self.ratio_snr, "soft": True}
        if self.necst:
            k = int(round(self.ratio * math.prod(shape)))
            name, kw = (("necst_mlp", {"m": 2 * k}) if self.dataset == "mnist" else
                        ("necst_conv", {"m": 2 * k, "data_shape": list(shape)}))
            specs[f"necst_snr{self.ratio_snr:g}"] = {"model": name, "kwargs": kw,
                                                     "objective": "vimco", "okw": {},
                                                     "snr": self.ratio_snr}
        for m in self.learned_bits or ():
            if self.dataset != "mnist":
                raise ValueError("learned_bits: learned sources (necst_mlp) are built for MNIST")
            specs[f"source_m{m}"] = {"model": "necst_mlp", "kwargs": {"m": m},
                                     "objective": "vimco", "okw": {}, "snr": None,
                                     "source": True}
        return specs

    def _train_channel(self, spec: Mapping[str, Any]) -> Any:
        import channels
        from channels.analog import AWGN, RayleighBlockFading

        if spec["snr"] is None:
            return None  # a learned source: trained without channel noise
        s = float(spec["snr"])
        if spec["objective"] == "jscc":
            return AWGN(s) if self.train_channel == "awgn" else RayleighBlockFading(s)
        # bit codecs: Gray QPSK, bit by bit BPSK at Es/N0 = SNR / 2 (AWGN at the training
        # SNR, under fading too): soft bits, or the hard-decision BSC ε = Q(√SNR)
        if spec.get("soft"):
            return channels.get("awgn_soft", s - _QPSK_BIT_DB)
        return channels.get("bsc", float(qpsk_crossover(s)))

    def data(self) -> StudyData:
        if self._data is None:
            self._data = load_study_data(self.dataset, self.data_dir, seed=self.seed,
                                         n_crops=self.n_crops, patch=self.patch,
                                         n_test=self.n_test, train_size=self.train_size)
        return self._data

    def train_models(self, log: Log = None) -> dict[str, Any]:
        """Train (or load finished runs of) every model; returns name → trained model: the
        weights of the epoch with the best validation score (the last ``valid_fraction`` of the
        training data, scored over the training channel), which guards against the rare loss
        spikes of SSE-through-sigmoid training."""
        from njscc.training.runs import fit_codec

        data = self.data()
        n_valid = int(round(self.valid_fraction * data.train.shape[0]))
        train, valid = (data.train[:-n_valid], data.train[-n_valid:]) if n_valid else \
            (data.train, None)
        models, infos = {}, {}
        for name, spec in self.model_specs().items():
            t0 = time.perf_counter()
            r = fit_codec(spec["model"], spec["kwargs"], spec["objective"], spec["okw"],
                          train, Path(self.runs_dir) / name, valid_data=valid,
                          epochs=self.epochs,
                          batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                          channel=self._train_channel(spec),
                          max_seconds=None if self.max_minutes is None
                          else 60.0 * self.max_minutes, device=self.device,
                          run_info={"study": "deepjscc", "spec": spec})
            models[name] = r["model"].eval()
            hist = r["history"]
            best = r["trainer"].best_epoch
            infos[name] = {"epochs": int(hist[-1]["epoch"]) if hist else 0, "best_epoch": best,
                           "n_train": int(train.shape[0]),
                           "n_valid": 0 if valid is None else int(valid.shape[0]),
                           "train_seconds": float(sum(h.get("epoch_seconds") or 0 for h in hist)),
                           "final_loss": float(hist[-1]["loss"]) if hist else None, **spec}
            if log:
                log(f"{name}: {infos[name]['epochs']} epochs "
                    f"({time.perf_counter() - t0:.0f} s this call)")
        self._infos = infos
        return models

    # ------------------------------------------------------------------ evaluation
    def _groups(self) -> list[Tensor]:
        """Test images stacked by shape: a list of ``[N, C, H, W]``."""
        by: dict[tuple[int, ...], list[Tensor]] = {}
        for x in self.data().test:
            by.setdefault(tuple(x.shape), []).append(x)
        return [torch.stack(v) for v in by.values()]

    def _gains(self, n_images: int, draw: int, group: int) -> Tensor | None:
        """One complex CN(0, 1) fading gain per image for this draw (``None``: AWGN)."""
        if self.channel == "awgn":
            return None
        g = torch.Generator().manual_seed(self.seed * 7919 + draw * 131 + group)
        return torch.view_as_complex(torch.randn(n_images, 2, generator=g) * math.sqrt(0.5))

    @torch.no_grad()
    def evaluate_model(self, model: Any, snr_db: float, soft: bool = False
                       ) -> dict[str, float]:
        """Mean PSNR / SSIM of one model at one test SNR over images and draws (``soft``: a
        bit codec fed soft bits instead of hard QPSK decisions)."""
        psnrs, ssims = [], []
        patch = model.data_shape[1]
        for gi, images in enumerate(self._groups()):
            n, shape = images.shape[0], tuple(images.shape[1:])
            tiles = torch.stack([tile(x, patch) for x in images])  # [N, P, C, s, s]
            p = tiles.shape[1]
            flat = tiles.reshape(n * p, *tiles.shape[2:])
            analog = model.latent.analog is not None
            code = model.compress(flat, snr_db) if analog else model.compress(flat).float()
            for d in range(self.n_draws):
                gen = torch.Generator().manual_seed(self.seed * 104729 + d * 997 + gi)
                h = self._gains(n, d, gi)
                if analog:
                    sigma = 10.0 ** (-snr_db / 20.0)
                    noise = torch.view_as_complex(torch.randn(*code.shape, 2, generator=gen)
                                                  * sigma * math.sqrt(0.5))
                    if h is not None:  # zero-forcing with receiver CSI: y/h = z + n/h
                        noise = noise / h.repeat_interleave(p).unsqueeze(1)
                    y = code + noise
                    out = model.decompress(y, snr_db)
                else:
                    eff = torch.full((n,), snr_db) if h is None else \
                        snr_db + 10.0 * torch.log10(h.abs().square().clamp_min(1e-12))
                    if soft:  # per bit y = ±1 + N(0, 1/SNR_eff), llr = −2·y·SNR_eff
                        lin = (10.0 ** (eff / 10.0)).repeat_interleave(p)[:, None]
                        y = 1.0 - 2.0 * code + torch.randn(code.shape, generator=gen) \
                            / lin.sqrt()
                        out = model.decompress(torch.sigmoid(-2.0 * y * lin))
                    else:
                        eps = torch.as_tensor(qpsk_crossover(eff.numpy()),
                                              dtype=torch.float32)
                        flips = torch.rand(code.shape, generator=gen) < \
                            eps.repeat_interleave(p)[:, None]
                        out = model.decompress((code + flips.float()) % 2)
                x_hat = untile(out.reshape(n, p, *out.shape[1:]), shape)
                ps, ss = image_metrics(images, x_hat)
                psnrs.append(ps)
                ssims.append(ss)
        return {"psnr": float(torch.cat(psnrs).mean()), "ssim": float(torch.cat(ssims).mean())}

    # ------------------------------------------------------------------ the study
    def run(self, out: Path, log: Log = None) -> dict[str, dict[str, Any]]:
        from channels.analog import awgn_capacity, rayleigh_ergodic_capacity
        from njscc.experiments.deepjscc import separation as sep

        assert self.ratio is not None and self.ratios is not None
        models = self.train_models(log)
        specs = self.model_specs()
        images = self.data().test
        tag = f"deepjscc_{self.dataset}_{self.channel}"
        # (not dataclasses.asdict: it would deep-copy the data, once per test-image view)
        cfg = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_data"}
        cfg["data"] = self.data().description
        cfg["models"] = self._infos

        # --- learned codecs vs test SNR (main ratio) ---------------------------------------
        curves: dict[str, dict[str, list[float]]] = {}
        for name, model in models.items():
            if "ratio" in specs[name] or specs[name].get("source"):
                continue
            rows = [self.evaluate_model(model, s, bool(specs[name].get("soft")))
                    for s in self.test_snrs]
            curves[name] = {"psnr": [r["psnr"] for r in rows], "ssim": [r["ssim"] for r in rows]}
            if log:
                log(f"{name}: PSNR " + " ".join(f"{v:.1f}" for v in curves[name]["psnr"]))

        # --- separation -------------------------------------------------------------------
        t0 = time.perf_counter()
        tables = sep.measure_sources(images, self.sources, image_metrics)
        gray = [torch.full_like(x, sep.FALLBACK) for x in images]
        fail = [image_metrics(x.unsqueeze(0), g.unsqueeze(0)) for x, g in zip(images, gray,
                                                                                strict=True)]
        fail_psnr = np.array([float(f[0]) for f in fail])
        fail_ssim = np.array([float(f[1]) for f in fail])
        lo = min(self.test_snrs) - 12.0 if self.channel == "rayleigh" else min(self.test_snrs) - 3
        grid = [float(s) for s in np.arange(lo, max(self.test_snrs) + 3.01, 0.25)]
        links = sep.link_grid(self.code_rates, self.modulations, self.code_n, grid,
                              self.bler_words, self.seed, log)
        if log:
            log(f"separation: sources and BLER curves in {time.perf_counter() - t0:.0f} s")
        gains = None
        if self.channel == "rayleigh":
            g = torch.Generator().manual_seed(self.seed * 31 + 5)
            h2 = torch.randn(len(images), 2000, 2, generator=g).square().sum(-1) * 0.5
            gains = (10.0 * torch.log10(h2.clamp_min(1e-12))).numpy()
        capacity = (awgn_capacity if self.channel == "awgn" else rayleigh_ergodic_capacity)
        pixels = np.array([x.numel() for x in images], dtype=float)

        def uses_at(r: float) -> np.ndarray:
            return np.floor(pixels * r)

        separation: dict[str, Any] = {}
        for name, table in tables.items():
            res = sep.scheme_curves(table, links, uses_at(self.ratio), self.test_snrs,
                                    self.train_snrs, fail_psnr, fail_ssim, gains)
            separation[name] = res
            curves[f"{name}+ldpc best"] = {"psnr": res["best"]["psnr"],
                                           "ssim": res["best"]["ssim"]}
            ideal = sep.ideal_curve(table, uses_at(self.ratio), self.test_snrs, capacity,
                                    fail_psnr, fail_ssim)
            separation[name]["ideal"] = ideal
            curves[f"{name}+ideal"] = {"psnr": ideal["psnr"], "ssim": ideal["ssim"]}
            for d, des in res["designs"].items():
                curves[f"{name}+ldpc @{d} dB"] = {"psnr": des["psnr"], "ssim": des["ssim"]}
        learned_sources = {int(spec["kwargs"]["m"]): models[n] for n, spec in specs.items()
                           if spec.get("source")}
        stacked = torch.stack(images) if learned_sources else None

        def learned_at(r: float, snrs: Any, designs: Any) -> dict[str, Any]:
            return sep.learned_separation(
                learned_sources, stacked, int(math.floor(stacked[0].numel() * r)),
                self.modulations, snrs, designs, image_metrics, capacity,
                fading=self.channel == "rayleigh", seed=self.seed,
                fail=(float(fail_psnr.mean()), float(fail_ssim.mean())),
                bler_words=self.bler_words, log=log)

        if learned_sources:
            res = learned_at(self.ratio, self.test_snrs, self.train_snrs)
            if res:
                separation["learned"] = res
                curves["learned+ldpc best"] = {"psnr": res["best"]["psnr"],
                                               "ssim": res["best"]["ssim"]}
                curves["learned+ideal"] = {"psnr": res["ideal"]["psnr"],
                                           "ssim": res["ideal"]["ssim"]}
                for d, des in res["designs"].items():
                    curves[f"learned+ldpc @{d} dB"] = {"psnr": des["psnr"], "ssim": des["ssim"]}
        snr_result = make_result(
            "deepjscc_snr", {"test_snr_db": list(self.test_snrs), "schemes": curves},
            dataset=self.dataset, channel={"name": self.channel, "param": None},
            config={**cfg, "ratio": self.ratio})

        # --- PSNR vs bandwidth ratio at ratio_snr --------------------------------------------
        by_ratio: dict[str, list[float | None]] = {"deepjscc": []}
        for r in self.ratios:
            key = (f"deepjscc_snr{self.ratio_snr:g}" if abs(r - self.ratio) < 1e-12
                   and self.ratio_snr in self.train_snrs else f"deepjscc_r{round(1 / r)}_snr"
                   f"{self.ratio_snr:g}")
            by_ratio["deepjscc"].append(self.evaluate_model(models[key], self.ratio_snr)["psnr"])
        for name, table in tables.items():
            best, ideal = [], []
            for r in self.ratios:
                res = sep.scheme_curves(table, links, uses_at(r), [self.ratio_snr], [],
                                        fail_psnr, fail_ssim, gains)
                best.append(res["best"]["psnr"][0])
                ideal.append(sep.ideal_curve(table, uses_at(r), [self.ratio_snr], capacity,
                                             fail_psnr, fail_ssim)["psnr"][0])
            by_ratio[f"{name}+ldpc best"] = best
            by_ratio[f"{name}+ideal"] = ideal
        if learned_sources:
            rows = [learned_at(r, [self.ratio_snr], []) for r in self.ratios]
            by_ratio["learned+ldpc best"] = [r["best"]["psnr"][0] if r else None for r in rows]
            by_ratio["learned+ideal"] = [r["ideal"]["psnr"][0] if r else None for r in rows]
        ratio_result = make_result(
            "deepjscc_ratio", {"ratios": list(self.ratios), "snr_db": self.ratio_snr,
                               "psnr": by_ratio},
            dataset=self.dataset, channel={"name": self.channel, "param": self.ratio_snr},
            config=cfg)

        # --- separation details and throughput -------------------------------------------------
        details = {name: {"designs": res["designs"], "best_link": res["best"]["link"],
                          "best_success": res["best"]["success"],
                          **({"ideal_bits_per_use": res["ideal"]["bits_per_use"]}
                             if "bits_per_use" in res["ideal"] else
                             {"ideal_m": res["ideal"]["m"], "configs": res["configs"]})}
                   for name, res in separation.items()}
        bler = {ln["name"]: {k: ln["curve"][k] for k in ("snr_db", "bler", "ber", "n_words")}
                for ln in links}
        tables_json = {name: {"qualities": t.qualities, "mean_payload_bits":
                              t.bits.mean(0).tolist(), "mean_psnr": t.psnr.mean(0).tolist()}
                       for name, t in tables.items()}
        speed = self._throughput(models, links, tables)
        sep_result = make_result(
            "deepjscc_separation", {"test_snr_db": list(self.test_snrs), "schemes": details,
                                    "bler": bler, "sources": tables_json, "throughput": speed},
            dataset=self.dataset, channel={"name": self.channel, "param": None}, config=cfg)
        return {f"{tag}_snr": snr_result, f"{tag}_ratio": ratio_result,
                f"{tag}_separation": sep_result}

    def _throughput(self, models: Mapping[str, Any], links: list[dict[str, Any]],
                    tables: Mapping[str, Any]) -> dict[str, Any]:
        """Receiver images/s at ``ratio_snr``: the DeepJSCC decoder vs demapper + 5G LDPC BP +
        JPEG decode of the scheme designed for that SNR (medians of 3 timings, this CPU)."""
        from baselines.source import get_source

        name = f"deepjscc_snr{self.ratio_snr:g}"
        if name not in models or "jpeg" not in tables:
            return {}
        model = models[name]
        x = self.data().test[0]
        patch = model.data_shape[1]
        t = tile(x, patch)
        y = model.compress(t, self.ratio_snr)

        def timed(fn: Any) -> float:
            ts = []
            for _ in range(3):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            return float(np.median(ts))

        dec = timed(lambda: model.decompress(y, self.ratio_snr))
        from njscc.experiments.deepjscc import separation as sep

        table = tables["jpeg"]
        uses = np.floor(np.array([x.numel()]) * self.ratio)
        res = sep.scheme_curves(table, links, uses, [self.ratio_snr], [self.ratio_snr],
                                np.zeros(1), np.zeros(1))
        design = res["designs"][f"{self.ratio_snr:g}"]
        ln = next(ln for ln in links if ln["name"] == design["link"])
        link = ln["link"]
        q = design["qualities"][0]
        src = get_source("jpeg", q or 1, header_known=True)
        arr = (x.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        arr = arr[..., 0] if arr.shape[2] == 1 else arr
        payload_bits = int(table.bits[0, table.qualities.index(q)]) if q is not None else 0
        n_cw = max(1, math.ceil(payload_bits / link.code.k))
        from channels.analog import AWGN

        ch = AWGN(self.ratio_snr)
        bits = torch.randint(0, 2, (n_cw, link.code.k), generator=torch.Generator()
                             .manual_seed(1)).float()
        rx = ch(link.modulation.map(link.code.encode(bits)),
                generator=torch.Generator().manual_seed(2))
        payload = src.encode(arr)

        def receiver() -> None:
            link.code.decode(link.modulation.demap(rx, ch.noise_var))
            src.decode(payload, arr.shape)

        sep_s = timed(receiver)
        return {"image": "first test image", "pixels": int(x.numel()), "snr_db": self.ratio_snr,
                "deepjscc_decoder_images_per_s": 1.0 / dec,
                "separation": {"link": design["link"], "jpeg_quality": q, "codewords": n_cw,
                               "images_per_s": 1.0 / sep_s},
                "ratio": sep_s / dec, "device": "cpu", "threads": torch.get_num_threads(),
                "torch": torch.__version__}

    # ------------------------------------------------------------------ reporting
    @classmethod
    def plot(cls, results: Mapping[str, dict[str, Any]], out: Path) -> list[Path]:
        from njscc.experiments.deepjscc.plots import plot_ratio, plot_snr

        paths: list[Path] = []
        for stem, res in results.items():
            if stem.endswith("_snr"):
                paths += plot_snr(res, Path(out) / stem)
            elif stem.endswith("_ratio"):
                paths += plot_ratio(res, Path(out) / f"{stem}.png")
        return paths

    @classmethod
    def summary(cls, results: Mapping[str, dict[str, Any]]) -> str:
        from njscc.experiments.deepjscc.plots import summary_markdown

        return summary_markdown(results)
