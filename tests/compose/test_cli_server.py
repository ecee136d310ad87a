"""compose.launch and compose.cli_server: a command run by the warm CLI server behaves as it
would in a process of its own, and the server refuses what it cannot do the same way.

Each test has a private runtime directory (XDG_RUNTIME_DIR), so its server is its own; the
processes are real (the console script's client, the server, its forked children).
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PYCOMPOSE = str(Path(PYTHON).parent / "pycompose")
# the client alone: exits 200 when the server did not take the command
REMOTE = (
    "import sys; from compose.launch import run_remote; "
    "status = run_remote(sys.argv[1:]); sys.exit(200 if status is None else status)"
)
LOCAL = 200
STACK = """\
services:
  web:
    image: "nginx:${TAG:-latest}"
    env_file: [web.env]
"""


class Server:
    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment

    @property
    def directory(self) -> Path:
        return Path(self.environment["XDG_RUNTIME_DIR"]) / f"pycompose-cli-{os.getuid()}"

    def socket_path(self) -> str:
        return subprocess.run(
            [PYTHON, "-c", "from compose.launch import server_socket; print(server_socket())"],
            env=self.environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def start(self) -> None:
        subprocess.run(
            [PYTHON, "-c", "from compose.launch import start_server; start_server()"],
            env=self.environment,
            check=True,
        )
        wait_until(lambda: os.path.exists(self.socket_path()), 60, "the server to listen")

    def pid(self) -> int | None:
        from compose.cli_server import _server_pid

        return _server_pid(self.socket_path())

    def remote(
        self, *args: str, cwd: Path, extra: dict[str, str] | None = None, umask: int | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-c", REMOTE, *args],
            cwd=cwd,
            env={**self.environment, **(extra or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
        )

    def local(
        self, *args: str, cwd: Path, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYCOMPOSE, *args],
            cwd=cwd,
            env={**self.environment, **(extra or {}), "PYCOMPOSE_CLI_SERVER": "0"},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    environment.pop("PYCOMPOSE_CLI_SERVER", None)
    server = Server(environment)
    yield server
    subprocess.run(
        [PYTHON, "-m", "compose.cli_server", "stop", "--all"], env=environment, check=False
    )
    assert server.pid() is None


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "compose.yaml").write_text(STACK)
    (directory / "web.env").write_text("GREETING=hello\n")
    return directory


def test_a_command_in_the_server_sees_this_process_argv_environment_and_directory(
    server: Server, project: Path
) -> None:
    server.start()
    remote = server.remote("config", cwd=project, extra={"TAG": "1.27"})
    local = server.local("config", cwd=project, extra={"TAG": "1.27"})
    assert remote.returncode == 0, remote.stderr
    assert "nginx:1.27" in remote.stdout and "GREETING: hello" in remote.stdout
    assert remote.stdout == local.stdout
    assert remote.stdout.startswith("name: app\n")  # named after the working directory


def test_errors_and_exit_status_are_the_command_own(server: Server, project: Path) -> None:
    server.start()
    (project / "compose.yaml").write_text("services:\n  web:\n    image: [1, 2\n")
    remote = server.remote("config", cwd=project)
    local = server.local("config", cwd=project)
    assert remote.returncode == local.returncode == 1
    assert remote.stderr == local.stderr
    assert "compose.yaml:" in remote.stderr
    usage = server.remote("config", "--no-such-flag", cwd=project)
    assert usage.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in usage.stderr


# a server whose every fork returns late in the parent, as on a busy machine: the child
# runs the whole command before the server gets to say anything
SLOW_PARENT = """\
import os, sys, time
fork = os.fork
def late_fork():
    pid = fork()
    if pid:
        time.sleep(1.0)
    return pid
os.fork = late_fork
from compose.cli_server import main
sys.exit(main(["serve", sys.argv[1]]))
"""


def test_a_command_that_ends_before_the_server_speaks_runs_once(
    server: Server, project: Path
) -> None:
    directory = server.directory
    directory.mkdir(mode=0o700)
    slow = subprocess.Popen(
        [PYTHON, "-c", SLOW_PARENT, server.socket_path()],
        env=server.environment,
        cwd="/",
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: os.path.exists(server.socket_path()), 60, "the server to listen")
        remote = server.remote("config", cwd=project)
        assert remote.returncode == 0, remote.stderr  # LOCAL (200) if it ran here again
        assert remote.stdout.count("name: app\n") == 1
        assert remote.stdout == server.local("config", cwd=project).stdout
    finally:
        slow.terminate()
        slow.wait(timeout=30)


def test_files_the_command_writes_get_this_process_umask(server: Server, project: Path) -> None:
    server.start()
    for umask, mode in ((0o077, 0o600), (0o022, 0o644)):
        out = project / f"out-{umask:o}.yaml"
        result = server.remote("config", "-o", str(out), cwd=project, umask=umask)
        assert result.returncode == 0, result.stderr
        assert out.stat().st_mode & 0o777 == mode


def test_a_reader_that_goes_away_ends_the_command_quietly(server: Server, project: Path) -> None:
    server.start()
    many = "services:\n" + "".join(f"  s{i}:\n    image: busybox\n" for i in range(3000))
    (project / "compose.yaml").write_text(many)
    result = subprocess.run(
        f"{PYCOMPOSE} config | head -c 19",
        shell=True,
        cwd=project,
        env=server.environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.stdout == "name: app\nservices:"
    assert "Traceback" not in result.stderr and result.stderr == ""


def test_the_first_command_runs_here_and_starts_a_server(server: Server, project: Path) -> None:
    first = subprocess.run(
        [PYCOMPOSE, "config", "--services"],
        cwd=project,
        env=server.environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert first.stdout == "web\n"
    wait_until(lambda: os.path.exists(server.socket_path()), 60, "the server to listen")
    assert server.remote("config", "--services", cwd=project).stdout == "web\n"
    assert server.directory.stat().st_mode & 0o777 == 0o700
    assert os.stat(server.socket_path()).st_mode & 0o777 == 0o600


def test_no_server_when_it_is_turned_off(server: Server, project: Path) -> None:
    result = server.local("config", "--services", cwd=project)
    assert result.returncode == 0
    time.sleep(0.5)
    assert not server.directory.exists() or not any(server.directory.glob("*.sock"))


def test_changed_code_makes_the_server_leave(server: Server, project: Path) -> None:
    server.start()
    source = ROOT / "compose" / "output.py"
    before = source.stat()
    try:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        result = server.remote("config", "--services", cwd=project)
        assert result.returncode == LOCAL  # the client runs it itself, with the code on disk
        wait_until(lambda: server.pid() is None, 30, "the stale server to leave")
        assert not os.path.exists(server.socket_path())
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for unshare")
def test_a_client_in_other_namespaces_runs_the_command_itself(
    server: Server, project: Path
) -> None:
    server.start()
    result = subprocess.run(
        ["unshare", "--mount", "--uts", PYTHON, "-c", REMOTE, "config", "--services"],
        cwd=project,
        env=server.environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == LOCAL
    assert server.remote("config", "--services", cwd=project).returncode == 0


def test_malformed_requests_are_dropped_and_the_server_serves_on(
    server: Server, project: Path
) -> None:
    server.start()
    path = server.socket_path()

    def connect() -> socket.socket:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(10)
        client.connect(path)
        return client

    attempts = [
        b"garbage without a header",
        struct.pack("!I", 2**31) + b"x" * 100,  # larger than any request may be
        struct.pack("!I", 10) + b"short",  # ends before its length
        struct.pack("!I", 5) + b"hello",  # no descriptors, not the protocol
    ]
    for attempt in attempts:
        with connect() as client:
            client.sendall(attempt)
            client.shutdown(socket.SHUT_WR)
            assert client.recv(100) == b""  # closed without a reply
    with connect():
        pass  # a client that sends nothing and leaves
    # descriptors with a request of another protocol are closed, not leaked into a child
    with connect() as client, open(os.devnull, "rb") as null:
        body = b"other-protocol/9\0-\00\00"
        fds = struct.pack("4i", *([null.fileno()] * 4))
        client.sendmsg(
            [struct.pack("!I", len(body)) + body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)]
        )
        assert client.recv(100) == b""
    result = server.remote("config", "--services", cwd=project)
    assert result.returncode == 0 and result.stdout == "web\n"


def test_another_user_cannot_reach_the_server(server: Server, project: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    server.start()
    path = server.socket_path()

    def as_nobody() -> None:
        os.setgid(65534)
        os.setuid(65534)

    probe = subprocess.run(
        # the system's interpreter: the test venv's may not be readable by nobody
        [
            "/usr/bin/python3",
            "-c",
            f"import socket; socket.socket(socket.AF_UNIX).connect({path!r})",
        ],
        preexec_fn=as_nobody,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0 and "PermissionError" in probe.stderr


def test_a_directory_made_by_someone_else_is_not_used(tmp_path: Path, project: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a directory owned by another user")
    runtime = tmp_path / "shared-run"
    runtime.mkdir(mode=0o777)
    planted = runtime / f"pycompose-cli-{os.getuid()}"
    planted.mkdir(mode=0o777)
    os.chown(planted, 65534, 65534)
    environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    environment.pop("PYCOMPOSE_CLI_SERVER", None)
    result = subprocess.run(
        [PYCOMPOSE, "config", "--services"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "web\n"
    time.sleep(1.0)
    assert list(planted.iterdir()) == []  # no server was started in it


def test_an_idle_server_leaves(server: Server, project: Path) -> None:
    server.environment["PYCOMPOSE_CLI_SERVER_IDLE"] = "1"
    server.start()
    wait_until(lambda: server.pid() is None, 30, "the idle server to leave")
    assert not os.path.exists(server.socket_path())


def _unified_cgroup_mount() -> Path | None:
    from compose.cli_child import _hierarchies

    found = _hierarchies().get("")
    return Path(found[1]) if found and found[0] == "/" else None


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


@pytest.mark.root
def test_the_command_runs_under_the_client_limits_and_in_its_cgroup(
    server: Server, project: Path
) -> None:
    mount = _unified_cgroup_mount()
    assert mount is not None, "no cgroup2 hierarchy mounted at its root"
    group = mount / f"pycompose-cli-test-{os.getpid()}"
    group.mkdir()
    server.start()
    server_pid = server.pid()
    assert server_pid is not None

    # the client, confined by a shell: its own limits and cgroup, then the client itself
    confine = (
        f'echo 0 > "{group}/cgroup.procs" && ulimit -S -n 300 && ulimit -H -n 600'
        ' && ulimit -c 0 && exec "$@"'
    )
    # the command reads its file from stdin: it waits there while its process is looked at
    client = subprocess.Popen(
        ["sh", "-c", confine, "sh", PYTHON, "-c", REMOTE, "-f", "-", "config", "--services"],
        cwd=project,
        env=server.environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _children(server_pid), 30, "the server to fork the command")
        (child,) = _children(server_pid)

        def limits() -> str:
            return Path(f"/proc/{child}/limits").read_text()

        # the child takes them before it tells the client its pid: a moment after the fork
        wait_until(lambda: re.search(r"Max open files\s+300\s+600\s", limits()), 30, "the limits")
        assert re.search(r"Max core file size\s+0\s+0\s", limits()), limits()
        assert f"0::/{group.name}\n" in Path(f"/proc/{child}/cgroup").read_text()
        out, err = client.communicate(b"services:\n  one:\n    image: busybox\n", timeout=60)
        assert client.returncode == 0, err
        assert out == b"one\n"
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        wait_until(lambda: not (group / "cgroup.procs").read_text(), 30, "the cgroup to empty")
        group.rmdir()
    # the server itself stayed where it was
    assert group.name not in Path(f"/proc/{server_pid}/cgroup").read_text()


def test_a_child_that_cannot_take_the_client_cgroups_refuses_first(
    server: Server, project: Path
) -> None:
    from compose import launch

    server.start()
    path = server.socket_path()
    fields = [launch.PROTOCOL, launch.place(), b"18", launch.limits()]
    fields += [b"0::/no-such-cgroup-of-pycompose\n", b"1", b"version"]
    body = b"\0".join(fields)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(path)
        fds = struct.pack("4i", 0, 1, 2, os.open(project, os.O_PATH))
        client.sendmsg(
            [struct.pack("!I", len(body)) + body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)]
        )
        assert client.recv(100).startswith(b"elsewhere\n")
    assert server.remote("config", "--services", cwd=project).returncode == 0
