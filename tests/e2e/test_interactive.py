"""Interactive use (issue 13): exec and run at a terminal, in pipes, and Ctrl-C.

The terminal tests drive the CLI on a pseudo-terminal (tests/e2e/pty_driver.py) as a
user types; the pipe tests join it to other processes through a shell. Timing checks are
conditions with generous bounds: output must show while the process still runs.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import IMAGE, Engine, Stack, docker_compose_binary
from tests.e2e.pty_driver import PtyProcess

pytestmark = [pytest.mark.root, pytest.mark.slow]

COMPOSE = textwrap.dedent(f"""
    services:
      svc:
        image: {IMAGE}
        command: ["sh", "-c", "seq 1 3000; exec sleep 1000000"]
        stop_grace_period: 1s
""")


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    """A running one-service stack (pycompose's CLI), torn down at the end."""
    stack = Stack(engine, tmp_path)
    stack.write(COMPOSE)
    try:
        stack.pycompose("up", "-d")
        yield stack
    finally:
        stack.pycompose("down", "-v", "-t", "1", check=False)


@pytest.fixture(params=["pycompose", "docker-compose"])
def either_tool(request: pytest.FixtureRequest, engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    """The running stack driven by pycompose or by docker compose (the reference's answers,
    on dockerd and on pycompose's engine)."""
    if request.param == "docker-compose" and docker_compose_binary() is None:
        pytest.skip("docker compose v2 is not installed (scripts/oracle-docker.sh installs it)")
    stack = Stack(engine, tmp_path, request.param)
    stack.write(COMPOSE)
    try:
        stack.pycompose("up", "-d")
        yield stack
    finally:
        stack.pycompose("down", "-v", "-t", "1", check=False)


def environment(stack: Stack) -> dict[str, str]:
    found = {**os.environ, **stack.engine.environment, "NO_COLOR": "1", "TERM": "xterm"}
    if stack.tool == "docker-compose":  # docker compose reaches any engine by DOCKER_HOST
        found["DOCKER_HOST"] = f"unix://{stack.engine.socket}"
    return found


def terminal(stack: Stack, *args: str) -> PtyProcess:
    return PtyProcess(
        [*stack.command(), *args],
        cwd=stack.directory,
        env=environment(stack),
        rows=30,
        columns=100,
    )


def shell(stack: Stack, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``script`` in bash, with ``$PYCOMPOSE`` the stack's CLI."""
    return subprocess.run(
        ["bash", "-c", script],
        cwd=stack.directory,
        env={**environment(stack), "PYCOMPOSE": " ".join(stack.command())},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def expect_window(session: PtyProcess, size: str, attempts: int = 20) -> None:
    """Ask ``stty size`` until the container's terminal has ``size`` ("rows columns").

    The client sets the size just after the start, and again after a SIGWINCH: a shell that
    is quicker can still see the old size (docker compose on dockerd shows 0 0 then, which
    busybox reports as an error), as a person at the keyboard never would."""
    for _ in range(attempts):
        session.send("stty size\r")
        try:
            session.expect(rf"\r\n{size}\r\n", timeout=3)
            return
        except AssertionError:
            continue
    raise AssertionError(
        f"the terminal never became {size}; output:\n" + session.output.decode(errors="replace")
    )


def test_a_shell_in_exec_is_a_terminal_that_follows_the_window(project: Stack) -> None:
    session = terminal(project, "exec", "svc", "sh")
    try:
        session.expect(r"# ", timeout=60)
        session.send("tty\r")
        session.expect(r"/dev/pts/\d+")
        expect_window(session, "30 100")
        session.resize(40, 120)  # SIGWINCH reaches the client, then the engine
        expect_window(session, "40 120")
        # Ctrl-C interrupts the command in the container; the shell goes on
        session.send("sleep 60; echo finished-$((40 + 2))\r")  # the echo is not the output
        time.sleep(1)
        session.send(b"\x03")
        session.send("echo still-here\r")
        session.expect(r"still-here\r\n", timeout=15)
        assert b"finished-42" not in session.output
        session.send("exit 3\r")
        assert session.wait(60) == 3
    finally:
        session.close()


def test_an_interactive_run_rm_at_a_terminal(project: Stack) -> None:
    session = terminal(project, "run", "--rm", "svc", "sh")
    try:
        session.expect(r"# ", timeout=90)
        session.send("tty\r")
        session.expect(r"/dev/pts/\d+")
        expect_window(session, "30 100")
        session.resize(33, 90)
        expect_window(session, "33 90")
        session.send("exit 4\r")
        assert session.wait(60) == 4
    finally:
        session.close()
    leftover = [c for c in project.ps() if "-run-" in str(c.get("Name", ""))]
    assert leftover == []


def test_exec_with_a_tty_and_piped_input_is_refused(project: Stack) -> None:
    # stdout is a terminal (a TTY is chosen) but stdin is a pipe, as docker refuses
    session = PtyProcess(
        ["bash", "-c", 'echo x | $PYCOMPOSE exec svc cat; echo "status=$?"'],
        cwd=project.directory,
        env={**environment(project), "PYCOMPOSE": " ".join(project.command())},
    )
    try:
        session.expect(r"the input device is not a TTY", timeout=60)
        session.expect(r"status=1")
    finally:
        session.close()


def test_piped_input_reaches_exec(either_tool: Stack) -> None:
    result = shell(either_tool, "printf 'a\\nb\\n' | $PYCOMPOSE exec -T svc cat")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a\nb\n"


def test_exec_reading_part_of_an_endless_input_ends(either_tool: Stack) -> None:
    result = shell(either_tool, "yes | $PYCOMPOSE exec -T svc head -1", timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "y\n"
    assert "Traceback" not in result.stderr


def test_exec_exit_status_and_streams(project: Stack) -> None:
    result = shell(project, "$PYCOMPOSE exec -T svc sh -c 'echo out; echo err >&2; exit 5'")
    assert result.returncode == 5
    assert result.stdout == "out\n"
    assert "err\n" in result.stderr


def first_line_while_running(stack: Stack, *args: str, within: float = 60) -> str:
    """The first line ``pycompose args`` writes, asserting it came before the process ended."""
    process = subprocess.Popen(
        [*stack.command(), *args],
        cwd=stack.directory,
        env=environment(stack),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + within
        line = process.stdout.readline()
        assert time.monotonic() < deadline
        assert process.poll() is None, "the line came only when the process ended"
        assert process.wait(timeout=within) == 0
        return line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_slow_producers_lines_arrive_one_by_one(either_tool: Stack) -> None:
    line = first_line_while_running(
        either_tool, "exec", "-T", "svc", "sh", "-c", "echo first; sleep 6; echo second"
    )
    assert line == "first\n"


def test_run_output_is_live(either_tool: Stack) -> None:
    line = first_line_while_running(
        either_tool, "run", "--rm", "svc", "sh", "-c", "echo x; sleep 6"
    )
    assert line == "x\n"


def test_logs_into_a_closed_pipe_ends_quietly(project: Stack) -> None:
    deadline = time.monotonic() + 60
    while "3000" not in project.pycompose("logs", "--no-log-prefix", "svc").stdout:
        assert time.monotonic() < deadline, "the service's output did not show"
        time.sleep(0.5)
    for command in ("logs", "ps", "config"):
        result = shell(project, f'$PYCOMPOSE {command} | head -1; echo "status=${{PIPESTATUS[0]}}"')
        assert "Traceback" not in result.stderr, result.stderr
        assert "Exception" not in result.stderr, result.stderr
        status = int(result.stdout.rsplit("status=", 1)[1])
        assert status in (0, 141), (command, status, result.stderr)
