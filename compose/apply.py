"""The I/O half of orchestration: observe the engine, then execute a plan.

``observe(client, desired)`` lists the project's containers, networks and volumes
(by the ``com.docker.compose.project`` label) and the images the services need,
into a frozen :class:`~compose.observed.ObservedState`.

``execute(plan, client, context, on_event)`` runs every operation of the plan as
its own task in one task group: a task waits for the operations it comes after,
then for the depends_on conditions it names, then makes its API call(s). So every
independent operation runs in parallel, and the first failure cancels the rest
(the task group reports them all). Progress is reported through ``on_event``;
this module never prints.

Resource handling: nothing here owns engine objects beyond the call that makes
them; a failed ``up`` leaves what it made, and the next ``up`` converges from there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio

from compose import convert, file_mounts, labels, pull_policy
from compose import model as models
from compose.desired import DesiredState, container_name
from compose.errors import PycomposeError
from compose.hooks import run_hooks
from compose.observed import ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume
from compose.output import service_dict
from compose.plan import Operation, Plan, WaitCondition
from compose.wait_other import wait_other_project
from engine.api.client import EngineClient
from engine.api.errors import Conflict, NotFound
from engine.api.models import NetworkConnect, NetworkCreate, VolumeCreate

POLL_INTERVAL = 0.5  # seconds between two looks at a dependency's state, as docker compose


class ApplyError(PycomposeError):
    """An operation of a plan failed (a dependency did not become ready, an API call failed)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One step of progress, for the display: ``Container shop-db-1  Healthy``."""

    kind: str  # Network | Volume | Container | Image
    name: str
    status: str  # Creating, Created, Starting, Started, Waiting, Healthy, Stopping, ...
    detail: str = ""
    done: bool = False
    error: bool = False


EventSink = Callable[[ProgressEvent], None]


@dataclasses.dataclass(frozen=True)
class ApplyContext:
    desired: DesiredState
    observed: ObservedState
    working_dir: str = ""
    config_files: tuple[str, ...] = ()
    stop_timeout: int | None = None  # -t: overrides each service's stop_grace_period
    wait_timeout: float | None = None
    quiet_pull: bool = False  # --quiet-pull: a pull shows no per-layer progress
    api_socket: str = ""  # the engine's socket, bound into services with use_api_socket


# --- observe -----------------------------------------------------------------------------------


def _container_from_summary(summary: Any) -> ObservedContainer | None:
    container_labels: Mapping[str, str] = summary.Labels or {}
    service = container_labels.get(labels.SERVICE)
    if not service:
        return None
    number_text = container_labels.get(labels.CONTAINER_NUMBER, "0")
    status = summary.Status or ""
    health = None
    for word in ("healthy", "unhealthy", "health: starting"):
        if f"({word})" in status:
            health = word.removeprefix("health: ")
            break
    exit_code = 0
    match = re.search(r"Exited \((\d+)\)", status)
    if match:
        exit_code = int(match.group(1))
    return ObservedContainer(
        id=summary.Id,
        name=(summary.Names or [summary.Id])[0].lstrip("/"),
        service=service,
        number=int(number_text) if number_text.isdigit() else 0,
        state=summary.State or "created",
        labels=dict(container_labels),
        image_id=summary.ImageID or "",
        exit_code=exit_code,
        health=health,
        networks=frozenset(summary.NetworkSettings.Networks),
        volumes=frozenset(m.Name for m in summary.Mounts if m.Type == "volume" and m.Name),
    )


async def observe(client: EngineClient, desired: DesiredState) -> ObservedState:
    """The project's objects as the engine has them (see the module docstring)."""
    project = desired.project
    project_filter = {"label": [f"{labels.PROJECT}={project}"]}
    summaries = await client.container_list(all=True, filters=project_filter)
    containers = tuple(c for c in (_container_from_summary(s) for s in summaries) if c is not None)
    networks: dict[str, ObservedNetwork] = {}
    for network in await client.network_list(filters=project_filter):
        networks[network.Name] = ObservedNetwork(
            network.Id, network.Name, dict(network.Labels or {})
        )
    for resource in desired.networks.values():
        if resource.name not in networks:
            try:
                found = await client.network_inspect(resource.name)
            except NotFound:
                continue
            networks[found.Name] = ObservedNetwork(found.Id, found.Name, dict(found.Labels or {}))
    volumes: dict[str, ObservedVolume] = {}
    listed = await client.volume_list(filters=project_filter)
    for volume in listed.Volumes or []:
        volumes[volume.Name] = ObservedVolume(volume.Name, dict(volume.Labels or {}))
    for resource in desired.volumes.values():
        if resource.name not in volumes:
            try:
                found_volume = await client.volume_inspect(resource.name)
            except NotFound:
                continue
            volumes[found_volume.Name] = ObservedVolume(
                found_volume.Name, dict(found_volume.Labels or {})
            )
    images: dict[str, str] = {}
    pulled: dict[str, datetime.datetime] = {}
    observed_at = datetime.datetime.now(datetime.UTC)
    for reference in sorted({service.image for service in desired.services.values()}):
        try:
            image = await client.image_inspect(reference)
        except NotFound:
            continue
        images[reference] = image.Id
        last = pull_policy.parse_last_tag_time((image.Metadata or {}).get("LastTagTime"))
        if last is not None:
            pulled[reference] = last
    return ObservedState(
        project, containers, networks, volumes, images, image_pulled=pulled, observed_at=observed_at
    )


# --- execute -----------------------------------------------------------------------------------


def replica_names(desired: DesiredState, service: str) -> list[str]:
    spec = desired.services[service]
    return [
        container_name(desired.project, service, n, spec.config)
        for n in range(1, spec.replicas + 1)
    ]


def _resolve_service_refs(
    desired: DesiredState, service: models.Service
) -> tuple[str | None, list[str]]:
    """network_mode ``service:x`` and volumes_from ``x`` to container names."""
    network_mode = service.network_mode
    if network_mode is not None and network_mode.startswith("service:"):
        source = network_mode.removeprefix("service:")
        network_mode = "container:" + replica_names(desired, source)[0]
    volumes_from = []
    for entry in service.volumes_from:
        if entry.startswith("container:"):
            volumes_from.append(entry.removeprefix("container:"))
            continue
        source, _, mode = entry.partition(":")
        if source in desired.services:
            source = replica_names(desired, source)[0]
        volumes_from.append(f"{source}:{mode}" if mode else source)
    return network_mode, volumes_from


def container_request(
    context: ApplyContext,
    service: str,
    number: int,
    *,
    override: models.Service | None = None,
    images: Mapping[str, str] | None = None,
    name: str | None = None,
    replace: str | None = None,
    oneoff: bool = False,
    use_aliases: bool | None = None,
) -> convert.ContainerRequest:
    """The create request of replica ``number`` of ``service`` (``override`` replaces the
    service's configuration: `run` changes its command, environment, ports ...).

    The one conversion of a service to a container: `up` and `run` both create through it.
    """
    desired = context.desired
    wanted = desired.services[service]
    typed, config = wanted.service, wanted.config
    if override is not None:
        typed, config = override, service_dict(override)
    network_mode, volumes_from = _resolve_service_refs(desired, typed)
    images = context.observed.images if images is None else images
    if wanted.files_error is not None:
        raise wanted.files_error
    request = convert.container_create(
        desired.project,
        service,
        typed,
        number,
        config=config,
        network_names={k: n.name for k, n in desired.networks.items()},
        volume_names={k: v.name for k, v in desired.volumes.items()},
        image_id=images.get(desired.services[service].image, ""),
        working_dir=context.working_dir,
        config_files=context.config_files,
        name=name,
        network_mode=network_mode,
        volumes_from=volumes_from,
        api_socket=context.api_socket,
        link_targets={
            linked: replica_names(desired, linked)
            for linked in (link.partition(":")[0] for link in typed.links or [])
            if linked in desired.services
        },
        oneoff=oneoff,
        use_aliases=use_aliases,
        replace=replace,
    )
    if not wanted.files:
        return request
    return dataclasses.replace(
        request,
        body=file_mounts.with_files(request.body, wanted.files),
        files=file_mounts.archive(wanted.files, time.time()),
    )


async def create_container(client: EngineClient, request: convert.ContainerRequest) -> str:
    """Create the container of ``request``, copy its secrets and configs in and connect its
    extra networks; its id. A copy that fails removes the container (nothing half-made)."""
    created = await client.container_create(request.body, name=request.name)
    if request.files is not None:
        try:
            await client.container_archive_put(created.Id, "/", request.files)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await client.container_remove(created.Id, force=True)
            raise
    for network, endpoint in request.extra_networks:
        await client.network_connect(
            network, NetworkConnect(Container=created.Id, EndpointConfig=endpoint)
        )
    return created.Id


class _Executor:
    def __init__(
        self, plan: Plan, client: EngineClient, context: ApplyContext, on_event: EventSink
    ) -> None:
        self.plan = plan
        self.client = client
        self.context = context
        self.emit = on_event
        self.done = {op.id: anyio.Event() for op in plan.operations}
        self.images = dict(context.observed.images)

    async def run(self) -> None:
        async with anyio.create_task_group() as task_group:
            for operation in self.plan.operations:
                task_group.start_soon(self.run_operation, operation)

    async def run_operation(self, operation: Operation) -> None:
        for previous in operation.after:
            await self.done[previous].wait()
        handler = getattr(self, "do_" + operation.type.name.lower())
        await handler(operation)
        self.done[operation.id].set()

    # helpers
    def service_config(self, operation: Operation) -> Mapping[str, Any]:
        assert operation.service is not None
        return self.context.desired.services[operation.service].config

    def stop_timeout(self, service: str | None) -> int | None:
        if self.context.stop_timeout is not None:
            return self.context.stop_timeout
        if service is None or service not in self.context.desired.services:
            return None
        grace = self.context.desired.services[service].config.get("stop_grace_period")
        if not grace:
            return None
        from compose.units import parse_duration

        return max(0, round(parse_duration(grace) / 1_000_000_000))

    def replica_names(self, service: str) -> list[str]:
        return replica_names(self.context.desired, service)

    def request(
        self, operation: Operation, *, name: str | None = None, replace: str | None = None
    ) -> convert.ContainerRequest:
        assert operation.service is not None and operation.number is not None
        return container_request(
            self.context,
            operation.service,
            operation.number,
            images=self.images,
            name=name,
            replace=replace,
        )

    async def create(self, request: convert.ContainerRequest) -> str:
        return await create_container(self.client, request)

    async def wait_for(self, operation: Operation) -> None:
        for condition in operation.waits_for:
            if condition.project:
                await wait_other_project(
                    self.client, condition, operation.target, self.emit, self.context.wait_timeout
                )
                continue
            if condition.condition == "service_started":
                continue  # the dependency's start operation came first
            self.emit(ProgressEvent("Container", operation.target, "Waiting"))
            try:
                await self.wait_condition(condition)
            except ApplyError:
                if condition.required:
                    raise
                self.emit(
                    ProgressEvent(
                        "Container",
                        operation.target,
                        "Waiting",
                        f"optional dependency {condition.service} is not ready",
                    )
                )

    async def wait_condition(self, condition: WaitCondition) -> None:
        """Poll each replica of the dependency until it meets the condition (or fails it)."""
        timeout = self.context.wait_timeout
        with anyio.fail_after(timeout) if timeout else contextlib.nullcontext():
            for name in self.replica_names(condition.service):
                while not condition_met(
                    condition, name, (await self.client.container_inspect(name)).State
                ):
                    await anyio.sleep(POLL_INTERVAL)
                word = "Healthy" if condition.condition == "service_healthy" else "Exited"
                self.emit(ProgressEvent("Container", name, word, done=True))

    # operations
    async def do_create_network(self, operation: Operation) -> None:
        key = operation.details["key"]
        resource = self.context.desired.networks[key]
        self.emit(ProgressEvent("Network", operation.target, "Creating"))
        body = convert.network_create(self.context.desired.project, key, resource.config)
        await self.client.network_create(NetworkCreate.model_validate(body))
        self.emit(ProgressEvent("Network", operation.target, "Created", done=True))

    async def do_create_volume(self, operation: Operation) -> None:
        key = operation.details["key"]
        resource = self.context.desired.volumes[key]
        self.emit(ProgressEvent("Volume", operation.target, "Creating"))
        body = convert.volume_create(self.context.desired.project, key, resource.config)
        await self.client.volume_create(VolumeCreate.model_validate(body))
        self.emit(ProgressEvent("Volume", operation.target, "Created", done=True))

    async def do_pull_image(self, operation: Operation) -> None:
        self.emit(ProgressEvent("Image", operation.target, "Pulling"))
        wanted = self.context.desired.services.get(operation.service or "")
        platform = wanted.service.platform if wanted else None  # the service's, as pulled
        async for message in self.client.image_pull(operation.target, platform=platform or None):
            status = message.get("status")
            if status and message.get("id") and not self.context.quiet_pull:
                self.emit(
                    ProgressEvent(
                        "Image", operation.target, "Pulling", f"{message['id']}: {status}"
                    )
                )
        self.images[operation.target] = (await self.client.image_inspect(operation.target)).Id
        self.emit(ProgressEvent("Image", operation.target, "Pulled", done=True))

    async def do_build_image(self, operation: Operation) -> None:
        assert operation.service is not None
        config = self.service_config(operation)
        self.emit(ProgressEvent("Image", operation.target, "Building"))
        from compose.image_build import build_image

        await build_image(
            self.client,
            operation.target,
            config.get("build") or {},
            lambda line: self.emit(ProgressEvent("Image", operation.target, "Building", line)),
        )
        self.images[operation.target] = (await self.client.image_inspect(operation.target)).Id
        self.emit(ProgressEvent("Image", operation.target, "Built", done=True))

    async def do_create_container(self, operation: Operation) -> None:
        self.emit(ProgressEvent("Container", operation.target, "Creating"))
        await self.create(self.request(operation, name=operation.target))
        self.emit(ProgressEvent("Container", operation.target, "Created", done=True))

    async def hooks(self, operation: Operation, container: str, kind: str) -> None:
        """The service's post_start or pre_stop hooks (compose.hooks), output as progress."""
        wanted = self.context.desired.services.get(operation.service or "")
        found = getattr(wanted.service, kind) if wanted else None
        if found:
            await run_hooks(
                self.client,
                container,
                found,
                kind,
                lambda line: self.emit(ProgressEvent("Container", operation.target, kind, line)),
            )

    async def do_start_container(self, operation: Operation) -> None:
        await self.wait_for(operation)
        self.emit(ProgressEvent("Container", operation.target, "Starting"))
        await self.client.container_start(operation.container_id or operation.target)
        await self.hooks(operation, operation.container_id or operation.target, "post_start")
        self.emit(ProgressEvent("Container", operation.target, "Started", done=True))

    async def do_recreate_container(self, operation: Operation) -> None:
        assert operation.container_id is not None
        if operation.details.get("update"):
            from compose.rolling import recreate_start_first

            if await recreate_start_first(self, operation):
                return
        self.emit(ProgressEvent("Container", operation.target, "Recreate", operation.cause))
        temporary = f"{operation.container_id[:12]}_{operation.target}"
        replace = f"{operation.service}-{operation.number}"
        new_id = await self.create(self.request(operation, name=temporary, replace=replace))
        await self.hooks(operation, operation.container_id, "pre_stop")
        await self.client.container_stop(
            operation.container_id, timeout=self.stop_timeout(operation.service)
        )
        await self.client.container_remove(operation.container_id, force=True)
        await self.client.container_rename(new_id, operation.target)
        self.emit(ProgressEvent("Container", operation.target, "Recreated", done=True))
        if operation.details.get("start", True):
            await self.wait_for(operation)
            self.emit(ProgressEvent("Container", operation.target, "Starting"))
            await self.client.container_start(new_id)
            await self.hooks(operation, new_id, "post_start")
            self.emit(ProgressEvent("Container", operation.target, "Started", done=True))

    async def do_stop_container(self, operation: Operation) -> None:
        self.emit(ProgressEvent("Container", operation.target, "Stopping"))
        await self.hooks(operation, operation.container_id or operation.target, "pre_stop")
        await self.client.container_stop(
            operation.container_id or operation.target, timeout=self.stop_timeout(operation.service)
        )
        self.emit(ProgressEvent("Container", operation.target, "Stopped", done=True))

    async def do_remove_container(self, operation: Operation) -> None:
        self.emit(ProgressEvent("Container", operation.target, "Removing"))
        # already gone (AutoRemove, or removed by someone else) is the goal reached
        with contextlib.suppress(NotFound):
            await self.client.container_remove(
                operation.container_id or operation.target,
                force=True,
                volumes=bool(operation.details.get("volumes")),
            )
        self.emit(ProgressEvent("Container", operation.target, "Removed", done=True))

    async def do_remove_network(self, operation: Operation) -> None:
        self.emit(ProgressEvent("Network", operation.target, "Removing"))
        # an engine may still be releasing the endpoints of containers removed a moment ago
        # (dockerd answers 409 "has active endpoints"): try again for a few seconds
        for attempt in range(20):
            try:
                with contextlib.suppress(NotFound):
                    await self.client.network_remove(
                        operation.details.get("id") or operation.target
                    )
                break
            except Conflict:
                if attempt == 19:
                    raise
                await anyio.sleep(0.25)
        self.emit(ProgressEvent("Network", operation.target, "Removed", done=True))

    async def do_remove_volume(self, operation: Operation) -> None:
        self.emit(ProgressEvent("Volume", operation.target, "Removing"))
        with contextlib.suppress(NotFound):
            await self.client.volume_remove(operation.target, force=True)
        self.emit(ProgressEvent("Volume", operation.target, "Removed", done=True))

    async def do_remove_image(self, operation: Operation) -> None:
        self.emit(ProgressEvent("Image", operation.target, "Removing"))
        with contextlib.suppress(NotFound):
            await self.client.image_remove(operation.target)
        self.emit(ProgressEvent("Image", operation.target, "Removed", done=True))


def condition_met(condition: WaitCondition, name: str, state: Any) -> bool:
    """Whether a dependency's container is ready; raises ApplyError when it never will be."""
    if condition.condition == "service_healthy":
        health = state.Health
        if health is None:
            raise ApplyError(
                f"dependency failed to start: container {name} has no healthcheck configured",
                hint=f"add a healthcheck to {condition.service}, "
                "or depend on it with condition: service_started",
            )
        if health.Status == "healthy":
            return True
        if health.Status == "unhealthy":
            output = health.Log[-1].Output.strip() if health.Log else ""
            raise ApplyError(
                f"dependency failed to start: container {name} is unhealthy"
                + (f"\n    last probe output: {output}" if output else "")
            )
        if not state.Running:
            raise ApplyError(
                f"dependency failed to start: container {name} exited ({state.ExitCode})"
            )
        return False
    if condition.condition == "service_completed_successfully":
        if state.Running or state.Status == "created":
            return False
        if state.ExitCode != 0:
            raise ApplyError(
                f"service {condition.service!r} didn't complete successfully: exit {state.ExitCode}"
            )
        return True
    return True


async def execute(
    plan: Plan, client: EngineClient, context: ApplyContext, on_event: EventSink
) -> None:
    """Run ``plan`` (see the module docstring). Raises ApplyError or EngineError on failure."""
    await _Executor(plan, client, context, on_event).run()


def failures(group: BaseExceptionGroup[Any] | BaseException) -> Iterable[BaseException]:
    """The leaf exceptions of a (nested) exception group, for the CLI to print."""
    if isinstance(group, BaseExceptionGroup):
        for exc in group.exceptions:
            yield from failures(exc)
    else:
        yield group
