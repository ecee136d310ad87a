"""The commands that act on a running project: `up`, `down`, `ps`, `logs`, `exec`, ...

Each command is an ``async def`` taking the loaded project, an Engine API client
and its parsed arguments, and returning the exit status. They follow one shape:
observe -> decide (pure: compose.reconcile) -> act (compose.apply) -> report. Output
goes to the streams given in :class:`Terminal`, so the commands can be tested.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import anyio

from compose import labels
from compose.apply import ApplyContext, ApplyError, execute, observe
from compose.errors import PlanError, PycomposeError
from compose.graph import build_graph
from compose.load import LoadResult
from compose.observed import ObservedContainer, ObservedState
from compose.output import config_dict
from compose.plan import Plan
from compose.progress import Progress
from compose.reconcile import (
    DesiredState,
    DownOptions,
    ReconcileOptions,
    desired_state,
    plan_down,
    reconcile,
)
from engine.api.client import EngineClient, ensure_engine
from engine.api.errors import EngineError, NotFound
from engine.api.models import ExecCreate

COLORS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


@dataclasses.dataclass
class Terminal:
    out: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)
    err: TextIO = dataclasses.field(default_factory=lambda: sys.stderr)
    progress: str = "auto"
    ansi: str = "auto"

    def color(self) -> bool:
        if self.ansi == "never" or os.environ.get("NO_COLOR"):
            return False
        return self.ansi == "always" or self.out.isatty()


async def connect() -> EngineClient:
    """The engine's client: ``DOCKER_HOST`` when set, else pycompose's own (started if needed)."""
    docker_host = os.environ.get("DOCKER_HOST")
    if docker_host:
        from engine.api.client import socket_from_host

        return EngineClient(socket_from_host(docker_host))
    return EngineClient(await ensure_engine())


def desired_of(result: LoadResult) -> DesiredState:
    return desired_state(
        config_dict(result.project, escape_dollars=False), build_graph(result.project, result.tree)
    )


def _context(
    result: LoadResult, desired: DesiredState, observed: ObservedState, **kw: Any
) -> ApplyContext:
    return ApplyContext(
        desired=desired,
        observed=observed,
        working_dir=str(result.working_dir),
        config_files=tuple(str(p) for p in result.files),
        **kw,
    )


def _scale(values: Iterable[str]) -> dict[str, int]:
    scale = {}
    for value in values:
        service, _, count = value.partition("=")
        if not count.isdigit():
            raise PlanError(f"invalid --scale {value!r}", hint="use --scale SERVICE=NUMBER")
        scale[service] = int(count)
    return scale


async def _run_plan(
    plan: Plan, client: EngineClient, context: ApplyContext, terminal: Terminal, title: str
) -> None:
    for warning in plan.warnings:
        print(f"WARN: {warning}", file=terminal.err)
    progress = Progress(terminal.progress, terminal.err, terminal.ansi)
    with progress.running(title):
        await execute(plan, client, context, progress)


# --- up / down / create / start / stop ---------------------------------------------------------


async def cmd_up(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    desired = desired_of(result)
    observed = await observe(client, desired)
    options = ReconcileOptions(
        services=tuple(args.services),
        no_deps=args.no_deps,
        force_recreate=args.force_recreate,
        no_recreate=args.no_recreate,
        no_start=args.no_start,
        remove_orphans=args.remove_orphans,
        scale=_scale(args.scale),
        pull=args.pull,
        build=args.build,
        no_build=args.no_build,
    )
    plan = reconcile(desired, observed, options)
    if args.dry_run:
        terminal.out.write(plan.render())
        return 0
    context = _context(
        result,
        desired,
        observed,
        stop_timeout=args.timeout,
        wait_timeout=args.wait_timeout if args.wait else None,
    )
    await _run_plan(plan, client, context, terminal, "Running")
    if args.wait:
        await _wait_ready(client, desired, options, args.wait_timeout, terminal)
    if args.detach or args.no_start or args.wait:
        return 0
    return await _attach_and_follow(result, client, desired, args, terminal)


async def _wait_ready(
    client: EngineClient,
    desired: DesiredState,
    options: ReconcileOptions,
    timeout: float | None,
    terminal: Terminal,
) -> None:
    """--wait: every container running (and healthy when it has a check), one-shots done."""
    names = [
        name
        for service in (options.services or desired.services)
        for name in _replica_names(desired, service, options.scale)
    ]
    with anyio.fail_after(timeout) if timeout else contextlib.nullcontext():
        for name in names:
            while True:
                state = (await client.container_inspect(name)).State
                if state.Health is not None:
                    if state.Health.Status == "healthy":
                        break
                    if state.Health.Status == "unhealthy":
                        raise ApplyError(f"container {name} is unhealthy")
                elif state.Running:
                    break
                if not state.Running and state.Status == "exited":
                    if state.ExitCode == 0:
                        break  # a one-shot service that completed successfully counts as done
                    raise ApplyError(f"container {name} exited ({state.ExitCode})")
                await anyio.sleep(0.5)
            print(
                f" Container {name}  Healthy" if state.Health else f" Container {name}  Running",
                file=terminal.err,
            )


def _replica_names(desired: DesiredState, service: str, scale: Mapping[str, int]) -> list[str]:
    from compose.reconcile import container_name

    spec = desired.services[service]
    count = scale.get(service, spec.replicas)
    return [container_name(desired.project, service, n, spec.config) for n in range(1, count + 1)]


async def cmd_create(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    args.no_start = True
    args.detach = True
    args.wait = False
    return await cmd_up(result, client, args, terminal)


async def cmd_down(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    desired = desired_of(result)
    observed = await observe(client, desired)
    images: list[str] = []
    if args.rmi:
        for service in desired.services.values():
            if args.rmi == "all" or not service.config.get("image"):
                images.append(service.image)
    plan = plan_down(
        observed,
        desired,
        DownOptions(
            remove_volumes=args.volumes, remove_orphans=args.remove_orphans, remove_images=args.rmi
        ),
        images=sorted(set(images)),
    )
    if args.dry_run:
        terminal.out.write(plan.render())
        return 0
    await _run_plan(
        plan,
        client,
        _context(result, desired, observed, stop_timeout=args.timeout),
        terminal,
        "Running",
    )
    return 0


async def _project_containers(
    client: EngineClient,
    project: str,
    *,
    all: bool = True,
    services: Iterable[str] = (),
    oneoff: bool = False,
) -> list[ObservedContainer]:
    from compose.apply import _container_from_summary

    summaries = await client.container_list(
        all=all, filters={"label": [f"{labels.PROJECT}={project}"]}
    )
    wanted = set(services)
    found = []
    for summary in summaries:
        container = _container_from_summary(summary)
        if container is None or (container.oneoff and not oneoff):
            continue
        if wanted and container.service not in wanted:
            continue
        found.append(container)
    return sorted(found, key=lambda c: (c.service, c.number, c.name))


async def _each(
    containers: list[ObservedContainer], action: Any, terminal: Terminal, verb: str, done: str
) -> None:
    progress = Progress(terminal.progress, terminal.err, terminal.ansi)
    from compose.apply import ProgressEvent

    async def one(container: ObservedContainer) -> None:
        progress(ProgressEvent("Container", container.name, verb))
        await action(container)
        progress(ProgressEvent("Container", container.name, done, done=True))

    with progress.running():
        async with anyio.create_task_group() as task_group:
            for container in containers:
                task_group.start_soon(one, container)


def _by_stop_order(
    desired: DesiredState, containers: list[ObservedContainer]
) -> list[list[ObservedContainer]]:
    """Containers grouped by service, dependents first."""
    order = desired.graph.stop_order()
    groups = []
    for service in order:
        group = [c for c in containers if c.service == service]
        if group:
            groups.append(group)
    others = [c for c in containers if c.service not in order]
    return ([others] if others else []) + groups


async def cmd_stop(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    desired = desired_of(result)
    containers = await _project_containers(
        client, desired.project, all=False, services=args.services
    )
    for group in _by_stop_order(desired, containers):
        await _each(
            group,
            lambda c: client.container_stop(c.id, timeout=args.timeout),
            terminal,
            "Stopping",
            "Stopped",
        )
    return 0


async def cmd_start(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    desired = desired_of(result)
    containers = await _project_containers(client, desired.project, services=args.services)
    if not containers:
        raise PlanError("no containers to start", hint="run `pycompose up` first")
    for group in reversed(_by_stop_order(desired, containers)):
        await _each(
            [c for c in group if not c.running],
            lambda c: client.container_start(c.id),
            terminal,
            "Starting",
            "Started",
        )
    return 0


# Commands that do one thing to each of the project's containers:
# name -> (running containers only, the call, progress word while doing it, when done)
PER_CONTAINER: dict[str, tuple[bool, Any, str, str]] = {
    "restart": (
        False,
        lambda client, c, args: client.container_restart(c.id, timeout=args.timeout),
        "Restarting",
        "Started",
    ),
    "kill": (
        True,
        lambda client, c, args: client.container_kill(c.id, signal=args.signal),
        "Killing",
        "Killed",
    ),
    "pause": (True, lambda client, c, args: client.container_pause(c.id), "Pausing", "Paused"),
    "unpause": (
        False,
        lambda client, c, args: client.container_unpause(c.id),
        "Unpausing",
        "Unpaused",
    ),
}


async def cmd_each(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    """restart, kill, pause, unpause: one call per container, all in parallel."""
    running_only, call, doing, done = PER_CONTAINER[args.subcommand]
    containers = await _project_containers(
        client, result.project.name, all=not running_only, services=args.services
    )
    await _each(containers, lambda c: call(client, c, args), terminal, doing, done)
    return 0


async def cmd_rm(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    desired = desired_of(result)
    containers = await _project_containers(client, desired.project, services=args.services)
    if args.stop:
        running = [c for c in containers if c.running]
        await _each(running, lambda c: client.container_stop(c.id), terminal, "Stopping", "Stopped")
        containers = await _project_containers(client, desired.project, services=args.services)
    stopped = [c for c in containers if not c.running]
    if not stopped:
        print("No stopped containers", file=terminal.err)
        return 0
    names = ", ".join(c.name for c in stopped)
    print(f"Going to remove {names}", file=terminal.err)
    if not args.force:
        # as docker compose: without -f, remove only on a yes (no answer, e.g. EOF, is a no)
        print("Are you sure? [yN] ", end="", file=terminal.err, flush=True)
        answer = await anyio.to_thread.run_sync(sys.stdin.readline)
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    await _each(
        stopped,
        lambda c: client.container_remove(c.id, volumes=args.volumes),
        terminal,
        "Removing",
        "Removed",
    )
    return 0


# --- ps / logs / top / port / images / ls ----------------------------------------------------


def _age(created: int) -> str:
    seconds = max(0, int(datetime.now(UTC).timestamp()) - created)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return f"{seconds} seconds ago"


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


async def cmd_ps(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    if args.list_services:
        for name in sorted(result.project.services):
            print(name, file=terminal.out)
        return 0
    project = result.project.name
    summaries = await client.container_list(
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
            print(summary.Id, file=terminal.out)
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
                file=terminal.out,
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
                _age(summary.Created),
                summary.Status,
                _ports_text(summary.Ports),
            )
        )
    _print_table(table, terminal.out)
    return 0


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


def _print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip(), file=out)


class _LogPrinter:
    """``service-1  | line`` with a colour per service, as docker compose prints."""

    def __init__(
        self,
        terminal: Terminal,
        names: Iterable[str],
        *,
        prefix: bool = True,
        timestamps: bool = False,
        color: bool | None = None,
    ) -> None:
        self.terminal = terminal
        self.prefix = prefix
        self.timestamps = timestamps
        self.color = terminal.color() if color is None else color
        self.width = max((len(n) for n in names), default=0)
        self.colors: dict[str, str] = {}

    def line(self, name: str, text: str) -> None:
        if not self.prefix:
            print(text, file=self.terminal.out, flush=True)
            return
        label = f"{name:<{self.width}} | "
        if self.color:
            code = self.colors.setdefault(name, COLORS[len(self.colors) % len(COLORS)])
            label = f"\x1b[{code}m{label}\x1b[0m"
        print(label + text, file=self.terminal.out, flush=True)


async def _stream_logs(
    client: EngineClient,
    container: ObservedContainer,
    printer: _LogPrinter,
    *,
    follow: bool,
    tail: int | None,
    timestamps: bool,
    since: str | None = None,
    until: str | None = None,
) -> None:
    label = container.name.removeprefix(container.labels.get(labels.PROJECT, "") + "-")
    buffers = {1: b"", 2: b""}
    try:
        async for stream, chunk in client.container_logs(
            container.id, follow=follow, tail=tail, timestamps=timestamps
        ):
            buffers[stream] = buffers.get(stream, b"") + chunk
            *lines, buffers[stream] = buffers[stream].split(b"\n")
            for raw in lines:
                printer.line(label, raw.decode(errors="replace"))
    except NotFound:
        return
    for rest in buffers.values():
        if rest:
            printer.line(label, rest.decode(errors="replace"))


async def cmd_logs(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    project = result.project.name
    tail = None if args.tail in (None, "all") else int(args.tail)
    containers = await _project_containers(client, project, services=args.services)
    names = [c.name.removeprefix(project + "-") for c in containers]
    printer = _LogPrinter(
        terminal, names, prefix=not args.no_log_prefix, color=False if args.no_color else None
    )
    following: set[str] = set()

    async def follow(container: ObservedContainer) -> None:
        following.add(container.id)
        await _stream_logs(
            client, container, printer, follow=args.follow, tail=tail, timestamps=args.timestamps
        )
        following.discard(container.id)

    async with anyio.create_task_group() as task_group:
        for container in containers:
            task_group.start_soon(follow, container)
        if args.follow:
            # logs follow services, not container ids: pick up replacements and new replicas
            task_group.start_soon(
                _follow_new_containers,
                client,
                project,
                args.services,
                following,
                follow,
                task_group,
            )
    return 0


async def _follow_new_containers(
    client: EngineClient,
    project: str,
    services: list[str],
    following: set[str],
    follow: Any,
    task_group: Any,
) -> None:
    while True:
        await anyio.sleep(1.0)
        for container in await _project_containers(client, project, all=False, services=services):
            if container.id not in following:
                task_group.start_soon(follow, container)


async def _attach_and_follow(
    result: LoadResult,
    client: EngineClient,
    desired: DesiredState,
    args: argparse.Namespace,
    terminal: Terminal,
) -> int:
    """Attached `up`: print the services' logs until they all stop, or until Ctrl-C stops them."""
    project = desired.project
    attach = set(args.attach or desired.services) - set(args.no_attach or [])
    containers = [
        c
        for c in await _project_containers(client, project, services=args.services)
        if c.service in attach
    ]
    printer = _LogPrinter(
        terminal,
        [c.name.removeprefix(project + "-") for c in containers],
        prefix=not args.no_log_prefix,
    )
    exit_code = 0
    stop_all = anyio.Event()

    async def watch(container: ObservedContainer) -> None:
        nonlocal exit_code
        await _stream_logs(
            client, container, printer, follow=True, tail=0, timestamps=args.timestamps
        )
        state = (await client.container_inspect(container.id)).State
        label = container.name.removeprefix(project + "-")
        print(f"{label} exited with code {state.ExitCode}", file=terminal.out, flush=True)
        if args.exit_code_from and container.service == args.exit_code_from:
            exit_code = state.ExitCode
        if args.abort_on_container_exit or (args.abort_on_container_failure and state.ExitCode):
            if not args.exit_code_from:
                exit_code = exit_code or state.ExitCode
            stop_all.set()

    async with anyio.create_task_group() as task_group:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    print("Gracefully stopping... (press Ctrl+C again to force)", file=terminal.err)
                    stop_all.set()
                    return

        async def watch_all() -> None:
            async with anyio.create_task_group() as watchers:
                for container in containers:
                    watchers.start_soon(watch, container)
            stop_all.set()

        task_group.start_soon(on_signal)
        task_group.start_soon(watch_all)
        await stop_all.wait()
        task_group.cancel_scope.cancel()
    with anyio.CancelScope(shield=True):
        running = await _project_containers(client, project, all=False)
        for group in _by_stop_order(desired, running):
            await _each(
                group,
                lambda c: client.container_stop(c.id, timeout=args.timeout),
                terminal,
                "Stopping",
                "Stopped",
            )
    return exit_code


async def cmd_top(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    containers = await _project_containers(
        client, result.project.name, all=False, services=args.services
    )
    for container in containers:
        top = await client.container_top(container.id)
        print(container.name, file=terminal.out)
        _print_table([tuple(top.Titles), *(tuple(p) for p in top.Processes)], terminal.out)
        print(file=terminal.out)
    return 0


async def _replica(
    client: EngineClient, project: str, service: str, index: int, *, running: bool
) -> ObservedContainer:
    """Container #``index`` of ``service`` (``--index``), running or any state."""
    for container in await _project_containers(
        client, project, all=not running, services=[service]
    ):
        if container.number == index:
            return container
    state = "running " if running else ""
    raise PlanError(
        f"service {service!r} has no {state}container #{index}",
        hint="start it with `pycompose up -d`" if running else None,
    )


async def cmd_port(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    container = await _replica(client, result.project.name, args.service, args.index, running=True)
    private, _, protocol = args.private_port.partition("/")
    inspect = await client.container_inspect(container.id)
    bindings = inspect.NetworkSettings.Ports.get(f"{private}/{protocol or args.protocol}") or []
    if not bindings:
        raise PlanError(
            f"no port {private}/{protocol or args.protocol} published for {args.service}"
        )
    print(f"{bindings[0].HostIp or '0.0.0.0'}:{bindings[0].HostPort}", file=terminal.out)
    return 0


async def cmd_images(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    containers = await _project_containers(client, result.project.name, services=args.services)
    rows = [("CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE")]
    for container in containers:
        inspect = await client.container_inspect(container.id)
        image = inspect.Config.Image or ""
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
            print(row[3], file=terminal.out)
    else:
        _print_table(rows, terminal.out)
    return 0


async def cmd_ls(client: EngineClient, args: argparse.Namespace, terminal: Terminal) -> int:
    summaries = await client.container_list(all=args.all, filters={"label": [labels.PROJECT]})
    projects: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        name = summary.Labels.get(labels.PROJECT, "")
        entry = projects.setdefault(
            name, {"states": {}, "files": summary.Labels.get(labels.CONFIG_FILES, "")}
        )
        entry["states"][summary.State] = entry["states"].get(summary.State, 0) + 1
    if args.quiet:
        for name in sorted(projects):
            print(name, file=terminal.out)
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
            file=terminal.out,
        )
        return 0
    rows = [("NAME", "STATUS", "CONFIG FILES")]
    rows += [
        (name, _state_text(entry["states"]), entry["files"])
        for name, entry in sorted(projects.items())
    ]
    _print_table(rows, terminal.out)
    return 0


def _state_text(states: Mapping[str, int]) -> str:
    return ", ".join(f"{state}({count})" for state, count in sorted(states.items()))


# --- exec / run / wait / pull ----------------------------------------------------------------


async def cmd_exec(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    container = await _replica(client, result.project.name, args.service, args.index, running=True)
    stdin = None
    if not args.detach and not args.no_stdin and not sys.stdin.isatty():
        stdin = await anyio.to_thread.run_sync(sys.stdin.buffer.read)  # piped input, sent whole
    body = ExecCreate(
        User=args.user or "",
        Privileged=args.privileged,
        Tty=False,
        AttachStdin=stdin is not None,
        Env=list(args.env) or None,
        WorkingDir=args.workdir or "",
        Cmd=list(args.command),
        Detach=args.detach,
    )
    created = await client.exec_create(container.id, body)
    if args.detach:
        await client.exec_start(created.Id)
        return 0
    for stream, chunk in await client.exec_start(created.Id, stdin=stdin):
        target = terminal.err if stream == 2 else terminal.out
        target.write(chunk.decode(errors="replace"))
        target.flush()
    return (await client.exec_inspect(created.Id)).ExitCode or 0


async def cmd_run(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    import secrets

    from compose import convert

    desired = desired_of(result)
    if args.service not in desired.services:
        raise PlanError(f"no such service: {args.service}")
    observed = await observe(client, desired)
    # the one-off container needs the service's networks, volumes and image ...
    plan = reconcile(
        desired,
        observed,
        ReconcileOptions(services=(args.service,), no_deps=True, resources_only=True),
    )
    await _run_plan(plan, client, _context(result, desired, observed), terminal, "Running")
    # ... and, unless --no-deps, the services it depends on, up and ready
    dependencies = [d for d in desired.graph.with_dependencies([args.service]) if d != args.service]
    if dependencies and not args.no_deps:
        observed = await observe(client, desired)
        plan = reconcile(desired, observed, ReconcileOptions(services=tuple(dependencies)))
        await _run_plan(plan, client, _context(result, desired, observed), terminal, "Running")
    observed = await observe(client, desired)
    service = dict(desired.services[args.service].config)
    service.pop("restart", None)  # a one-off command runs once
    if args.command:
        service["command"] = list(args.command)
    if args.entrypoint is not None:
        service["entrypoint"] = shlex.split(args.entrypoint) if args.entrypoint else None
    if args.user:
        service["user"] = args.user
    if args.workdir:
        service["working_dir"] = args.workdir
    environment = dict(service.get("environment") or {})
    for item in args.env:
        key, sep, value = item.partition("=")
        environment[key] = value if sep else os.environ.get(key)
    service["environment"] = environment
    if not args.service_ports:
        service.pop("ports", None)
    if args.publish:
        from compose.canonical import parse_port

        service["ports"] = [port for spec in args.publish for port in parse_port(spec)]
    slug = secrets.token_hex(32)
    name = args.name or f"{desired.project}-{args.service}-run-{slug[:12]}"
    images = {**observed.images}
    request = convert.container_create(
        desired.project,
        args.service,
        service,
        1,
        network_names={k: n.name for k, n in desired.networks.items()},
        volume_names={k: v.name for k, v in desired.volumes.items()},
        image_id=images.get(desired.services[args.service].image, ""),
        working_dir=str(result.working_dir),
        config_files=[str(p) for p in result.files],
        name=name,
        oneoff=True,
    )
    body = request.body
    body["Labels"][labels.SLUG] = slug
    for volume in args.volume:
        body["HostConfig"].setdefault("Binds", None)
        body["HostConfig"]["Binds"] = [*(body["HostConfig"]["Binds"] or []), volume]
    from engine.api.models import ContainerCreate, NetworkConnect

    created = await client.container_create(ContainerCreate.model_validate(body), name=name)
    for network, endpoint in request.extra_networks:
        await client.network_connect(
            network,
            NetworkConnect.model_validate({"Container": created.Id, "EndpointConfig": endpoint}),
        )
    try:
        await client.container_start(created.Id)
        if args.detach:
            print(name, file=terminal.out)
            return 0
        waited = await client.container_wait(created.Id)
        async for stream, chunk in client.container_logs(created.Id, follow=False):
            target = terminal.err if stream == 2 else terminal.out
            target.write(chunk.decode(errors="replace"))
            target.flush()
        return int(waited.StatusCode)
    finally:
        if args.rm and not args.detach:
            with anyio.CancelScope(shield=True), contextlib.suppress(EngineError):
                await client.container_remove(created.Id, force=True)


async def cmd_wait(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    containers = await _project_containers(client, result.project.name, services=args.services)
    if not containers:
        # nothing to wait for is not a success: scripts read wait's exit code as the services'
        raise PlanError(
            f"no containers for project {result.project.name!r}",
            hint="create them with `pycompose up -d`",
        )
    code = 0
    for container in containers:
        waited = await client.container_wait(container.id)
        print(waited.StatusCode, file=terminal.out)
        code = code or int(waited.StatusCode)
    return code


async def cmd_pull(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    desired = desired_of(result)
    from compose.apply import ProgressEvent

    progress = Progress(terminal.progress, terminal.err, terminal.ansi)
    wanted = [s for s in desired.services.values() if not args.services or s.name in args.services]
    failures = []
    with progress.running("Pulling"):
        for service in wanted:
            if service.config.get("build") and not service.config.get("image"):
                continue
            progress(ProgressEvent("Image", service.image, "Pulling"))
            try:
                async for message in client.image_pull(service.image):
                    if message.get("id") and message.get("status"):
                        progress(
                            ProgressEvent(
                                "Image",
                                service.image,
                                "Pulling",
                                f"{message['id']}: {message['status']}",
                            )
                        )
            except EngineError as error:
                failures.append(error)
                progress(ProgressEvent("Image", service.image, "Error", str(error), error=True))
                if not args.ignore_pull_failures:
                    raise
                continue
            progress(ProgressEvent("Image", service.image, "Pulled", done=True))
    return 1 if failures and not args.ignore_pull_failures else 0


async def cmd_build(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    """Build the images of the services that have a ``build:`` section."""
    from compose.apply import build_image

    desired = desired_of(result)
    built = 0
    for name in desired.graph.start_order():
        service = desired.services[name]
        if (args.services and name not in args.services) or not service.config.get("build"):
            continue
        build = dict(service.config["build"])
        if args.no_cache:
            build["no_cache"] = True
        if args.pull:
            build["pull"] = True
        for item in args.build_arg:
            key, sep, value = item.partition("=")
            build["args"] = {
                **(build.get("args") or {}),
                key: value if sep else os.environ.get(key),
            }
        print(f"Building {name} ({service.image})", file=terminal.err, flush=True)
        await build_image(
            client,
            service.image,
            build,
            lambda line: None if args.quiet else print(line, file=terminal.out, flush=True),
        )
        built += 1
    if not built:
        print("no service to build (none has a build: section)", file=terminal.err)
    return 0


async def cmd_events(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    """The project's container events as they happen (``--json``: one object per line)."""
    filters = {"label": [f"{labels.PROJECT}={result.project.name}"], "type": ["container"]}
    async for event in client.events(filters=filters):
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
                file=terminal.out,
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
                file=terminal.out,
                flush=True,
            )
    return 0


async def cmd_push(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    """Push the images of the services that name one."""
    from compose.apply import ProgressEvent

    desired = desired_of(result)
    progress = Progress(terminal.progress, terminal.err, terminal.ansi)
    with progress.running("Pushing"):
        for service in desired.services.values():
            if (args.services and service.name not in args.services) or not service.config.get(
                "image"
            ):
                continue
            progress(ProgressEvent("Image", service.image, "Pushing"))
            try:
                async for message in client.image_push(service.image):
                    if message.get("id") and message.get("status"):
                        progress(
                            ProgressEvent(
                                "Image",
                                service.image,
                                "Pushing",
                                f"{message['id']}: {message['status']}",
                            )
                        )
            except EngineError as error:
                if not args.ignore_push_failures:
                    raise
                progress(ProgressEvent("Image", service.image, "Error", str(error), error=True))
                continue
            progress(ProgressEvent("Image", service.image, "Pushed", done=True))
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


def _bytes_text(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.4g}{unit}"
        size /= 1024
    return f"{size:.4g}TiB"


async def cmd_stats(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    """Resource use of the project's running containers (one sample: --no-stream)."""
    while True:
        containers = await _project_containers(
            client, result.project.name, all=False, services=args.services
        )
        rows = [("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS")]
        for container in containers:
            response = await client.request(
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
                    f"{_bytes_text(usage)} / {_bytes_text(limit)}",
                    f"{usage / limit * 100:.2f}%" if limit else "0.00%",
                    str((stats.get("pids_stats") or {}).get("current", 0)),
                )
            )
        _print_table(rows, terminal.out)
        if args.no_stream:
            return 0
        await anyio.sleep(2)
        print(file=terminal.out)


async def cmd_cp(
    result: LoadResult, client: EngineClient, args: argparse.Namespace, terminal: Terminal
) -> int:
    """Copy files between a service's container and the host (tar over the archive endpoint)."""
    import io
    import tarfile
    from pathlib import Path

    def split(spec: str) -> tuple[str | None, str]:
        service, sep, path = spec.partition(":")
        if sep and service and "/" not in service:
            # SERVICE:PATH names a service, known or not (a local path with ":" starts ./)
            if service not in result.project.services:
                raise PlanError(f"no such service: {service}")
            return service, path
        return None, spec

    source_service, source = split(args.source)
    target_service, target = split(args.destination)
    if (source_service is None) == (target_service is None):
        raise PlanError(
            "copy between a service and the host: SERVICE:PATH and a local path",
            hint="e.g. pycompose cp web:/etc/hostname . or pycompose cp ./x api:/tmp/",
        )
    service = source_service or target_service
    assert service is not None
    container_id = (
        await _replica(client, result.project.name, service, args.index, running=False)
    ).id
    if source_service is not None:
        response = await client.request(
            "GET", f"/containers/{container_id}/archive", params={"path": source}
        )
        destination = Path(target)
        with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
            members = tar.getmembers()
            if destination.is_dir():
                await anyio.to_thread.run_sync(lambda: tar.extractall(destination, filter="data"))
            else:
                if len(members) != 1 or not members[0].isfile():
                    raise PlanError(f"{source} is a directory; give a directory to copy it into")
                extracted = tar.extractfile(members[0])
                assert extracted is not None
                destination.write_bytes(extracted.read())
        return 0
    local = Path(source)
    if not local.exists():
        raise PlanError(f"{local}: no such file or directory")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        name = Path(target).name if not target.endswith("/") else local.name
        await anyio.to_thread.run_sync(lambda: tar.add(local, arcname=name))
    directory = target if target.endswith("/") else str(Path(target).parent)
    await client.request(
        "PUT",
        f"/containers/{container_id}/archive",
        params={"path": directory},
        content=buffer.getvalue(),
        headers={"Content-Type": "application/x-tar"},
    )
    return 0


STACK_COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "create": cmd_create,
    "start": cmd_start,
    "stop": cmd_stop,
    "restart": cmd_each,
    "kill": cmd_each,
    "pause": cmd_each,
    "unpause": cmd_each,
    "rm": cmd_rm,
    "ps": cmd_ps,
    "logs": cmd_logs,
    "top": cmd_top,
    "port": cmd_port,
    "images": cmd_images,
    "exec": cmd_exec,
    "run": cmd_run,
    "wait": cmd_wait,
    "pull": cmd_pull,
    "events": cmd_events,
    "push": cmd_push,
    "stats": cmd_stats,
    "cp": cmd_cp,
    "build": cmd_build,
}


async def run_stack_command(
    result: LoadResult, args: argparse.Namespace, terminal: Terminal
) -> int:
    """Connect to the engine and run one of :data:`STACK_COMMANDS`."""
    async with await connect() as client:
        return int(await STACK_COMMANDS[args.subcommand](result, client, args, terminal))


async def run_ls(args: argparse.Namespace, terminal: Terminal) -> int:
    async with await connect() as client:
        return await cmd_ls(client, args, terminal)


async def engine_version(terminal: Terminal) -> str | None:
    """The engine's version line for `pycompose version`, or None when none answers."""
    docker_host = os.environ.get("DOCKER_HOST")
    from engine.api.client import socket_from_host

    socket_path = socket_from_host(docker_host) if docker_host else socket_from_host()
    if not os.path.exists(socket_path):
        return None
    try:
        async with EngineClient(socket_path) as client:
            version = await client.version()
    except EngineError:
        return None
    name = (version.Platform or {}).get("Name") or "engine"
    return f"{name} {version.Version} (API {version.ApiVersion}) at {socket_path}"


def engine_errors(error: BaseException) -> list[PycomposeError]:
    """The pycompose errors inside a (possibly grouped) failure; others are re-raised."""
    from compose.apply import failures

    found = []
    for leaf in failures(error):
        if isinstance(leaf, PycomposeError):
            found.append(leaf)
        elif isinstance(leaf, TimeoutError):
            found.append(
                ApplyError("timed out waiting for the services", hint="raise --wait-timeout")
            )
        else:
            raise leaf
    return found
