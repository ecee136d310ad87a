"""Containers through an OCI runtime: configuration -> OCI spec -> runc under conmon.

The parts of a container (each a module):

What the caller asks for is :class:`engine.api.models.ContainerCreate`, the same model the
client sent, and the image's run-time part is :class:`engine.api.models.ImageConfig`.

1. ``spec``    — pure: the two, plus facts about the host, -> OCI ``config.json`` with
   Docker's defaults (``security``, ``users``, ``mounts``, ``seccomp`` help);
2. ``runc``    — a thin typed wrapper over the runc binary;
3. ``monitor`` — conmon per container: stdio, log file, exit code, outliving the engine;
4. ``logs``    — reading the CRI log back (whole lines, tail/since/until/follow), rotation;
5. ``state``   — pure rules: legal state transitions, restart back-off, health status;
6. ``containers`` — ``ContainerRuntime``: the async API the daemon calls
   (``exec_session`` for interactive exec, ``monitor.AttachConnection`` for attach), with
   ``container_record`` (a container's record and container.json), ``supervisor`` (runs,
   health checks, restarts), ``signalling`` (stop, kill, pause) and ``container_io``
   (exec, reading and rotating the log).

Usage::

    async with ContainerRuntime("/var/lib/pycompose/containers") as runtime:
        config = ContainerCreate(image="busybox", cmd=["true"])
        info = await runtime.create(config, image_config, rootfs=path)
        await runtime.start(info.id)
        exit_code = await runtime.wait(info.id)
        await runtime.remove(info.id)
"""

from engine.runtime.container_record import ContainerInfo, ExecResult, RuntimeEvent
from engine.runtime.containers import ContainerRuntime
from engine.runtime.exec_session import ExecSession
from engine.runtime.logs import LogEntry
from engine.runtime.monitor import AttachConnection
from engine.runtime.runc import Runc, RuncState, RuntimeExitError
from engine.runtime.spec import SpecContext, build_spec, merge_image_config
from engine.runtime.state import ContainerState, HealthStatus

__all__ = [
    "AttachConnection",
    "ContainerInfo",
    "ContainerRuntime",
    "ContainerState",
    "ExecResult",
    "ExecSession",
    "HealthStatus",
    "LogEntry",
    "Runc",
    "RuncState",
    "RuntimeEvent",
    "RuntimeExitError",
    "SpecContext",
    "build_spec",
    "merge_image_config",
]
