"""pycompose's commands and flags against docker compose 2.40's, flag by flag.

The reference is tests/data/docker-compose-flags.json, recorded from the oracle's binary
(tests/compose_flags.py says how); with the oracle present it is re-checked live.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from compose.arguments import build_parser
from compose.arguments.refused import REFUSED
from compose.cli import main
from tests.compose_flags import record
from tests.e2e.conftest import docker_compose_binary

REFERENCE = json.loads(
    (Path(__file__).parent.parent / "data" / "docker-compose-flags.json").read_text()
)

# Commands and flags that other parts of issue 14 add. Each entry is expected to be missing
# here; the test fails once one appears, so the list shrinks as those parts are merged.
OWNED_ELSEWHERE: dict[str, set[str]] = {}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _missing(parser: argparse.ArgumentParser, flags: list[dict[str, Any]]) -> set[str]:
    """The reference's flags that ``parser`` lacks, or has under other names or arity."""
    actions = parser._option_string_actions
    missing = set()
    for flag in flags:
        action = actions.get(f"--{flag['long']}")
        short = f"-{flag['short']}" if flag["short"] else None
        if (
            action is None
            or (short is not None and actions.get(short) is not action)
            or (action.nargs != 0 and action.const != "true") != flag["value"]
        ):
            missing.add(flag["long"])
    return missing


def test_global_flags_are_docker_composes() -> None:
    assert _missing(build_parser(), REFERENCE["global"]) == set()


def test_every_command_has_docker_composes_flags() -> None:
    ours = _subparsers(build_parser())
    found: dict[str, set[str]] = {}
    for command, flags in REFERENCE["commands"].items():
        if command not in ours:
            found[command] = {"*"}
            continue
        missing = _missing(ours[command], flags)
        if missing or command in OWNED_ELSEWHERE:
            found[command] = missing
    assert found == OWNED_ELSEWHERE


def test_refused_flags_are_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    """A flag that cannot be honoured stops the command before anything is done, naming it."""
    assert REFUSED, "the table of refused flags is empty: drop this test"
    for (command, flag), reason in REFUSED.items():
        argv = [command, flag]
        action = _subparsers(build_parser())[command]._option_string_actions[flag]
        if action.nargs != 0:
            argv.append("x")
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert f"{flag} is not supported" in err and reason in err, (argv, err)


@pytest.mark.oracle
def test_reference_is_docker_compose_of_the_oracle() -> None:
    binary = docker_compose_binary()
    if binary is None:
        pytest.skip("docker compose binary of the oracle is not installed")
    assert record(binary) == REFERENCE
