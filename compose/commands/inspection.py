"""The inspection commands: logs, top, port, events, wait (listings are in listing.py).

They read what the engine has (containers, logs, events, stats) and print it as docker
compose does; none of them changes anything (``wait`` only waits).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
from datetime import UTC, datetime

import anyio

from compose import labels
from compose.commands.session import Session
from compose.commands.terminal import LogPrinter, print_table
from compose.errors import PlanError
from compose.observed import ObservedContainer
from compose.units import parse_duration
from engine.api.client import EngineClient
from engine.api.errors import NotFound, Unsupported


async def stream_logs(
    client: EngineClient,
    container: ObservedContainer,
    printer: LogPrinter,
    *,
    follow: bool,
    tail: int | None,
    timestamps: bool,
    since: float | None = None,
    until: float | None = None,
) -> None:
    """One container's log, line by line through ``printer`` (a vanished container ends it)."""
    label = container.name.removeprefix(container.labels.get(labels.PROJECT, "") + "-")
    buffers = {1: b"", 2: b""}
    try:
        async for stream, chunk in client.container_logs(
            container.id,
            follow=follow,
            tail=tail,
            timestamps=timestamps,
            since=since,
            until=until,
        ):
            buffers[stream] = buffers.get(stream, b"") + chunk
            *lines, buffers[stream] = buffers[stream].split(b"\n")
            for raw in lines:
                printer.line(label, raw.decode(errors="replace"))
    except NotFound:
        return
    except Unsupported as error:  # logging driver none: nothing to show, as dockerd says
        printer.line(label, f"({error.message})")
        if follow:
            with contextlib.suppress(NotFound):
                await client.container_wait(container.id)
        return
    for rest in buffers.values():
        if rest:
            printer.line(label, rest.decode(errors="replace"))


def point_in_time(value: str, flag: str, now: float) -> float:
    """Unix seconds of ``--since``/``--until``: an RFC 3339 time (or a date, a local time
    without zone), Unix seconds, or a duration before ``now`` (``10m``, ``1h30m``)."""
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    with contextlib.suppress(ValueError):
        return now - parse_duration(text) / 1_000_000_000
    # Python reads at most microseconds: nanoseconds are cut to them
    iso = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        raise PlanError(
            f"invalid value for {flag}: {value!r}",
            hint="use an RFC 3339 time (2024-05-01T10:00:00Z), Unix seconds or a duration (10m)",
        ) from None


async def cmd_logs(session: Session, args: argparse.Namespace) -> int:
    project = session.project_name
    try:
        tail = None if args.tail in (None, "all") else int(args.tail)
    except ValueError:
        raise PlanError(
            f"invalid value for --tail: {args.tail!r}", hint="a number or all"
        ) from None
    now = time.time()
    since = None if not args.since else point_in_time(args.since, "--since", now)
    until = None if not args.until else point_in_time(args.until, "--until", now)
    containers = await session.containers(services=args.services)
    if args.index is not None:
        containers = [c for c in containers if c.number == args.index]
        if not containers:
            raise PlanError(
                f"no container #{args.index} of {', '.join(args.services) or 'any service'}"
            )
    names = [c.name.removeprefix(project + "-") for c in containers]
    printer = LogPrinter(
        session.terminal,
        names,
        prefix=not args.no_log_prefix,
        color=False if args.no_color else None,
    )
    following: set[str] = set()

    async def follow(container: ObservedContainer) -> None:
        following.add(container.id)
        await stream_logs(
            session.client,
            container,
            printer,
            follow=args.follow,
            tail=tail,
            timestamps=args.timestamps,
            since=since,
            until=until,
        )
        following.discard(container.id)

    async def follow_new_containers() -> None:
        # logs follow services, not container ids: pick up replacements and new replicas
        while True:
            await anyio.sleep(1.0)
            for container in await session.containers(all=False, services=args.services):
                if args.index is not None and container.number != args.index:
                    continue
                if container.id not in following:
                    task_group.start_soon(follow, container)

    async with anyio.create_task_group() as task_group:
        for container in containers:
            task_group.start_soon(follow, container)
        if args.follow:
            task_group.start_soon(follow_new_containers)
    return 0


async def cmd_top(session: Session, args: argparse.Namespace) -> int:
    out = session.terminal.out
    for container in await session.containers(all=False, services=args.services):
        top = await session.client.container_top(container.id)
        print(container.name, file=out)
        print_table([tuple(top.Titles), *(tuple(p) for p in top.Processes)], out)
        print(file=out)
    return 0


async def cmd_port(session: Session, args: argparse.Namespace) -> int:
    container = await session.replica(args.service, args.index, running=True)
    private, _, protocol = args.private_port.partition("/")
    inspect = await session.client.container_inspect(container.id)
    bindings = inspect.NetworkSettings.Ports.get(f"{private}/{protocol or args.protocol}") or []
    if not bindings:
        raise PlanError(
            f"no port {private}/{protocol or args.protocol} published for {args.service}"
        )
    print(f"{bindings[0].HostIp or '0.0.0.0'}:{bindings[0].HostPort}", file=session.terminal.out)
    return 0


async def cmd_events(session: Session, args: argparse.Namespace) -> int:
    """The project's container events as they happen (``--json``: one object per line);
    ``--since`` replays the engine's history from then, ``--until`` ends the stream."""
    out = session.terminal.out
    filters = {"label": [f"{labels.PROJECT}={session.project_name}"], "type": ["container"]}
    now = time.time()
    since = None if not args.since else point_in_time(args.since, "--since", now)
    until = None if not args.until else point_in_time(args.until, "--until", now)
    async for event in session.client.events(filters=filters, since=since, until=until):
        attributes = dict(event.Actor.Attributes or {})
        service = attributes.get(labels.SERVICE, "")
        if args.services and service not in args.services:
            continue
        moment = datetime.fromtimestamp(event.time or 0, UTC)
        if args.json:
            print(
                json.dumps(
                    {
                        "time": moment.isoformat(),
                        "type": "container",
                        "action": event.Action,
                        "id": event.Actor.ID,
                        "service": service,
                        "attributes": attributes,
                    }
                ),
                file=out,
                flush=True,
            )
        else:
            details = ", ".join(
                f"{k}={v}"
                for k, v in sorted(attributes.items())
                if not k.startswith("com.docker.compose.")
            )
            print(
                f"{moment.isoformat()} container {event.Action} {event.Actor.ID}"
                + (f" ({details})" if details else ""),
                file=out,
                flush=True,
            )
    return 0


async def cmd_wait(session: Session, args: argparse.Namespace) -> int:
    code = 0
    containers = await session.containers(services=args.services)
    if not containers:
        # nothing to wait for is not a success: scripts read wait's exit code as the services'
        raise PlanError(
            f"no containers for project {session.project_name!r}",
            hint="create them with `pycompose up -d`",
        )
    if args.down_project:
        return await _wait_first_then_down(session, containers)
    for container in containers:
        waited = await session.client.container_wait(container.id)
        print(waited.StatusCode, file=session.terminal.out)
        code = code or int(waited.StatusCode)
    return code


async def _wait_first_then_down(session: Session, containers: list[ObservedContainer]) -> int:
    """``wait --down-project``: as soon as one container stops, take the whole project down
    (as ``down`` would) and exit with that container's status."""
    from compose.commands.lifecycle import cmd_down

    first: list[int] = []
    async with anyio.create_task_group() as task_group:

        async def one(container: ObservedContainer) -> None:
            waited = await session.client.container_wait(container.id)
            if not first:
                first.append(int(waited.StatusCode))
                task_group.cancel_scope.cancel()

        for container in containers:
            task_group.start_soon(one, container)
    print(first[0], file=session.terminal.out)
    down = argparse.Namespace(
        services=[], volumes=False, rmi=None, remove_orphans=False, timeout=None, dry_run=False
    )
    await cmd_down(session, down)
    return first[0]


COMMANDS = {
    "logs": cmd_logs,
    "top": cmd_top,
    "port": cmd_port,
    "events": cmd_events,
    "wait": cmd_wait,
}
