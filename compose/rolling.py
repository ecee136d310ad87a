"""Start-first updates (``deploy.update_config.order: start-first``), as ``up`` applies them.

The new container is created beside the old one under a temporary name, with the labels
``io.pycompose.takes-over=<old id>`` and ``io.pycompose.takeover-after=<monitor>``; it
starts and joins the service's networks and names. The engine lets it take over the old
one's published ports and service names (one nftables transaction) once it has been
ready (running; healthy if it has a health check) for ``monitor`` seconds, and reports
that as a container ``update`` event. Then the old container is stopped and removed and
the new one renamed to the usual name. A new container that exits, turns unhealthy or is
not ready in time is removed, and the old one serves on; ``failure_action`` then says what
happens to the rest of the update: ``pause`` (swarm's default) and ``rollback`` stop it with
an error, ``continue`` goes on with the next replicas.

Engines other than pycompose's do not take over ports: there ``up`` recreates stop-first,
as docker compose, and says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING, Any

import anyio

from compose.apply import ApplyError, ProgressEvent
from compose.plan import Operation
from engine.api.errors import NotFound
from engine.api.models.extensions import TAKEOVER_AFTER, TAKES_OVER, TOOK_OVER

if TYPE_CHECKING:
    from compose.apply import _Executor

READY_TIMEOUT = 120.0  # without --wait-timeout: how long a new container may take to be ready
DRAIN = 0.5  # after the takeover: requests the old container is answering finish
POLL = 0.1
ENGINE_NAME = "pycompose engine"


async def takes_over_ports(executor: _Executor) -> bool:
    """Whether the engine does port takeovers (pycompose's engine does; dockerd does not)."""
    version = await executor.client.version()
    return (version.Platform or {}).get("Name") == ENGINE_NAME


async def recreate_start_first(executor: _Executor, operation: Operation) -> bool:
    """Replace ``operation``'s container start-first; False when the engine cannot (the
    caller then recreates it stop-first)."""
    if not await takes_over_ports(executor):
        executor.emit(
            ProgressEvent(
                "Container",
                operation.target,
                "Recreate",
                "start-first needs the pycompose engine: recreating stop-first",
            )
        )
        return False
    update: dict[str, Any] = dict(operation.details["update"])
    old_id = operation.container_id
    assert old_id is not None
    if update["batch"] and update["delay"]:
        await anyio.sleep(update["delay"])
    executor.emit(ProgressEvent("Container", operation.target, "Recreate", operation.cause))
    temporary = f"{operation.target}-next-{old_id[:8]}"
    request = executor.request(
        operation, name=temporary, replace=f"{operation.service}-{operation.number}"
    )
    labels = dict(request.body.labels or {})
    labels[TAKES_OVER] = old_id
    labels[TAKEOVER_AFTER] = f"{update['monitor']:g}"
    request = dataclasses.replace(request, body=request.body.model_copy(update={"labels": labels}))
    new_id = await executor.create(request)
    try:
        await executor.wait_for(operation)
        executor.emit(ProgressEvent("Container", temporary, "Starting", "beside the old one"))
        since = time.time() - 1
        await executor.client.container_start(new_id)
        timeout = (executor.context.wait_timeout or READY_TIMEOUT) + update["monitor"]
        await _await_takeover(executor, new_id, old_id, since, timeout)
    except (ApplyError, NotFound) as failure:
        with anyio.CancelScope(shield=True), contextlib.suppress(NotFound):
            await executor.client.container_remove(new_id, force=True)
        message = f"update of {operation.target} failed, the old container serves on: {failure}"
        if update["failure_action"] == "continue":
            executor.emit(ProgressEvent("Container", operation.target, "Error", message))
            return True
        word = "rolled back" if update["failure_action"] == "rollback" else "paused"
        raise ApplyError(f"{message} (update {word})") from None
    except BaseException:
        with anyio.CancelScope(shield=True), contextlib.suppress(NotFound):
            await executor.client.container_remove(new_id, force=True)
        raise
    executor.emit(ProgressEvent("Container", temporary, "Took over", f"from {operation.target}"))
    await anyio.sleep(DRAIN)
    await executor.client.container_stop(old_id, timeout=executor.stop_timeout(operation.service))
    await executor.client.container_remove(old_id, force=True)
    await executor.client.container_rename(new_id, operation.target)
    executor.emit(ProgressEvent("Container", operation.target, "Recreated", done=True))
    return True


async def _await_takeover(
    executor: _Executor, new_id: str, old_id: str, since: float, timeout: float
) -> None:
    client = executor.client
    deadline = time.monotonic() + timeout
    while True:
        state = (await client.container_inspect(new_id)).State
        if not state.Running and not state.Restarting:
            raise ApplyError(f"the new container exited ({state.ExitCode})")
        health = state.Health
        if health is not None and health.Status == "unhealthy":
            output = health.Log[-1].Output.strip() if health.Log else ""
            raise ApplyError("the new container is unhealthy" + (f": {output}" if output else ""))
        filters = {"container": [new_id]}
        async for event in client.events(filters=filters, since=since, until=time.time()):
            if event.Action == "update" and event.Actor.Attributes.get(TOOK_OVER) == old_id:
                return
        if time.monotonic() > deadline:
            raise ApplyError(f"the new container was not ready within {timeout:g}s")
        await anyio.sleep(POLL)
