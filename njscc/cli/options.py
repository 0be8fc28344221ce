"""The CLI's one vocabulary: option groups every command shares, checked values, old spellings.

Every command builds its parser from these groups, so the same thing has the same flag and the
same checks everywhere:

=====================  =========================================================================
``--checkpoint RUN``   any trained model: a run dir, a checkpoint dir or ``model.safetensors``
``--out DIR``          always a directory
``--device``           ``auto`` (default: CUDA when available), ``cpu``, ``cuda``, ``cuda:N``
``--seed S``           every random draw of the command derives from it
``--seeds 0,1,2``      run once per seed; per-seed results plus mean ± σ over seeds
``--threads N``        torch intra-op threads
``--quiet``            no progress bar or per-epoch lines
``--channel NAME``     ``bsc``, ``bec``, ``z``, ``awgn``, ``ge`` (comma list where a command
                       sweeps several); ``NAME:PARAM`` sets the command's parameter too
``--eps P[,P...]``     the channel parameter(s) the command tests / simulates / transmits at
``--train-eps P``      the channel parameter something is *trained* at
``--dataset NAME``     a registered dataset, ``idx:DIR`` or ``images:DIR``; ``--data-dir DIR``
=====================  =========================================================================

Values are checked when parsed (:mod:`njscc.validation`): NaN, ±inf, zero or negative counts,
out-of-range probabilities and unknown devices are a one-line error with exit code 2, before any
work starts. Old spellings (``--model PATH`` for a checkpoint, ``--param``, ``--channels``,
``--probe-eps``, ``--necst``, ``--train-eps`` → …) keep working and print one deprecation
warning line naming the new one.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Deprecated", "Tracked", "add_channel", "add_checkpoint", "add_data", "add_device", "add_out",
    "add_quiet", "add_run", "add_seed", "add_seeds", "add_threads", "apply_common", "channel_spec",
    "BATCH", "CODE_BITS", "EPOCHS", "SAMPLES", "THREADS", "WIDTH", "count", "explicit",
    "finite_float", "float_list", "float_range", "int_list", "int_range", "name_list",
    "nonneg_float", "nonneg_int", "parse_kv", "positive_float", "positive_int", "probability",
    "seed_value", "width_list",
]

_SEED_MAX = (1 << 63) - 1


# --------------------------------------------------------------------------- value types
def _number(text: str) -> float:
    try:
        return float(str(text).replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _integer(text: str, what: str) -> int:
    v = _number(text)
    if not math.isfinite(v) or v != int(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return int(v)


def positive_int(text: str) -> int:
    """An integer ≥ 1 (``1e6`` and ``10_000`` accepted)."""
    v = _integer(text, "a positive integer")
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


count = positive_int


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[lo, hi]`` (sizes with an allocation behind them)."""
    def parse(text: str) -> int:
        v = _integer(text, f"an integer in [{lo}, {hi}]")
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {text!r}")
        return v

    parse.__name__ = f"int_{lo}_{hi}"
    parse.bounds = (lo, hi)  # type: ignore[attr-defined]
    return parse


def float_range(lo: float, hi: float, *, lo_open: bool = False,
                hi_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a number in the interval from ``lo`` to ``hi`` (open ends optional)."""
    def parse(text: str) -> float:
        v = _number(text)
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
        if not ok:  # also NaN
            a, b = "(" if lo_open else "[", ")" if hi_open else "]"
            raise argparse.ArgumentTypeError(f"expected a number in {a}{lo:g}, {hi:g}{b}, got "
                                             f"{text!r}")
        return v

    parse.__name__ = "float_range"
    parse.bounds = (lo, hi)  # type: ignore[attr-defined]
    return parse


#: the bounds of the size options shared by several commands (allocations behind them)
CODE_BITS = int_range(1, 1 << 16)       # --m: code bits / latent dims (LIMITS["code_bits"])
SAMPLES = int_range(1, 1 << 12)         # --K, posterior samples (LIMITS["samples"])
BATCH = int_range(1, 1 << 20)           # --batch-size (LIMITS["batch"])
THREADS = int_range(1, 1024)            # --threads
EPOCHS = int_range(1, 1 << 20)          # --epochs
WIDTH = int_range(1, 1 << 15)           # one hidden layer (LIMITS["hidden"])


def nonneg_int(text: str) -> int:
    """An integer ≥ 0."""
    v = _integer(text, "an integer >= 0")
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def seed_value(text: str) -> int:
    """A seed: an integer in [0, 2^63 − 1]."""
    v = _integer(text, "an integer seed")
    if not 0 <= v <= _SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2^63-1], got {text!r}")
    return v


def finite_float(text: str) -> float:
    """Any finite number."""
    v = _number(text)
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """A finite number > 0."""
    v = _number(text)
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return v


def nonneg_float(text: str) -> float:
    """A finite number ≥ 0."""
    v = _number(text)
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return v


def probability(text: str) -> float:
    """A number in [0, 1]."""
    v = _number(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text!r}")
    return v


def _list(item: Callable[[str], Any], what: str, allow_empty: bool = False
          ) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        parts = [t.strip() for t in str(text).split(",") if t.strip()]
        if not parts and not allow_empty:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}")
        try:
            return [item(t) for t in parts]
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got "
                                             f"{text!r}") from None

    parse.__name__ = f"{what.replace(' ', '_')}_list"
    return parse


float_list = _list(finite_float, "numbers")
int_list = _list(positive_int, "positive integers")
width_list = _list(WIDTH, "layer widths in [1, 32768]")
seed_list = _list(seed_value, "seeds")


def name_list(text: str) -> list[str]:
    """``"bsc,BEC"`` → ``["bsc", "bec"]``."""
    names = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def parse_kv(items: Sequence[str], option: str) -> dict[str, Any]:
    """``["dec_hidden=[256,256]", "bias=true"]`` → ``{"dec_hidden": [256, 256], "bias": True}``.

    Values are JSON; anything that is not valid JSON is kept as a string.
    """
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option}: expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def channel_spec(text: str) -> tuple[str, float | None]:
    """``"bsc"`` → ``("bsc", None)``; ``"bsc:0.1"`` → ``("bsc", 0.1)``."""
    name, sep, param = str(text).partition(":")
    name = name.strip().lower()
    if not name:
        raise argparse.ArgumentTypeError(f"expected NAME or NAME:PARAM, got {text!r}")
    return name, (finite_float(param) if sep else None)


# --------------------------------------------------------------------------- deprecations
class Deprecated(argparse.Action):
    """An old spelling: stores into the new option's ``dest`` and records a warning line."""

    def __init__(self, option_strings: Sequence[str], dest: str, new: str = "",
                 note: str = "", **kwargs: Any) -> None:
        self.new, self.note = new, note
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        warnings = getattr(namespace, "_deprecations", None) or []
        warnings.append(f"{option_string} is deprecated; use {self.new}"
                        + (f" ({self.note})" if self.note else ""))
        namespace._deprecations = warnings
        if self.nargs == 0:
            values = self.const
        current = getattr(namespace, self.dest, None)
        if isinstance(current, list) and self.default is not None and isinstance(values, str):
            current = [] if current is self.default else current
            setattr(namespace, self.dest, [*current, values])
        else:
            setattr(namespace, self.dest, values)
        explicit_set(namespace, self.dest)


def explicit_set(namespace: argparse.Namespace, dest: str) -> None:
    given = getattr(namespace, "_explicit", None) or set()
    given.add(dest)
    namespace._explicit = given


class Tracked(argparse.Action):
    """``store`` that remembers the option was given (see :func:`explicit`)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        explicit_set(namespace, self.dest)


class _TrackAppend(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest, None)
        current = [] if current is None or current is self.default else list(current)
        setattr(namespace, self.dest, [*current, values])
        explicit_set(namespace, self.dest)


def explicit(args: argparse.Namespace, dest: str) -> bool:
    """Whether the user gave the option stored in ``dest`` (not just its default)."""
    return dest in (getattr(args, "_explicit", None) or set())


# --------------------------------------------------------------------------- option groups
def add_checkpoint(p: argparse.ArgumentParser, *, required: bool = True, multiple: bool = False,
                   old: Sequence[str] = (), help: str | None = None) -> None:  # noqa: A002
    """``--checkpoint RUN`` (repeatable with ``multiple``); ``old`` spellings are deprecated."""
    what = help or "trained model: run directory, checkpoint directory or model.safetensors"
    kw: dict[str, Any] = {"dest": "checkpoint", "metavar": "RUN"}
    if multiple:
        p.add_argument("--checkpoint", action=_TrackAppend, default=[],
                       help=what + " (repeatable)", **kw)
    else:
        p.add_argument("--checkpoint", action=Tracked, default=None, help=what, **kw)
    for flag in old:
        p.add_argument(flag, action=Deprecated, new="--checkpoint", default=[] if multiple
                       else None, dest="checkpoint")
    if required:
        p.set_defaults(_required_checkpoint=True)


def add_out(p: argparse.ArgumentParser, default: str | None, help: str = "output folder"  # noqa: A002
            ) -> None:
    """``--out DIR`` (always a directory)."""
    p.add_argument("--out", default=default, metavar="DIR", action=Tracked, help=help)


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device auto|cpu|cuda|cuda:N`` (default auto)."""
    p.add_argument("--device", default="auto", metavar="DEVICE", action=Tracked,
                   help="auto (CUDA when available), cpu, cuda or cuda:N")


def add_seed(p: argparse.ArgumentParser, help: str = "seed of every random draw"  # noqa: A002
             ) -> None:
    p.add_argument("--seed", type=seed_value, default=0, action=Tracked, help=help)


def add_seeds(p: argparse.ArgumentParser) -> None:
    """``--seeds 0,1,2``: one run per seed, per-seed results and mean ± σ over seeds."""
    p.add_argument("--seeds", type=seed_list, default=None, metavar="S,S,...", action=Tracked,
                   help="run once per seed (each in <out>/seed_<s>/); results hold the mean "
                   "and σ over seeds (overrides --seed)")


def add_threads(p: argparse.ArgumentParser, default: int | None = None) -> None:
    p.add_argument("--threads", type=THREADS, default=default, action=Tracked,
                   help="torch intra-op threads (default: torch's choice)")


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")


def add_channel(p: argparse.ArgumentParser, *, multiple: bool = False, default: str = "bsc",
                eps: str | None = None, eps_list: bool | None = None, eps_help: str = "",
                train_eps: float | str | None = None, train_help: str = "",
                old_channels: bool = False, old_param: bool = False,
                old_train: str | None = None) -> None:
    """``--channel`` (+ ``--eps`` and/or ``--train-eps``) with their deprecated spellings.

    Args:
        multiple: ``--channel`` takes a comma list (commands that sweep channels).
        eps: default of ``--eps`` (``None``: no ``--eps``; ``""``: required unless
            ``--channel NAME:PARAM``).
        eps_list: ``--eps`` takes a comma list (default: like ``multiple``).
        train_eps: default of ``--train-eps`` (``None``: no such option; a string such as
            ``"0,0.1"``: the option takes a comma list).
        old_channels / old_param / old_train: accept ``--channels``, ``--param`` and the named
            old flag for ``--train-eps`` with a deprecation warning.
    """
    names = ("bsc, bec, z, awgn, ge; for analog codecs (DeepJSCC) awgn_complex, awgn_real, "
             "rayleigh, rayleigh_real with the SNR in dB")
    if multiple:
        p.add_argument("--channel", type=name_list, default=name_list(default), action=Tracked,
                       metavar="NAME[,NAME]", help=f"channels: {names}")
    else:
        p.add_argument("--channel", type=channel_spec, default=channel_spec(default),
                       action=Tracked, metavar="NAME[:PARAM]", help=f"channel: {names}")
    if old_channels:
        p.add_argument("--channels", action=Deprecated, new="--channel", dest="channel",
                       type=name_list)
    if eps is not None:
        if multiple if eps_list is None else eps_list:
            p.add_argument("--eps", type=float_list, default=float_list(eps) if eps else None,
                           action=Tracked, metavar="P[,P]",
                           help=eps_help or "channel parameters (ε, or Es/N0 in dB for awgn)")
        else:
            p.add_argument("--eps", type=finite_float, default=float(eps) if eps else None,
                           action=Tracked, metavar="P",
                           help=eps_help or "channel parameter (ε, or Es/N0 in dB for awgn)")
        if old_param:
            p.add_argument("--param", action=Deprecated, new="--eps", dest="eps",
                           type=finite_float)
    if train_eps is not None:
        as_list = isinstance(train_eps, str)
        kind = float_list if as_list else finite_float
        p.add_argument("--train-eps", type=kind, default=kind(str(train_eps)), action=Tracked,
                       metavar="P[,P]" if as_list else "P",
                       help=train_help or "channel parameter used in training")
        if old_train:
            p.add_argument(old_train, action=Deprecated, new="--train-eps", dest="train_eps",
                           type=kind)


def add_run(p: argparse.ArgumentParser, *, out: str | None, out_help: str = "output folder",
            seed_help: str = "seed of every random draw", seeds: bool = True,
            device: bool = True, threads: bool = True, quiet: bool = True,
            threads_default: int | None = None) -> None:
    """The options every run shares: ``--out``, ``--seed`` (+ ``--seeds``), ``--device``,
    ``--threads``, ``--quiet``."""
    add_out(p, out, out_help)
    add_seed(p, seed_help)
    if seeds:
        add_seeds(p)
    if device:
        add_device(p)
    if threads:
        add_threads(p, threads_default)
    if quiet:
        add_quiet(p)


def add_data(p: argparse.ArgumentParser, *, default: str | None = None, help: str = ""  # noqa: A002
             ) -> None:
    """``--dataset NAME|idx:DIR|images:DIR`` and ``--data-dir DIR``."""
    p.add_argument("--dataset", default=default, action=Tracked, metavar="NAME",
                   help=help or "dataset: a registered name (njscc list datasets), idx:DIR (any "
                   "MNIST-style IDX folder) or images:DIR")
    p.add_argument("--data-dir", default=None, metavar="DIR", action=Tracked,
                   help="folder with the datasets (default: $NJSCC_DATA_DIR)")


# --------------------------------------------------------------------------- applying
def apply_common(args: argparse.Namespace) -> None:
    """Settle the shared options once the command line is parsed: print deprecation lines,
    check ``--device``, set ``--threads``, split ``--channel NAME:PARAM``."""
    cmd = getattr(args, "command", None) or "njscc"
    for msg in getattr(args, "_deprecations", None) or []:
        print(f"njscc {cmd}: warning: {msg}", file=sys.stderr)
    if getattr(args, "_required_checkpoint", False) and not args.checkpoint:
        raise ValueError("--checkpoint RUN is required (a trained run, checkpoint dir or "
                         "model.safetensors)")
    if getattr(args, "device", None) is not None:
        from njscc.validation import check_device

        args.device = str(check_device(args.device, "--device"))
    if getattr(args, "threads", None) is not None:
        import torch

        torch.set_num_threads(args.threads)
    ch = getattr(args, "channel", None)
    if isinstance(ch, tuple):  # single-channel commands: NAME[:PARAM]
        name, param = ch
        args.channel = name
        if param is not None:
            target = getattr(args, "_channel_param", "eps")
            if explicit(args, target):
                raise ValueError(f"--channel {name}:{param:g} and --{target.replace('_', '-')}: "
                                 "give the parameter once")
            current = getattr(args, target, None)
            setattr(args, target, [param] if isinstance(current, list) else param)
            explicit_set(args, target)
