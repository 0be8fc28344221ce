"""Head-to-head: NECST against separation (JPEG/WebP + 5G LDPC or an ideal channel code).

Three experiments per (dataset, channel), each written as one ``njscc.result/1`` JSON file and
drawn from that file (:mod:`njscc.experiments.compare.plots`):

* ``budget`` — distortion vs ε at a fixed number of channel bits per image (NECST's code
  length m). NECST sends m bits; a separation scheme gets the highest quality whose coded
  stream fits (header-known payload + 1 quality byte, :meth:`SeparationScheme.run` budget
  mode). An image that does not fit even at the lowest quality is not sent and gets the
  fallback: *cannot fit* is reported per point (never dropped).
* ``bits`` — the channel bits each separation scheme needs to reach NECST's distortion at each
  ε: sweep a fixed quality q, per image ``channel_bits(8 · bytes)`` (ideal code: ⌈L / C(ε)⌉;
  LDPC: ⌈L / k⌉ · n at the rate :func:`design_rate` gives for ε), averaged over the images; the
  answer is the cheapest q whose mean distortion (decode failures included) is ≤ NECST's. The
  ideal code is exact arithmetic on the error-free distortion; LDPC is simulated (candidates
  in order of cost whose error-free distortion is ≤ the target, one per distinct cost, at
  most ``max_tries``, until one meets it; "not reached" otherwise). Also the
  distortion-vs-bits curves at one ε (``rd``) with NECST at several m.
* ``cliff`` — a separation scheme designed for one ε (code rate for that ε, quality chosen by
  the ``bits`` search there) evaluated at other test ε, next to NECST.

Conventions: distortion is the per-image SSE on the [0, 1] scale (NECST's). Images are sent
as the *header-known payload* (the primary figure, see ``docs/baselines.md``) and, in ``bits``,
also as whole files. The separation receiver detects errors: an image whose stream kept a residual
LDPC block error (as a CRC would flag; its bits are not counted) or that the image decoder
rejects is a *failure*, reconstructed as the *dataset mean image* (training split) and counted
(``failure_rate``); the SSE of the raw decoded images (garbage pixels included, often worse than
the mean image) is kept as ``sse_no_detection``. Every random draw uses a ``torch.Generator``
seeded from ``(seed, experiment, scheme, ε, …)``, so a rerun gives the same numbers.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["DEFAULT_QUALITIES", "CompareConfig", "Comparison", "NecstModel", "SourceTable",
           "design_rate", "load_compare_data", "load_necst", "min_bits_for", "necst_run_name",
           "scheme_label", "source_table", "timeshare_bits", "train_necst"]

#: qualities swept per source codec (the codec's lowest quality first)
DEFAULT_QUALITIES: dict[str, tuple[int, ...]] = {
    "jpeg": (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90),
    "webp": (0, 1, 2, 3, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 75, 90),
}
_NAMES = {"jpeg": "JPEG", "webp": "WebP", "learned": "learned", "ideal": "ideal", "ppv": "PPV",
          "ldpc": "LDPC"}
#: code kinds charged by a bound and delivered error-free (never simulated)
EXACT_CODES = ("ideal", "ppv")


def scheme_label(source: str, code: str, sent: str = "payload") -> str:
    """``"JPEG+ideal"``, ``"WebP+LDPC"``, … (``" (file)"`` appended for whole files)."""
    base = f"{_NAMES.get(source, source)}+{_NAMES.get(code, code)}"
    return base if sent == "payload" else f"{base} ({sent})"


def _seed(seed: int, *parts: Any) -> int:
    from njscc.training.seeds import mix_seed

    return mix_seed(seed, *(zlib.crc32(str(p).encode()) for p in parts))


def _gen(seed: int, *parts: Any) -> torch.Generator:
    return torch.Generator().manual_seed(_seed(seed, *parts))


def _f(x: Any) -> float | None:
    """JSON-safe float (``None`` for NaN/inf/None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _mean_se(v: Tensor | np.ndarray) -> tuple[float, float]:
    a = np.asarray(v, dtype=np.float64)
    if a.size == 0:
        return math.nan, math.nan
    se = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
    return float(a.mean()), se


# --------------------------------------------------------------------------- small pieces
def design_rate(channel: Any) -> tuple[float, str]:
    """The LDPC code rate used for ``channel``: :func:`baselines.pick_rate`; where it finds
    none (BSC ε > 0.15, where 0.7·C < 1/5) the lowest 5G rate, 1/5 (the k = 400 code is then
    unreliable: BLER ≈ 6 % at BSC 0.2, and its failures are counted). → ``(rate, rule)``."""
    from baselines import pick_rate
    from baselines.codes import FIVE_G_RATES

    try:
        return pick_rate(channel), "pick_rate"
    except ValueError:
        return float(min(FIVE_G_RATES)), "lowest 5G rate (pick_rate: none <= 0.7 C)"


def min_bits_for(bits: Sequence[float], distortion: Sequence[float], target: float
                 ) -> int | None:
    """Index of the cheapest operating point with ``distortion ≤ target`` (``None`` if none).

    Ties in ``bits`` go to the lower distortion. ``bits`` and ``distortion`` are parallel
    sequences (one entry per operating point, e.g. per quality).
    """
    if len(bits) != len(distortion):
        raise ValueError(f"bits and distortion: lengths differ ({len(bits)} vs {len(distortion)})")
    best: int | None = None
    for i, (b, d) in enumerate(zip(bits, distortion, strict=True)):
        if d is None or b is None or not d <= target:
            continue
        if best is None or (b, d) < (bits[best], distortion[best]):
            best = i
    return best


def timeshare_bits(bits: float, distortion: float, fallback: float, target: float
                   ) -> float | None:
    """Mean bits when a fraction f of the images is sent at ``(bits, distortion)`` and the rest
    is not sent (0 bits, ``fallback`` distortion) so that the mean distortion is ``target``:
    ``f = (fallback − target) / (fallback − distortion)``, clipped to [0, 1]. ``None`` when the
    point cannot reach the target (``distortion > target``)."""
    if distortion > target:
        return None
    if fallback <= target:
        return 0.0
    return bits * min(1.0, (fallback - target) / (fallback - distortion))


def necst_run_name(dataset: str, m: int, channel: str, train_eps: float) -> str:
    """Run folder name used by ``njscc compare``: ``{dataset}_m{m}_{channel}_{eps:g}``."""
    return f"{dataset}_m{int(m)}_{channel}_{float(train_eps):g}"


# --------------------------------------------------------------------------- data
def load_compare_data(dataset: str, data_dir: str | None, n_images: int, *, seed: int = 0,
                      patch_size: int = 32, kodak_test_from: int = 20) -> dict[str, Any]:
    """Training and evaluation images for a comparison.

    * ``mnist``: the official training split and the first ``n_images`` test images.
    * ``kodak``: RGB ``patch_size`` grid patches; images ``kodim01 … kodim{kodak_test_from}``
      are the training set, the remaining ones the test set, from which ``n_images`` patches
      are drawn at random (seeded ``torch.randperm``).

    Returns ``{"dataset", "train" [N, C, H, W], "test" [n, C, H, W], "fallback" [C, H, W] (mean
    training image), "description"}``.
    """
    from njscc.data import load_dataset

    if n_images < 1:
        raise ValueError(f"n_images: expected ≥ 1, got {n_images}")
    if dataset in ("mnist", "fashion_mnist", "embedded"):
        train = load_dataset(dataset, "train", data_dir=data_dir).images
        test = load_dataset(dataset, "test", data_dir=data_dir).images[:n_images]
        desc = f"{dataset}: {train.shape[0]} training images, first {test.shape[0]} test images"
    elif dataset == "kodak":
        ds = load_dataset("kodak", "test", data_dir=data_dir, patch_size=patch_size)
        is_test = ds.labels >= kodak_test_from
        train, pool = ds.images[~is_test], ds.images[is_test]
        if train.shape[0] == 0 or pool.shape[0] == 0:
            raise ValueError(f"kodak_test_from={kodak_test_from}: leaves an empty split")
        order = torch.randperm(pool.shape[0], generator=_gen(seed, "kodak-test"))
        test = pool[order[:n_images]]
        desc = (f"kodak {patch_size}x{patch_size} RGB grid patches: {train.shape[0]} training "
                f"patches (kodim01-{kodak_test_from:02d}), {test.shape[0]} random test patches "
                f"of kodim{kodak_test_from + 1:02d}-24")
    else:
        raise ValueError(f"dataset: expected mnist, fashion_mnist, embedded or kodak, "
                         f"got {dataset!r}")
    return {"dataset": dataset, "train": train, "test": test, "fallback": train.mean(0),
            "description": desc}


# --------------------------------------------------------------------------- NECST models
@dataclass
class NecstModel:
    """A trained NECST codec and where it came from."""

    model: Any
    m: int
    channel: str
    train_eps: float
    path: str = ""
    epochs: int | None = None
    dataset: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"m": self.m, "trained_on": {"channel": self.channel, "param": self.train_eps},
                "epochs": self.epochs, "checkpoint": self.path,
                "model": dict(getattr(self.model, "config", {}))}


def load_necst(path: str | Path) -> NecstModel:
    """Load a checkpoint (run folder or checkpoint folder) written by the :class:`Trainer`;
    the training channel and ε come from the run info stored in it."""
    from njscc.training.checkpoint import find_checkpoint, load_checkpoint, load_model

    ck = find_checkpoint(path)
    model = load_model(ck)
    if model.latent.kind != "bits":
        raise ValueError(f"checkpoint {path}: {model.config['name']} has a {model.latent} latent, "
                         "not the bits of a NECST codec")
    extra = load_checkpoint(ck).extra if ck.is_dir() else {}
    run = extra.get("run", {})
    ch = run.get("channel") or {}
    if "name" not in ch or "train_param" not in ch:
        raise ValueError(f"checkpoint {path}: no training channel in its run info")
    return NecstModel(model=model, m=int(model.m), channel=str(ch["name"]),
                      train_eps=float(ch["train_param"]), path=str(path),
                      epochs=extra.get("epoch"), dataset=run.get("dataset"))


def train_necst(train_x: Tensor, test_x: Tensor, *, dataset: str, model_name: str, m: int,
                channel: str, train_eps: float, epochs: int, out: str | Path, seed: int = 0,
                model_kwargs: dict[str, Any] | None = None, objective: str = "vimco",
                n_samples: int = 5, quiet: bool = True, patience: int | None = None,
                valid_fraction: float = 0.1,
                on_epoch: Callable[[dict[str, Any]], None] | None = None) -> NecstModel:
    """Train a NECST codec with the package :class:`~njscc.training.trainer.Trainer`
    (the settings of
    ``njscc train``: VIMCO K = 5, Adam 1e-3, batch 100, encoder L2 1e-4, seeded init) and
    return it; checkpoints and logs go to ``out``. With ``patience``, a seeded random
    ``valid_fraction`` of ``train_x`` is held out and training stops early on its SSE at the
    training channel (the best epoch is what :func:`load_necst` then loads)."""
    import channels
    from njscc import models, objectives
    from njscc.training.trainer import TrainConfig, Trainer

    kwargs = {"m": int(m), "likelihood": "sse", "data_shape": list(train_x.shape[1:]),
              **dict(model_kwargs or {})}
    obj_kwargs = {"n_samples": int(n_samples)}
    torch.manual_seed(seed)
    model = models.get(model_name, **kwargs)
    obj = objectives.get(objective, **obj_kwargs)
    run_info = {"dataset": dataset, "channel": {"name": channel, "train_param": float(train_eps),
                                                 "test_param": float(train_eps)},
                "objective": {"name": objective, "kwargs": obj_kwargs},
                "n_train": int(train_x.shape[0]), "n_test": int(test_x.shape[0]),
                "trained_by": "njscc.experiments.compare.comparison.train_necst"}
    valid_x = None
    if patience is not None:
        from njscc.data import holdout_indices

        n_valid = max(1, round(valid_fraction * train_x.shape[0]))
        keep, held = holdout_indices(train_x.shape[0], n_valid, seed)
        train_x, valid_x = train_x[keep], train_x[held]
        run_info["valid"] = {"size": int(n_valid), "split": "random", "patience": patience}
    trainer = Trainer(model, obj, channels.get(channel, train_eps), train_x,
                      TrainConfig(epochs=int(epochs), seed=seed, patience=patience),
                      test_data=test_x, valid_data=valid_x, out_dir=out, device="cpu",
                      run_info=run_info, quiet=quiet, on_epoch=on_epoch)
    if (Path(out) / "checkpoints").exists():
        trainer.resume()
    trainer.fit()
    return load_necst(out)


# --------------------------------------------------------------------------- source tables
@dataclass
class SourceTable:
    """Error-free operating points of one source codec on a set of images.

    ``quality`` [Q]; ``payload_bytes``, ``file_bytes`` [Q, N] int64; ``sse`` [Q, N] float64
    (decoded image vs the float original, per image).
    """

    source: str
    quality: np.ndarray
    payload_bytes: np.ndarray
    file_bytes: np.ndarray
    sse: np.ndarray

    def nbytes(self, sent: str) -> np.ndarray:
        if sent not in ("payload", "file"):
            raise ValueError(f"sent: expected 'payload' or 'file', got {sent!r}")
        return self.payload_bytes if sent == "payload" else self.file_bytes

    def row(self, q: int) -> int:
        hits = np.nonzero(self.quality == int(q))[0]
        if hits.size == 0:
            raise ValueError(f"quality {q} not in the {self.source} table {self.quality.tolist()}")
        return int(hits[0])


def _to_uint8_images(x: Tensor) -> list[np.ndarray]:
    u8 = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return [im[0] if im.shape[0] == 1 else np.ascontiguousarray(im.transpose(1, 2, 0))
            for im in u8]


def source_table(images: Tensor, source: str, qualities: Sequence[int],
                 codec: Any = None) -> SourceTable:
    """Encode every image at every quality (whole file; payload = file minus the known
    header), decode it, and record sizes and SSE. ``images`` [N, C, H, W] in [0, 1];
    ``codec``: a whole-file :class:`~baselines.SourceCodec` (default ``get_source(source)``)."""
    from baselines import get_source

    codec = codec if codec is not None else get_source(source, header_known=False)
    qs = sorted({int(q) for q in qualities})
    if codec.min_quality not in qs:
        qs.insert(0, codec.min_quality)  # budget mode's "cannot fit" test needs the lowest
    ims = _to_uint8_images(images)
    ref = images.detach().double().cpu().numpy()
    n = len(ims)
    pay = np.zeros((len(qs), n), np.int64)
    fil = np.zeros((len(qs), n), np.int64)
    sse = np.zeros((len(qs), n), np.float64)
    for i, q in enumerate(qs):
        for j, im in enumerate(ims):
            f = codec.encode_file(im, q)
            fil[i, j] = len(f)
            pay[i, j] = len(codec.split(f)[1])
            dec = codec.decode(f, im.shape).astype(np.float64) / 255.0
            dec = dec[None] if dec.ndim == 2 else dec.transpose(2, 0, 1)
            sse[i, j] = float(((dec - ref[j]) ** 2).sum())
    return SourceTable(source, np.asarray(qs), pay, fil, sse)


# --------------------------------------------------------------------------- configuration
@dataclass
class CompareConfig:
    """What :class:`Comparison` runs (defaults: the MNIST head-to-head)."""

    eps: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2)
    sources: tuple[str, ...] = ("jpeg", "webp")
    codes: tuple[str, ...] = ("ideal", "ppv", "ldpc")
    ppv_pe: float = 1e-3                         # block error of the finite-blocklength bound
    ppv_bound: str = "achievability"             # or "converse" / "normal"
    qualities: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {k: tuple(v) for k, v in DEFAULT_QUALITIES.items()})
    budgets: tuple[int, ...] = ()                # () → main m and the largest m (this channel)
    ldpc_k: int = 400
    ldpc_iter: int = 20
    decoder: str = "cpp"                         # "cpp" (ldpc package, sum-product) or "sionna"
    max_tries: int = 4                           # LDPC simulations per bits-needed search
    rd_eps: float = 0.1
    rd_sim_qualities: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {"jpeg": (1, 3, 5, 10, 25, 50), "webp": (0, 3, 10, 25, 50)})
    cliff_design_eps: tuple[float, ...] = (0.02, 0.05, 0.1)  # also the matched designs
    cliff_eps: tuple[float, ...] = (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2)
    cliff_source: str = "jpeg"
    cliff_code: str = "ldpc"                     # "repetition" in quick tests (no Sionna)
    cliff_quality: int | None = None             # None: from the bits search at the design ε
    check_eps: tuple[float, ...] = (0.05, 0.1)   # cliff points re-decoded with Sionna (cpp only)
    short_eps: tuple[float, ...] = (0.05, 0.1, 0.2)  # short / matched experiments (learned)
    short_bler: tuple[float, ...] = (0.1, 0.01)      # target block error rates of short codes
    short_words: int = 4000                          # random words per measured BLER
    matched_codes: tuple[str, ...] = ("ldpc", "polar")
    short_block_rows: bool = True  # per-BLER rows also for ldpc_k (slow for polar at k = 400)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.decoder not in ("cpp", "sionna"):
            raise ValueError(f"decoder: expected 'cpp' or 'sionna', got {self.decoder!r}")
        for s in self.sources:
            if s not in DEFAULT_QUALITIES:
                raise ValueError(f"sources: expected jpeg/webp, got {s!r}")
        for c in self.codes:
            if c not in ("ideal", "ppv", "ldpc", "repetition"):
                raise ValueError(f"codes: expected ideal, ppv, ldpc or repetition, got {c!r}")
        if not 0.0 < float(self.ppv_pe) < 1.0:
            raise ValueError(f"ppv_pe: expected a block error probability in (0, 1), got "
                             f"{self.ppv_pe!r}")
        if self.ppv_bound not in ("achievability", "converse", "normal"):
            raise ValueError(f"ppv_bound: expected achievability, converse or normal, got "
                             f"{self.ppv_bound!r}")
        for e in (*self.eps, *self.cliff_eps, *self.cliff_design_eps, self.rd_eps):
            if not 0.0 <= float(e) < 0.5:
                raise ValueError(f"eps: expected values in [0, 0.5), got {e}")
        if self.ldpc_k < 12 or self.max_tries < 1:
            raise ValueError("ldpc_k must be ≥ 12 and max_tries ≥ 1")
        for e in self.short_eps:
            if not 0.0 < float(e) < 0.5:
                raise ValueError(f"short_eps: expected values in (0, 0.5), got {e}")
        for p in self.short_bler:
            if not 0.0 < float(p) < 1.0:
                raise ValueError(f"short_bler: expected block error rates in (0, 1), got {p}")
        if self.short_words < 100:
            raise ValueError(f"short_words: expected ≥ 100, got {self.short_words}")
        for c in self.matched_codes:
            if c not in ("ldpc", "polar"):
                raise ValueError(f"matched_codes: expected ldpc or polar, got {c!r}")


# --------------------------------------------------------------------------- the comparison
class Comparison:
    """All experiments of one (dataset, channel): NECST models vs separation schemes.

    Args:
        images: evaluation images ``[N, C, H, W]`` in [0, 1].
        fallback: reconstruction of a failed separation decode ``[C, H, W]`` (mean image).
        channel: ``"bsc"`` or ``"bec"`` (any ε-channel of :mod:`channels`).
        necst: trained models; the one with ``m == main_m`` trained on ``channel`` (else the
            first) sets the target distortion, all of them give the NECST bits/distortion curve.
        config: :class:`CompareConfig`.
        dataset: name for the results files.
        main_m: code length of the reference NECST model.
        log: called with one-line progress messages.
    """

    def __init__(self, images: Tensor, fallback: Tensor, channel: str, necst: Sequence[NecstModel],
                 config: CompareConfig | None = None, *, dataset: str = "mnist",
                 main_m: int | None = None, log: Callable[[str], None] | None = None,
                 data_description: str = "", learned: Sequence[NecstModel] = ()) -> None:
        if images.dim() != 4:
            raise ValueError(f"images: expected [N, C, H, W], got {tuple(images.shape)}")
        if tuple(fallback.shape) != tuple(images.shape[1:]):
            raise ValueError(f"fallback: shape {tuple(fallback.shape)} does not match images "
                             f"{tuple(images.shape[1:])}")
        if not necst:
            raise ValueError("necst: at least one trained NECST model is needed")
        self.images = images.float().cpu()
        self.fallback = fallback.float().cpu()
        self.channel = channel
        self.cfg = config or CompareConfig()
        self.learned = sorted(learned, key=lambda n: n.m)  # source codecs, shortest code first
        self.dataset = dataset
        self.data_description = data_description
        self.log = log or (lambda msg: None)
        self.necst = sorted(necst, key=lambda n: n.m)
        own = [n for n in self.necst if n.channel == channel] or list(self.necst)
        if main_m is not None:
            own = [n for n in own if n.m == main_m] or own
        self.main = min(own, key=lambda n: (abs(n.train_eps - 0.1), n.m))
        self.fallback_sse = ((self.images - self.fallback) ** 2).flatten(1).sum(1).double()
        self._tables: dict[str, SourceTable] = {}
        self._codes: dict[tuple[Any, ...], Any] = {}
        self._sims: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._necst_cache: dict[tuple[int, float, str, float], dict[str, float]] = {}
        self.sim_seconds = 0.0

    # -------------------------------------------------------------- building blocks
    @property
    def sources(self) -> tuple[str, ...]:
        """The source codecs compared: the configured ones, and ``learned`` when learned
        source codecs were given."""
        return (*self.cfg.sources, "learned") if self.learned else tuple(self.cfg.sources)

    def qualities(self, source: str) -> tuple[int, ...]:
        """Qualities swept for ``source`` (learned: one per codec, by code length)."""
        if source == "learned":
            return tuple(range(1, len(self.learned) + 1))
        return tuple(self.cfg.qualities[source])

    def source_codec(self, source: str, quality: int | None = None, **kwargs: Any) -> Any:
        """The :class:`~baselines.SourceCodec` of ``source`` (learned: the given codecs)."""
        from baselines import get_source

        if source == "learned":
            kwargs["codecs"] = [n.model for n in self.learned]
            quality = 1 if quality is None else quality
        return get_source(source, *([] if quality is None else [quality]), **kwargs)

    @property
    def codes(self) -> tuple[str, ...]:
        """The configured code kinds this channel has: finite-blocklength bounds (``ppv``)
        exist here for the BSC and the BEC only."""
        return tuple(c for c in self.cfg.codes if c != "ppv" or self.channel in ("bsc", "bec"))

    def channel_at(self, eps: float) -> Any:
        import channels

        return channels.get(self.channel, float(eps))

    def table(self, source: str) -> SourceTable:
        if source not in self._tables:
            t0 = time.perf_counter()
            self._tables[source] = source_table(self.images, source, self.qualities(source),
                                                self.source_codec(source, header_known=False))
            self.log(f"{source} table: {len(self._tables[source].quality)} qualities x "
                     f"{self.images.shape[0]} images ({time.perf_counter() - t0:.0f} s)")
        return self._tables[source]

    def code(self, kind: str, eps: float, rate: float | None = None) -> Any:
        """The channel code of ``kind`` for ε (LDPC: rate from :func:`design_rate` unless
        given; the decoder is the configured one)."""
        from baselines import FiniteBlocklengthCode, IdealCode, RepetitionCode

        ch = self.channel_at(eps)
        if kind == "ideal" or (kind == "ppv" and float(eps) == 0.0):
            return IdealCode(ch)  # noiseless: both are one channel use per bit
        if kind == "ppv":
            return FiniteBlocklengthCode(ch, pe=self.cfg.ppv_pe, bound=self.cfg.ppv_bound)
        if kind == "repetition":
            r = rate if rate is not None else design_rate(ch)[0]
            key = ("rep", round(1 / r))
            if key not in self._codes:
                self._codes[key] = RepetitionCode(max(1, round(1 / r)), k=8)
            return self._codes[key]
        if rate is None:
            rate = design_rate(ch)[0]
        n = int(round(self.cfg.ldpc_k / rate))
        return self.ldpc(n, self.cfg.decoder)

    def ldpc(self, n: int, decoder: str) -> Any:
        from baselines import LDPC5G

        key = ("ldpc", self.cfg.ldpc_k, n, self.cfg.ldpc_iter, decoder)
        if key not in self._codes:
            base = LDPC5G(self.cfg.ldpc_k, n, num_iter=self.cfg.ldpc_iter)
            if decoder == "cpp":
                from njscc.experiments.throughput.separation import CppBpCode

                try:
                    base = CppBpCode(base, max_iter=self.cfg.ldpc_iter, bp_method="product_sum")
                except ImportError as e:
                    raise ImportError(f"{e}; or decode with Sionna (--decoder sionna)") from e
            self._codes[key] = base
        return self._codes[key]

    def necst_eval(self, nm: NecstModel, eps: float) -> dict[str, float]:
        """NECST distortion on the images at test ε (most probable code, seeded draws)."""
        from njscc.evaluation.distortion import evaluate_codec

        key = (nm.m, nm.train_eps, nm.channel, float(eps))
        if key not in self._necst_cache:
            g = _gen(self.cfg.seed, "necst", self.channel, nm.m, nm.channel, nm.train_eps, eps)
            self._necst_cache[key] = evaluate_codec(nm.model, self.images,
                                                    self.channel_at(eps), generator=g)
        return self._necst_cache[key]

    def channel_bits(self, code: Any, nbytes: np.ndarray) -> np.ndarray:
        """Channel bits per image for streams of ``nbytes`` bytes (vectorised over values)."""
        vals, inv = np.unique(nbytes, return_inverse=True)
        per = np.array([code.channel_bits(8 * int(v)) for v in vals], dtype=np.float64)
        return per[inv].reshape(nbytes.shape)

    def simulate(self, source: str, q: int, sent: str, code_kind: str, eps: float,
                 rate: float | None = None, decoder: str | None = None) -> dict[str, Any]:
        """Send every image at fixed quality ``q`` through code + channel at ε; summary dict.

        The ideal code and ε = 0 (a noiseless channel: every code decodes exactly) are exact
        from the source table; everything else is simulated with :class:`SeparationScheme`.
        """
        from baselines import SeparationScheme

        decoder = decoder or self.cfg.decoder
        ch = self.channel_at(eps)
        if code_kind == "ldpc":
            rate = rate if rate is not None else design_rate(ch)[0]
            code = self.ldpc(int(round(self.cfg.ldpc_k / rate)), decoder)
        else:
            code = self.code(code_kind, eps, rate)
        key = (source, int(q), sent, code_kind, float(eps), code.k, code.n, decoder)
        if key in self._sims:
            return self._sims[key]
        tab = self.table(source)
        row = tab.row(q)
        bits = self.channel_bits(code, tab.nbytes(sent)[row])
        out: dict[str, Any] = {"quality": int(q), "code": code.config(),
                               "channel_bits_mean": float(bits.mean()),
                               "source_bytes_mean": float(tab.nbytes(sent)[row].mean())}
        if getattr(code, "ideal", False) or float(eps) == 0.0:
            sse = tab.sse[row]
            out.update(simulated=False, failure_rate=0.0, block_error_rate=0.0,
                       bit_errors_total=0)
        else:
            t0 = time.perf_counter()
            src = self.source_codec(source, int(q), header_known=(sent == "payload"))
            scheme = SeparationScheme(src, code, ch, fallback=self.fallback)
            g = _gen(self.cfg.seed, "sim", self.channel, source, q, sent, code.n, eps)
            res = scheme.run(self.images, g)
            sse, failed = self._detect(res, self.fallback_sse)
            blocks = np.ceil(8 * tab.nbytes(sent)[row] / code.k).sum()
            dt = time.perf_counter() - t0
            self.sim_seconds += dt
            out.update(simulated=True, decoder=decoder,
                       failure_rate=float(failed.mean()),
                       decode_error_rate=float(res["failed"].double().mean()),
                       block_error_rate=float(res["block_errors"].sum() / max(blocks, 1)),
                       bit_errors_total=int(res["bit_errors"].sum()),
                       codewords=int(blocks), seconds=round(dt, 1))
            out["sse_no_detection"], out["sse_no_detection_se"] = _mean_se(res["sse"].numpy())
            self.log(f"  simulated {scheme_label(source, code_kind, sent)} q={q} "
                     f"rate={code.rate:.3f} {self.channel} {eps:g}: SSE {sse.mean():.2f}, "
                     f"failures {out['failure_rate']:.3f} ({int(blocks)} codewords, {dt:.0f} s)")
        out["sse"], out["sse_se"] = _mean_se(sse)
        self._sims[key] = out
        return out

    @staticmethod
    def _detect(res: dict[str, Tensor], fallback_sse: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Receiver with error detection: an image whose stream has a residual LDPC block
        error (as a CRC would flag; its bits are not counted) or that the image decoder rejects
        is replaced by the fallback. → (per-image SSE, per-image failed)."""
        failed = (res["failed"] | (res["block_errors"] > 0)).numpy()
        sse = np.where(failed, fallback_sse.numpy(), res["sse"].numpy())
        return sse, failed

    # -------------------------------------------------------------- experiment 1: budget
    def run_budget(self) -> dict[str, Any]:
        """Distortion vs ε at fixed channel budgets (``config.budgets``; default: the reference
        NECST's m and the largest m trained on this channel)."""
        from baselines import SeparationScheme

        cfg = self.cfg
        own_m = [n.m for n in self.necst if n.channel == self.channel]
        budgets = sorted(set(cfg.budgets) or {self.main.m, max(own_m, default=self.main.m)})
        curves: list[dict[str, Any]] = []
        for B in budgets:
            own = [n for n in self.necst if n.m == B]
            nm = min(own, key=lambda n: (n.channel != self.channel, abs(n.train_eps - 0.1)),
                     default=None)
            if nm is not None:
                rows = [self.necst_eval(nm, e) for e in cfg.eps]
                curves.append({"scheme": "NECST", "kind": "necst", "budget": B, **nm.describe(),
                               "sse": [r["sse"] for r in rows],
                               "sse_se": [r["sse_se"] for r in rows],
                               "psnr": [r["psnr"] for r in rows],
                               "channel_bits_mean": [float(nm.m)] * len(rows),
                               "cannot_fit_rate": [0.0] * len(rows),
                               "failure_rate": [0.0] * len(rows)})
            for source in self.sources:
                tab = self.table(source)
                min_stream = 8 * (1 + tab.payload_bytes[0])  # lowest quality + quality byte
                for kind in self.codes:
                    c: dict[str, Any] = {"scheme": scheme_label(source, kind), "kind": "separation",
                                         "budget": B, "source": source, "code": kind,
                                         "sent": "payload + 1 quality byte"}
                    cols: dict[str, list[Any]] = {k: [] for k in (
                        "sse", "sse_se", "cannot_fit_rate", "failure_rate", "quality_mean",
                        "channel_bits_mean", "rate")}
                    for e in cfg.eps:
                        code = self.code(kind, e)
                        fits = min_stream <= code.max_info_bits(B)
                        sse = self.fallback_sse.numpy().copy()
                        failed = np.zeros(len(sse), bool)
                        qual, used = [], []
                        if fits.any():
                            idx = np.nonzero(fits)[0]
                            src = self.source_codec(source, header_known=True,
                                                    signal_quality=True)
                            scheme = SeparationScheme(src, code, self.channel_at(e),
                                                      fallback=self.fallback)
                            g = _gen(cfg.seed, "budget", self.channel, source, kind, B, e)
                            res = scheme.run(self.images[torch.from_numpy(idx)], g,
                                             budget_bits=B)
                            sse[idx], det = self._detect(
                                res, self.fallback_sse[torch.from_numpy(idx)])
                            failed[idx] = det & ~res["cannot_fit"].numpy()
                            fits[idx] = ~res["cannot_fit"].numpy()
                            ok = ~res["cannot_fit"]
                            qual = res["quality"][ok].double().tolist()
                            used = res["channel_bits"][ok].double().tolist()
                        m_, se_ = _mean_se(sse)
                        cols["sse"].append(m_)
                        cols["sse_se"].append(se_)
                        cols["cannot_fit_rate"].append(float(1 - fits.mean()))
                        cols["failure_rate"].append(float(failed.mean()))
                        cols["quality_mean"].append(_f(np.mean(qual)) if qual else None)
                        cols["channel_bits_mean"].append(_f(np.mean(used)) if used else None)
                        cols["rate"].append(None if code.ideal else code.rate)
                    curves.append({**c, **cols})
            self.log(f"budget {B} bits: done")
        metrics = {"param": list(map(float, cfg.eps)), "budgets": budgets,
                   "fallback_sse": float(self.fallback_sse.mean()), "curves": curves}
        return self._result("compare_budget", metrics)

    # -------------------------------------------------------------- experiment 2: bits needed
    def _operating_points(self, source: str, sent: str, code_kind: str, eps: float
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(qualities, mean channel bits, mean error-free SSE) of a fixed-quality sweep."""
        tab = self.table(source)
        code = self.code(code_kind, eps)
        bits = self.channel_bits(code, tab.nbytes(sent)).mean(1)
        return tab.quality, bits, tab.sse.mean(1)

    def bits_needed(self, source: str, sent: str, code_kind: str, eps: float, target: float
                    ) -> dict[str, Any]:
        """Cheapest fixed quality whose mean distortion at ε is ≤ ``target`` (see module doc)."""
        qs, bits, free = self._operating_points(source, sent, code_kind, eps)
        fb = float(self.fallback_sse.mean())
        out: dict[str, Any] = {"bits": None, "quality": None, "sse": None, "failure_rate": None,
                               "floor": False, "bits_timeshare": None, "tried": []}
        order = sorted((b, d, i) for i, (b, d) in enumerate(zip(bits, free, strict=True))
                       if d <= target)
        exact = code_kind in EXACT_CODES or float(eps) == 0.0
        tried_bits: list[float] = []
        for b, _, i in order:
            if len(out["tried"]) >= (1 if exact else self.cfg.max_tries):
                break
            if any(abs(b - t) <= 0.005 * t for t in tried_bits):
                continue  # same cost (same blocks) as a failed better-quality candidate
            tried_bits.append(b)
            sim = self.simulate(source, int(qs[i]), sent, code_kind, eps)
            out["tried"].append(int(qs[i]))
            if sim["sse"] <= target:
                share = [timeshare_bits(sim["channel_bits_mean"], sim["sse"], fb, target)]
                if exact:  # every cheaper-or-better error-free point is exact too
                    share += [timeshare_bits(bb, dd, fb, target) for bb, dd, _ in order]
                out.update(bits=sim["channel_bits_mean"], quality=int(qs[i]), sse=sim["sse"],
                           failure_rate=sim["failure_rate"], simulated=sim["simulated"],
                           floor=bool(b <= bits.min() + 1e-9),
                           bits_timeshare=_f(min(x for x in share if x is not None)))
                break
        if out["bits"] is None:
            out["note"] = ("no quality reaches the target" if not order else
                           f"none of the {len(out['tried'])} cheapest candidates met the target "
                           "once channel errors were simulated")
        out["rate"] = None if code_kind in EXACT_CODES else self.code(code_kind, eps).rate
        return out

    def run_bits(self) -> dict[str, Any]:
        """Bits each scheme needs for NECST's distortion at every ε; RD curves at ``rd_eps``."""
        cfg = self.cfg
        target = [self.necst_eval(self.main, e)["sse"] for e in cfg.eps]
        necst_rows = []
        for nm in self.necst:
            rows = [self.necst_eval(nm, e) for e in cfg.eps]
            necst_rows.append({**nm.describe(), "sse": [r["sse"] for r in rows],
                               "sse_se": [r["sse_se"] for r in rows]})
        needed = []
        for source in self.sources:
            for sent in ("payload", "file"):
                for kind in self.codes:
                    rows = [self.bits_needed(source, sent, kind, e, t)
                            for e, t in zip(cfg.eps, target, strict=True)]
                    needed.append({"scheme": scheme_label(source, kind, sent), "source": source,
                                   "code": kind, "sent": sent,
                                   **{k: [r.get(k) for r in rows] for k in (
                                       "bits", "quality", "sse", "failure_rate", "floor",
                                       "bits_timeshare", "rate", "tried", "note")}})
                self.log(f"bits needed: {source} {sent} done")
        rd = self._rd_curves()
        src_summary = {s: {"quality": self.table(s).quality.tolist(),
                           "payload_bytes_mean": self.table(s).payload_bytes.mean(1).tolist(),
                           "file_bytes_mean": self.table(s).file_bytes.mean(1).tolist(),
                           "sse": self.table(s).sse.mean(1).tolist()} for s in self.sources}
        metrics = {"param": list(map(float, cfg.eps)),
                   "target": {"m": self.main.m, "trained_on": {"channel": self.main.channel,
                                                               "param": self.main.train_eps},
                              "sse": target},
                   "fallback_sse": float(self.fallback_sse.mean()),
                   "necst": necst_rows, "needed": needed, "rd": rd, "source": src_summary}
        return self._result("compare_bits", metrics)

    def _rd_curves(self) -> dict[str, Any]:
        """Distortion vs mean channel bits at ``rd_eps``: NECST at each m, separation per
        quality (ideal: exact; LDPC: accounting with error-free SSE, plus simulated points)."""
        cfg, e = self.cfg, float(self.cfg.rd_eps)
        curves = []
        for source in self.sources:
            for sent in ("payload", "file"):
                for kind in self.codes:
                    qs, bits, free = self._operating_points(source, sent, kind, e)
                    c = {"scheme": scheme_label(source, kind, sent), "source": source,
                         "code": kind, "sent": sent, "quality": qs.tolist(),
                         "channel_bits_mean": bits.tolist(), "sse_error_free": free.tolist()}
                    if kind not in EXACT_CODES and sent == "payload":
                        sims = [self.simulate(source, q, sent, kind, e)
                                for q in (self.qualities(source) if source == "learned" else
                                          cfg.rd_sim_qualities.get(source, ()))
                                if q in set(qs.tolist())]
                        c["simulated"] = {k: [s[k] for s in sims] for k in (
                            "quality", "channel_bits_mean", "sse", "sse_se", "failure_rate")}
                    curves.append(c)
        necst = []
        for nm in self.necst:  # the code-length sweep: models trained like the reference
            if nm.train_eps != self.main.train_eps:
                continue
            r = self.necst_eval(nm, e)
            necst.append({**nm.describe(), "bits": nm.m, "sse": r["sse"], "sse_se": r["sse_se"]})
        by_m = []  # bits each scheme needs for each NECST model's distortion at rd_eps
        for row in necst:
            if row["trained_on"]["channel"] != self.channel:
                continue
            entry = {"m": row["m"], "sse": row["sse"], "schemes": {}}
            for source in self.sources:
                for kind in self.codes:
                    r = self.bits_needed(source, "payload", kind, e, row["sse"])
                    entry["schemes"][scheme_label(source, kind)] = {
                        k: r.get(k) for k in ("bits", "quality", "sse", "failure_rate",
                                              "floor", "bits_timeshare")}
            by_m.append(entry)
        return {"eps": e, "curves": curves, "necst": necst, "needed_by_m": by_m,
                "fallback_sse": float(self.fallback_sse.mean())}

    # -------------------------------------------------------------- experiment 3: cliff
    def run_cliff(self) -> dict[str, Any]:
        """A JPEG+LDPC scheme designed for each ``cliff_design_eps`` (rate from
        :func:`design_rate` there; quality from the bits search against NECST's distortion
        there) evaluated at every ``cliff_eps``, next to the reference NECST model."""
        cfg = self.cfg
        source, kind = cfg.cliff_source, cfg.cliff_code
        curves: list[dict[str, Any]] = []
        for nm in self.necst:
            if nm.m != self.main.m or nm.channel != self.channel:
                continue
            rows = [self.necst_eval(nm, e) for e in cfg.cliff_eps]
            curves.append({"scheme": f"NECST (trained at {nm.train_eps:g})", "kind": "necst",
                           "design_eps": nm.train_eps, **nm.describe(),
                           "channel_bits_mean": float(nm.m),
                           "sse": [r["sse"] for r in rows], "sse_se": [r["sse_se"] for r in rows],
                           "failure_rate": [0.0] * len(rows)})
        checks = []
        for d in cfg.cliff_design_eps:
            rate, rule = design_rate(self.channel_at(d))
            q, how = cfg.cliff_quality, "given"
            if q is None:
                t = self.necst_eval(self.main, d)["sse"]
                r = self.bits_needed(source, "payload", kind, d, t)
                q, how = ((r["quality"], "bits search at the design eps")
                          if r["quality"] is not None else (10, "default (bits search found none)"))
            sims = [self.simulate(source, q, "payload", kind, e, rate=rate)
                    for e in cfg.cliff_eps]
            curves.append({"scheme": f"{scheme_label(source, kind)} (designed for {d:g})",
                           "kind": "separation", "design_eps": float(d), "rate": rate,
                           "rate_rule": rule, "quality": int(q), "quality_rule": how,
                           "channel_bits_mean": sims[0]["channel_bits_mean"],
                           "sse": [s["sse"] for s in sims], "sse_se": [s["sse_se"] for s in sims],
                           "failure_rate": [s["failure_rate"] for s in sims],
                           "block_error_rate": [s["block_error_rate"] for s in sims],
                           "sse_no_detection": [s.get("sse_no_detection", s["sse"])
                                                for s in sims]})
            if cfg.decoder == "cpp" and kind == "ldpc":
                for e in cfg.check_eps:
                    if e == 0.0:
                        continue
                    a = self.simulate(source, q, "payload", "ldpc", e, rate=rate)
                    b = self.simulate(source, q, "payload", "ldpc", e, rate=rate,
                                      decoder="sionna")
                    checks.append({"design_eps": float(d), "eps": float(e), "quality": int(q),
                                   "rate": rate, **{f"{k}_{name}": s[k] for name, s in (
                                       ("cpp", a), ("sionna", b)) for k in (
                                       "sse", "failure_rate", "block_error_rate")}})
            self.log(f"cliff (designed for {d:g}): done")
        metrics = {"param": list(map(float, cfg.cliff_eps)),
                   "fallback_sse": float(self.fallback_sse.mean()), "curves": curves,
                   "decoder_check": checks}
        return self._result("compare_cliff", metrics)

    # -------------------------------------------------------------- experiments 4, 5
    def run_short(self) -> dict[str, Any]:
        """Learned sources as one short codeword each (:func:`~.short.run_short`)."""
        from njscc.experiments.compare.short import run_short

        return run_short(self)

    def run_matched(self) -> dict[str, Any]:
        """The cliff with matched designs and equal channel bits (:func:`~.short.run_matched`)."""
        from njscc.experiments.compare.short import run_matched

        return run_matched(self)

    # -------------------------------------------------------------- results
    def _result(self, task: str, metrics: dict[str, Any]) -> dict[str, Any]:
        from njscc.io.results import make_result

        cfg = asdict(self.cfg)
        cfg.update(dataset_description=self.data_description,
                   n_images=int(self.images.shape[0]), image_shape=list(self.images.shape[1:]),
                   fallback="dataset mean image (training split)",
                   necst_main={"m": self.main.m, "checkpoint": self.main.path,
                               "trained_on": {"channel": self.main.channel,
                                              "param": self.main.train_eps},
                               "epochs": self.main.epochs},
                   ldpc=f"5G NR LDPC (sionna LDPC5GEncoder), k = {cfg['ldpc_k']}, n = round(k / "
                        f"rate), at most {cfg['ldpc_iter']} sum-product iterations; decoder: "
                        + ("the ldpc package's C++ BpDecoder (product_sum, early stop) on the "
                           "same pruned 5G parity-check matrix" if cfg["decoder"] == "cpp"
                           else "sionna LDPC5GDecoder (boxplus-phi)"),
                   simulation_seconds=round(self.sim_seconds, 1),
                   learned_source=[{**n.describe(), "quality": i + 1}
                                   for i, n in enumerate(self.learned)])
        return make_result(task, _jsonable(metrics), dataset=self.dataset,
                           channel={"name": self.channel,
                                    "param": metrics.get("param")},
                           m=self.main.m, config=_jsonable(cfg))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return _f(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
