"""config --variables, --environment and --models: pycompose's output against docker
compose's (config needs no engine, so the oracle's binary runs here directly)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from compose.variables import file_variables
from tests.e2e.conftest import docker_compose_binary

PYCOMPOSE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pycompose"
FILE = """\
services:
  web:
    image: ${IMG:-busybox}
    command: ${CMD:?need cmd}
    environment:
      A: ${A}
      B: ${B-x}
      C: ${C:+alt} $$NOT_A_VARIABLE $PLAIN
models:
  llm:
    model: ai/smollm2
"""


def test_variables_in_order_with_defaults_required_and_alternates() -> None:
    found = [(v.name, v.required, v.default, v.alternate) for v in file_variables(FILE)]
    assert found == [
        ("IMG", False, "busybox", ""),
        ("CMD", True, "", ""),
        ("A", False, "", ""),
        ("B", False, "x", ""),
        ("C", False, "", "alt"),
        ("PLAIN", False, "", ""),
    ]


def _run(tool: list[str], directory: Path, *args: str) -> str:
    environment = {"PATH": os.environ["PATH"], "CMD": "1", "LC_CTYPE": "C.UTF-8"}
    done = subprocess.run(
        [*tool, *args],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.oracle
@pytest.mark.parametrize(
    "args",
    [
        ("config", "--variables"),
        ("config", "--variables", "--format", "json"),
        ("config", "--variables", "--format", "yaml"),
        ("config", "--models"),
        ("config", "--environment"),
    ],
)
def test_config_listings_are_docker_composes(tmp_path: Path, args: tuple[str, ...]) -> None:
    binary = docker_compose_binary()
    if binary is None:
        pytest.skip("docker compose binary of the oracle is not installed")
    (tmp_path / "compose.yaml").write_text(FILE)
    (tmp_path / ".env").write_text("FROM_DOTENV=1\n")
    ours = _run([str(PYCOMPOSE)], tmp_path, *args)
    theirs = _run([binary], tmp_path, *args)
    if "--environment" in args:
        # docker compose adds PWD, which its Go runtime knows; the rest must be the same
        theirs = "".join(line for line in theirs.splitlines(True) if not line.startswith("PWD="))
    if "json" in args:
        assert json.loads(ours) == json.loads(theirs)
    ours_lines = [line.rstrip() for line in ours.splitlines()]
    theirs_lines = [line.rstrip() for line in theirs.splitlines()]
    if args == ("config", "--variables"):
        # docker compose's table comes in Go's random map order: compare the rows as a set
        assert ours_lines[0] == theirs_lines[0]
        assert sorted(ours_lines[1:]) == sorted(theirs_lines[1:])
    else:
        assert ours_lines == theirs_lines
