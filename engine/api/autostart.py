"""Starting the engine on demand: ``ensure_engine`` and what ``pycompose engine`` uses.

:func:`ensure_engine` starts the daemon (detached, isolated from the caller's Python path
and environment, log under the data root) when its socket does not answer, and waits until
``/_ping`` does. Starting it needs root: without it the error says what to run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import anyio

from engine.api.address import data_root_from_env, socket_from_host
from engine.api.client import EngineClient
from engine.api.errors import EngineError, EngineUnavailable

__all__ = [
    "data_root_from_env",
    "engine_answers",
    "engine_command",
    "ensure_engine",
    "spawn_engine",
]


async def engine_answers(socket_path: str) -> bool:
    """Whether something answers ``/_ping`` on ``socket_path``."""
    if not os.path.exists(socket_path):
        return False
    async with EngineClient(socket_path, timeout=2) as client:
        try:
            await client.ping()
        except EngineError:
            return False
    return True


# What the engine keeps of the caller's environment: its own settings, the registry client's
# and the locale. Nothing that tells Python where to import from (PYTHONPATH, PYTHONHOME...).
_ENGINE_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "DOCKER_CONFIG", "NO_PROXY")
_ENGINE_ENVIRONMENT_PREFIXES = ("PYCOMPOSE_", "LC_", "HTTP_PROXY", "HTTPS_PROXY")

# Runs the engine package the client itself was loaded from, by its absolute location.
_RUN_ENGINE = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('engine.daemon', run_name='__main__', alter_sys=True)"
)


def engine_command(socket_path: str, data_root: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start the engine (as root).

    Isolated (``python -I``: no current directory, PYTHONPATH or user site on ``sys.path``),
    from the directory that holds this very ``engine`` package, with the caller's
    environment cut down to what the engine reads: a folder ``engine/`` where the caller
    stands, or on its PYTHONPATH, never runs as root.
    """
    package_parent = str(Path(__file__).resolve().parents[2])
    command = [
        sys.executable,
        "-I",
        "-c",
        _RUN_ENGINE,
        package_parent,
        "--socket",
        os.path.abspath(socket_path),
        "--data-root",
        os.path.abspath(data_root),
    ]
    environment = {
        name: value
        for name, value in os.environ.items()
        if name.upper() in _ENGINE_ENVIRONMENT
        or name.upper().startswith(_ENGINE_ENVIRONMENT_PREFIXES)
    }
    environment.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return command, environment


def spawn_engine(socket_path: str, data_root: str) -> Path:
    """Start the engine daemon detached (see :func:`engine_command`); its log file.

    Detached = in its own session and re-parented to init (started from a shell that exits
    at once), so it outlives the caller and never lingers as the caller's zombie. It runs
    from ``/``; its log is readable by root only.
    """
    log_path = Path(data_root).resolve() / "engine.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command, environment = engine_command(socket_path, data_root)
    fd = os.open(log_path, os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "ab") as log_file:
        subprocess.run(
            ["/bin/sh", "-c", '"$@" </dev/null &', "sh", *command],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            check=True,
            cwd="/",
            env=environment,
        )
    return log_path


async def ensure_engine(
    host: str | None = None, data_root: str | None = None, *, timeout: float = 30.0
) -> str:
    """The engine's socket path, after starting the engine if nothing answers there.

    Error handling: EngineUnavailable (with the log file's last lines) when the engine does
    not answer within ``timeout`` seconds.
    """
    socket_path = socket_from_host(host)
    if await engine_answers(socket_path):
        return socket_path
    if os.geteuid() != 0:
        raise EngineUnavailable(
            f"the engine is not running (no answer on {socket_path}) and starting it needs root",
            hint="start it once as root: sudo pycompose engine start",
        )
    root = data_root_from_env(data_root)
    log_path = await anyio.to_thread.run_sync(spawn_engine, socket_path, root)
    with anyio.move_on_after(timeout):
        while True:
            if await engine_answers(socket_path):
                return socket_path
            await anyio.sleep(0.1)
    tail = ""
    with contextlib.suppress(OSError):
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
    raise EngineUnavailable(
        f"the engine did not start within {timeout:g}s (socket {socket_path})\n{tail}",
        hint=f"see {log_path}",
    )
