"""A real engine for the storage attack tests: its own socket, data root and exec root.

The tests are synchronous and drive the engine with ``anyio.run``: the daemon helper makes
a network namespace, which pyroute2 refuses to do inside a running event loop.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "daemon"))

from daemon_helpers import Daemon, busybox_image_tar, skip_reason

from engine.api import errors
from engine.api.client import EngineClient
from engine.api.models import ContainerCreate

__all__ = ["Daemon", "engine_client", "run_container", "running_engine", "skip_reason"]


@contextlib.contextmanager
def running_engine() -> Iterator[Daemon]:
    daemon = Daemon()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.cleanup()


@contextlib.asynccontextmanager
async def engine_client(daemon: Daemon) -> AsyncIterator[EngineClient]:
    async with EngineClient(daemon.socket, timeout=60) as client:
        await client.request(
            "POST",
            "/images/load",
            content=busybox_image_tar(),
            headers={"Content-Type": "application/x-tar"},
        )
        yield client


async def run_container(
    client: EngineClient, command: str, host_config: Mapping[str, Any], *, detach: bool = False
) -> tuple[str, bytes]:
    """Create and start a busybox container running ``sh -c command``; its id and, unless
    ``detach``, its output once it has exited (the container is removed then)."""
    created = await client.container_create(
        ContainerCreate.model_validate(
            {"Image": "busybox", "Cmd": ["sh", "-c", command], "HostConfig": host_config}
        )
    )
    try:
        await client.container_start(created.Id)
    except errors.EngineError:
        await client.container_remove(created.Id, force=True)
        raise
    if detach:
        return created.Id, b""
    await client.container_wait(created.Id)
    output = b"".join([data async for _, data in client.container_logs(created.Id)])
    await client.container_remove(created.Id, force=True)
    return created.Id, output
