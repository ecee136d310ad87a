"""The warm CLI (compose.cli_server) with long-running commands on a real engine: a signal
sent to the `pycompose` process reaches the command, and a `pycompose` process that is
killed outright takes its command with it (as a closed terminal would)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import RunningCommand, engine_api, pycompose_project
from tests.e2e.conftest import IMAGE, Engine, Stack
from tests.waiting import wait_until

pytestmark = pytest.mark.parametrize("engine", ["pycompose"], indirect=True)

STACK = f"services:\n  svc:\n    image: {IMAGE}\n"


@pytest.fixture
def project(engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    with engine_api(engine) as api, pycompose_project(engine, tmp_path, api) as stack:
        stack.write(STACK)
        yield stack


def server_pid() -> int:
    from compose.cli_server import _server_pid
    from compose.launch import server_socket

    pid = _server_pid(server_socket())
    assert pid is not None, "no CLI server is running"
    return pid


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(word) for word in text.split()}


def started_in_server(project: Stack, *args: str) -> tuple[RunningCommand, int]:
    """A long-running command, and the server's child that runs it."""
    project.pycompose("config", "-q")  # a server is running from here on
    wait_until(lambda: os.path.exists(_socket()), 30, "the CLI server")
    server = server_pid()
    before = children(server)
    command = RunningCommand(project, *args)
    found: list[int] = []

    def child_appeared() -> bool:
        found[:] = sorted(children(server) - before)
        return bool(found)

    wait_until(child_appeared, 30, "the command's child in the CLI server")
    return command, found[0]


def _socket() -> str:
    from compose.launch import server_socket

    return server_socket()


def test_ctrl_c_reaches_the_command_and_its_status_comes_back(project: Stack) -> None:
    command, child = started_in_server(project, "events")
    time.sleep(0.5)  # the command is waiting for events
    command.process.send_signal(signal.SIGINT)
    assert command.finish(timeout=30) == 130
    wait_until(lambda: not Path(f"/proc/{child}").exists(), 30, "the child to be reaped")
    assert "Traceback" not in command.stderr_if_done()


def test_a_killed_client_takes_its_command_along(project: Stack) -> None:
    command, child = started_in_server(project, "events")
    command.process.kill()  # no signal to forward: the server sees the connection close
    command.process.wait(timeout=10)
    wait_until(lambda: not Path(f"/proc/{child}").exists(), 30, "the orphaned command to end")
    assert project.pycompose("ps", "-a").returncode == 0  # the server serves on


def test_the_exit_status_of_a_failing_command_is_kept(project: Stack) -> None:
    result = project.pycompose("run", "--rm", "svc", "sh", "-c", "exit 7", check=False)
    assert result.returncode == 7, result.stderr
    unknown = project.pycompose("exec", "nope", "true", check=False)
    assert unknown.returncode == 1 and "nope" in unknown.stderr


def test_input_piped_to_the_command_arrives(project: Stack) -> None:
    environment = {**os.environ, **project.engine.environment}
    result = subprocess.run(
        [*project.command(), "run", "--rm", "-T", "svc", "wc", "-c"],
        input="x" * 100_000,
        cwd=project.directory,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "100000"
