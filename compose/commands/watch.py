"""``pycompose watch`` and ``up --watch``: sync, restart or rebuild services as files change
(:mod:`compose.watch`), in the foreground or as a detached watcher (``-d``).
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from compose.commands.inspection import stream_logs
from compose.commands.session import Session
from compose.commands.terminal import LogPrinter
from compose.errors import PlanError
from compose.observed import ObservedContainer
from compose.reconcile import ReconcileOptions, reconcile
from compose.watch import detached

if TYPE_CHECKING:
    from compose.watch.loop import WatchLoop

# the watch loop (inotify, sync, rules) is imported by the functions that watch: `down`
# only stops a detached watcher through this module

# the hidden flag the detached watcher runs with (its record, its exit when the project goes)
CHILD_FLAG = "--detached-child"


def watcher_dir(session: Session) -> Path:
    return detached.state_dir(session.project_name, session.client.socket_path)


def _child_argv(session: Session, args: argparse.Namespace, services: list[str]) -> list[str]:
    """The command line of the detached watcher: this project, found as this command found it."""
    loaded = session.loaded
    if loaded.stdin_file is not None:
        raise PlanError(
            "a watcher in the background cannot watch the compose file read from stdin (-f -)",
            hint="save the file and name it with -f, or watch in the foreground",
        )
    argv = ["-p", session.project_name, "--project-directory", str(loaded.working_dir)]
    for path in loaded.files:
        argv += ["-f", str(path)]
    for env_file in getattr(args, "env_file", None) or []:
        argv += ["--env-file", os.path.abspath(env_file)]
    for profile in getattr(args, "profile", None) or []:
        argv += ["--profile", profile]
    argv += ["--progress", "plain", "watch", "--no-up", CHILD_FLAG]
    if getattr(args, "quiet", False):
        argv.append("--quiet")
    if not getattr(args, "prune", True):
        argv.append("--prune=false")
    return argv + services


def start_detached(session: Session, args: argparse.Namespace, services: list[str]) -> int:
    """Start the project's detached watcher (replacing a running one); print where it logs."""
    from compose.watch.loop import build_rules

    build_rules(session, services)  # refuse a project without watch before forking
    directory = watcher_dir(session)
    previous = detached.stop(directory)
    if previous is not None:
        print(f"replaced the watcher of pid {previous.pid}", file=session.terminal.err)
    record = detached.spawn(directory, _child_argv(session, args, services))
    print(
        f"Watch enabled in the background (pid {record.pid}); log: {record.log}",
        file=session.terminal.err,
    )
    return 0


def stop_detached(session: Session) -> bool:
    """Stop the project's detached watcher, if one runs; whether one did."""
    record = detached.stop(watcher_dir(session))
    if record is not None:
        print(
            f"Watch of project {session.project_name} stopped (pid {record.pid})",
            file=session.terminal.err,
        )
    return record is not None


async def cmd_watch(session: Session, args: argparse.Namespace) -> int:
    from compose.watch.loop import WatchLoop, WatchOptions, build_rules

    directory = watcher_dir(session)
    if args.status and (args.stop or args.detach):
        raise PlanError("--status cannot be combined with --stop or --detach")
    if args.status:
        record = detached.read_record(directory)
        if record is None:
            print(
                f"no detached watcher for project {session.project_name}", file=session.terminal.out
            )
            return 1
        session.terminal.out.write(detached.describe(record))
        return 0
    if args.stop:
        if args.detach:
            raise PlanError("--stop and --detach cannot be combined")
        if not stop_detached(session):
            print(
                f"no detached watcher for project {session.project_name}", file=session.terminal.err
            )
        return 0
    services = list(args.services)
    rules = build_rules(session, services)
    if not args.no_up:
        observed = await session.observe()
        plan = reconcile(session.desired, observed, ReconcileOptions(services=tuple(services)))
        await session.run_plan(plan, observed)
    if args.detach:
        return start_detached(session, args, services)
    loop = WatchLoop(
        session, rules, WatchOptions(quiet=args.quiet, prune=args.prune, exit_when_down=args.child)
    )
    if args.child:
        return await _run_as_child(session, loop, directory, services)
    running = detached.read_record(directory)
    if running is not None:
        print(
            f"WARN: the detached watcher (pid {running.pid}) also syncs this project; "
            "`pycompose watch --stop` ends it",
            file=session.terminal.err,
        )
    return await _until_interrupted(loop)


async def _until_interrupted(loop: WatchLoop) -> int:
    async with anyio.create_task_group() as group:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    group.cancel_scope.cancel()
                    return

        group.start_soon(on_signal)
        await loop.run()
        group.cancel_scope.cancel()
    loop.log("Watch disabled")
    return 0


async def _run_as_child(
    session: Session, loop: WatchLoop, directory: Path, services: list[str]
) -> int:
    """The detached watcher's life: record, watch until stopped or the project goes, unrecord."""
    name = session.project_name
    watched = services or sorted({rule.service for rule in loop.rules})
    detached.write_record(directory, name, watched, "starting")
    try:
        async with anyio.create_task_group() as group:

            async def on_signal() -> None:
                stopping = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
                with anyio.open_signal_receiver(*stopping) as signals:
                    async for received in signals:
                        if received == signal.SIGHUP:
                            continue  # it has no terminal to lose
                        group.cancel_scope.cancel()
                        return

            async def watch() -> None:
                await loop.run(lambda: detached.write_record(directory, name, watched, "watching"))
                group.cancel_scope.cancel()  # the project went down

            group.start_soon(on_signal)
            group.start_soon(watch)
    finally:
        detached.remove_own_record(directory)
        loop.log("Watch disabled")
    return 0


def check_up_watch(session: Session, args: argparse.Namespace) -> None:
    """``up --watch``: the project must have something to watch, and the flags that end an
    attached ``up`` when a container exits do not go with a watch that outlives restarts."""
    from compose.watch.loop import build_rules

    build_rules(session, list(args.services))
    if args.no_start:
        raise PlanError("--watch cannot be combined with --no-start", hint="nothing would run")
    if args.detach or args.wait:
        return
    for flag, value in (
        ("--abort-on-container-exit", args.abort_on_container_exit),
        ("--abort-on-container-failure", args.abort_on_container_failure),
        ("--exit-code-from", args.exit_code_from),
    ):
        if value:
            raise PlanError(
                f"--watch cannot be combined with {flag}",
                hint="the watch restarts and recreates containers; leave one of them out",
            )


async def up_and_watch(session: Session, args: argparse.Namespace) -> int:
    """Attached ``up --watch``: the services' logs and the watch, until Ctrl-C stops both
    (and then the containers, as attached ``up`` does). A container the watch restarts or
    recreates is followed again."""
    from compose.watch.loop import WatchLoop, WatchOptions, build_rules

    services = list(args.services)
    loop = WatchLoop(session, build_rules(session, services), WatchOptions())
    desired = session.desired
    attach = set(args.attach or desired.services) - set(args.no_attach or [])
    names = [
        f"{service}-{n}"
        for service in desired.services
        for n in range(1, desired.services[service].replicas + 1)
    ]
    printer = LogPrinter(session.terminal, names, prefix=not args.no_log_prefix)
    followed: set[str] = set()
    first = True

    async def follow(container: ObservedContainer, since: float | None) -> None:
        try:
            await stream_logs(
                session.client,
                container,
                printer,
                follow=True,
                tail=None,  # all of a new container's output; a re-followed one from `since`
                timestamps=args.timestamps,
                since=since,
            )
        finally:
            followed.discard(container.id)

    async with anyio.create_task_group() as group:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    print(
                        "Gracefully stopping... (press Ctrl+C again to force)",
                        file=session.terminal.err,
                    )
                    group.cancel_scope.cancel()
                    return

        async def followers() -> None:
            nonlocal first
            while True:
                for container in await session.containers(all=False, services=services):
                    if container.service in attach and container.id not in followed:
                        followed.add(container.id)
                        group.start_soon(follow, container, None if first else time.time() - 1)
                first = False
                await anyio.sleep(0.5)

        group.start_soon(on_signal)
        group.start_soon(followers)
        await loop.run()
        group.cancel_scope.cancel()
    with anyio.CancelScope(shield=True):
        await session.stop_in_order(await session.containers(all=False), args.timeout)
    return 0


COMMANDS = {"watch": cmd_watch}
