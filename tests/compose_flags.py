"""docker compose's commands and flags, read from its ``--help``, and pycompose's, read from
its parser, so that the two can be compared flag by flag.

Recording the reference (with the oracle's binary, see ``docker_compose_binary()``)::

    .venv/bin/python -m tests.compose_flags /opt/oracle-venv/.../docker-compose \
        > tests/data/docker-compose-flags.json
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

# what docker compose has that pycompose leaves to others on purpose
EXCEPTED_COMMANDS = {"alpha", "bridge"}

# "  -d, --detach       text" or "      --scale scale   text"
_FLAG = re.compile(r"^  (?:-(?P<short>\w), |    )--(?P<long>[\w-]+)(?: (?P<type>\w+))?(?:\s|$)")


def parse_help(text: str) -> list[dict[str, Any]]:
    """The flags listed under ``Options:`` of one ``docker compose X --help``."""
    flags: list[dict[str, Any]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("Options:"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        match = _FLAG.match(line) if inside else None
        if match:
            flags.append(
                {
                    "long": match["long"],
                    "short": match["short"],
                    "value": match["type"] is not None,
                }
            )
    return flags


def commands_of(top_help: str) -> list[str]:
    """The command names under ``Commands:`` of ``docker compose --help``."""
    names: list[str] = []
    inside = False
    for line in top_help.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        if inside and line.strip():
            names.append(line.split()[0])
    return names


def record(binary: str) -> dict[str, Any]:
    """Every command's flags and the global flags, from the binary's own help."""

    def help_text(*command: str) -> str:
        done = subprocess.run(
            [binary, *command, "--help"], capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout

    top = help_text()
    return {
        "version": subprocess.run(
            [binary, "version", "--short"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip(),
        "global": parse_help(top),
        "commands": {
            name: parse_help(help_text(name))
            for name in commands_of(top)
            if name not in EXCEPTED_COMMANDS
        },
    }


if __name__ == "__main__":
    json.dump(record(sys.argv[1]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
