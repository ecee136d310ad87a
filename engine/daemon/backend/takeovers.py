"""Start-first updates, engine side: a new container takes over an old one's ports.

A container created with the label ``io.pycompose.takes-over=<old>`` (and optionally
``io.pycompose.takeover-after=<seconds>``) starts without publishing its ports while
``<old>`` runs and publishes them: it would conflict. Once it has been ready (running, and
healthy when it has a health check) for ``takeover-after`` seconds, it takes over the old
one's published ports and service names in one nftables transaction and the engine emits a
container ``update`` event carrying ``io.pycompose.took-over=<old id>``; the client then
stops and removes the old one. A new container that stops (or is removed) first takes
nothing: the old one keeps serving.

The labels come from API clients: the reference must name a running container of the same
Compose project and service that publishes the very same ports.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import anyio

from engine.api.models.extensions import TOOK_OVER, takeover
from engine.errors import EngineError, InvalidParameter, NotFound
from engine.runtime import ContainerState, HealthStatus
from engine.state import ContainerRecord

if TYPE_CHECKING:
    from engine.daemon.backend.containers import Containers
    from engine.daemon.backend.index import ContainerIndex

log = logging.getLogger(__name__)

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
POLL = 0.1
GIVE_UP_AFTER = 3600.0  # a new container that is never ready is not watched for ever


def source_of(record: ContainerRecord, index: ContainerIndex) -> tuple[str, float] | None:
    """The old container's id and the readiness delay, when ``record`` takes one over now.

    None when it takes over nothing (no label, or the old one is gone or no longer runs:
    then it publishes its ports itself). Error handling: InvalidParameter for a label naming
    itself, a container of another project or service, or one publishing other ports.
    """
    labels = record.body.get("Labels") or {}
    wanted = takeover(labels)
    if wanted is None:
        return None
    ref, after = wanted
    try:
        old = index.find(ref)
    except NotFound:
        return None  # taken over and removed long ago (a later start or restart)
    if old.id == record.id:
        raise InvalidParameter("label io.pycompose.takes-over: a container cannot take over itself")
    old_labels = old.body.get("Labels") or {}
    for key in (PROJECT, SERVICE):
        if not labels.get(key) or old_labels.get(key) != labels.get(key):
            raise InvalidParameter(
                f"label io.pycompose.takes-over: {old.name} is not of the same {key}"
            )
    ports = (record.body.get("HostConfig") or {}).get("PortBindings") or {}
    old_ports = (old.body.get("HostConfig") or {}).get("PortBindings") or {}
    if ports != old_ports:
        raise InvalidParameter(
            f"label io.pycompose.takes-over: {old.name} publishes other ports",
            hint="a start-first update keeps the published ports; change them stop-first",
        )
    if not index.running(old.id):
        return None
    return old.id, after


async def take_over_when_ready(
    containers: Containers, record: ContainerRecord, old_id: str, after: float
) -> None:
    """Wait until the new container has been ready ``after`` seconds, then take over."""
    runtime = containers.runtime
    deadline = time.monotonic() + GIVE_UP_AFTER
    ready_since: float | None = None
    while True:
        try:
            info = runtime.inspect(record.id)
        except NotFound:
            return
        if info.state is not ContainerState.RUNNING or time.monotonic() > deadline:
            return  # it failed (or was stopped): the old one keeps serving
        now = time.monotonic()
        if info.health in (HealthStatus.NONE, HealthStatus.HEALTHY):
            ready_since = now if ready_since is None else ready_since
            if now - ready_since >= after:
                break
        else:
            ready_since = None
        await anyio.sleep(POLL)
    networking = containers.networking
    try:
        if networking is not None and not await networking.take_over(old_id, record.id):
            await networking.publish(record.id, record.body.get("HostConfig") or {})
    except EngineError:
        log.exception("container %s could not take over %s", record.id[:12], old_id[:12])
        return
    containers.events.container(record, "update", **{TOOK_OVER: old_id})
