"""The listings: ps, images, ls, stats, volumes, each as a table, JSON or a Go template.

Rows are built once as mappings with docker compose's field names, so that ``--format
json`` and ``--format '{{.Name}}'`` (:mod:`compose.gotemplate`) show the same values.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import anyio

from compose import labels
from compose.commands.session import Session
from compose.commands.terminal import age, print_table
from compose.errors import PlanError
from compose.units import size_text
from engine.api.errors import NotFound


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


def emit(
    format_: str,
    rows: Sequence[Mapping[str, Any]],
    table: Sequence[Sequence[str]],
    out: TextIO,
    *,
    titles: Mapping[str, str] | None = None,
    json_lines: bool = True,
) -> None:
    """``rows`` as ``--format`` asks: ``table`` (the given cells), ``json`` (one object per
    line, or one array), or a Go template."""
    if format_ == "table":
        print_table(table, out)
    elif format_ == "json":
        plain = [{k: v for k, v in row.items() if not callable(v)} for row in rows]
        if json_lines:
            for row in plain:
                print(json.dumps(row), file=out)
        else:
            print(json.dumps(plain), file=out)
    else:
        from compose.gotemplate import render_rows  # a Go template only

        for line in render_rows(format_, rows, titles):
            print(line, file=out)


PS_TITLES = {"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"}


async def cmd_ps(session: Session, args: argparse.Namespace) -> int:
    out = session.terminal.out
    project = session.project_name
    summaries = await session.client.container_list(
        all=args.all or bool(args.status), filters={"label": [f"{labels.PROJECT}={project}"]}
    )
    filters: dict[str, str] = {}
    for item in args.filter:
        key, _, value = item.partition("=")
        filters[key] = value
    statuses = set(args.status) | ({filters["status"]} if "status" in filters else set())
    declared = set(session.loaded.project.services)
    rows = []
    for summary in summaries:
        service = summary.Labels.get(labels.SERVICE, "")
        if args.services and service not in args.services:
            continue
        if statuses and summary.State not in statuses:
            continue
        if labels.is_true(summary.Labels.get(labels.ONEOFF)) and not args.all:
            continue
        if not args.orphans and service not in declared:
            continue
        rows.append(summary)
    rows.sort(key=lambda s: (s.Labels.get(labels.SERVICE, ""), s.Names[0] if s.Names else ""))
    if args.list_services:
        # the services of the containers, as docker compose: a running container of a
        # profile not enabled in this call is listed too
        found = dict.fromkeys(summary.Labels.get(labels.SERVICE, "") for summary in rows)
        print("\n".join(found), file=out)
        return 0
    if args.quiet:
        if rows:
            print("\n".join(summary.Id for summary in rows), file=out)
        return 0
    table = [("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS")]
    if args.format == "table":  # the cells alone: ps of a large project prints hundreds
        now = int(datetime.now(UTC).timestamp())
        for summary in rows:
            command = summary.Command
            if not args.no_trunc and len(command) > 22:
                command = command[:21] + "…"
            table.append(
                (
                    (summary.Names[0].lstrip("/") if summary.Names else "") or summary.Id[:12],
                    summary.Image,
                    f'"{command}"',
                    summary.Labels.get(labels.SERVICE, ""),
                    age(summary.Created, now),
                    summary.Status,
                    _ports_text(summary.Ports),
                )
            )
        print_table(table, out)
        return 0
    records = [_ps_record(summary, project, args) for summary in rows]
    emit(args.format, records, table, out, titles=PS_TITLES)
    return 0


def _ps_record(summary: Any, project: str, args: argparse.Namespace) -> dict[str, Any]:
    """A container as ``ps --format json`` and Go templates see it (docker compose's names)."""
    name = summary.Names[0].lstrip("/") if summary.Names else ""
    record: dict[str, Any] = {
        "ID": summary.Id if args.no_trunc else summary.Id[:12],
        "Name": name,
        "Image": summary.Image,
        "Command": summary.Command,
        "Project": project,
        "Service": summary.Labels.get(labels.SERVICE, ""),
        "State": summary.State,
        "Status": summary.Status,
        "Health": _health_word(summary.Status),
        "ExitCode": _exit_code(summary.Status),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(summary.Labels.items())),
        "Ports": _ports_text(summary.Ports),
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
        "RunningFor": age(summary.Created),
        "Label": lambda key, labels_=summary.Labels: labels_.get(key, ""),
    }
    if args.format == "json":
        record["ID"] = summary.Id
        record["Labels"] = summary.Labels
    return record


async def cmd_images(session: Session, args: argparse.Namespace) -> int:
    client = session.client
    records: list[dict[str, Any]] = []
    table = [("CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE")]
    for container in await session.containers(services=args.services):
        inspect = await client.container_inspect(container.id)
        image = inspect.Config.image or ""
        repository, _, tag = (
            image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        )
        try:
            details = await client.image_inspect(inspect.Image)
            size, created = details.Size, details.Created
        except NotFound:
            size, created = 0, ""
        records.append(
            {
                "ID": inspect.Image,
                "ContainerName": container.name,
                "Repository": repository,
                "Tag": tag or "latest",
                "Size": size,
                "Created": created,
            }
        )
        table.append(
            (
                container.name,
                repository,
                tag or "latest",
                inspect.Image.removeprefix("sha256:")[:12],
                f"{size / 1e6:.3g}MB",
            )
        )
    if args.quiet:
        for row in table[1:]:
            print(row[3], file=session.terminal.out)
        return 0
    emit(args.format, records, table, session.terminal.out, json_lines=False)
    return 0


def _state_text(states: Mapping[str, int]) -> str:
    return ", ".join(f"{state}({count})" for state, count in sorted(states.items()))


def _ls_filters(values: Sequence[str]) -> list[re.Pattern[str]]:
    patterns = []
    for value in values:
        key, _, wanted = value.partition("=")
        if key != "name":
            raise PlanError(f"invalid filter {key!r} for ls", hint="the filter is name=PATTERN")
        try:
            patterns.append(re.compile(wanted))
        except re.error as error:
            raise PlanError(f"invalid ls --filter name={wanted!r}: {error}") from None
    return patterns


async def cmd_ls(session: Session, args: argparse.Namespace) -> int:
    """The projects that have containers on the engine (no compose file needed)."""
    out = session.terminal.out
    patterns = _ls_filters(args.filter)
    summaries = await session.client.container_list(
        all=args.all, filters={"label": [labels.PROJECT]}
    )
    projects: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        name = summary.Labels.get(labels.PROJECT, "")
        if not all(p.search(name) for p in patterns):
            continue
        entry = projects.setdefault(
            name, {"states": {}, "files": summary.Labels.get(labels.CONFIG_FILES, "")}
        )
        entry["states"][summary.State] = entry["states"].get(summary.State, 0) + 1
    if args.quiet:
        for name in sorted(projects):
            print(name, file=out)
        return 0
    records = [
        {"Name": name, "Status": _state_text(entry["states"]), "ConfigFiles": entry["files"]}
        for name, entry in sorted(projects.items())
    ]
    table = [("NAME", "STATUS", "CONFIG FILES")]
    table += [(r["Name"], r["Status"], r["ConfigFiles"]) for r in records]
    emit(args.format, records, table, out, json_lines=False)
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


STATS_TITLES = {"ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT"}
STATS_TITLES |= {"MemPerc": "MEM %", "PIDs": "PIDS", "Container": "CONTAINER"}


async def cmd_stats(session: Session, args: argparse.Namespace) -> int:
    """Resource use of the project's containers (running ones, all with -a; one sample:
    --no-stream)."""
    out = session.terminal.out
    while True:
        containers = await session.containers(all=args.all, services=args.services)
        records = []
        table = [("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS")]
        for container in containers:
            if container.running:
                response = await session.client.request(
                    "GET", f"/containers/{container.id}/stats", params={"stream": "0"}
                )
                stats = response.json()
            else:
                stats = {}
            memory = stats.get("memory_stats") or {}
            usage, limit = memory.get("usage") or 0, memory.get("limit") or 0
            record = {
                "ID": container.id if args.no_trunc else container.id[:12],
                "Container": container.id if args.no_trunc else container.id[:12],
                "Name": container.name,
                "CPUPerc": f"{_cpu_percent(stats):.2f}%",
                "MemUsage": f"{size_text(usage, binary=True)} / {size_text(limit, binary=True)}",
                "MemPerc": f"{usage / limit * 100:.2f}%" if limit else "0.00%",
                "PIDs": str((stats.get("pids_stats") or {}).get("current", 0)),
            }
            records.append(record)
            table.append(
                (
                    record["ID"],
                    record["Name"],
                    record["CPUPerc"],
                    record["MemUsage"],
                    record["MemPerc"],
                    record["PIDs"],
                )
            )
        emit(args.format, records, table, out, titles=STATS_TITLES)
        if args.no_stream:
            return 0
        await anyio.sleep(2)
        print(file=out)


async def cmd_volumes(session: Session, args: argparse.Namespace) -> int:
    """The project's volumes (those the named services mount, when services are given)."""
    client, out = session.client, session.terminal.out
    found = await client.volume_list(
        filters={"label": [f"{labels.PROJECT}={session.project_name}"]}
    )
    volumes = sorted(found.Volumes, key=lambda v: v.Name)
    if args.services:
        mounted = set()
        for container in await session.containers(services=args.services):
            inspect = await client.container_inspect(container.id)
            mounted |= {m.Name for m in inspect.Mounts if m.Type == "volume" and m.Name}
        volumes = [v for v in volumes if v.Name in mounted]
    if args.quiet:
        for volume in volumes:
            print(volume.Name, file=out)
        return 0
    records = [
        {
            "Name": v.Name,
            "Driver": v.Driver,
            "Mountpoint": v.Mountpoint,
            "Scope": v.Scope,
            "Labels": ",".join(f"{k}={x}" for k, x in sorted((v.Labels or {}).items())),
            "CreatedAt": v.CreatedAt,
        }
        for v in volumes
    ]
    table = [("DRIVER", "VOLUME NAME")] + [(v.Driver, v.Name) for v in volumes]
    emit(args.format, records, table, out, titles={"Name": "VOLUME NAME"})
    return 0


COMMANDS = {
    "ps": cmd_ps,
    "images": cmd_images,
    "ls": cmd_ls,
    "stats": cmd_stats,
    "volumes": cmd_volumes,
}
