"""``ps``: the project's containers from the engine's JSON list, as docker compose prints them.

``ps`` is the command run most often and does the least: it reads one list. So the list is
read as plain JSON (no model per container) and, when the engine answers at once, with one
request of the standard library's (:func:`quick_ps`, no HTTP client, no event loop and no
version negotiation first); otherwise :func:`compose.commands.listing.cmd_ps` asks through
the session's client, which starts the engine or reports the error. Both print with
:func:`show_ps`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from compose import labels
from compose.commands.docker_format import (
    Published,
    displayable_ports,
    ellipsis,
    emit,
    go_json,
    go_quote,
    go_time,
    tab_table,
)
from compose.commands.terminal import Terminal
from compose.errors import PlanError
from engine.api.address import get_json, socket_from_host
from engine.api.errors import EngineError
from engine.api.units import human_duration

if TYPE_CHECKING:
    from compose.load import LoadResult

ANSWER_TIMEOUT = 10.0
"""Seconds the engine may take for the whole answer to :func:`quick_ps`'s request before the
full client's path is taken instead (that one waits as long as it takes)."""
MAX_LIST = 64 * 1024 * 1024
"""A longer answer (some 40,000 containers) is read by the full client instead: the quick
path holds at most this much."""

PS_TITLES = {"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"}


@dataclass(slots=True)
class PortEntry:
    ip: str | None
    private: int
    public: int | None
    protocol: str


@dataclass(slots=True)
class Summary:
    """The fields ``ps`` shows of one element of ``GET /containers/json``."""

    id: str
    names: list[str]
    image: str
    command: str
    created: int
    ports: list[PortEntry]
    labels: dict[str, str]
    state: str
    status: str
    mounts: list[tuple[str, str]]  # (the volume's name or the bind's source, its driver)
    networks: list[str]

    @property
    def service(self) -> str:
        return self.labels.get(labels.SERVICE, "")

    @property
    def name(self) -> str:
        return self.names[0].lstrip("/") if self.names else ""


def _malformed(what: str) -> EngineError:
    return EngineError(f"the engine's container list is malformed: {what}")


def _text(item: Mapping[str, Any], key: str, default: str) -> str:
    value = item.get(key)
    if value is None:  # Go writes an empty value as null
        return default
    if not isinstance(value, str):
        raise _malformed(f"{key} is not a string")
    return value


def _number(item: Mapping[str, Any], key: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise _malformed(f"{key} is not an integer")
    return value


def _port(item: Any) -> PortEntry:
    if not isinstance(item, dict):
        raise _malformed("a port is not an object")
    private = _number(item, "PrivatePort")
    if private is None:
        raise _malformed("a port has no PrivatePort")
    ip = item.get("IP")
    if ip is not None and not isinstance(ip, str):
        raise _malformed("IP is not a string")
    return PortEntry(ip, private, _number(item, "PublicPort"), _text(item, "Type", "tcp"))


def summary(item: Any) -> Summary:
    """One list element, checked: the engine's answer is data from another process."""
    if not isinstance(item, dict):
        raise _malformed("an element is not an object")
    names = item.get("Names") or []
    ports = item.get("Ports") or []
    found = item.get("Labels") or {}
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _malformed("Names is not a list of strings")
    if not isinstance(ports, list):
        raise _malformed("Ports is not a list")
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise _malformed("Labels is not a map of strings")
    ident = item.get("Id")
    if not isinstance(ident, str):
        raise _malformed("Id is not a string")
    mounts = item.get("Mounts") or []
    if not isinstance(mounts, list) or not all(isinstance(m, dict) for m in mounts):
        raise _malformed("Mounts is not a list of objects")
    settings = item.get("NetworkSettings") or {}
    networks = settings.get("Networks") if isinstance(settings, dict) else None
    if not isinstance(networks or {}, dict):
        raise _malformed("NetworkSettings.Networks is not an object")
    return Summary(
        id=ident,
        names=names,
        image=_text(item, "Image", ""),
        command=_text(item, "Command", ""),
        created=_number(item, "Created") or 0,
        ports=[_port(port) for port in ports],
        labels=found,
        state=_text(item, "State", "created"),
        status=_text(item, "Status", ""),
        mounts=[
            (_text(m, "Name", "") or _text(m, "Source", ""), _text(m, "Driver", "")) for m in mounts
        ],
        networks=sorted(networks or {}),
    )


def list_query(project: str, args: argparse.Namespace) -> tuple[bool, dict[str, list[str]]]:
    """``all`` and the filters of ps's ``GET /containers/json``: a status asked for (``--status``
    or ``--filter status=``) lists stopped containers too, as docker compose."""
    for item in args.filter:
        key, equals, _ = item.partition("=")
        if not equals:
            raise PlanError("arguments to --filter should be in form KEY=VAL", hint=f"not {item!r}")
        if key != "status":
            raise PlanError(f"unknown filter {key}", hint="ps filters by status=STATE only")
    by_status = bool(args.status) or bool(args.filter)
    return args.all or by_status, {"label": [f"{labels.PROJECT}={project}"]}


def quick_ps(loaded: LoadResult, args: argparse.Namespace, terminal: Terminal) -> int | None:
    """``ps`` with one request of the standard library's, or None: the engine did not answer
    it at once (not running, an error, an older API, an address only the full client
    reports on), and the full client's path is next."""
    docker_host = os.environ.get("DOCKER_HOST")  # as compose.commands.session.connect
    try:
        socket_path = socket_from_host(docker_host or None)
    except EngineError:
        return None
    every, filters = list_query(loaded.project.name, args)
    encoded = {key: dict.fromkeys(values, True) for key, values in filters.items()}
    # as engine.api.models.encode_filters writes them (the engine caches lists by query)
    params = {"filters": json.dumps(encoded, separators=(",", ":"))}
    if every:
        params["all"] = "1"
    data = get_json(socket_path, "/containers/json", params, timeout=ANSWER_TIMEOUT, limit=MAX_LIST)
    if not isinstance(data, list):
        return None
    return show_ps(data, loaded.project.name, set(loaded.project.services), args, terminal.out)


def show_ps(
    data: Sequence[Any],
    project: str,
    declared: set[str],
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    """Print the project's containers in ``data`` (the engine's list) as ``args`` ask."""
    filters: dict[str, str] = {}
    for item in args.filter:
        key, _, value = item.partition("=")
        filters[key] = value
    statuses = set(args.status) | ({filters["status"]} if "status" in filters else set())
    rows = []
    for item in data:
        container = summary(item)
        service = container.service
        if args.services and service not in args.services:
            continue
        if statuses and container.state not in statuses:
            continue
        if labels.is_true(container.labels.get(labels.ONEOFF)) and not args.all:
            continue
        if not args.orphans and service not in declared:
            continue
        rows.append(container)
    rows.sort(key=lambda c: (c.service, c.names[0] if c.names else ""))
    if args.list_services:
        # the services of the containers, as docker compose: a running container of a
        # profile not enabled in this call is listed too
        print("\n".join(dict.fromkeys(container.service for container in rows)), file=out)
        return 0
    if args.quiet:
        if rows:
            print("\n".join(container.id for container in rows), file=out)
        return 0
    table = [("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS")]
    if args.format == "table":  # the cells alone: ps of a large project prints hundreds
        now = time.time()
        for container in rows:
            table.append(
                (
                    container.name or container.id[:12],
                    container.image,
                    command_text(container.command, args.no_trunc),
                    container.service,
                    running_for(container.created, now),
                    container.status,
                    ports_text(container.ports),
                )
            )
        tab_table(table, out)
        return 0
    records = [_ps_record(container, project, args) for container in rows]
    if args.format == "json":  # docker compose's: its context's fields, as Go encodes a map
        for record in records:
            fields = {key: record[key] for key in sorted(record) if not callable(record[key])}
            print(go_json(fields), file=out)
        return 0
    emit(args.format, records, table, out, titles=PS_TITLES)
    return 0


def command_text(command: str, no_trunc: bool) -> str:
    """The COMMAND cell: quoted as Go quotes, cut to 20 columns unless ``--no-trunc``."""
    return go_quote(command if no_trunc else ellipsis(command, 20))


def running_for(created: int, now: float | None = None) -> str:
    """The CREATED cell: ``3 seconds ago``, ``About a minute ago``."""
    return human_duration((time.time() if now is None else now) - created) + " ago"


def ports_text(ports: list[PortEntry]) -> str:
    return displayable_ports(
        Published(port.ip or "", port.private, port.public or 0, port.protocol) for port in ports
    )


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


def _ps_record(container: Summary, project: str, args: argparse.Namespace) -> dict[str, Any]:
    """A container as docker compose's ``ps`` context shows it to ``--format json`` and Go
    templates (cells cut as in the table unless ``--no-trunc``)."""
    trunc = not args.no_trunc
    return {
        "Command": command_text(container.command, args.no_trunc),
        "CreatedAt": go_time(container.created),
        "ExitCode": _exit_code(container.status),
        "Health": _health_word(container.status),
        "ID": container.id[:12] if trunc else container.id,
        "Image": container.image,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(container.labels.items())),
        "LocalVolumes": str(sum(driver == "local" for _, driver in container.mounts)),
        "Mounts": ",".join(ellipsis(name, 15) if trunc else name for name, _ in container.mounts),
        "Name": container.name,
        "Names": container.name,
        "Networks": ",".join(container.networks),
        "Ports": ports_text(container.ports),
        "Project": project,
        "Publishers": [
            {
                "URL": p.ip or "",
                "TargetPort": p.private,
                "PublishedPort": p.public or 0,
                "Protocol": p.protocol,
            }
            for p in sorted(container.ports, key=lambda p: p.private)  # as docker compose
        ],
        "RunningFor": running_for(container.created),
        "Service": container.service,
        "Size": "0B",  # the engine is not asked for sizes, as docker compose's ps does not
        "State": container.state,
        "Status": container.status,
        "Label": lambda key, labels_=container.labels: labels_.get(key, ""),
    }
