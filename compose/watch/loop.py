"""The watch loop: the rules of the selected services, the initial sync, then batch after
batch of changes turned into rebuilds, syncs, restarts and ``exec`` hooks.

Messages follow docker compose's (``Watch enabled``, ``Syncing service "web" after 2
changes were detected``, ``service(s) ["web"] restarted`` ...), on the session's stdout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from compose.commands.session import Session
from compose.errors import PlanError, PycomposeError
from compose.model_parts import WatchTrigger
from compose.reconcile import ReconcileOptions, reconcile
from compose.watch.inotify import QUIET_PERIOD, Watcher
from compose.watch.rules import (
    SYNC_ACTIONS,
    BatchPlan,
    Mapping,
    Rule,
    directory_skipped,
    make_rule,
    plan_batch,
    watched_roots,
)
from compose.watch.sync import run_in, sync_service
from engine.api.errors import EngineError
from engine.api.models import ExecCreate

NO_WATCH = (
    "none of the selected services is configured for watch, consider setting a 'develop' section"
)


def _dockerignore(context: str | None) -> list[str]:
    if not context:
        return []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return Path(context, ".dockerignore").read_text(encoding="utf-8").splitlines()
    return []


def _bind_sources(session: Session, service: str) -> list[str]:
    sources = []
    for volume in session.desired.services[service].config.get("volumes") or []:
        if isinstance(volume, dict) and volume.get("type") == "bind" and volume.get("source"):
            sources.append(os.path.normpath(str(volume["source"])))
    return sources


def build_rules(session: Session, services: Sequence[str]) -> list[Rule]:
    """The rules of ``services`` (all when empty); refused as docker compose refuses them."""
    desired = session.desired
    for name in services:
        if name not in desired.services:
            raise PlanError(f"no such service: {name}")
    rules: list[Rule] = []
    for name in services or sorted(desired.services):
        spec = desired.services[name]
        develop = spec.service.develop
        triggers: list[WatchTrigger] = list(develop.watch or []) if develop else []
        build = spec.config.get("build")
        context = str(build.get("context")) if isinstance(build, dict) else None
        ignores = _dockerignore(context)
        binds = _bind_sources(session, name)
        for index, trigger in enumerate(triggers):
            if trigger.action == "rebuild" and not build:
                raise PlanError(
                    f"can't watch service {name!r} with action rebuild without a build context",
                    hint="add a build: section, or use another action",
                )
            if trigger.action == "sync+exec" and not trigger.exec.command:
                raise PlanError(
                    f'can\'t watch with action "sync+exec" on service {name} without a command',
                    hint="add exec: {command: ...} to the trigger",
                )
            path = os.path.normpath(trigger.path)
            if trigger.action in SYNC_ACTIONS and any(
                path == source or path.startswith(source + "/") for source in binds
            ):
                session.terminal.err.write(
                    f"WARN: path '{path}' also declared by a bind mount volume, "
                    "this path won't be monitored!\n"
                )
                continue
            rules.append(
                make_rule(
                    name,
                    index,
                    trigger.action,
                    path,
                    trigger.target,
                    trigger.ignore or (),
                    trigger.include or (),
                    context,
                    ignores,
                )
            )
    if not rules:
        raise PlanError(NO_WATCH)
    return rules


def _initial_files(rule: Rule) -> list[str]:
    """The files below a sync trigger's path that an initial sync copies."""
    if os.path.isfile(rule.path):
        return [rule.path]
    found: list[str] = []
    for directory, subdirs, files in os.walk(rule.path, followlinks=False):
        subdirs[:] = [d for d in subdirs if not rule.ignored(os.path.join(directory, d))]
        found.extend(os.path.join(directory, f) for f in files)
    return sorted(found)


@dataclasses.dataclass
class WatchOptions:
    quiet: bool = False  # --quiet: no build output
    prune: bool = True  # --prune: remove the images a rebuild left dangling
    exit_when_down: bool = False  # the detached watcher: end when the project is gone


class WatchLoop:
    """One project's watch, on one session, until cancelled (or the project is gone)."""

    def __init__(self, session: Session, rules: list[Rule], options: WatchOptions) -> None:
        self.session = session
        self.rules = rules
        self.options = options

    def log(self, text: str) -> None:
        print(text, file=self.session.terminal.out, flush=True)

    async def _running(self, service: str) -> list[str]:
        containers = await self.session.containers(all=False, services=[service])
        return [c.id for c in containers if c.running]

    async def initial_sync(self) -> None:
        changes: dict[str, list[tuple[Mapping, Rule]]] = {}
        for rule in self.rules:
            trigger = self._trigger(rule)
            if rule.action not in ("sync", "sync+restart") or not trigger.initial_sync:
                continue
            files = await anyio.to_thread.run_sync(_initial_files, rule)
            for path in files:
                mapping = rule.matches(path)
                if mapping is not None:
                    changes.setdefault(rule.service, []).append((mapping, rule))
        for service, service_changes in changes.items():
            await sync_service(self.session.client, await self._running(service), service_changes)

    def _trigger(self, rule: Rule) -> WatchTrigger:
        develop = self.session.desired.services[rule.service].service.develop
        assert develop is not None and develop.watch is not None
        return develop.watch[rule.index]

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Watch until cancelled, or (detached) until the project is gone; ``on_ready`` is
        called once the watches are set and the initial sync is done."""
        roots = watched_roots(self.rules)
        with Watcher(roots, skip=lambda d: directory_skipped(self.rules, d)) as watcher:
            await self.initial_sync()
            self.log("Watch enabled")
            if on_ready is not None:
                on_ready()
            async with anyio.create_task_group() as group:
                if self.options.exit_when_down:
                    group.start_soon(self._exit_when_down, group.cancel_scope)
                while True:
                    batch = await watcher.next_batch(QUIET_PERIOD)
                    plan = plan_batch(self.rules, batch)
                    if plan.empty:
                        continue
                    try:
                        await self.handle(plan)
                    except (PycomposeError, EngineError) as error:
                        self.log(f"Error handling changed files: {error.message}")
                    except OSError as error:  # a file unreadable or gone while archived
                        self.log(f"Error handling changed files: {error}")

    async def _exit_when_down(self, scope: anyio.CancelScope) -> None:
        """End the watch once the project has no container left (``down``, ``rm``)."""
        failures = 0
        while True:
            await anyio.sleep(1.0)
            try:
                left = await self.session.containers()
                failures = 0
            except EngineError:
                failures += 1
                if failures < 5:
                    continue
                self.log("the engine does not answer: watch disabled")
                scope.cancel()
                return
            if not left:
                self.log("the project's containers are gone: watch disabled")
                scope.cancel()
                return

    async def handle(self, plan: BatchPlan) -> None:
        if plan.rebuild:
            await self.rebuild(plan.rebuild)
        for service, changes in plan.sync.items():
            self.log(f'Syncing service "{service}" after {len(changes)} changes were detected')
            await sync_service(self.session.client, await self._running(service), changes)
        if plan.restart:
            for service in plan.restart:
                for container_id in await self._running(service):
                    await self.session.client.container_restart(container_id)
            self.log(f"service(s) {json.dumps(plan.restart)} restarted")
        for service, rules in plan.exec.items():
            for rule in rules:
                await self.run_hook(service, self._trigger(rule))

    async def run_hook(self, service: str, trigger: WatchTrigger) -> None:
        hook = trigger.exec
        command = hook.command
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command or [])
        environment = [
            f"{key}={value}" if value is not None else key
            for key, value in (hook.environment or {}).items()
        ]
        body = ExecCreate(
            Cmd=argv,
            User=hook.user or "",
            Privileged=bool(hook.privileged),
            WorkingDir=hook.working_dir or "",
            Env=environment or None,
        )
        for container_id in await self._running(service):
            code, output = await run_in(self.session.client, container_id, body)
            if output:
                self.session.terminal.out.write(output.decode(errors="replace"))
                self.session.terminal.out.flush()
            if code:
                raise PlanError(f"the exec hook of service {service} exited with code {code}")

    async def rebuild(self, services: list[str]) -> None:
        session = self.session
        self.log(f"Rebuilding service(s) {json.dumps(services)} after changes were detected...")
        old_images = {}
        for service in services:
            with contextlib.suppress(EngineError):
                image = session.desired.services[service].image
                old_images[service] = (await session.client.image_inspect(image)).Id
        observed = await session.observe()
        plan = reconcile(
            session.desired,
            observed,
            ReconcileOptions(
                services=tuple(services), no_deps=True, force_recreate=True, build=True
            ),
        )
        terminal = session.terminal
        if self.options.quiet:  # --quiet: no build output
            terminal = dataclasses.replace(terminal, progress="quiet")
        await Session(session.client, terminal, session.loaded).run_plan(
            plan, observed, title="Rebuilding"
        )
        self.log(f"service(s) {json.dumps(services)} successfully built")
        if self.options.prune:
            await self._prune(old_images)

    async def _prune(self, old_images: dict[str, str]) -> None:
        """Remove the images a rebuild replaced, when nothing else uses or names them."""
        for old in old_images.values():
            with contextlib.suppress(EngineError):
                image = await self.session.client.image_inspect(old)
                if not image.RepoTags:
                    await self.session.client.image_remove(old)
