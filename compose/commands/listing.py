"""The listings: ps, images, ls, stats, volumes, each as a table, JSON or a Go template.

Rows are built once as mappings with docker compose's field names, so that ``--format
json`` and ``--format '{{.Name}}'`` (:mod:`compose.gotemplate`) show the same values.
``ps`` prints with :mod:`compose.commands.ps_view`, which usually answers it before a
session is opened.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from compose import labels
from compose.commands.docker_format import emit
from compose.commands.ps_view import list_query, show_ps
from compose.commands.session import Session
from compose.errors import PlanError
from compose.units import size_text
from engine.api.errors import NotFound


async def cmd_ps(session: Session, args: argparse.Namespace) -> int:
    """``ps`` when :func:`compose.commands.ps_view.quick_ps` could not: through the client."""
    every, filters = list_query(session.project_name, args)
    data = await session.client.container_list_json(all=every, filters=filters)
    declared = set(session.loaded.project.services)
    return show_ps(data, session.project_name, declared, args, session.terminal.out)


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
