"""What a command's process in the warm CLI takes over from its client (compose.launch).

The server (compose.cli_server) forks a child per command; the child must then be the
process the command would have had of its own: the client's cgroups and resource limits
(checked before the child says it runs the command, so that a child that cannot take them
refuses and the client runs the command itself), and then its standard streams, working
directory, umask, environment, time zone and locale.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import locale
import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass

# getrlimit/setrlimit resources 0..15 (RLIM_NLIMITS on Linux): all of them travel
LIMITS = range(16)


@dataclass
class Request:
    argv: list[str]
    environment: dict[str, str]
    umask: int
    place: bytes
    limits: list[tuple[int, int, int]]  # (resource, soft, hard) as the client has them
    cgroups: str  # the client's /proc/self/cgroup
    fds: list[int]  # stdin, stdout, stderr, working directory


def own_cgroups() -> str:
    with open("/proc/self/cgroup", encoding="utf-8", errors="replace") as file:
        return file.read(64 * 1024)


def _hierarchies() -> dict[str, tuple[str, str]]:
    """cgroup hierarchy key ("" for v2, else its controllers or name=) -> (mount root,
    mount point), from this process's mountinfo."""
    found: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as file:
        for line in file:
            fields = line.split()
            try:
                dash = fields.index("-")
            except ValueError:
                continue
            kind, options = fields[dash + 1], fields[dash + 3]
            if kind == "cgroup2":
                found.setdefault("", (fields[3], fields[4]))
            elif kind == "cgroup":
                wanted = [o for o in options.split(",") if o not in ("rw", "ro")]
                known = ("name=", "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer",
                         "blkio", "pids", "net_cls", "net_prio", "perf_event", "hugetlb",
                         "rdma", "misc")  # fmt: skip
                controllers = [o for o in wanted if o.startswith(known)]
                found.setdefault(",".join(sorted(controllers)), (fields[3], fields[4]))
    return found


def join_cgroups(wanted: str) -> bool:
    """Move this process into the cgroups ``wanted`` lists (a /proc/self/cgroup text);
    False when one of them cannot be joined."""
    current = own_cgroups()
    if current == wanted:
        return True
    have = {}  # controllers -> path, as this process is placed now
    for line in current.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            have[parts[1]] = parts[2]
    mounts = _hierarchies()
    for line in wanted.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            return False
        _, controllers, path = parts
        if have.get(controllers) == path:
            continue
        key = ",".join(sorted(controllers.split(","))) if controllers else ""
        if key not in mounts or not path.startswith("/") or "/.." in path:
            return False
        root, point = mounts[key]
        if not (path == root or path.startswith(root.rstrip("/") + "/")):
            return False
        directory = os.path.join(point, path[len(root.rstrip("/")) :].lstrip("/"))
        try:
            with open(os.path.join(directory, "cgroup.procs"), "w", encoding="ascii") as procs:
                procs.write("0")  # "0": the writer itself
        except OSError:
            return False
    return own_cgroups() == wanted


def apply_limits(limits: list[tuple[int, int, int]]) -> bool:
    """The client's resource limits for this process; False when one cannot be set (a
    hard limit above this process's, for a user without CAP_SYS_RESOURCE)."""
    for number, soft, hard in limits:
        try:
            if resource.getrlimit(number) != (soft, hard):
                resource.setrlimit(number, (soft, hard))
        except (ValueError, OSError):
            return False
    return True


def take_over(request: Request) -> None:
    """The client's standard streams, directory, umask, environment, time zone and locale."""
    stdin, stdout, stderr, cwd = request.fds
    for target, fd in enumerate((stdin, stdout, stderr)):
        os.dup2(fd, target)
    os.fchdir(cwd)
    for fd in request.fds:
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)
    os.umask(request.umask)
    os.environ.clear()
    os.environ.update(request.environment)
    time.tzset()  # local times as the client's TZ has them
    with contextlib.suppress(locale.Error):
        locale.setlocale(locale.LC_CTYPE, "")  # as Python sets it at start-up
    sys.argv = ["pycompose", *request.argv]
    reopen_standard_streams(request.environment)


def reopen_standard_streams(environment: dict[str, str]) -> None:
    """New sys.stdin/stdout/stderr on fds 0-2, buffered the way Python sets them up."""
    encoding = environment.get("PYTHONIOENCODING", "utf-8").partition(":")[0] or "utf-8"

    def stream(fd: int, mode: str, errors: str) -> io.TextIOWrapper:
        tty = os.isatty(fd)
        raw = io.FileIO(fd, mode, closefd=False)
        buffered: io.BufferedReader | io.BufferedWriter = (
            io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        )
        return io.TextIOWrapper(
            buffered,
            encoding=encoding,
            errors=errors,
            line_buffering=tty or fd == 2,
            write_through=fd == 2,
        )

    for name, fd, mode, errors in (
        ("stdin", 0, "r", "surrogateescape"),
        ("stdout", 1, "w", "surrogateescape"),
        ("stderr", 2, "w", "backslashreplace"),
    ):
        opened = stream(fd, mode, errors)
        setattr(sys, name, opened)
        setattr(sys, f"__{name}__", opened)


def run_command(argv: list[str]) -> int:
    """compose.cli.main as the console script runs it, its exit status as a number."""
    try:
        from compose.cli import main

        status: object = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    except KeyboardInterrupt:
        status = 130
    except BaseException:  # reported as the interpreter would
        traceback.print_exc()
        status = 1
    if status is None:
        code = 0
    elif isinstance(status, int):
        code = status & 0xFF
    else:
        print(status, file=sys.stderr)
        code = 1
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass
        except (OSError, ValueError):
            code = code or 1
    return code
