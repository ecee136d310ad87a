"""``pycompose engine start | stop | status | logs``: control of the engine daemon.

:func:`register` adds the ``engine`` command to an argparse sub-parser set; :func:`run`
runs it with the parsed arguments and returns the exit code. Socket and data root come
from ``--host``/``--data-root``, else from ``PYCOMPOSE_HOST``/``PYCOMPOSE_DATA_ROOT``, else
``/run/pycompose/engine.sock`` and ``/var/lib/pycompose``.

Exit codes: 0 done / running; 1 error; 3 ``status`` of an engine that is not running.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from engine.api.client import (
    EngineClient,
    data_root_from_env,
    engine_answers,
    ensure_engine,
    socket_from_host,
)
from engine.errors import EngineError

NOT_RUNNING = 3


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``engine {start,stop,status,logs}`` to ``subparsers`` (from add_subparsers())."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "engine", help="start, stop or look at the pycompose engine"
    )
    parser.add_argument("--host", default=None, help="engine socket (PYCOMPOSE_HOST)")
    parser.add_argument("--data-root", default=None, help="engine data (PYCOMPOSE_DATA_ROOT)")
    actions = parser.add_subparsers(dest="engine_action", required=True)
    start = actions.add_parser("start", help="start the engine if it is not running")
    start.add_argument("--timeout", type=float, default=30.0)
    stop = actions.add_parser("stop", help="stop the engine (containers keep running)")
    stop.add_argument("--timeout", type=float, default=30.0)
    actions.add_parser("status", help="whether the engine runs, and what it holds")
    logs = actions.add_parser("logs", help="the engine's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--tail", type=int, default=50)
    return parser


def run(args: argparse.Namespace) -> int:
    socket_path = socket_from_host(args.host)
    data_root = data_root_from_env(args.data_root)
    action = args.engine_action
    try:
        if action == "start":
            return anyio.run(_start, socket_path, data_root, args.timeout)
        if action == "stop":
            return _stop(socket_path, data_root, args.timeout)
        if action == "status":
            return anyio.run(_status, socket_path, data_root)
        if action == "logs":
            return _logs(Path(data_root) / "engine.log", args.tail, args.follow)
    except EngineError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    raise ValueError(f"unknown engine action {action!r}")


async def _start(socket_path: str, data_root: str, timeout: float) -> int:
    if await engine_answers(socket_path):
        print(f"engine already running on {socket_path}")
        return 0
    if os.geteuid() != 0:
        print(
            "error: the engine must run as root\n    hint: sudo pycompose engine start",
            file=sys.stderr,
        )
        return 1
    await ensure_engine(socket_path, data_root, timeout=timeout)
    print(f"engine started on {socket_path} (data root {data_root})")
    return 0


def engine_pid(data_root: str) -> int | None:
    """The pid of the engine holding the data root's lock, or None when none holds it."""
    try:
        handle = open(Path(data_root) / "engine.lock")  # noqa: SIM115 - closed below
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


def _stop(socket_path: str, data_root: str, timeout: float) -> int:
    pid = engine_pid(data_root)
    if pid is None:
        print(f"engine not running (data root {data_root})")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_pid(data_root) != pid:
            print("engine stopped (containers keep running)")
            return 0
        time.sleep(0.05)
    print(f"error: the engine (pid {pid}) did not stop within {timeout:g}s", file=sys.stderr)
    return 1


async def _status(socket_path: str, data_root: str) -> int:
    if not await engine_answers(socket_path):
        print(f"engine not running (socket {socket_path})")
        return NOT_RUNNING
    async with EngineClient(socket_path) as client:
        version = await client.version()
        info = await client.info()
    pid = engine_pid(data_root)
    print(
        f"engine running on {socket_path} (pid {pid if pid else '?'}, version "
        f"{version.Version}, API {version.ApiVersion})\n"
        f"data root {info.DockerRootDir or data_root}: {info.Containers} containers "
        f"({info.ContainersRunning} running), {info.Images} images"
    )
    return 0


def _logs(path: Path, tail: int, follow: bool) -> int:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - followed until interrupted
    except FileNotFoundError:
        print(f"error: no engine log at {path}", file=sys.stderr)
        return 1
    with handle:
        lines = handle.read().splitlines(keepends=True)
        sys.stdout.buffer.write(b"".join(lines[-tail:] if tail > 0 else lines))
        sys.stdout.flush()
        while follow:
            chunk = handle.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            else:
                time.sleep(0.2)
    return 0
