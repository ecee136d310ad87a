"""EngineBackend: the :class:`~engine.daemon.backend_api.Backend` the daemon serves.

It opens the engine's subsystems under one data root and hands each API verb to the part
that owns its resource; it holds no logic of its own::

    ContainerIndex   container records by reference, with their runtime state
    EventSink        every part emits here; GET /events reads here
    Containers       /containers/...      (ContainerViews renders them, AttachSession)
    Execs            /containers/{id}/exec, /exec/...
    Images           /images/..., /build
    Networks         /networks/...
    Volumes          /volumes/...
    System           /version, /info, /system/df

Lifecycle (``EngineBackend.open`` inside the daemon's task group)::

    open: state db -> images -> volumes -> networking (restored) -> runtime ->
          remount overlays -> runtime.restore() (re-adopts running containers, exit codes
          of those that ended meanwhile) -> repair() -> watchers for running ones
    serve requests ...
    close: the runtime's context ends; containers keep running (live-restore)

Data root layout::

    engine.db            engine.state (containers as the API knows them, events)
    containers/<id>/     engine.runtime bundles, logs, conmon files
    images/              engine.images store
    rootfs/<id>/         the container's overlay root
    volumes/<name>/      engine.volumes
    network-state.json   engine.network's networks and sandboxes (networking.py)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from engine.api import models as api
from engine.daemon.backend.attach import AttachSession
from engine.daemon.backend.container_view import ContainerViews
from engine.daemon.backend.containers import Containers
from engine.daemon.backend.events import EventSink
from engine.daemon.backend.execs import Execs, ExecSession
from engine.daemon.backend.images import Images
from engine.daemon.backend.index import ContainerIndex
from engine.daemon.backend.networks import Networks
from engine.daemon.backend.runtime_events import RuntimeEventRelay
from engine.daemon.backend.system import System
from engine.daemon.backend.volumes import Volumes
from engine.daemon.backend_api import (
    AttachOptions,
    Backend,
    CommitOptions,
    Filters,
    LogOptions,
    LogStream,
)
from engine.daemon.networking import Networking
from engine.file_modes import secure_data_root
from engine.images import ImageService
from engine.network import NetworkSettings, open_network_engine
from engine.runtime import ContainerRuntime, Runc
from engine.state import StateStore
from engine.volumes import VolumeStore


class EngineBackend(Backend):
    """The engine: state + images + volumes + runtime + networking under one data root."""

    def __init__(
        self,
        data_root: Path,
        *,
        task_group: TaskGroup,
        state: StateStore,
        images: ImageService,
        volumes: VolumeStore,
        runtime: ContainerRuntime,
        networking: Networking | None = None,
    ) -> None:
        self.index = ContainerIndex(data_root, state, runtime)
        self.events_sink = EventSink(state)
        self.views = ContainerViews(self.index, volumes, networking)
        self.execs = Execs(self.index, self.events_sink, task_group)
        self.containers = Containers(
            self.index,
            self.events_sink,
            self.views,
            images=images,
            volumes=volumes,
            networking=networking,
            task_group=task_group,
        )
        self.images = Images(images, self.events_sink, task_group, data_root, networking)
        self.networks = Networks(networking, self.index, self.events_sink)
        self.volumes = Volumes(volumes, self.events_sink)
        self.system = System(self.index, self.views, self.images, self.volumes)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        data_root: Path,
        exec_root: Path,
        task_group: TaskGroup,
        network_settings: NetworkSettings | None = None,
    ) -> AsyncIterator[EngineBackend]:
        """The engine over ``data_root``, repaired and re-adopted (see the module doc).

        ``network_settings`` None: no bridge networking (containers get a private
        namespace with loopback only; ``host``/``none`` work).
        Resource handling: leaving the context closes the stores; running containers are
        left running (live-restore), their sandboxes too.
        """
        secure_data_root(data_root, exec_root)
        state = StateStore(data_root / "engine.db")
        images = ImageService(data_root, insecure_registries=("127.0.0.1", "localhost"))
        volumes = VolumeStore(data_root / "volumes")
        runc = Runc(state_root=str(exec_root / "runc"))
        relay = RuntimeEventRelay()
        runtime = ContainerRuntime(
            data_root / "containers",
            runc=runc,
            socket_dir=str(exec_root / "attach"),
            on_event=relay,
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                networking = None
                if network_settings is not None:
                    network_engine = await stack.enter_async_context(
                        open_network_engine(network_settings)
                    )
                    networking = Networking(network_engine, data_root / "network-state.json")
                    await networking.restore()
                await stack.enter_async_context(runtime)
                backend = cls(
                    data_root,
                    task_group=task_group,
                    state=state,
                    images=images,
                    volumes=volumes,
                    runtime=runtime,
                    networking=networking,
                )
                relay.attach(backend.events_sink, backend.index.records, backend.containers.watch)
                await backend.containers.remount()
                await runtime.restore(defer_restarts=True)
                await backend.containers.repair()
                backend.containers.watch_running()
                task_group.start_soon(backend.containers.restore_in_order, runtime.restarts_wanted)
                flusher = anyio.CancelScope()
                flusher_done = anyio.Event()
                task_group.start_soon(_flush_forever, state, flusher, flusher_done)
                try:
                    yield backend
                finally:
                    flusher.cancel()
                    with anyio.CancelScope(shield=True):
                        await flusher_done.wait()
                    if networking is not None:
                        # nothing to keep for live-restore: no bridge or table stays behind
                        with anyio.CancelScope(shield=True), anyio.move_on_after(30):
                            await networking.engine.release_host_objects()
        finally:
            with anyio.CancelScope(shield=True):
                await images.aclose()
                state.close()

    async def durable(self) -> None:
        await self.index.state.flush()

    # --- system ---------------------------------------------------------------------

    async def version(self) -> api.Version:
        return await self.system.version()

    async def info(self) -> api.Info:
        return await self.system.info()

    async def system_df(self) -> dict[str, Any]:
        return await self.system.disk_usage()

    async def events(self, since: float | None, until: float | None) -> AsyncIterator[api.Event]:
        return await self.events_sink.events(since, until)

    # --- containers -----------------------------------------------------------------

    async def container_list_wire(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[dict[str, Any]]:
        return await self.containers.list_wire(all=all, filters=filters, limit=limit)

    async def container_list_json(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> bytes | None:
        return self.views.list_json(all=all, filters=filters, limit=limit)

    async def container_list(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[api.ContainerSummary]:
        wires = await self.containers.list_wire(all=all, filters=filters, limit=limit)
        return [api.ContainerSummary.model_validate(wire) for wire in wires]

    async def container_create(
        self, name: str | None, body: api.ContainerCreate
    ) -> api.ContainerCreateResponse:
        return await self.containers.create(name, body)

    async def container_inspect(self, ref: str) -> api.ContainerInspect:
        return self.views.inspect(self.index.find(ref), self.execs.ids_of)

    async def container_start(self, ref: str) -> None:
        await self.containers.start(ref)

    async def container_stop(self, ref: str, timeout: int | None, signal: str) -> None:
        await self.containers.stop(ref, timeout, signal)

    async def container_restart(self, ref: str, timeout: int | None) -> None:
        await self.containers.restart(ref, timeout)

    async def container_kill(self, ref: str, signal: str) -> None:
        await self.containers.kill(ref, signal)

    async def container_pause(self, ref: str) -> None:
        await self.containers.pause(ref)

    async def container_unpause(self, ref: str) -> None:
        await self.containers.unpause(ref)

    async def container_wait(
        self, ref: str, condition: str
    ) -> Callable[[], Awaitable[api.WaitResponse]]:
        return await self.containers.wait(ref, condition)

    async def container_logs(self, ref: str, options: LogOptions) -> LogStream:
        return await self.containers.logs(ref, options)

    async def container_remove(self, ref: str, *, force: bool, volumes: bool) -> None:
        await self.containers.remove(ref, force=force, volumes=volumes)

    async def container_rename(self, ref: str, new_name: str) -> None:
        await self.containers.rename(ref, new_name)

    async def container_top(self, ref: str, ps_args: str) -> api.ContainerTop:
        return await self.containers.top(ref, ps_args)

    async def container_stats(self, ref: str) -> dict[str, Any]:
        return await self.containers.stats(ref)

    async def container_attach(self, ref: str, options: AttachOptions) -> AttachSession:
        return await self.containers.attach(ref, options)

    async def container_resize(self, ref: str, height: int, width: int) -> None:
        await self.containers.resize(ref, height, width)

    async def container_prune(self, filters: Filters) -> api.ContainerPrune:
        return await self.containers.prune(filters)

    async def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        return await self.containers.archive_stat(ref, path)

    async def archive_get(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        return await self.containers.archive_get(ref, path)

    async def container_export(self, ref: str) -> AsyncIterator[bytes]:
        return await self.containers.export(ref)

    async def container_commit(self, ref: str, options: CommitOptions) -> str:
        return await self.containers.commit(ref, options)

    async def archive_put(
        self, ref: str, path: str, tar: AsyncIterator[bytes], *, no_overwrite_dir: bool
    ) -> None:
        await self.containers.archive_put(ref, path, tar, no_overwrite_dir=no_overwrite_dir)

    # --- exec -----------------------------------------------------------------------

    async def exec_create(self, ref: str, body: api.ExecCreate) -> api.IdResponse:
        return await self.execs.create(ref, body)

    async def exec_start(self, exec_id: str, body: api.ExecStart) -> ExecSession:
        return await self.execs.start(exec_id, body)

    async def exec_inspect(self, exec_id: str) -> api.ExecInspect:
        return await self.execs.inspect(exec_id)

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        await self.execs.resize(exec_id, height, width)

    # --- images ---------------------------------------------------------------------

    async def image_list(self, *, all: bool, filters: Filters) -> list[api.ImageSummary]:
        return await self.images.matching(all=all, filters=filters)

    async def image_inspect(self, name: str) -> api.ImageInspect:
        return await self.images.inspect(name)

    async def image_history(self, name: str) -> list[dict[str, Any]]:
        return await self.images.history(name)

    async def distribution_inspect(self, name: str, *, auth: str) -> dict[str, Any]:
        return await self.images.distribution(name, auth=auth)

    async def image_pull(
        self, image: str, tag: str, *, platform: str, auth: str
    ) -> AsyncIterator[api.ProgressMessage]:
        return await self.images.pull(image, tag, platform=platform, auth=auth)

    async def image_push(
        self, name: str, tag: str, *, auth: str
    ) -> AsyncIterator[api.ProgressMessage]:
        return await self.images.push(name, tag, auth=auth)

    async def image_tag(self, name: str, repo: str, tag: str) -> None:
        await self.images.tag(name, repo, tag)

    async def image_remove(
        self, name: str, *, force: bool, noprune: bool
    ) -> list[api.ImageDeleteItem]:
        return await self.images.remove(name, force=force, noprune=noprune)

    async def image_load(
        self, tar: AsyncIterator[bytes], *, quiet: bool
    ) -> AsyncIterator[api.ProgressMessage]:
        return await self.images.load(tar, quiet=quiet)

    async def image_build(
        self, context: AsyncIterator[bytes], query: Mapping[str, Sequence[str]]
    ) -> AsyncIterator[dict[str, Any]]:
        return await self.images.build(context, query)

    async def image_save(self, names: list[str]) -> AsyncIterator[bytes]:
        return await self.images.save(names)

    async def image_prune(self, filters: Filters) -> dict[str, Any]:
        return await self.images.prune(filters)

    # --- networks -------------------------------------------------------------------

    async def network_list(self, filters: Filters) -> list[api.Network]:
        return await self.networks.matching(filters)

    async def network_inspect(self, ref: str) -> api.Network:
        return await self.networks.inspect(ref)

    async def network_create(self, body: api.NetworkCreate) -> api.NetworkCreateResponse:
        return await self.networks.create(body)

    async def network_connect(self, ref: str, body: api.NetworkConnect) -> None:
        await self.networks.connect(ref, body)

    async def network_disconnect(self, ref: str, body: api.NetworkDisconnect) -> None:
        await self.networks.disconnect(ref, body)

    async def network_remove(self, ref: str) -> None:
        await self.networks.remove(ref)

    async def network_prune(self, filters: Filters) -> dict[str, Any]:
        return await self.networks.prune(filters)

    # --- volumes --------------------------------------------------------------------

    async def volume_list(self, filters: Filters) -> api.VolumeList:
        return await self.volumes.matching(filters)

    async def volume_inspect(self, name: str) -> api.Volume:
        return await self.volumes.inspect(name)

    async def volume_create(self, body: api.VolumeCreate) -> api.Volume:
        return await self.volumes.create(body)

    async def volume_remove(self, name: str, *, force: bool) -> None:
        await self.volumes.remove(name, force=force)

    async def volume_prune(self, filters: Filters) -> dict[str, Any]:
        return await self.volumes.prune(filters)


async def _flush_forever(state: StateStore, scope: anyio.CancelScope, done: anyio.Event) -> None:
    """The state store's flusher (commits made outside requests), until ``scope`` ends."""
    try:
        with scope:
            await state.flush_forever()
    finally:
        done.set()
