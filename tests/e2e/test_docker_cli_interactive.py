"""Docker's own client, interactive, against the engine (issue 13): the host's ``docker`` CLI
with DOCKER_HOST at the engine under test. Each scenario runs on pycompose's engine and on
dockerd (the oracle), where the same assertions are the reference.

``docker exec -it`` and ``docker run -it --rm`` on a pseudo-terminal as a person types,
``docker run -i`` with piped input, ``docker attach`` and its detach keys, and
``docker logs --since``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import IMAGE, Engine
from tests.e2e.pty_driver import PtyProcess

pytestmark = [pytest.mark.root, pytest.mark.slow]


class Docker:
    """The docker CLI on one engine, and the containers made through it (removed at the end)."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self.environment = {
            **os.environ,
            "DOCKER_HOST": f"unix://{engine.socket}",
            "TERM": "xterm",
            "NO_COLOR": "1",
        }
        self.directory = directory
        self.names: list[str] = []

    def name(self) -> str:
        self.names.append(f"e2edocker{uuid.uuid4().hex[:8]}")
        return self.names[-1]

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", *args],
            env=self.environment,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result}")
        return result

    def terminal(self, *args: str) -> PtyProcess:
        return PtyProcess(
            ["docker", *args], cwd=self.directory, env=self.environment, rows=30, columns=100
        )

    def exists(self, name: str) -> bool:
        return self("inspect", name, check=False).returncode == 0

    def remove_all(self) -> None:
        for name in self.names:
            self("rm", "-f", name, check=False)


@pytest.fixture
def docker(engine: Engine, tmp_path: Path) -> Iterator[Docker]:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    client = Docker(engine, tmp_path)
    try:
        yield client
    finally:
        client.remove_all()


def test_docker_exec_it_is_a_terminal(docker: Docker) -> None:
    name = docker.name()
    docker("run", "-d", "--name", name, IMAGE, "sleep", "1000000")
    session = docker.terminal("exec", "-it", name, "sh")
    try:
        session.expect(r"# ", timeout=60)
        session.send("tty\r")
        session.expect(r"/dev/pts/\d+")
        session.send("echo $((6 * 7))\r")
        session.expect(r"\r\n42\r\n")
        session.send("exit 3\r")
        assert session.wait(60) == 3
    finally:
        session.close()


def test_docker_run_it_rm_is_a_terminal_and_removes_the_container(docker: Docker) -> None:
    name = docker.name()
    session = docker.terminal("run", "-it", "--rm", "--name", name, IMAGE, "sh")
    try:
        session.expect(r"# ", timeout=60)
        session.send("tty\r")
        session.expect(r"/dev/pts/\d+")
        session.send("exit 4\r")
        assert session.wait(60) == 4
    finally:
        session.close()
    deadline = time.monotonic() + 30
    while docker.exists(name):  # --rm: the engine removes it once it ended
        assert time.monotonic() < deadline, f"{name} was not removed"
        time.sleep(0.2)


def test_docker_run_i_reads_piped_input_to_its_end(docker: Docker) -> None:
    ran = docker("run", "-i", "--rm", IMAGE, "sh", "-c", "cat; echo done", input="a\nb\n")
    assert ran.stdout == "a\nb\ndone\n"
    code = docker(
        "run", "-i", "--rm", IMAGE, "sh", "-c", "read x; exit $x", input="7\n", check=False
    )
    assert code.returncode == 7


def test_docker_attach_and_detach_keys(docker: Docker) -> None:
    name = docker.name()
    docker("run", "-dit", "--name", name, IMAGE, "sh")
    session = docker.terminal("attach", name)
    try:
        time.sleep(1)  # attached: what is typed now reaches the shell
        session.send("echo attached-$((40 + 2))\r")
        session.expect(r"attached-42", timeout=30)
        session.send(b"\x10\x11")  # ctrl-p ctrl-q: detach, the container runs on
        session.expect(r"read escape sequence", timeout=30)
        assert session.wait(30) in (0, 1)
    finally:
        session.close()
    running = docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
    assert running == "true"


def test_docker_logs_since(docker: Docker) -> None:
    name = docker.name()
    docker(
        "run", "-d", "--name", name, IMAGE,
        "sh", "-c", "echo first; sleep 8; echo second; exec sleep 1000000",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "first" not in docker("logs", name).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    between = time.time()
    # (the window between the lines is wide: a second line already there is a slow machine)
    assert "second" not in docker("logs", name).stdout, "the machine was too slow to see first"
    while "second" not in docker("logs", name).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert docker("logs", "--since", f"{between:.3f}", name).stdout == "second\n"
    assert docker("logs", "--since", "10m", name).stdout == "first\nsecond\n"
    assert docker("logs", "--until", f"{between:.3f}", name).stdout == "first\n"
