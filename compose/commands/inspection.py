"""The inspection commands: ps, logs, top, port, images, ls, events, stats, wait.

They read what the engine has (containers, logs, events, stats) and print it as docker
compose does; none of them changes anything (``wait`` only waits).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio

from compose import labels
from compose.commands.session import Session
from compose.commands.terminal import LogPrinter, age, print_table
from compose.errors import PlanError
from compose.observed import ObservedContainer
from compose.units import parse_duration, size_text
from engine.api.client import EngineClient
from engine.api.errors import NotFound, Unsupported


def _ports_text(ports: list[Any]) -> str:
    parts = []
    for port in ports:
        if port.PublicPort:
            parts.append(
                f"{port.IP or '0.0.0.0'}:{port.PublicPort}->{port.PrivatePort}/{port.Type}"
            )
        else:
            parts.append(f"{port.PrivatePort}/{port.Type}")
    return ", ".join(sorted(set(parts)))


def _health_word(status: str) -> str:
    for word in ("healthy", "unhealthy", "starting"):
        if f"({word})" in status or f"health: {word}" in status:
            return word
    return ""


def _exit_code(status: str) -> int:
    if status.startswith("Exited (") and ")" in status:
        code = status[len("Exited (") : status.index(")")]
        return int(code) if code.lstrip("-").isdigit() else 0
    return 0


async def cmd_ps(session: Session, args: argparse.Namespace) -> int:
    out = session.terminal.out
    if args.list_services:
        for name in sorted(session.loaded.project.services):
            print(name, file=out)
        return 0
    project = session.project_name
    summaries = await session.client.container_list(
        all=args.all or bool(args.status), filters={"label": [f"{labels.PROJECT}={project}"]}
    )
    filters: dict[str, str] = {}
    for item in args.filter:
        key, _, value = item.partition("=")
        filters[key] = value
    statuses = set(args.status) | ({filters["status"]} if "status" in filters else set())
    rows = []
    for summary in summaries:
        service = summary.Labels.get(labels.SERVICE, "")
        if args.services and service not in args.services:
            continue
        if statuses and summary.State not in statuses:
            continue
        if labels.is_true(summary.Labels.get(labels.ONEOFF)) and not args.all:
            continue
        rows.append(summary)
    rows.sort(key=lambda s: (s.Labels.get(labels.SERVICE, ""), s.Names[0] if s.Names else ""))
    if args.quiet:
        for summary in rows:
            print(summary.Id, file=out)
        return 0
    if args.format == "json":
        for summary in rows:
            print(
                json.dumps(
                    {
                        "ID": summary.Id,
                        "Name": summary.Names[0].lstrip("/") if summary.Names else "",
                        "Image": summary.Image,
                        "Command": summary.Command,
                        "Project": project,
                        "Service": summary.Labels.get(labels.SERVICE, ""),
                        "State": summary.State,
                        "Status": summary.Status,
                        "Health": _health_word(summary.Status),
                        "ExitCode": _exit_code(summary.Status),
                        "Labels": summary.Labels,
                        "Publishers": [
                            {
                                "URL": p.IP or "",
                                "TargetPort": p.PrivatePort,
                                "PublishedPort": p.PublicPort or 0,
                                "Protocol": p.Type,
                            }
                            for p in summary.Ports
                        ],
                        "CreatedAt": datetime.fromtimestamp(summary.Created, UTC).isoformat(),
                    }
                ),
                file=out,
            )
        return 0
    table = [("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS")]
    for summary in rows:
        command = summary.Command if len(summary.Command) <= 22 else summary.Command[:21] + "…"
        table.append(
            (
                summary.Names[0].lstrip("/") if summary.Names else summary.Id[:12],
                summary.Image,
                f'"{command}"',
                summary.Labels.get(labels.SERVICE, ""),
                age(summary.Created),
                summary.Status,
                _ports_text(summary.Ports),
            )
        )
    print_table(table, out)
    return 0


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


async def cmd_images(session: Session, args: argparse.Namespace) -> int:
    client = session.client
    rows = [("CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE")]
    for container in await session.containers(services=args.services):
        inspect = await client.container_inspect(container.id)
        image = inspect.Config.image or ""
        repository, _, tag = (
            image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        )
        try:
            size = (await client.image_inspect(inspect.Image)).Size
        except NotFound:
            size = 0
        rows.append(
            (
                container.name,
                repository,
                tag or "latest",
                inspect.Image.removeprefix("sha256:")[:12],
                f"{size / 1e6:.3g}MB",
            )
        )
    if args.quiet:
        for row in rows[1:]:
            print(row[3], file=session.terminal.out)
    else:
        print_table(rows, session.terminal.out)
    return 0


def _state_text(states: Mapping[str, int]) -> str:
    return ", ".join(f"{state}({count})" for state, count in sorted(states.items()))


async def cmd_ls(session: Session, args: argparse.Namespace) -> int:
    """The projects that have containers on the engine (no compose file needed)."""
    out = session.terminal.out
    summaries = await session.client.container_list(
        all=args.all, filters={"label": [labels.PROJECT]}
    )
    projects: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        name = summary.Labels.get(labels.PROJECT, "")
        entry = projects.setdefault(
            name, {"states": {}, "files": summary.Labels.get(labels.CONFIG_FILES, "")}
        )
        entry["states"][summary.State] = entry["states"].get(summary.State, 0) + 1
    if args.quiet:
        for name in sorted(projects):
            print(name, file=out)
        return 0
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "Name": name,
                        "Status": _state_text(entry["states"]),
                        "ConfigFiles": entry["files"],
                    }
                    for name, entry in sorted(projects.items())
                ]
            ),
            file=out,
        )
        return 0
    rows = [("NAME", "STATUS", "CONFIG FILES")]
    rows += [
        (name, _state_text(entry["states"]), entry["files"])
        for name, entry in sorted(projects.items())
    ]
    print_table(rows, out)
    return 0


async def cmd_events(session: Session, args: argparse.Namespace) -> int:
    """The project's container events as they happen (``--json``: one object per line)."""
    out = session.terminal.out
    filters = {"label": [f"{labels.PROJECT}={session.project_name}"], "type": ["container"]}
    async for event in session.client.events(filters=filters):
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


def _cpu_percent(stats: Mapping[str, Any]) -> float:
    """docker stats' CPU %: the container's share of the host's CPU time since the last sample."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get(
        "total_usage", 0
    )
    system = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    cpus = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    return (used / system) * cpus * 100.0 if system > 0 and used > 0 else 0.0


async def cmd_stats(session: Session, args: argparse.Namespace) -> int:
    """Resource use of the project's running containers (one sample: --no-stream)."""
    out = session.terminal.out
    while True:
        containers = await session.containers(all=False, services=args.services)
        rows = [("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS")]
        for container in containers:
            response = await session.client.request(
                "GET", f"/containers/{container.id}/stats", params={"stream": "0"}
            )
            stats = response.json()
            memory = stats.get("memory_stats") or {}
            usage, limit = memory.get("usage") or 0, memory.get("limit") or 0
            rows.append(
                (
                    container.id[:12],
                    container.name,
                    f"{_cpu_percent(stats):.2f}%",
                    f"{size_text(usage, binary=True)} / {size_text(limit, binary=True)}",
                    f"{usage / limit * 100:.2f}%" if limit else "0.00%",
                    str((stats.get("pids_stats") or {}).get("current", 0)),
                )
            )
        print_table(rows, out)
        if args.no_stream:
            return 0
        await anyio.sleep(2)
        print(file=out)


async def cmd_wait(session: Session, args: argparse.Namespace) -> int:
    code = 0
    containers = await session.containers(services=args.services)
    if not containers:
        # nothing to wait for is not a success: scripts read wait's exit code as the services'
        raise PlanError(
            f"no containers for project {session.project_name!r}",
            hint="create them with `pycompose up -d`",
        )
    for container in containers:
        waited = await session.client.container_wait(container.id)
        print(waited.StatusCode, file=session.terminal.out)
        code = code or int(waited.StatusCode)
    return code


COMMANDS = {
    "ps": cmd_ps,
    "logs": cmd_logs,
    "top": cmd_top,
    "port": cmd_port,
    "images": cmd_images,
    "ls": cmd_ls,
    "events": cmd_events,
    "stats": cmd_stats,
    "wait": cmd_wait,
}
