"""``-f -``: the compose file read from stdin, as docker compose reads it.

The file stands as "-" in the working directory (the project directory, or the current
one): its relative paths, ``extends`` and ``include`` resolve there, and its problems are
located as ``-:line:column``. Run through the real console script (the warm CLI passes
stdin to its child) and, where the oracle's binary is installed, against docker compose.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import docker_compose_binary

PYCOMPOSE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pycompose"
STACK = """\
services:
  app:
    extends: {file: base.yaml, service: base}
    volumes: [./data:/data]
    env_file: [app.env]
"""


def _run(
    tool: list[str], directory: Path, stdin: bytes, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tool, *args],
        cwd=directory,
        env={**os.environ, "LC_CTYPE": "C.UTF-8"},
        input=stdin.decode("utf-8", "surrogateescape"),
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=60,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two directories with a base.yaml and app.env each: which one a path took shows."""
    for name in ("here", "there"):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "base.yaml").write_text(f"services:\n  base:\n    image: from-{name}\n")
        (directory / "app.env").write_text(f"FROM={name}\n")
    return tmp_path


def test_the_file_from_stdin_is_read_in_the_working_directory(tree: Path) -> None:
    here = tree / "here"
    done = _run([str(PYCOMPOSE)], here, STACK.encode(), "-f", "-", "config")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("name: here\n")
    assert "image: from-here" in done.stdout and "FROM: here" in done.stdout
    assert f"source: {here}/data" in done.stdout
    (here / "compose.yaml").write_text(STACK)
    on_disk = _run([str(PYCOMPOSE)], here, b"", "config")
    assert done.stdout == on_disk.stdout


def test_with_a_project_directory_its_paths_are_that_directory(tree: Path) -> None:
    done = _run(
        [str(PYCOMPOSE)], tree / "here", STACK.encode(), "--project-directory", "../there",
        "-f", "-", "config",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("name: there\n")
    assert "image: from-there" in done.stdout and "FROM: there" in done.stdout


def test_an_override_from_stdin_merges_onto_a_file(tree: Path) -> None:
    here = tree / "here"
    (here / "compose.yaml").write_text("services:\n  app:\n    image: busybox\n")
    override = b"services:\n  app:\n    environment: [X=1]\n"
    done = _run([str(PYCOMPOSE)], here, override, "-f", "compose.yaml", "-f", "-", "config")
    assert done.returncode == 0, done.stderr
    assert "image: busybox" in done.stdout and 'X: "1"' in done.stdout


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"services:\n  app:\n    image: [x\n", "-:4:1: invalid YAML"),
        (b"services:\n  app:\n    imagex: x\n", "-:3:5: services.app.imagex: unknown key"),
        (b"", "-:1:1: empty compose file"),
        (b"\xff\xfe", "the compose file on stdin (-f -) is not UTF-8 text"),
        (b"#" * (16 * 1024 * 1024 + 1), "the compose file on stdin (-f -) is larger than 16 MiB"),
    ],
)
def test_a_bad_file_on_stdin_is_located_as_dash(tree: Path, stdin: bytes, message: str) -> None:
    done = _run([str(PYCOMPOSE)], tree / "here", stdin, "-f", "-", "config")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_named_dash_beside_stdin_is_refused(tree: Path) -> None:
    here = tree / "here"
    (here / "-").write_text("services:\n  app:\n    image: busybox\n")
    done = _run([str(PYCOMPOSE)], here, STACK.encode(), "-f", "./-", "-f", "-", "config")
    assert done.returncode == 1
    assert "another -f names that same file" in done.stderr


def test_variables_of_the_file_on_stdin(tree: Path) -> None:
    stdin = b"services:\n  app:\n    image: ${IMG:-busybox}\n"
    done = _run([str(PYCOMPOSE)], tree / "here", stdin, "-f", "-", "config", "--variables")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split() == ["IMG", "false", "busybox"]


@pytest.mark.oracle
@pytest.mark.parametrize("project_directory", [None, "../there"])
def test_stdin_files_are_docker_composes(tree: Path, project_directory: str | None) -> None:
    binary = docker_compose_binary()
    if binary is None:
        pytest.skip("docker compose binary of the oracle is not installed")
    args = ["--project-directory", project_directory] if project_directory else []
    args += ["-f", "-", "config"]
    ours = _run([str(PYCOMPOSE)], tree / "here", STACK.encode(), *args)
    theirs = _run([binary], tree / "here", STACK.encode(), *args)
    assert ours.returncode == theirs.returncode == 0, (ours.stderr, theirs.stderr)
    assert ours.stdout == theirs.stdout
