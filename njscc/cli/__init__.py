"""``njscc`` command line: a thin ``main(argv)`` that parses and calls library code.

Each sub-command lives in ``njscc/cli/commands/<name>.py`` and defines ``HELP`` (one line),
``add_arguments(parser)`` (built from the shared option groups of :mod:`njscc.cli.options`)
and ``run(args) -> int``. Command modules import heavy dependencies inside ``run`` so
``njscc --help`` stays fast.

Bad input (``ValueError``, ``TypeError``, missing or unwritable files, a bad flag, …) becomes
one line on stderr and exit code 2; ``--debug`` shows the traceback instead. Anything else is a
bug: exit 1 with "internal error".
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from njscc._omp import apply_wait_policy

__all__ = ["COMMANDS", "main"]

#: sub-command name → module under ``njscc.cli.commands``
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "simulate": "simulate",
    "train": "train",
    "eval": "evaluate",
    "encode": "encode",
    "decode": "decode",
    "transmit": "transmit",
    "compare": "compare",
    "deepjscc": "deepjscc",
    "bench": "bench",
    "rd-sweep": "rd_sweep",
    "vib": "vib",
    "gilbo": "gilbo",
    "downstream": "downstream",
    "robust": "robust",
    "experiment": "experiment",
    "list": "listing",
}

USER_ERRORS = (ValueError, TypeError, OSError, ImportError, MemoryError)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``njscc CMD: error: ...``, exit 2), no usage dump."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog if self.prog.startswith("njscc") else f"njscc {self.prog}"
        print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _build_parser() -> argparse.ArgumentParser:
    from njscc import __version__

    parser = _Parser(prog="njscc",
                     description="Neural joint source-channel coding toolkit (NECST and friends).")
    parser.add_argument("--version", action="version", version=f"njscc {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod_name in COMMANDS.items():
        mod = importlib.import_module(f"njscc.cli.commands.{mod_name}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _message(e: BaseException) -> str:
    """One line for a user error (``OSError``: the path and the reason)."""
    if isinstance(e, OSError) and e.strerror:
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror}"
    if isinstance(e, MemoryError):
        return f"not enough memory for this request ({e or 'MemoryError'}); ask for less"
    text = str(e) or type(e).__name__
    return " ".join(text.split())  # one line, whatever the exception put in it


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``njscc`` console script; returns the exit code."""
    apply_wait_policy()  # before torch is imported (see njscc._omp)
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) or a parse error (2, already printed)
        return int(e.code or 0)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from njscc.cli.options import apply_common

    try:
        apply_common(args)
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("njscc: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"njscc {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the CLI never shows a raw traceback
        if args.debug:
            raise
        print(f"njscc {args.command}: internal error: {type(e).__name__}: {_message(e)} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
