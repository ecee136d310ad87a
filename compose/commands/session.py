"""One command's session: the engine client, the loaded project and the terminal.

Every command is ``async def cmd_x(session, args) -> int``. The session connects to the
engine (:func:`open_session`), computes the project's desired state once, and offers what
several command families share: the project's containers, replica #N of a service, one
call per container with progress, and running a plan through :mod:`compose.apply`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import anyio

from compose import labels
from compose.apply import (
    ApplyContext,
    ProgressEvent,
    _container_from_summary,
    execute,
    observe,
)
from compose.commands.terminal import Terminal
from compose.desired import DesiredState, desired_state
from compose.errors import PlanError
from compose.file_sources import read_sources
from compose.graph import build_graph
from compose.hooks import run_hooks
from compose.load import LoadResult
from compose.model import Service
from compose.observed import ObservedContainer, ObservedState
from compose.plan import Plan
from engine.api.autostart import ensure_engine
from engine.api.client import EngineClient, socket_from_host
from engine.api.errors import EngineError

ANSWER_TIMEOUT = 2.0  # seconds for a running engine to answer, as ensure_engine waits


async def connect(parallel: int = -1) -> EngineClient:
    """The engine's client: ``DOCKER_HOST`` when set, else pycompose's own (started if needed);
    ``parallel`` (``--parallel``, -1: no limit) bounds its requests in flight."""
    limit = parallel if parallel > 0 else None
    docker_host = os.environ.get("DOCKER_HOST")
    if docker_host:
        return EngineClient(socket_from_host(docker_host), max_concurrent=limit)
    # A running engine is told by the version negotiation of the client the command goes on
    # to use (one connection, one round trip); only when that fails is it started.
    client = EngineClient(socket_from_host(None), max_concurrent=limit)
    if os.path.exists(client.socket_path):
        try:
            with anyio.fail_after(ANSWER_TIMEOUT):
                await client.negotiate()
            return client
        except (EngineError, TimeoutError):
            pass
    await client.aclose()
    return EngineClient(await ensure_engine(), max_concurrent=limit)


def desired_of(loaded: LoadResult) -> DesiredState:
    return desired_state(
        loaded.project,
        build_graph(loaded.project, loaded.tree),
        read_sources(loaded.project, loaded.environment),
    )


class Session:
    """The engine client, the loaded project (None for `ls` and `image`) and the terminal."""

    def __init__(
        self, client: EngineClient, terminal: Terminal, loaded: LoadResult | None = None
    ) -> None:
        self.client = client
        self.terminal = terminal
        self._loaded = loaded
        self._warned: set[str] = set()

    @property
    def loaded(self) -> LoadResult:
        if self._loaded is None:
            raise PlanError("this command needs a project (a compose file)")
        return self._loaded

    @property
    def project_name(self) -> str:
        return self.loaded.project.name

    @functools.cached_property
    def desired(self) -> DesiredState:
        return desired_of(self.loaded)

    def replace_service(self, name: str, service: Service) -> None:
        """The desired state from here on with ``name`` configured as ``service`` (`run`'s
        flags change the service it runs)."""
        loaded = self.loaded
        project = loaded.project.model_copy(
            update={"services": {**loaded.project.services, name: service}}
        )
        self.desired = desired_state(project, build_graph(project, loaded.tree))

    # --- plans ---------------------------------------------------------------------

    async def observe(self) -> ObservedState:
        return await observe(self.client, self.desired)

    def apply_context(self, observed: ObservedState, **options: Any) -> ApplyContext:
        return ApplyContext(
            desired=self.desired,
            observed=observed,
            working_dir=str(self.loaded.working_dir),
            config_files=tuple(str(p) for p in self.loaded.files),
            api_socket=self.client.socket_path,
            **options,
        )

    async def run_plan(
        self, plan: Plan, observed: ObservedState, title: str = "Running", **options: Any
    ) -> None:
        """Execute ``plan`` with its warnings and the progress display on stderr."""
        for warning in plan.warnings:
            if warning not in self._warned:  # once, however many plans a command runs
                self._warned.add(warning)
                print(f"WARN: {warning}", file=self.terminal.err)
        if not plan.operations:
            return  # nothing to do, nothing to show: the display (rich) is not even loaded
        progress = self.terminal.progress_display()
        with progress.running(title):
            await execute(plan, self.client, self.apply_context(observed, **options), progress)

    # --- containers ------------------------------------------------------------------

    async def containers(
        self, *, all: bool = True, services: Iterable[str] = (), oneoff: bool = False
    ) -> list[ObservedContainer]:
        """The project's containers (one-off ones with ``oneoff``), by service and number."""
        summaries = await self.client.container_list(
            all=all, filters={"label": [f"{labels.PROJECT}={self.project_name}"]}
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

    async def replica(self, service: str, index: int, *, running: bool) -> ObservedContainer:
        """Container #``index`` of ``service`` (``--index``), running or any state."""
        for container in await self.containers(all=not running, services=[service]):
            if container.number == index:
                return container
        state = "running " if running else ""
        raise PlanError(
            f"service {service!r} has no {state}container #{index}",
            hint="start it with `pycompose up -d`" if running else None,
        )

    async def each(
        self,
        containers: list[ObservedContainer],
        action: Callable[[ObservedContainer], Awaitable[Any]],
        verb: str,
        done: str,
    ) -> None:
        """``action`` on every container, all in parallel, with progress."""
        progress = self.terminal.progress_display()

        async def one(container: ObservedContainer) -> None:
            progress(ProgressEvent("Container", container.name, verb))
            await action(container)
            progress(ProgressEvent("Container", container.name, done, done=True))

        with progress.running():
            async with anyio.create_task_group() as task_group:
                for container in containers:
                    task_group.start_soon(one, container)

    def by_stop_order(self, containers: list[ObservedContainer]) -> list[list[ObservedContainer]]:
        """Containers grouped by service, dependents first."""
        order = self.desired.graph.stop_order()
        groups = []
        for service in order:
            group = [c for c in containers if c.service == service]
            if group:
                groups.append(group)
        others = [c for c in containers if c.service not in order]
        return ([others] if others else []) + groups

    async def stop_in_order(self, containers: list[ObservedContainer], timeout: int | None) -> None:
        """Stop ``containers``, dependents before what they depend on."""

        async def stop(container: ObservedContainer) -> None:
            wanted = self.desired.services.get(container.service)
            if wanted is not None and wanted.service.pre_stop:
                await run_hooks(
                    self.client, container.id, wanted.service.pre_stop, "pre_stop", lambda _: None
                )
            await self.client.container_stop(container.id, timeout=timeout)

        for group in self.by_stop_order(containers):
            await self.each(group, stop, "Stopping", "Stopped")


@contextlib.asynccontextmanager
async def open_session(
    terminal: Terminal, loaded: LoadResult | None = None, parallel: int = -1
) -> AsyncIterator[Session]:
    """A session on the engine (:func:`connect`), closed on the way out."""
    async with await connect(parallel) as client:
        yield Session(client, terminal, loaded)
