"""Waiting on a service of another project (``x-pycompose: {wait_for: [...]}``).

Before a container starts, ``up`` waits until each replica of ``project``/``service``
meets the condition, with the fail-fast messages of ``depends_on`` (unhealthy, no health
check, exited, did not complete successfully). The other project's containers are found
by their Compose labels, so it may have been started by pycompose or docker compose. When
it has none yet (another ``up`` may be starting it), ``up`` waits up to
:data:`APPEAR_TIMEOUT` (or ``--wait-timeout``) before failing with what to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import anyio

from compose import labels
from compose.plan import WaitCondition
from engine.api.client import EngineClient
from engine.api.errors import NotFound

APPEAR_TIMEOUT = 60.0
POLL_INTERVAL = 0.5


async def _replicas(client: EngineClient, condition: WaitCondition) -> list[str]:
    filters = {
        "label": [
            f"{labels.PROJECT}={condition.project}",
            f"{labels.SERVICE}={condition.service}",
            f"{labels.ONEOFF}=False",
        ]
    }
    found = await client.container_list(all=True, filters=filters)
    return sorted(name.lstrip("/") for c in found for name in (c.Names or [])[:1])


async def wait_other_project(
    client: EngineClient,
    condition: WaitCondition,
    waiting: str,
    emit: Callable[[Any], None],
    timeout: float | None,
) -> None:
    """Wait until ``condition`` (of another project) holds; ApplyError when it never will."""
    from compose.apply import ApplyError, ProgressEvent, condition_met

    who = f"{condition.project}/{condition.service}"
    emit(ProgressEvent("Container", waiting, "Waiting", f"for {who}"))
    limit = timeout if timeout else APPEAR_TIMEOUT
    names: list[str] = []
    with anyio.move_on_after(limit):
        while not (names := await _replicas(client, condition)):
            await anyio.sleep(POLL_INTERVAL)
    if not names:
        raise ApplyError(
            f"dependency failed to start: project {condition.project!r} has no container "
            f"of service {condition.service!r} (waited {limit:g}s)",
            hint=f"start it first: pycompose -p {condition.project} up -d {condition.service}",
        )
    with anyio.fail_after(timeout) if timeout else contextlib.nullcontext():
        for name in names:
            while True:
                try:
                    state = (await client.container_inspect(name)).State
                except NotFound:
                    raise ApplyError(
                        f"dependency failed to start: container {name} ({who}) was removed"
                    ) from None
                if condition.condition == "service_started":
                    if state.Running:
                        break
                    if state.Status != "created" and not state.Restarting:
                        raise ApplyError(
                            f"dependency failed to start: container {name} ({who}) is "
                            f"{state.Status} ({state.ExitCode})",
                            hint=f"start it: pycompose -p {condition.project} up -d",
                        )
                elif condition_met(condition, name, state):
                    break
                await anyio.sleep(POLL_INTERVAL)
            word = {"service_healthy": "Healthy", "service_started": "Running"}.get(
                condition.condition, "Exited"
            )
            emit(ProgressEvent("Container", name, word, done=True))
