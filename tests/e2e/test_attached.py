"""Attached use (issue 13): ``attach`` to a service, and ``up`` in the foreground, as a person
at a terminal uses them (tests/e2e/pty_driver.py).

Each scenario runs with pycompose on its engine and, where the Docker oracle answers, with
docker compose on dockerd, held to the same observable results: the lines shown, the
containers' states after, and the exit status.
"""

from __future__ import annotations

import os
import re
import termios
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import IMAGE, Engine, Stack, docker_compose_binary
from tests.e2e.pty_driver import PtyProcess

pytestmark = [pytest.mark.root, pytest.mark.slow]


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


def terminal(stack: Stack, *args: str, color: bool = False) -> PtyProcess:
    environment = {**os.environ, **stack.engine.environment, "NO_COLOR": "1", "TERM": "xterm"}
    if color:
        del environment["NO_COLOR"]
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
        # the terminal is given back as it was (raw mode only while attached)
        local_modes = termios.tcgetattr(session.master)[3]
        assert local_modes & termios.ECHO and local_modes & termios.ICANON
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


LOOPS = textwrap.dedent(f"""
    services:
      a:
        image: {IMAGE}
        command: ["sh", "-c", "i=0; while true; do echo a-line-$$i; i=$$((i+1)); sleep 0.5; done"]
        init: true
      b:
        image: {IMAGE}
        command: ["sh", "-c", "trap 'echo b-term; exit 0' TERM; while true; do echo b-line; sleep 0.5; done"]
      quiet:
        image: {IMAGE}
        command: ["sh", "-c", "while true; do echo quiet-line; sleep 0.5; done"]
        init: true
        attach: false
""")


def test_up_shows_two_services_live_and_one_ctrl_c_stops_gracefully(tool_stack: Stack) -> None:
    tool_stack.write(LOOPS)
    session = terminal(tool_stack, "up")
    try:
        session.expect(r"Attaching to ", timeout=120)
        # lines of both, while they run (a-line-3 comes about 2 s after a's start)
        session.expect(r"a-1 +\| a-line-3\r\n")
        assert re.search(rb"b-1 +\| b-line\r\n", session.output), session.output
        assert session.process.poll() is None
        assert states(tool_stack) == {"a": "running", "b": "running", "quiet": "running"}
        # a container started later, from elsewhere, is followed too
        tool_stack.pycompose("up", "-d", "--no-recreate", "--scale", "a=2", "a")
        session.expect(r"a-2 +\| a-line-\d")
        session.send(b"\x03")
        session.expect(r"Gracefully Stopping\.\.\. press Ctrl\+C again to force")
        assert session.wait(60) == 130  # docker compose's, without its menu
    finally:
        session.close()
    output = session.output.decode(errors="replace")
    attaching = re.search(r"Attaching to ([^\r\n]*)", output)
    assert attaching is not None and attaching.group(1) == "a-1, b-1"
    assert "quiet-line" not in output  # attach: false
    assert states(tool_stack) == {"a": "exited", "b": "exited", "quiet": "exited"}


STUBBORN = textwrap.dedent(f"""
    services:
      deaf:
        image: {IMAGE}
        command: ["sh", "-c", "trap '' TERM INT; echo deaf-up; while true; do sleep 0.2; done"]
        stop_grace_period: 12s
""")


def test_a_second_ctrl_c_kills(tool_stack: Stack) -> None:
    tool_stack.write(STUBBORN)
    session = terminal(tool_stack, "up", color=True)
    try:
        # on a terminal, the prefix has the container's colour
        session.expect(r"\x1b\[[\d;]+mdeaf-1 +\| \x1b\[0mdeaf-up", timeout=120)
        session.send(b"\x03")
        session.expect(r"Gracefully Stopping")
        time.sleep(1)
        assert session.process.poll() is None  # the stop waits for the grace period
        began = time.monotonic()
        session.send(b"\x03")
        assert session.wait(30) == 130
        if tool_stack.tool == "pycompose":
            # at once (docker compose on dockerd 20.10 waits for the grace period still)
            assert time.monotonic() - began < 6
    finally:
        session.close()
    assert states(tool_stack) == {"deaf": "exited"}


ONE_SHOT = textwrap.dedent(f"""
    services:
      long:
        image: {IMAGE}
        command: ["sh", "-c", "echo long-start; exec sleep 100000"]
        init: true
      short:
        image: {IMAGE}
        command: ["sh", "-c", "echo short-out; sleep 1; exit 7"]
      fine:
        image: {IMAGE}
        command: ["sh", "-c", "echo fine-out; exit 0"]
""")


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        (["--exit-code-from", "short"], 7),
        (["--exit-code-from", "fine"], 0),
        (["--abort-on-container-failure"], 7),
    ],
)
def test_abort_and_exit_code_from(tool_stack: Stack, flags: list[str], status: int) -> None:
    tool_stack.write(ONE_SHOT)
    result = tool_stack.pycompose("up", *flags, check=False)
    assert result.returncode == status, result.stdout + result.stderr
    assert "short-out" in result.stdout
    assert not re.search(r"\x1b\[[\d;]*m", result.stdout)  # no colours into a pipe
    assert "Aborting on container exit..." in result.stderr
    assert re.search(r"long-1 exited with code (137|143)", result.stdout), result.stdout
    assert not [c for c in tool_stack.ps() if c["State"] == "running"]


def test_up_ends_when_every_attached_container_has_exited(tool_stack: Stack) -> None:
    tool_stack.write(ONE_SHOT.replace("exec sleep 100000", "exit 2"))
    result = tool_stack.pycompose("up", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("long-1 exited with code 2", "short-1 exited with code 7", "fine-out"):
        assert line in result.stdout
    assert "Aborting" not in result.stderr
