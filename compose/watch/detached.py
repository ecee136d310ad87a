"""The detached watcher: one background process per project that keeps syncing.

``watch -d`` and ``up -d --watch`` start ``pycompose watch --no-up`` again as a process of
its own session (``setsid``: the terminal closing sends it no SIGHUP, its output goes to a
log file, its stdin is /dev/null) and return once it says it watches. Its record, a small
JSON file beside its log, lives in a per-project directory under ``$XDG_RUNTIME_DIR`` (or
the engine's data root when that is unset), keyed by the project and the engine's socket,
so that two engines never share a watcher. ``watch --status`` reads the record,
``watch --stop`` and ``down`` stop the process, which also ends by itself when the
project's containers are gone.

A record is trusted only while its process is alive with the start time it recorded (a
reused pid is not ours).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from compose.errors import PlanError
from engine.api.autostart import data_root_from_env

RECORD = "watcher.json"
LOG = "watch.log"
READY_TIMEOUT = 60.0  # seconds for the watcher to set its watches (a loaded machine is slow)
STOP_TIMEOUT = 10.0
_MAIN = "import sys; from compose.cli import main; sys.exit(main())"


def state_root() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "pycompose" / "watch"
    return Path(data_root_from_env()) / "watch"


def state_dir(project: str, socket_path: str) -> Path:
    engine = hashlib.sha256(os.path.realpath(socket_path).encode()).hexdigest()[:12]
    return state_root() / f"{project}-{engine}"


def process_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None  # a zombie has ended: only its parent's wait is missing
    return fields[19]


@dataclasses.dataclass(frozen=True)
class Record:
    pid: int
    start_time: str
    project: str
    services: list[str]
    started: float
    log: str
    state: str  # "starting" until the watches are set, then "watching"

    @property
    def alive(self) -> bool:
        return process_start_time(self.pid) == self.start_time


def read_record(directory: Path) -> Record | None:
    """The live watcher's record; a stale one (its process is gone) is removed."""
    path = directory / RECORD
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        record = Record(**data)
    except (OSError, ValueError, TypeError):
        return None
    if not record.alive:
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return record


def write_record(directory: Path, project: str, services: list[str], state: str) -> None:
    """This process's record (written by the watcher itself), replaced atomically."""
    pid = os.getpid()
    start_time = process_start_time(pid) or ""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = Record(
        pid=pid,
        start_time=start_time,
        project=project,
        services=services,
        started=time.time(),
        log=str(directory / LOG),
        state=state,
    )
    temporary = directory / f".{RECORD}.{pid}"
    temporary.write_text(json.dumps(dataclasses.asdict(record)))
    temporary.replace(directory / RECORD)


def remove_own_record(directory: Path) -> None:
    """On the watcher's way out: its record goes, unless a newer watcher replaced it."""
    path = directory / RECORD
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def stop(directory: Path) -> Record | None:
    """Stop the project's watcher (SIGTERM, then SIGKILL); the record it had, or None."""
    record = read_record(directory)
    if record is None:
        return None
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise PlanError(
            f"cannot stop the watcher of project {record.project} (pid {record.pid}): "
            "it belongs to another user",
            hint="run the command as that user",
        ) from None
    deadline = time.monotonic() + STOP_TIMEOUT
    while record.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    if record.alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
        while record.alive and time.monotonic() < deadline + STOP_TIMEOUT:
            time.sleep(0.05)
    with contextlib.suppress(OSError):
        (directory / RECORD).unlink()
    return record


def spawn(directory: Path, argv: list[str]) -> Record:
    """Start ``pycompose <argv>`` as the detached watcher; its record once it watches."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = directory / LOG
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        child = subprocess.Popen(
            [sys.executable, "-c", _MAIN, *argv],
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        record = read_record(directory)
        if record is not None and record.pid == child.pid and record.state == "watching":
            # not waited for: it outlives this command (init reaps it)
            child.returncode = 0
            return record
        code = child.poll()
        if code is not None:
            tail = _tail(log_path)
            raise PlanError(f"the detached watcher exited ({code}):\n{tail}")
        time.sleep(0.05)
    child.kill()
    child.wait()
    raise PlanError(
        f"the detached watcher did not start within {READY_TIMEOUT:.0f}s",
        hint=f"see its log: {log_path}",
    )


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def describe(record: Record) -> str:
    since = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.started))
    services = ", ".join(record.services) or "(none)"
    return (
        f"watching project {record.project}: pid {record.pid}, since {since}\n"
        f"services: {services}\nlog: {record.log}\n"
    )
