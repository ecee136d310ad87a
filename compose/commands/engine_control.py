"""``pycompose engine start | stop | status | logs``: the engine daemon as a process.

This is client-side process management: ``start`` spawns ``python -I -m engine.daemon``
(:func:`engine.api.autostart.ensure_engine`), ``stop`` signals the pid that holds the data
root's lock, ``status`` asks the engine over its API, ``logs`` reads its log file. Socket
and data root come from ``--host``/``--data-root``, else ``PYCOMPOSE_HOST``/
``PYCOMPOSE_DATA_ROOT``, else ``/run/pycompose/engine.sock`` and ``/var/lib/pycompose``.

Exit codes: 0 done / running; 1 error; 3 ``status`` of an engine that is not running.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import time
from typing import TYPE_CHECKING

from engine.api.address import data_root_from_env, socket_from_host, version_answer

if TYPE_CHECKING:
    from pathlib import Path

    from compose.commands.terminal import Terminal

# anyio and the engine client (httpx, pydantic) are imported by the actions that talk to the
# engine: `pycompose version`, `engine stop` and `engine logs` start without them.

NOT_RUNNING = 3


def engine_pid(data_root: str) -> int | None:
    """The pid of the engine holding the data root's lock, or None when none holds it."""
    try:
        handle = open(os.path.join(data_root, "engine.lock"))  # noqa: SIM115 - closed below
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(handle, fcntl.LOCK_UN)  # free: no engine runs on this data root
        return None


async def start(terminal: Terminal, socket_path: str, data_root: str, timeout: float) -> int:
    from engine.api.autostart import engine_answers, ensure_engine

    if await engine_answers(socket_path):
        print(f"engine already running on {socket_path}", file=terminal.out)
        return 0
    if os.geteuid() != 0:
        print(
            "error: the engine must run as root\n    hint: sudo pycompose engine start",
            file=terminal.err,
        )
        return 1
    await ensure_engine(socket_path, data_root, timeout=timeout)
    print(f"engine started on {socket_path} (data root {data_root})", file=terminal.out)
    return 0


def stop(terminal: Terminal, data_root: str, timeout: float) -> int:
    pid = engine_pid(data_root)
    if pid is None:
        print(f"engine not running (data root {data_root})", file=terminal.out)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_pid(data_root) != pid:
            print("engine stopped (containers keep running)", file=terminal.out)
            return 0
        time.sleep(0.05)
    print(f"error: the engine (pid {pid}) did not stop within {timeout:g}s", file=terminal.err)
    return 1


async def status(terminal: Terminal, socket_path: str, data_root: str) -> int:
    from engine.api.autostart import engine_answers
    from engine.api.client import EngineClient

    if not await engine_answers(socket_path):
        print(f"engine not running (socket {socket_path})", file=terminal.out)
        return NOT_RUNNING
    async with EngineClient(socket_path) as client:
        version = await client.version()
        info = await client.info()
    pid = engine_pid(data_root)
    print(
        f"engine running on {socket_path} (pid {pid if pid else '?'}, version "
        f"{version.Version}, API {version.ApiVersion})\n"
        f"data root {info.DockerRootDir or data_root}: {info.Containers} containers "
        f"({info.ContainersRunning} running), {info.Images} images",
        file=terminal.out,
    )
    return 0


def logs(terminal: Terminal, path: Path, tail: int, follow: bool) -> int:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - followed until interrupted
    except FileNotFoundError:
        print(f"error: no engine log at {path}", file=terminal.err)
        return 1
    out = terminal.out.buffer if hasattr(terminal.out, "buffer") else None
    with handle:

        def write(data: bytes) -> None:
            if out is not None:
                out.write(data)
            else:
                terminal.out.write(data.decode(errors="replace"))
            terminal.out.flush()

        lines = handle.read().splitlines(keepends=True)
        write(b"".join(lines[-tail:] if tail > 0 else lines))
        while follow:
            chunk = handle.read()
            if chunk:
                write(chunk)
            else:
                time.sleep(0.2)
    return 0


def run_engine_command(args: argparse.Namespace, terminal: Terminal) -> int:
    """``pycompose engine <action>``; its exit status."""
    socket_path = socket_from_host(args.host)
    data_root = data_root_from_env(args.data_root)
    action = args.engine_action
    if action in ("start", "status"):
        import anyio

        if action == "start":
            return anyio.run(start, terminal, socket_path, data_root, args.timeout)
        return anyio.run(status, terminal, socket_path, data_root)
    if action == "stop":
        return stop(terminal, data_root, args.timeout)
    if action == "logs":
        from pathlib import Path

        return logs(terminal, Path(data_root) / "engine.log", args.tail, args.follow)
    if action in ("install-service", "uninstall-service"):
        from compose.commands import engine_service

        run = engine_service.install if action == "install-service" else engine_service.uninstall
        return run(args, terminal)
    raise ValueError(f"unknown engine action {action!r}")


def engine_version() -> str | None:
    """The engine's version line for `pycompose version`, or None when none answers.

    Asked with the standard library only (:func:`engine.api.address.version_answer`):
    `pycompose version` loads neither httpx nor the API's models.
    """
    docker_host = os.environ.get("DOCKER_HOST")
    socket_path = socket_from_host(docker_host) if docker_host else socket_from_host()
    version = version_answer(socket_path)
    if version is None:
        return None
    platform = version.get("Platform")
    name = (platform.get("Name") if isinstance(platform, dict) else None) or "engine"
    return (
        f"{name} {version.get('Version', '')} (API {version.get('ApiVersion', '')}) "
        f"at {socket_path}"
    )
