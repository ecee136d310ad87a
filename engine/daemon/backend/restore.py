"""Ordered restore: the containers a restart policy wants running again after the engine
starts (a reboot, or an engine stopped while its containers died), started per Compose
project in dependency order rather than all at once.

The order comes from the labels docker compose (and pycompose) write on each container:
``com.docker.compose.project``, ``com.docker.compose.service`` and
``com.docker.compose.depends_on`` (``db:service_healthy:false,init:service_started:true``).
A service starts once each dependency it names is satisfied: ``service_started`` (its
containers run), ``service_healthy`` (they are healthy; or run, when they have no health
check) and ``service_completed_successfully`` (they exited 0). A dependency that does not
come within :data:`WAIT_LIMIT`, or can no longer (it exited, and nothing restarts it), is
logged and waited for no more: restore then starts the service anyway, as its restart
policy asks. Containers without Compose labels start at once.

The labels come from API clients: each value is bounded and checked, and a label that does
not parse (or dependencies in a cycle) orders nothing: those containers start at once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio

log = logging.getLogger(__name__)

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
DEPENDS_ON = "com.docker.compose.depends_on"
ONEOFF = "com.docker.compose.oneoff"
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
MAX_LABEL = 8192
MAX_DEPENDENCIES = 128
WAIT_LIMIT = 120.0
POLL = 0.1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


@dataclass(frozen=True, slots=True)
class Member:
    """A container of a project as restore sees it."""

    id: str
    project: str
    service: str
    depends_on: Mapping[str, str]  # service -> condition


@dataclass(frozen=True, slots=True)
class Observed:
    """A container's state now: ``running``/``exited``..., health or "", exit code."""

    state: str
    health: str
    exit_code: int


def parse_depends_on(value: str) -> dict[str, str] | None:
    """``db:service_healthy:false,...`` -> ``{"db": "service_healthy"}``; None if malformed."""
    if not value:
        return {}
    if len(value) > MAX_LABEL:
        return None
    result: dict[str, str] = {}
    for part in value.split(","):
        fields = part.split(":")
        if len(fields) not in (2, 3) or not _NAME.fullmatch(fields[0]):
            return None
        if fields[1] not in CONDITIONS or (len(fields) == 3 and fields[2] not in ("true", "false")):
            return None
        result[fields[0]] = fields[1]
        if len(result) > MAX_DEPENDENCIES:
            return None
    return result


def member_of(container_id: str, labels: Mapping[str, str] | None) -> Member | None:
    """The container as a project member, or None (no Compose labels, or bad ones)."""
    if not isinstance(labels, Mapping):
        return None
    project, service = labels.get(PROJECT), labels.get(SERVICE)
    depends, oneoff = labels.get(DEPENDS_ON, ""), labels.get(ONEOFF, "")
    if not all(isinstance(v, str) for v in (project, service, depends, oneoff)):
        return None
    assert isinstance(project, str) and isinstance(service, str)
    if not _NAME.fullmatch(project) or not _NAME.fullmatch(service):
        return None
    if str(oneoff).lower() == "true":
        return None
    depends_on = parse_depends_on(str(depends))
    if depends_on is None:
        log.warning("container %s: unreadable %s label; not ordered", container_id, DEPENDS_ON)
        return None
    return Member(container_id, project, service, depends_on)


def service_order(members: Sequence[Member]) -> list[str] | None:
    """The project's services, dependencies first; None when they form a cycle."""
    needs: dict[str, set[str]] = {}
    for member in members:
        needs.setdefault(member.service, set()).update(member.depends_on)
    known = set(needs)
    ordered: list[str] = []
    done: set[str] = set()
    remaining = sorted(known)
    while remaining:
        ready = [s for s in remaining if not (needs[s] & known) - done]
        if not ready:
            return None
        ordered.extend(ready)
        done.update(ready)
        remaining = [s for s in remaining if s not in done]
    return ordered


def satisfied(condition: str, states: Sequence[Observed]) -> bool | None:
    """Whether ``states`` (a dependency's containers) meet ``condition``; None when they
    never will (it exited, and the caller knows nothing restarts it)."""
    if not states:
        return True
    if condition == "service_completed_successfully":
        if any(s.state in ("running", "restarting", "paused", "created") for s in states):
            return False
        return True if all(s.exit_code == 0 for s in states) else None
    if any(s.state in {"exited", "dead", "created"} for s in states):
        return None  # stopped, or never started: nothing is going to start it
    if not all(s.state == "running" for s in states):
        return False
    if condition == "service_healthy":
        if any(s.health == "unhealthy" for s in states):
            return False  # it may recover; WAIT_LIMIT bounds the wait
        return all(s.health in ("", "healthy") for s in states)
    return True


async def restore_in_order(
    wanted: Sequence[str],
    everyone: Mapping[str, Mapping[str, str] | None],
    *,
    start: Callable[[str], Awaitable[None]],
    observe: Callable[[str], Observed | None],
    wait_limit: float = WAIT_LIMIT,
) -> list[str]:
    """Start the ``wanted`` containers (ids), each project's in dependency order.

    ``everyone``: every container's labels (dependencies that need no restart count too).
    Returns the ids in the order they were started. A start that fails is logged.
    """
    started: list[str] = []
    members: dict[str, Member] = {}
    for cid, labels in everyone.items():
        member = member_of(cid, labels)
        if member is not None:
            members[cid] = member
    projects: dict[str, list[str]] = {}
    unordered: list[str] = []
    for cid in wanted:
        member = members.get(cid)
        if member is None:
            unordered.append(cid)
        else:
            projects.setdefault(member.project, []).append(cid)

    async def start_one(cid: str) -> None:
        try:
            await start(cid)
            started.append(cid)
        except Exception:  # one container's failure leaves the others to start
            log.exception("restore: cannot start container %s", cid)

    async def restore_project(project: str, ids: list[str]) -> None:
        in_project = [m for m in members.values() if m.project == project]
        order = service_order(in_project)
        if order is None:
            log.warning("restore: project %s has a dependency cycle; starting all at once", project)
            async with anyio.create_task_group() as group:
                for cid in ids:
                    group.start_soon(start_one, cid)
            return
        by_service: dict[str, list[str]] = {}
        for member in in_project:
            by_service.setdefault(member.service, []).append(member.id)
        for service in order:
            mine = [cid for cid in ids if members[cid].service == service]
            if not mine:
                continue
            depends_on = members[mine[0]].depends_on
            for dependency, condition in sorted(depends_on.items()):
                await _wait_for(
                    project,
                    service,
                    dependency,
                    condition,
                    by_service.get(dependency, []),
                    observe,
                    wait_limit,
                )
            async with anyio.create_task_group() as group:
                for cid in mine:
                    group.start_soon(start_one, cid)

    async with anyio.create_task_group() as group:
        for cid in unordered:
            group.start_soon(start_one, cid)
        for project, ids in sorted(projects.items()):
            group.start_soon(restore_project, project, ids)
    return started


async def _wait_for(
    project: str,
    service: str,
    dependency: str,
    condition: str,
    ids: Sequence[str],
    observe: Callable[[str], Observed | None],
    wait_limit: float,
) -> None:
    deadline = time.monotonic() + wait_limit
    while True:
        states = [s for s in (observe(cid) for cid in ids) if s is not None]
        verdict = satisfied(condition, states)
        if verdict:
            return
        if verdict is None:
            log.warning(
                "restore: %s/%s: dependency %s cannot be %s; starting it anyway",
                project,
                service,
                dependency,
                condition,
            )
            return
        if time.monotonic() > deadline:
            log.warning(
                "restore: %s/%s: dependency %s not %s after %.0fs; starting it anyway",
                project,
                service,
                dependency,
                condition,
                wait_limit,
            )
            return
        await anyio.sleep(POLL)
