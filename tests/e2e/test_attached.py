"""Attached use (issue 13): ``attach`` to a service, and ``up`` in the foreground, as a person
at a terminal uses them (tests/e2e/pty_driver.py).

Each scenario runs with pycompose on its engine and, where the Docker oracle answers, with
docker compose on dockerd, held to the same observable results: the lines shown, the
containers' states after, and the exit status.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import IMAGE, Engine, Stack, docker_compose_binary
from tests.e2e.pty_driver import PtyProcess

pytestmark = [pytest.mark.root]


@pytest.fixture
def tool_stack(engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    """pycompose on its engine; docker compose on dockerd (the reference)."""
    tool = "pycompose" if engine.name == "pycompose" else "docker-compose"
    if tool == "docker-compose" and docker_compose_binary() is None:
        pytest.skip("docker compose v2 is not installed (scripts/oracle-docker.sh installs it)")
    stack = Stack(engine, tmp_path, tool)
    try:
        yield stack
    finally:
        if (tmp_path / "compose.yaml").exists():
            stack.pycompose("down", "-v", "--remove-orphans", "-t", "0", check=False)


def terminal(stack: Stack, *args: str) -> PtyProcess:
    environment = {**os.environ, **stack.engine.environment, "NO_COLOR": "1", "TERM": "xterm"}
    if stack.tool == "docker-compose":
        environment["DOCKER_HOST"] = f"unix://{stack.engine.socket}"
    extra = ["--menu=false"] if stack.tool == "docker-compose" and args[0] == "up" else []
    return PtyProcess(
        [*stack.command(), *args, *extra],
        cwd=stack.directory,
        env=environment,
        rows=30,
        columns=100,
    )


def states(stack: Stack) -> dict[str, str]:
    """Service -> state of its first container."""
    return {str(c["Service"]): str(c["State"]) for c in stack.ps()}


SHELL = textwrap.dedent(f"""
    services:
      sh:
        image: {IMAGE}
        command: ["sh"]
        stdin_open: true
        tty: true
""")


def test_detaching_from_attach_leaves_the_container_running(tool_stack: Stack) -> None:
    tool_stack.write(SHELL)
    tool_stack.pycompose("up", "-d")
    session = terminal(tool_stack, "attach", "sh")
    try:
        session.expect(r"# ", timeout=60)
        session.send("echo hello-$((6*7))\r")
        session.expect(r"hello-42\r\n")
        session.send(b"\x10")
        time.sleep(0.3)
        session.send(b"\x11")  # ctrl-p ctrl-q, typed as two keys
        session.expect(r"read escape sequence")
        assert session.wait(30) == 1
    finally:
        session.close()
    assert states(tool_stack) == {"sh": "running"}
    # attached again with other keys: what was typed reached the shell; exit ends it
    session = terminal(tool_stack, "attach", "--detach-keys", "ctrl-a,x", "sh")
    try:
        session.send("\r")
        session.expect(r"# ", timeout=60)
        session.send(b"\x01x")
        session.expect(r"read escape sequence")
        assert session.wait(30) == 1
    finally:
        session.close()
    session = terminal(tool_stack, "attach", "sh")
    try:
        session.send("\r")
        session.expect(r"# ", timeout=60)
        session.send("exit 5\r")
        assert session.wait(30) == 5
    finally:
        session.close()
    assert states(tool_stack) == {"sh": "exited"}
