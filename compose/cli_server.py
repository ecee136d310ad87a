"""The warm CLI process that compose.launch hands commands to.

    python -m compose.cli_server serve SOCKET   (started by compose.launch, detached)
    python -m compose.cli_server stop|status    (this interpreter's and checkout's server)

At start it imports what commands use and builds the models' validators once, then waits
on a unix socket in a directory only its user can enter. Per request (argv, environment,
umask, namespaces, resource limits, cgroups; stdin, stdout, stderr and the working directory
as file descriptors) it forks a child that takes all of that over (compose.cli_child) and
runs compose.cli.main, exactly as the command would run in a process of its own. The child
tells the client its pid (the client forwards signals to it) before anything else, and its
status when it ends; the server tells the status too, or the signal that ended the child.
A client that goes away gets its child a SIGHUP, as a closed terminal would.

The server refuses what it cannot do the same way, and the client then runs the command
itself: a client in other namespaces or under another root, or in cgroups or under resource
limits its child cannot take ("elsewhere", the child's first word then), code changed on
disk since the server imported it ("stale"; the server then leaves), or too many commands
at once ("busy"). It exits after PYCOMPOSE_CLI_SERVER_IDLE seconds (default 900) without
commands, or on SIGTERM once its commands have ended.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import io
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterator

from compose.cli_child import (
    LIMITS,
    Request,
    apply_limits,
    join_cgroups,
    run_command,
    take_over,
)
from compose.launch import PROTOCOL, place, private_directory, server_directory, server_socket

MAX_REQUEST = 8 * 1024 * 1024  # argv and environment together; Linux's own limit is lower
MAX_COMMANDS = 64  # at once; more run in their own processes
REQUEST_TIMEOUT = 5.0
DEFAULT_IDLE = 900.0
# imported before the first fork: what `config`, `ps`, `up`, `down`, `run`, `logs` and `exec` use
WARM_MODULES = (
    "compose.cli",
    "compose.load",
    "compose.load_text",
    "compose.model",
    "compose.output",
    "compose.desired",
    "compose.graph",
    "compose.plan",
    "compose.apply",
    "compose.commands.session",
    "compose.commands.lifecycle",
    "compose.commands.inspection",
    "compose.commands.listing",
    "compose.commands.oneoff",
    "compose.commands.attach",
    "compose.commands.attached",
    "compose.commands.watch",
    "compose.watch.loop",
    "compose.gotemplate",
    "compose.keys.checks",
    "compose.progress",
    "engine.api.client",
    "engine.api.autostart",
    "engine.api.hijack",
    "anyio._backends._asyncio",
    "anyio._core._signals",
    "rich.console",
    "rich.live",
    "rich.table",
    "pickle",
)


class BadRequest(Exception):
    pass


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def read_request(conn: socket.socket) -> Request:
    """One request; its descriptors are closed here when it is malformed."""
    fds: list[int] = []
    try:
        data, ancillary, _flags, _address = conn.recvmsg(
            65536, socket.CMSG_SPACE(4 * struct.calcsize("i"))
        )
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % struct.calcsize("i")
                fds.extend(struct.unpack(f"{usable // struct.calcsize('i')}i", payload[:usable]))
        if len(data) < 4:
            raise BadRequest("short header")
        (length,) = struct.unpack("!I", data[:4])
        if length > MAX_REQUEST:
            raise BadRequest("request too large")
        body = bytearray(data[4:])
        while len(body) < length:
            chunk = conn.recv(min(65536, length - len(body)))
            if not chunk:
                raise BadRequest("truncated request")
            body += chunk
        if len(body) != length or len(fds) != 4:
            raise BadRequest("malformed request")
        fields = bytes(body).split(b"\0")
        if len(fields) < 6 or fields[0] != PROTOCOL:
            raise BadRequest("another protocol")
        argc = int(fields[5])
        if argc < 0 or 6 + argc > len(fields):
            raise BadRequest("bad argument count")
        argv = [os.fsdecode(arg) for arg in fields[6 : 6 + argc]]
        environment: dict[str, str] = {}
        for entry in fields[6 + argc :]:
            key, sep, value = entry.partition(b"=")
            if sep:
                environment[os.fsdecode(key)] = os.fsdecode(value)
        limits = [_limit(item) for item in fields[3].split(b",") if item]
        if len(limits) > len(LIMITS) or any(number not in LIMITS for number, _, _ in limits):
            raise BadRequest("bad resource limits")
        cgroups = fields[4].decode("utf-8", "replace")
        return Request(argv, environment, int(fields[2]) & 0o777, fields[1], limits, cgroups, fds)
    except (BadRequest, ValueError, OSError):
        _close_all(fds)
        raise


def _limit(item: bytes) -> tuple[int, int, int]:
    """ "resource:soft:hard" (-1 for unlimited, as getrlimit gives it)."""
    number, soft, hard = (int(part) for part in item.split(b":"))
    return number, soft, hard


def module_sources(prefixes: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """mtime and size of the source files of pycompose's loaded modules."""
    sources: dict[str, tuple[int, int]] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.startswith(prefixes):
            with contextlib.suppress(OSError):
                info = os.stat(path)
                sources[path] = (info.st_mtime_ns, info.st_size)
    return sources


def warm() -> None:
    """Import and build once what each command would otherwise import and build."""
    for name in WARM_MODULES:
        importlib.import_module(name)
    from pydantic import BaseModel

    for name, module in list(sys.modules.items()):
        if not name.startswith(("compose.", "engine.api")):
            continue
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value is not BaseModel
                and not value.__pydantic_generic_metadata__["parameters"]
            ):
                with contextlib.suppress(Exception):
                    value.model_rebuild()
    cli = importlib.import_module("compose.cli")
    cli.cached_parser()
    gc.collect()
    gc.freeze()  # the children's garbage collector leaves the shared pages alone


class Server:
    def __init__(self, path: str) -> None:
        self.path = path
        self.idle = float(os.environ.get("PYCOMPOSE_CLI_SERVER_IDLE", DEFAULT_IDLE))
        self.selector = selectors.DefaultSelector()
        self.commands: dict[int, socket.socket | None] = {}
        self.listener: socket.socket | None = None
        self.listener_inode = 0
        self.lock_fd = -1
        self.wake_read, self.wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.stopping = False
        self.place = place()
        package = os.path.dirname(os.path.abspath(__file__))
        self.prefixes = (
            package + os.sep,
            os.path.join(os.path.dirname(package), "engine") + os.sep,
        )
        self.sources: dict[str, tuple[int, int]] = {}
        self.site = self._site_stamp()

    # --- life ---------------------------------------------------------------------------

    def take_lock(self) -> bool:
        self.lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.lock_fd)
            return False
        os.ftruncate(self.lock_fd, 0)
        os.write(self.lock_fd, f"{os.getpid()}\n".encode())
        return True

    def listen(self) -> None:
        temporary = f"{self.path}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(temporary)
        os.chmod(temporary, 0o600)
        listener.listen(64)
        os.rename(temporary, self.path)  # atomically replaces a dead server's socket
        self.listener_inode = os.stat(self.path).st_ino
        listener.setblocking(False)
        self.listener = listener
        self.selector.register(listener, selectors.EVENT_READ, "accept")

    def stop_listening(self) -> None:
        """No new commands: the socket and the lock go to the next server at once."""
        if self.listener is None:
            return
        self.selector.unregister(self.listener)
        self.listener.close()
        self.listener = None
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.listener_inode:
                os.unlink(self.path)
        fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
        os.close(self.lock_fd)
        self.lock_fd = -1

    def serve(self) -> int:
        os.chdir("/")
        if self.path != server_socket():
            return 1  # this interpreter imports another copy of pycompose than the client's
        if not private_directory(os.path.dirname(self.path)):
            return 1
        if not self.take_lock():
            return 0  # another server serves this socket
        warm()
        if threading.active_count() > 1:
            return 1  # forking a process with threads is not safe
        self.sources = module_sources(self.prefixes)
        self.listen()
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")
        last_activity = time.monotonic()
        while True:
            if self.stopping and not self.commands:
                break
            timeout = None
            if not self.commands:
                timeout = max(0.0, last_activity + self.idle - time.monotonic())
            events = self.selector.select(timeout)
            if not events and not self.commands and time.monotonic() >= last_activity + self.idle:
                break
            for key, _mask in events:
                if key.data == "accept":
                    last_activity = time.monotonic()
                    self.accept()
                elif key.data == "wake":
                    self.drain_wake()
                else:
                    self.client_readable(key.data)
            self.reap()
            if self.commands:
                last_activity = time.monotonic()
        self.stop_listening()
        return 0

    def _on_term(self, _number: int, _frame: object) -> None:
        if self.stopping:  # the second SIGTERM: the commands too
            for pid in self.commands:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
        self.stopping = True
        self.stop_listening()

    def drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wake_read, 256):
                pass

    # --- commands -----------------------------------------------------------------------

    def _site_stamp(self) -> tuple[int, ...]:
        """Installed packages (their directory changes when one is added or upgraded) and
        the interpreter."""
        import pydantic

        stamps = []
        for path in (os.path.dirname(os.path.dirname(pydantic.__file__)), sys.executable):
            with contextlib.suppress(OSError):
                stamps.append(os.stat(path).st_mtime_ns)
        return tuple(stamps)

    def stale(self) -> bool:
        if self._site_stamp() != self.site:
            return True
        for path, (mtime, size) in self.sources.items():
            try:
                info = os.stat(path)
            except OSError:
                return True
            if (info.st_mtime_ns, info.st_size) != (mtime, size):
                return True
        return False

    def accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(True)
        conn.settimeout(REQUEST_TIMEOUT)
        try:
            credentials = conn.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
            )
            _pid, uid, _gid = struct.unpack("3i", credentials)
            if uid != os.getuid():
                conn.close()
                return
            request = read_request(conn)
        except (BadRequest, ValueError, OSError):
            conn.close()
            return
        reply = self.refusal(request)
        if reply is not None:
            _close_all(request.fds)
            with contextlib.suppress(OSError):
                conn.sendall(reply)
            conn.close()
            if reply == b"stale\n":
                self.stopping = True
                self.stop_listening()
            return
        pid = os.fork()
        if pid == 0:
            self.become_command(request, conn)
        # the child tells the client its pid itself: only then can its "exit" never come first
        _close_all(request.fds)
        conn.settimeout(None)
        self.commands[pid] = conn
        self.selector.register(conn, selectors.EVENT_READ, pid)

    def refusal(self, request: Request) -> bytes | None:
        if request.place != self.place:
            return b"elsewhere\n"
        if self.stopping:
            return b"busy\n"
        if self.stale():
            return b"stale\n"
        if len(self.commands) >= MAX_COMMANDS:
            return b"busy\n"
        return None

    def client_readable(self, pid: int) -> None:
        """The client sends nothing after its request: readable means it went away."""
        conn = self.commands.get(pid)
        if conn is None:
            return
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if data:
            return
        self.selector.unregister(conn)
        conn.close()
        self.commands[pid] = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)

    def reap(self) -> None:
        while self.commands:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.commands.pop(pid, None)
            if conn is None:
                continue
            self.selector.unregister(conn)
            code = os.waitstatus_to_exitcode(status)
            reply = b"exit %d\n" % code if code >= 0 else b"signal %d\n" % -code
            with contextlib.suppress(OSError):
                conn.sendall(reply)
            conn.close()

    # --- in the child -------------------------------------------------------------------

    def become_command(self, request: Request, conn: socket.socket) -> None:
        """Take over the client's process state, run the command, exit with its status."""
        status = 1
        try:
            if not (join_cgroups(request.cgroups) and apply_limits(request.limits)):
                # said before "pid", so the client runs the command itself
                with contextlib.suppress(OSError):
                    conn.sendall(b"elsewhere\n")
                os._exit(1)
            conn.sendall(b"pid %d\n" % os.getpid())
            os.setsid()
            signal.set_wakeup_fd(-1)
            for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(number, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if self.listener is not None:
                self.listener.close()
            for other in self.commands.values():
                if other is not None:
                    other.close()
            self.selector.close()
            _close_all([self.wake_read, self.wake_write, self.lock_fd])
            take_over(request)
            status = run_command(request.argv)
        except BaseException:  # the child must never return into the server
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            # the status now, not after this process's teardown (the server sends it again
            # when it reaps this child, or "signal N" if something killed it first)
            with contextlib.suppress(BaseException):
                conn.sendall(b"exit %d\n" % status)
            os._exit(status)


# --- stop and status ----------------------------------------------------------------------


def _server_pid(path: str) -> int | None:
    """The pid of the server holding ``path``'s lock, or None when none does."""
    try:
        fd = os.open(path + ".lock", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    with contextlib.closing(io.FileIO(fd)) as lock:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = lock.read(32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None


def sockets() -> Iterator[str]:
    directory = server_directory()
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(directory)):
            if name.endswith(".sock.lock"):
                yield os.path.join(directory, name.removesuffix(".lock"))


def stop(path: str, timeout: float = 10.0) -> bool:
    """SIGTERM to the server of ``path``; True once it has let go of its lock."""
    pid = _server_pid(path)
    if pid is None:
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _server_pid(path) is None:
            return True
        time.sleep(0.02)
    return False


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 2:
        return Server(argv[1]).serve()
    if argv in (["stop"], ["stop", "--all"]):
        paths = list(sockets()) if argv[1:] == ["--all"] else [server_socket()]
        return 0 if all([stop(path) for path in paths]) else 1
    if argv == ["status"]:
        pid = _server_pid(server_socket())
        print(f"running, pid {pid}" if pid else "not running")
        return 0
    print(
        "usage: python -m compose.cli_server serve SOCKET | stop [--all] | status", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
