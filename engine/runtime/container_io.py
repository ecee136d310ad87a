"""Processes run in a running container (exec) and the container's log (read, rotate).

An exec writes the process's OCI description next to the bundle and runs it with
``runc exec``; the log is conmon's file in the container's directory (engine.runtime.logs
reads and rotates it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal as signals
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import anyio

from engine.errors import Unsupported
from engine.file_modes import write_private
from engine.runtime import bundle, monitor
from engine.runtime import logs as logfiles
from engine.runtime.container_record import ContainerRecord, ExecResult
from engine.runtime.runc import Runc
from engine.runtime.spec import exec_process
from engine.runtime.state import ContainerState

S = ContainerState


def exec_files(
    container: ContainerRecord,
    command: list[str],
    env: Sequence[str],
    user: str,
    working_dir: str,
    privileged: bool,
    tty: bool,
) -> tuple[Path, Path]:
    """The process file of a new exec in ``container``, and where runc writes its pid."""
    spec = json.loads((container.directory / "config.json").read_text())
    root = Path(container.rootfs)
    process = exec_process(
        spec,
        command,
        env=env,
        user=user,
        working_dir=working_dir,
        tty=tty,
        passwd_text=bundle.read_text(root / "etc/passwd") if user else "",
        group_text=bundle.read_text(root / "etc/group") if user else "",
        privileged=privileged,
    )
    container.exec_count += 1
    process_file = container.directory / f"exec-{container.exec_count}.json"
    pid_file = container.directory / f"exec-{container.exec_count}.pid"
    write_private(process_file, json.dumps(process))
    return process_file, pid_file


async def run_exec(
    runc: Runc,
    container: ContainerRecord,
    command: list[str],
    *,
    stdin: bytes | None = None,
    env: Sequence[str] = (),
    user: str = "",
    working_dir: str = "",
    privileged: bool = False,
) -> ExecResult:
    """Run ``command`` in ``container`` to its end; its exit code and output."""
    process_file, pid_file = exec_files(
        container, command, env, user, working_dir, privileged, tty=False
    )
    try:
        code, out, err = await runc.exec(
            container.id, str(process_file), stdin=stdin or b"", pid_file=str(pid_file)
        )
    except BaseException:
        # Cancelled (a health check timing out): the process in the container goes too.
        pid = monitor.read_pid(pid_file)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signals.SIGKILL)
        raise
    finally:
        process_file.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)
    return ExecResult(code if code >= 0 else 128 - code, out, err)


async def read_logs(
    container: ContainerRecord,
    *,
    since: float = 0.0,
    until: float = 0.0,
    tail: int | None = None,
    follow: bool = False,
    as_written: bool = False,
) -> AsyncIterator[logfiles.LogEntry]:
    """The container's log lines (whole), oldest first; ``since``/``until`` in seconds.

    Followed ``as_written``, the records come as the container wrote them, partial lines
    at once and whole ones with their newline (an attached terminal's output)."""
    if bundle.log_driver(container.config) == "none":
        raise Unsupported(
            "configured logging driver does not support reading",
            hint="the container's logging driver is none: its output is not kept",
        )
    since_ns = int(since * 1_000_000_000)
    until_ns = int(until * 1_000_000_000)
    if not follow and tail is not None:
        entries, _, _ = await anyio.to_thread.run_sync(
            lambda: logfiles.read_entries(
                container.paths.log, since_ns=since_ns, until_ns=until_ns, tail=tail
            )
        )
        for entry in entries:
            yield entry
        return
    if not follow:
        lines = logfiles.iter_entries(container.paths.log, since_ns=since_ns, until_ns=until_ns)
        for count, entry in enumerate(lines):
            yield entry
            if count % 1024 == 1023:
                await anyio.sleep(0)  # let others run while a long log streams
        return
    async for entry in logfiles.follow(
        container.paths.log,
        is_running=lambda: container.state in (S.RUNNING, S.PAUSED, S.RESTARTING),
        since_ns=since_ns,
        until_ns=until_ns,
        tail=tail,
        joiner=logfiles.RecordPassthrough() if as_written else None,
    ):
        yield entry


async def rotate_logs(containers: Iterable[ContainerRecord]) -> None:
    """Rotate the log of each running container that reached its size limit."""
    for container in containers:
        if container.state is not S.RUNNING:
            continue
        try:  # every second for every running container: a plain stat, no Path objects
            size = os.stat(f"{container.directory}/container.log").st_size
        except FileNotFoundError:
            continue
        if size < container.log_max_size:
            continue
        log = container.paths.log
        try:
            logfiles.rotate(log, container.log_max_files)
        except OSError:
            continue  # removed meanwhile
        if monitor.request_log_reopen(container.paths):
            await anyio.sleep(0.05)
            with contextlib.suppress(OSError):
                logfiles.prune_after_reopen(log, container.log_max_files)
