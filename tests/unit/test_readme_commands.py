"""Every ``njscc`` command shown in the README and docs parses with today's CLI, in today's
spelling (no deprecation warning), so the front door never shows a command that fails."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from njscc.cli import _build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "examples" / "plugin" / "README.md"]


def _commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        in_block = False
        lines = doc.read_text().splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("```"):
                in_block = not in_block
                i += 1
                continue
            text = line.strip()
            is_output = re.match(r"^njscc [\w-]+: ", text)  # a printed error/warning line
            if in_block and not is_output and re.match(r"^(\$ )?(njscc |torchrun .*-m njscc\.cli )",
                                                        text):
                while text.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    text = text[:-1] + " " + lines[i].strip()
                text = text.removeprefix("$ ").split("  #")[0].split(" # ")[0].strip()
                for part in text.split(" && "):
                    found.append((doc.name, part.strip()))
            i += 1
    return found


COMMANDS = [c for c in _commands() if "..." not in c[1] and "[" not in c[1].split("njscc")[-1]
            .replace("[0,", "").replace("=[", "")]


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("doc", "command"), COMMANDS)
def test_command_parses_without_deprecation(doc: str, command: str) -> None:
    argv = shlex.split(command.replace("$DATA", "DATA").replace("${m}", "100")
                       .replace("$m", "100"))
    if argv[0] == "torchrun":
        argv = argv[argv.index("njscc.cli") + 1:]
    else:
        argv = argv[1:]
    argv = [a for a in argv if not a.startswith(">")]
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"{doc}: `{command}` does not parse (exit {e.code})")
    assert not getattr(args, "_deprecations", None), f"{doc}: `{command}` uses an old spelling"
