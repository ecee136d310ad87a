"""Per-container supervision through conmon (podman's monitor, a Debian package).

Lifecycle of one run: :func:`launch` starts ``conmon``, which daemonizes, runs
``runc create`` for the bundle, holds the container's stdio, writes its log (CRI
"k8s-file" format, partial lines marked ``P``), and, when the container exits, writes the
exit code (128 + signal for a signal) to ``<dir>/exits/<id>`` and exits itself. The engine
then starts the container (:meth:`Runc.start`). conmon outlives the engine;
:func:`wait_exit` follows it through a pidfd on conmon's pid (read back from its pid file),
so an engine that comes back up finds its containers again.

Files in a container's directory (``MonitorPaths``): ``config.json`` (the bundle),
``conmon.pid``, ``pid`` (the container's init), ``exits/<id>``, ``persist/oom`` (written by
conmon when the kernel's OOM killer struck), ``ctl`` (conmon's control FIFO: ``1 H W``
sets the terminal's size, ``2 0 0`` reopens the log, used for rotation), ``container.log``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import anyio

from engine.errors import EngineInternal
from engine.runtime.runc import Runc, RuntimeExitError

DEFAULT_SOCKET_DIR = "/run/pycompose/attach"


@dataclass(frozen=True, slots=True)
class MonitorPaths:
    directory: Path
    container_id: str

    @property
    def conmon_pid(self) -> Path:
        return self.directory / "conmon.pid"

    @property
    def container_pid(self) -> Path:
        return self.directory / "pid"

    @property
    def exit_dir(self) -> Path:
        return self.directory / "exits"

    @property
    def persist_dir(self) -> Path:
        return self.directory / "persist"

    @property
    def exit_file(self) -> Path:
        return self.exit_dir / self.container_id

    @property
    def oom_file(self) -> Path:
        return self.persist_dir / "oom"

    @property
    def ctl(self) -> Path:
        return self.directory / "ctl"

    @property
    def log(self) -> Path:
        return self.directory / "container.log"


def find_conmon() -> str:
    path = shutil.which("conmon") or shutil.which("conmon", path="/usr/bin:/usr/libexec/podman")
    if path is None:
        raise EngineInternal(
            "conmon, the container monitor, is not installed",
            hint="apt-get install conmon (or run scripts/install.sh)",
        )
    return path


def clear_run_files(paths: MonitorPaths) -> None:
    """Remove the files of a previous run (before launching a new one)."""
    for path in (paths.conmon_pid, paths.container_pid, paths.exit_file, paths.oom_file):
        path.unlink(missing_ok=True)
    (paths.persist_dir / "exit").unlink(missing_ok=True)


async def launch(
    paths: MonitorPaths,
    runc: Runc,
    *,
    conmon: str,
    name: str,
    tty: bool = False,
    stdin: bool = False,
    leave_stdin_open: bool = True,
    log_size_max: int = 0,
    keep_log: bool = True,
    socket_dir: str = DEFAULT_SOCKET_DIR,
) -> int:
    """Start conmon for the bundle in ``paths.directory``; returns the container's pid.

    The container is left in runc's ``created`` state; :meth:`Runc.start` runs it.

    Error handling: runc's message (from conmon's sync pipe) is raised as
    :class:`RuntimeExitError`.
    """
    paths.exit_dir.mkdir(parents=True, exist_ok=True)
    paths.persist_dir.mkdir(parents=True, exist_ok=True)
    os.makedirs(socket_dir, exist_ok=True)
    clear_run_files(paths)
    args = [
        conmon,
        "--api-version",
        "1",
        "-c",
        paths.container_id,
        "-u",
        paths.container_id,
        "-n",
        name,
        "-r",
        runc.binary,
        "--runtime-arg",
        "--root",
        "--runtime-arg",
        runc.state_root,
        "-b",
        str(paths.directory),
        "-p",
        str(paths.container_pid),
        "--exit-dir",
        str(paths.exit_dir),
        "-0",
        str(paths.persist_dir),
        "-l",
        # logging driver none: the output goes nowhere (attach still sees it)
        f"k8s-file:{paths.log if keep_log else os.devnull}",
        "--socket-dir-path",
        socket_dir,
        "--log-level",
        "error",
        "--no-sync-log",
    ]
    if log_size_max > 0 and keep_log:
        args += ["--log-size-max", str(log_size_max)]
    if tty:
        args.append("-t")
    if stdin:
        args.append("-i")
        if leave_stdin_open:
            args.append("--leave-stdin-open")
    sync_read, sync_write = os.pipe()
    start_read, start_write = os.pipe()
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "_OCI_SYNCPIPE": str(sync_write),
        "_OCI_STARTPIPE": str(start_read),
    }
    try:
        process = await anyio.open_process(
            args,
            stdin=None,
            stdout=None,
            stderr=None,
            env=env,
            pass_fds=(sync_write, start_read),
            start_new_session=True,
            # conmon also writes an "oom" marker into its working directory
            cwd=paths.directory,
        )
    except BaseException:
        for fd in (sync_read, sync_write, start_read, start_write):
            os.close(fd)
        raise
    os.close(sync_write)
    os.close(start_read)
    try:
        os.write(start_write, b"0")
        os.close(start_write)
        start_write = -1
        await process.wait()
        message = await _read_sync(sync_read)
    finally:
        if start_write >= 0:
            os.close(start_write)
        os.close(sync_read)
    try:
        reply = json.loads(message.splitlines()[0]) if message else {}
    except json.JSONDecodeError:
        reply = {}
    pid = int(reply.get("data", -1))
    if pid <= 0:
        stderr = str(reply.get("message") or "conmon did not report the container's pid")
        raise RuntimeExitError("create", 1, stderr)
    # conmon is the subreaper and parent of the container's init; its own pid file (-P)
    # would cost two fsyncs per start, so the pid is read from /proc instead.
    paths.conmon_pid.write_text(f"{_parent_pid(pid)}\n")
    return pid


def _parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


async def _read_sync(fd: int) -> bytes:
    """One line from conmon's sync pipe (conmon keeps it open until the container exits)."""
    os.set_blocking(fd, False)
    data = b""
    with anyio.fail_after(60):
        while b"\n" not in data:
            await anyio.wait_readable(fd)
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
    return data


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (FileNotFoundError, ValueError):
        return None


def conmon_alive(paths: MonitorPaths) -> bool:
    """Whether the conmon of the pid file still runs (and is a conmon, not a reused pid)."""
    pid = read_pid(paths.conmon_pid)
    if pid is None:
        return False
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"conmon")
    except OSError:
        return False


def read_exit_code(paths: MonitorPaths) -> int | None:
    try:
        return int(paths.exit_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def oom_killed(paths: MonitorPaths) -> bool:
    return paths.oom_file.exists()


async def wait_exit(paths: MonitorPaths) -> int:
    """Wait until conmon has recorded the container's exit; its exit code.

    Resource handling: holds a pidfd on conmon while waiting, closed on return or
    cancellation. A conmon that died without an exit file yields 255 (Docker's "dead").
    """
    code = read_exit_code(paths)
    if code is not None:
        return code
    pid = read_pid(paths.conmon_pid)
    if pid is not None:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = -1
        if pidfd >= 0:
            try:
                await anyio.wait_readable(pidfd)
            finally:
                os.close(pidfd)
    code = read_exit_code(paths)
    return 255 if code is None else code


def _control(paths: MonitorPaths, message: bytes) -> bool:
    """One message to conmon's control FIFO; False if conmon is not running."""
    try:
        fd = os.open(paths.ctl, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.write(fd, message)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def request_log_reopen(paths: MonitorPaths) -> bool:
    """Ask conmon to reopen its log file (after the engine renamed it). False if not running."""
    return _control(paths, b"2 0 0\n")


def request_resize(paths: MonitorPaths, height: int, width: int) -> bool:
    """Set the size (rows, columns) of the container's terminal. False if not running."""
    return _control(paths, f"1 {height} {width}\n".encode())


# conmon's attach socket: packets to it are stdin; packets from it start with one byte
# naming the stream.
ATTACH_STREAMS = {2: "stdout", 3: "stderr"}
ATTACH_PACKET = 8192 + 1


def attach_path(socket_dir: str, container_id: str) -> str:
    """The attach socket, through conmon's short link (unix socket paths are short)."""
    return os.path.join(socket_dir, container_id, "attach")


class AttachConnection:
    """A connection to a container's stdio through conmon (``docker attach``).

    Resource handling: the socket is closed by :meth:`aclose` (or ``async with``);
    closing does not close the container's stdin unless it was started with stdin_once.
    """

    def __init__(self, path: str) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # through the directory's descriptor: a socket path has at most 107 bytes, and a
            # deep exec root (a test's, or --exec-root) is longer with the container's id
            directory = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                self._socket.connect(f"/proc/self/fd/{directory}/{os.path.basename(path)}")
            finally:
                os.close(directory)
        except OSError as exc:
            self._socket.close()
            raise EngineInternal(
                f"cannot attach: {exc}", hint="is the container running with stdin_open?"
            ) from exc
        self._socket.setblocking(False)

    async def send(self, data: bytes) -> None:
        """Write ``data`` to the container's stdin."""
        view = memoryview(data)
        while view:
            await anyio.wait_writable(self._socket)
            try:
                sent = self._socket.send(view[: ATTACH_PACKET - 1])
            except BlockingIOError:
                continue
            view = view[sent:]

    async def receive(self) -> tuple[str, bytes]:
        """The next chunk of output: (``"stdout"`` or ``"stderr"``, bytes); ``("", b"")`` at
        the end (the container exited)."""
        while True:
            await anyio.wait_readable(self._socket)
            try:
                packet = self._socket.recv(ATTACH_PACKET)
            except BlockingIOError:
                continue
            if not packet:
                return "", b""
            return ATTACH_STREAMS.get(packet[0], "stdout"), packet[1:]

    async def aclose(self) -> None:
        self._socket.close()

    async def __aenter__(self) -> AttachConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
