"""The `pycompose` command: hands the command to a warm CLI process, or runs it here.

Importing pycompose's models and clients costs about 0.3 s of CPU, more than most commands
spend on their work. So this module, the console script's entry point, imports only the
standard library's basics and asks the user's CLI server (compose.cli_server) to run the
command: the server has everything imported and forks a child per command. The child
gets this process's argv, environment, umask, working directory and standard streams
(passed as file descriptors), so it behaves as the command would here; this process
forwards signals to it and exits with its status.

When there is no server (the first command, after an idle timeout, after an upgrade, or
with PYCOMPOSE_CLI_SERVER=0) the command runs in this process, and a server is started in
the background for the next one. A server that cannot serve this process the same way
(other namespaces or root directory, cgroups or resource limits its child cannot take, code
changed on disk since it started) says so, and the command runs here.
"""

from __future__ import annotations

# The C cores of signal and socket: their wrappers build enums at import, ~10 ms of what
# would otherwise be a ~25 ms start.
import _signal as signal  # type: ignore[import-not-found]
import _socket
import os
import resource
import stat
import struct
import sys
import zlib

PROTOCOL = b"pycompose-cli/2"
# the signals a terminal or a supervisor sends to a command; the child gets them instead
# (compose.commands.tty forwards the same ones to a container; not imported here: anyio)
FORWARDED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
# what identifies "the same place": a server in other namespaces or another root would
# see other files, networks and processes than this process does
NAMESPACES = ("mnt", "net", "pid", "user", "uts", "ipc", "cgroup")
MAX_REPLY = 64


def enabled(environment: dict[str, str] | os._Environ[str]) -> bool:
    value = environment.get("PYCOMPOSE_CLI_SERVER", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def server_directory() -> str:
    """The per-user directory of the server sockets (0700, checked by the caller)."""
    uid = os.getuid()
    base = os.environ.get("XDG_RUNTIME_DIR") or ("/run" if uid == 0 else "/tmp")
    return os.path.join(base, f"pycompose-cli-{uid}")


def server_socket() -> str:
    """One server per interpreter and installed copy of pycompose."""
    package = os.path.dirname(os.path.abspath(__file__))
    interpreter = os.path.realpath(sys.executable)
    key = f"{interpreter}\0{sys.prefix}\0{package}\0{sys.version}".encode()
    return os.path.join(server_directory(), f"{zlib.crc32(key):08x}.sock")


def place() -> bytes:
    """The namespaces and root this process lives in, as the server compares them."""
    parts = []
    for name in NAMESPACES:
        try:
            info = os.stat(f"/proc/self/ns/{name}")
            parts.append(f"{info.st_dev}:{info.st_ino}")
        except OSError:
            parts.append("-")
    root = os.stat("/")
    parts.append(f"{root.st_dev}:{root.st_ino}")
    return ",".join(parts).encode()


def limits() -> bytes:
    """This process's resource limits, "resource:soft:hard" joined by commas."""
    items = []
    for number in range(16):  # RLIM_NLIMITS on Linux
        try:
            soft, hard = resource.getrlimit(number)
        except (ValueError, OSError):
            continue
        items.append(f"{number}:{soft}:{hard}")
    return ",".join(items).encode()


def cgroups() -> bytes:
    try:
        with open("/proc/self/cgroup", "rb") as file:
            return file.read(64 * 1024).replace(b"\0", b"")
    except OSError:
        return b""


def encode_request(argv: list[str]) -> bytes:
    """NUL-separated fields: argv and environment entries never contain NUL."""
    umask = os.umask(0)
    os.umask(umask)
    environment = [key + b"=" + value for key, value in os.environb.items()]
    fields = [PROTOCOL, place(), str(umask).encode(), limits(), cgroups()]
    fields.append(str(len(argv)).encode())
    fields += [os.fsencode(arg) for arg in argv]
    fields += environment
    body = b"\0".join(fields)
    return struct.pack("!I", len(body)) + body


def private_directory(path: str) -> bool:
    """Only this user may enter it: a directory another user made (in /tmp) could hold
    someone else's server."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def _connect(path: str) -> _socket.socket | None:
    if not private_directory(os.path.dirname(path)):
        return None
    client = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        client.connect(path)
    except OSError:
        client.close()
        return None
    return client


def _standard_fds() -> list[int]:
    """fds 0-2 as they are; a closed one is passed as /dev/null."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def _send(pid: int, number: int) -> bool:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        return False
    return True


class Forwarder:
    """Signals for the child, held until its pid is known."""

    def __init__(self) -> None:
        self.child: int | None = None
        self.pending: list[int] = []

    def install(self) -> None:
        for number in FORWARDED:
            signal.signal(number, self.forward)
        signal.signal(signal.SIGTSTP, self.suspend)
        signal.signal(signal.SIGCONT, self.resume)

    def forward(self, number: int, _frame: object) -> None:
        if self.child is None:
            self.pending.append(number)
            return
        _send(self.child, number)

    def uninstall(self) -> None:
        """Back to Python's handlers; a signal that came meanwhile ends this process as
        it would have ended it."""
        for forwarded in (*FORWARDED, signal.SIGTSTP, signal.SIGCONT):
            signal.signal(forwarded, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for pending in self.pending:
            if pending != signal.SIGWINCH:
                raise SystemExit(128 + pending)

    def started(self, pid: int) -> None:
        self.child = pid
        for number in self.pending:
            self.forward(number, None)
        self.pending.clear()

    def suspend(self, _number: int, _frame: object) -> None:
        # the child is not in the terminal's process group: stop it, then ourselves
        if self.child is not None:
            _send(self.child, signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)

    def resume(self, _number: int, _frame: object) -> None:
        signal.signal(signal.SIGTSTP, self.suspend)
        if self.child is not None:
            _send(self.child, signal.SIGCONT)


def _read_line(client: _socket.socket, buffer: bytearray) -> bytes | None:
    while b"\n" not in buffer:
        chunk = client.recv(MAX_REPLY)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > MAX_REPLY * 4:
            return None
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def run_remote(argv: list[str]) -> int | None:
    """The command's exit status from the server, or None when it must run here."""
    client = _connect(server_socket())
    if client is None:
        return None
    forwarder = Forwarder()
    forwarder.install()  # from here a Ctrl-C is the command's, not a traceback of ours
    try:
        buffer = bytearray()
        first = _hand_over(client, argv, buffer)
        if first is None or not first.startswith(b"pid "):
            # a child that was killed before it could say its pid: the server says how
            status = None if first is None else _status(first)
            if status is None:
                forwarder.uninstall()
            return status
        forwarder.started(int(first[4:]))
        return _await_status(client, buffer)
    finally:
        client.close()


def _hand_over(client: _socket.socket, argv: list[str], buffer: bytearray) -> bytes | None:
    """Send the request; the first line of the answer, or None when the server went away."""
    fds = _standard_fds()
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        request = encode_request(argv)
        rights = struct.pack(f"{len(fds) + 1}i", *fds, cwd)
        sent = client.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
        client.sendall(request[sent:])
        return _read_line(client, buffer)
    except OSError:
        return None
    finally:
        os.close(cwd)


def _status(line: bytes) -> int | None:
    """The exit status an "exit N" or "signal N" line gives; None for a refusal ("elsewhere",
    "stale", "busy"): the command then runs here."""
    if line.startswith(b"exit "):
        return int(line[5:])
    if line.startswith(b"signal "):
        return _die_like(int(line[7:]))
    return None


def _await_status(client: _socket.socket, buffer: bytearray) -> int:
    while True:
        try:
            line = _read_line(client, buffer)
        except OSError:
            line = None
        if line is None:
            print("pycompose: the CLI server went away during the command", file=sys.stderr)
            return 1
        status = _status(line)
        if status is not None:
            return status


def _die_like(number: int) -> int:
    """End as the child ended, killed by the same signal, so shells see what happened."""
    if number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    return 128 + number


def start_server() -> None:
    """A server for the next command, detached from this one."""
    import subprocess

    path = server_socket()
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    except OSError:
        return
    if not private_directory(os.path.dirname(path)):
        return
    try:
        subprocess.Popen(
            # -I: neither the caller's directory nor PYTHON* variables choose the code
            [sys.executable, "-I", "-m", "compose.cli_server", "serve", path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
    except OSError:
        return


def main() -> int:
    argv = sys.argv[1:]
    if enabled(os.environ):
        status = run_remote(argv)
        if status is not None:
            return status
        start_server()
    from compose.cli import main as run_here

    return run_here(argv)
