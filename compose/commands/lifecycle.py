"""The lifecycle commands: up, create, down, start, stop, restart, kill, pause, unpause, rm.

``up``, ``create`` and ``down`` observe the engine, decide (pure: :mod:`compose.reconcile`)
and act (:mod:`compose.apply`); the others make one call per container.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

import anyio

from compose.apply import ApplyError
from compose.commands.session import Session
from compose.desired import DesiredState, container_name
from compose.errors import PlanError
from compose.reconcile import DownOptions, ReconcileOptions, plan_down, reconcile
from engine.api.client import EngineClient


def parse_scale(values: Iterable[str]) -> dict[str, int]:
    """``--scale SERVICE=NUM`` options as a mapping."""
    scale = {}
    for value in values:
        service, _, count = value.partition("=")
        if not count.isdigit():
            raise PlanError(f"invalid --scale {value!r}", hint="use --scale SERVICE=NUMBER")
        scale[service] = int(count)
    return scale


def _dependencies_of(session: Session, services: Iterable[str]) -> tuple[str, ...]:
    """What ``services`` need, transitively, without themselves."""
    wanted = list(services) or list(session.desired.services)
    return tuple(s for s in session.desired.graph.with_dependencies(wanted) if s not in set(wanted))


async def cmd_up(session: Session, args: argparse.Namespace) -> int:
    desired = session.desired
    if args.always_recreate_deps and args.no_recreate:
        raise PlanError("--always-recreate-deps and --no-recreate are incompatible")
    if args.quiet_pull or getattr(args, "quiet_build", False):
        # the plan's one progress display shows pulls, builds and containers together
        session.terminal.progress = "quiet"
    observed = await session.observe()
    options = ReconcileOptions(
        services=tuple(args.services),
        no_deps=args.no_deps,
        force_recreate=args.force_recreate,
        no_recreate=args.no_recreate,
        no_start=args.no_start,
        remove_orphans=args.remove_orphans,
        scale=parse_scale(args.scale),
        pull=args.pull,
        build=args.build,
        no_build=args.no_build,
        recreate=_dependencies_of(session, args.services) if args.always_recreate_deps else (),
    )
    _check_up_flags(desired, args)
    plan = reconcile(desired, observed, options)
    if args.dry_run:
        session.terminal.out.write(plan.render())
        return 0
    if getattr(args, "watch", False):
        from compose.commands import watch

        watch.check_up_watch(session, args)  # refused before anything is made
    since = time.time()  # attached, the output from here on is shown
    await session.run_plan(
        plan,
        observed,
        stop_timeout=args.timeout,
        wait_timeout=args.wait_timeout if args.wait else None,
    )
    if args.wait:
        await _wait_ready(session, options, args.wait_timeout)
    if getattr(args, "watch", False):
        from compose.commands import watch

        if args.detach or args.wait:
            return watch.start_detached(session, args, list(args.services))
        return await watch.up_and_watch(session, args)
    if args.detach or args.no_start or args.wait:
        return 0
    return await _attach_and_follow(session, args, since)


async def cmd_create(session: Session, args: argparse.Namespace) -> int:
    args.always_recreate_deps = False
    args.no_start = True
    args.detach = True
    args.wait = False
    return await cmd_up(session, args)


def _replica_names(desired: DesiredState, service: str, scale: Mapping[str, int]) -> list[str]:
    spec = desired.services[service]
    count = scale.get(service, spec.replicas)
    return [container_name(desired.project, service, n, spec.config) for n in range(1, count + 1)]


async def _wait_ready(session: Session, options: ReconcileOptions, timeout: float | None) -> None:
    """--wait: every container running (and healthy when it has a check), one-shots done."""
    desired = session.desired
    names = [
        name
        for service in (options.services or desired.services)
        for name in _replica_names(desired, service, options.scale)
    ]
    with anyio.fail_after(timeout) if timeout else contextlib.nullcontext():
        for name in names:
            while True:
                state = (await session.client.container_inspect(name)).State
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
                file=session.terminal.err,
            )


async def _attach_and_follow(session: Session, args: argparse.Namespace, since: float) -> int:
    """Attached ``up``: the services' output until they end or are stopped (attached.py)."""
    from compose.commands.attached import AttachedUp, AttachOptions  # `up` without -d

    desired = session.desired
    options = AttachOptions(
        services=frozenset(_attached_services(desired, args)),
        color=session.terminal.color() and not args.no_color,
        prefix=not args.no_log_prefix,
        timestamps=args.timestamps,
        abort_on_exit=args.abort_on_container_exit or bool(args.exit_code_from),
        abort_on_failure=args.abort_on_container_failure,
        exit_code_from=args.exit_code_from,
        stop_timeout=args.timeout,
    )
    return await AttachedUp(session, options, since).run(await session.containers())


def _attached_services(desired: DesiredState, args: argparse.Namespace) -> set[str]:
    """Whose output attached ``up`` shows, as docker compose decides it: ``--attach`` names
    them; otherwise the services named (with ``--attach-dependencies``, what they depend
    on too), or all, but those with ``attach: false`` (unless that is all of them); never
    the ``--no-attach`` ones."""
    if args.attach:
        chosen = set(args.attach)
    else:
        named = list(args.services or desired.services)
        if args.services and args.attach_dependencies:
            named = list(desired.graph.with_dependencies(named))
        chosen = {s for s in named if desired.services[s].service.attach is not False}
        # docker compose shows them all when every one says ``attach: false``
        chosen = chosen or set(named)
    return chosen - set(args.no_attach or [])


def _check_up_flags(desired: DesiredState, args: argparse.Namespace) -> None:
    """Flags of attached ``up`` that name services or cannot go together, as docker compose."""
    if args.subcommand != "up":
        return  # ``create``: none of them
    if args.menu:
        raise PlanError(
            "--menu is not supported: pycompose's attached up has no interactive shortcuts",
            hint="drop --menu (--menu=false is accepted)",
        )
    attached_only = (
        args.abort_on_container_exit,
        args.abort_on_container_failure,
        args.exit_code_from,
        args.attach,
        args.attach_dependencies,
    )
    if args.detach and any(attached_only):
        raise PlanError(
            "--detach cannot be combined with --abort-on-container-exit, "
            "--abort-on-container-failure, --exit-code-from, --attach or --attach-dependencies"
        )
    if args.abort_on_container_exit and args.abort_on_container_failure:
        raise PlanError(
            "--abort-on-container-exit cannot be combined with --abort-on-container-failure"
        )
    named = [
        *(args.attach or []),
        *(args.no_attach or []),
        *([args.exit_code_from] if args.exit_code_from else []),
    ]
    for service in named:
        if service not in desired.services:
            raise PlanError(f"no such service: {service}")


async def cmd_down(session: Session, args: argparse.Namespace) -> int:
    if args.services:
        return await _down_services(session, args)
    desired = session.desired
    observed = await session.observe()
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
        session.terminal.out.write(plan.render())
        return 0
    from compose.commands.watch import stop_detached

    stop_detached(session)  # the project's detached watcher goes with it
    await session.run_plan(plan, observed, stop_timeout=args.timeout)
    return 0


async def _down_services(session: Session, args: argparse.Namespace) -> int:
    """``down SERVICE...``: stop and remove those services' containers only; networks and
    volumes stay, as the project's other services may use them (docker compose does so)."""
    unknown = sorted(set(args.services) - set(session.desired.services))
    if unknown:
        raise PlanError(f"no such service: {unknown[0]}")
    if args.dry_run:
        for container in await session.containers(services=args.services):
            print(f"stop and remove container {container.name}", file=session.terminal.out)
        return 0
    containers = await session.containers(services=args.services)
    await session.stop_in_order([c for c in containers if c.running], args.timeout)
    client = session.client
    await session.each(
        containers,
        lambda c: client.container_remove(c.id, volumes=args.volumes, force=True),
        "Removing",
        "Removed",
    )
    return 0


async def cmd_stop(session: Session, args: argparse.Namespace) -> int:
    containers = await session.containers(all=False, services=args.services)
    await session.stop_in_order(containers, args.timeout)
    return 0


async def cmd_start(session: Session, args: argparse.Namespace) -> int:
    containers = await session.containers(services=args.services)
    if not containers:
        raise PlanError("no containers to start", hint="run `pycompose up` first")
    for group in reversed(session.by_stop_order(containers)):
        await session.each(
            [c for c in group if not c.running],
            lambda c: session.client.container_start(c.id),
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


async def cmd_each(session: Session, args: argparse.Namespace) -> int:
    """restart, kill, pause, unpause: one call per container, all in parallel."""
    running_only, call, doing, done = PER_CONTAINER[args.subcommand]
    services = list(args.services)
    if args.subcommand == "restart" and services and not args.no_deps:
        services = _restart_dependents(session, services)
    containers = await session.containers(all=not running_only, services=services)
    client: EngineClient = session.client
    await session.each(containers, lambda c: call(client, c, args), doing, done)
    if args.subcommand == "kill" and args.remove_orphans:
        await _remove_orphans(session)
    return 0


def _restart_dependents(session: Session, services: list[str]) -> list[str]:
    """The named services and, transitively, those that depend on them with
    ``depends_on: {restart: true}`` (what docker compose restarts unless --no-deps)."""
    edges = [e for e in session.desired.graph.edges() if e.kind == "depends_on" and e.restart]
    wanted = set(services)
    while True:
        more = {e.service for e in edges if e.dependency in wanted} - wanted
        if not more:
            return sorted(wanted)
        wanted |= more


async def _remove_orphans(session: Session) -> None:
    """Stop and remove the containers of services the project no longer declares."""
    orphans = [c for c in await session.containers() if c.service not in session.desired.services]
    client = session.client
    await session.each(
        orphans, lambda c: client.container_remove(c.id, force=True), "Removing", "Removed"
    )


async def cmd_rm(session: Session, args: argparse.Namespace) -> int:
    client, terminal = session.client, session.terminal
    containers = await session.containers(services=args.services)
    if args.stop:
        running = [c for c in containers if c.running]
        await session.each(running, lambda c: client.container_stop(c.id), "Stopping", "Stopped")
        containers = await session.containers(services=args.services)
    stopped = [c for c in containers if not c.running]
    if not stopped:
        print("No stopped containers", file=terminal.err)
        return 0
    names = ", ".join(c.name for c in stopped)
    print(f"Going to remove {names}", file=terminal.err)
    if not args.force:
        # as docker compose: without -f, remove only on a yes (no answer, e.g. EOF, is a no)
        print("Are you sure? [yN] ", end="", file=terminal.err, flush=True)
        answer = await anyio.to_thread.run_sync(terminal.inp.readline)
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    await session.each(
        stopped,
        lambda c: client.container_remove(c.id, volumes=args.volumes),
        "Removing",
        "Removed",
    )
    return 0


COMMANDS = {
    "up": cmd_up,
    "create": cmd_create,
    "down": cmd_down,
    "start": cmd_start,
    "stop": cmd_stop,
    "restart": cmd_each,
    "kill": cmd_each,
    "pause": cmd_each,
    "unpause": cmd_each,
    "rm": cmd_rm,
}
