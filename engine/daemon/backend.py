"""The real Backend: the API's verbs on the engine's subsystems.

Lifecycle (``EngineBackend.open`` inside the daemon's task group)::

    open: state db -> images -> volumes -> runtime.restore() (re-adopts running containers,
          exit codes of those that ended meanwhile) -> repair() -> watchers for running ones
    serve requests ...
    close: the runtime's context ends; containers keep running (live-restore)

Data root layout::

    engine.db            engine.state (containers as the API knows them, events)
    containers/<id>/     engine.runtime bundles, logs, conmon files
    images/              engine.images store
    rootfs/<id>/         the container's overlay root, mounted by this module
    volumes/<name>/      engine.volumes

Adaptations to the subsystem libraries (documented where they are used):

* ``docker attach`` is served from the container's log (followed from the attach moment):
  output works for ``docker run`` (attached) and ``compose up``; attaching stdin to a running
  container is not supported (conmon's attach socket is not wired yet).
* Networks: ``host`` and ``none`` modes are honoured by the runtime; bridge networks of
  engine.network are not wired yet, so ``default``/``bridge`` containers get a private
  network namespace with loopback only, and ``/networks`` lists the predefined three.
* Exec runs through ``ContainerRuntime.exec_session`` (live stdin/stdout/stderr, tty).
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from engine.api import models as api
from engine.api.errors import Conflict, EngineError, InvalidParameter, NotFound, Unsupported
from engine.daemon import archive, stats
from engine.daemon.backend_api import (
    AttachOptions,
    Backend,
    Filters,
    LogOptions,
    LogStream,
    OutputSink,
)
from engine.daemon.filters import container_matches, network_matches, volume_matches
from engine.daemon.networking import Attachment, Networking
from engine.file_modes import secure_data_root
from engine.images import ImageService, Progress
from engine.network import NetworkSettings, open_network_engine
from engine.runtime import ContainerConfig as RuntimeConfig
from engine.runtime import ContainerRuntime, ContainerState, HealthStatus, Runc
from engine.runtime import ImageConfig as RuntimeImageConfig
from engine.runtime.mounts import parse_bind
from engine.state import ContainerRecord, StateStore
from engine.volumes import VolumeStore, prepare_mounts, release_mounts

log = logging.getLogger(__name__)

ENGINE_VERSION = "0.1.0"
_STREAMS = {"stdout": 1, "stderr": 2}
_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")


def strip_nulls(value: Any) -> Any:
    """Drop ``null`` members (Docker clients send them for 'unset'; the runtime models
    want the field absent)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def rfc3339(seconds: float) -> str:
    if seconds <= 0:
        return api.ZERO_TIME
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def human_duration(seconds: float) -> str:
    """Docker's ``units.HumanDuration`` (``Up 3 seconds``, ``Exited (0) 2 minutes ago``)."""
    seconds = max(seconds, 0)
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if minutes < 2:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = minutes / 60
    if hours < 2:
        return "About an hour"
    if hours < 48:
        return f"{int(hours)} hours"
    days = hours / 24
    if days < 14:
        return f"{int(days)} days"
    return f"{int(days / 7)} weeks"


@dataclass
class ExecRecord:
    id: str
    container_id: str
    body: api.ExecCreate
    running: bool = False
    exit_code: int | None = None
    pid: int = 0


@dataclass
class _Subscribers:
    streams: list[MemoryObjectSendStream[api.Event]] = field(default_factory=list)


class EngineBackend(Backend):
    """The engine: state + images + volumes + runtime under one data root."""

    def __init__(
        self,
        data_root: Path,
        *,
        exec_root: Path,
        task_group: TaskGroup,
        state: StateStore,
        images: ImageService,
        volumes: VolumeStore,
        runtime: ContainerRuntime,
        networking: Networking | None = None,
    ) -> None:
        self.data_root = data_root
        self.networking = networking
        self.exec_root = exec_root
        self.task_group = task_group
        self.state = state
        self.images = images
        self.volumes = volumes
        self.runtime = runtime
        self.records: dict[str, ContainerRecord] = {r.id: r for r in state.containers()}
        self.execs: dict[str, ExecRecord] = {}
        self._subscribers = _Subscribers()
        self._watched: set[str] = set()
        self._last_exit: dict[str, int] = {}
        self._static: dict[str, dict[str, Any]] = {}
        self._attached: dict[str, int] = {}

    # --- lifecycle ------------------------------------------------------------------

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
        left running (live-restore), their networks and sandboxes too.
        """
        secure_data_root(data_root, exec_root)
        state = StateStore(data_root / "engine.db")
        images = ImageService(data_root, insecure_registries=("127.0.0.1", "localhost"))
        volumes = VolumeStore(data_root / "volumes")
        runc = Runc(state_root=str(exec_root / "runc"))
        runtime = ContainerRuntime(
            data_root / "containers", runc=runc, socket_dir=str(exec_root / "attach")
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
                    exec_root=exec_root,
                    task_group=task_group,
                    state=state,
                    images=images,
                    volumes=volumes,
                    runtime=runtime,
                    networking=networking,
                )
                await backend.remount()
                await runtime.restore()
                await backend.repair()
                for container_id in backend.records:
                    if backend._running(container_id):
                        backend._watch(container_id)
                try:
                    yield backend
                finally:
                    if networking is not None:
                        # nothing to keep for live-restore: no bridge or table stays behind
                        with anyio.CancelScope(shield=True), anyio.move_on_after(30):
                            await networking.engine.release_host_objects()
        finally:
            with anyio.CancelScope(shield=True):
                await images.aclose()
                state.close()

    async def remount(self) -> None:
        """Mount the overlay roots a host reboot took away, before the runtime restores
        the containers (a restart policy may start them at once)."""
        for record in self.records.values():
            target = self._rootfs(record.id)
            if record.status == "created" and target.is_dir() and not os.path.ismount(target):
                try:
                    await self.images.mount_rootfs(record.id, record.image_id, target)
                except (EngineError, OSError):
                    log.exception("cannot mount the root of container %s", record.id)

    async def repair(self) -> list[str]:
        """Finish what a crash interrupted (engine.state rule 2); the ids cleaned up."""
        cleaned = []
        for record in self.state.unfinished():
            await self._dispose(record.id, force=True, remove_volumes=record.status == "creating")
            cleaned.append(record.id)
        known = {info.id for info in self.runtime.all()}
        for record in list(self.records.values()):
            if record.id not in known:
                log.warning("container %s has no bundle any more; forgetting it", record.id)
                await self._dispose(record.id, force=True, remove_volumes=False)
                cleaned.append(record.id)
        for info in self.runtime.all():
            if info.id not in self.records:
                log.warning("bundle %s has no record; removing it", info.id)
                with contextlib.suppress(EngineError):
                    await self.runtime.remove(info.id, force=True)
                cleaned.append(info.id)
        # a bundle directory the runtime never finished (killed before its container.json)
        bundles = self.data_root / "containers"
        for directory in bundles.iterdir() if bundles.is_dir() else ():
            if re.fullmatch(r"[0-9a-f]{64}", directory.name) and directory.name not in self.records:
                log.warning("half-written bundle %s; removing it", directory.name)
                await anyio.to_thread.run_sync(_remove_tree, directory)
                cleaned.append(directory.name)
        return cleaned

    def _rootfs(self, container_id: str) -> Path:
        return self.data_root / "rootfs" / container_id

    async def _dispose(self, container_id: str, *, force: bool, remove_volumes: bool) -> None:
        """Remove everything of a container, whatever exists of it; then its record."""
        try:
            await self.runtime.remove(container_id, force=force)
        except NotFound:  # unknown to the runtime: a bundle it may have begun to write
            bundle = self.data_root / "containers" / container_id
            if bundle.exists():
                await anyio.to_thread.run_sync(_remove_tree, bundle)
        target = self._rootfs(container_id)
        with contextlib.suppress(OSError, EngineError):
            await self.images.remove_rootfs(
                container_id, target if os.path.ismount(target) else None
            )
        with contextlib.suppress(OSError):
            target.rmdir()
        with contextlib.suppress(OSError, EngineError):
            await release_mounts(self.volumes, container_id, remove_anonymous=remove_volumes)
        if self.networking is not None:
            with contextlib.suppress(OSError, EngineError):
                await self.networking.detach(container_id)
        self.state.delete_container(container_id)
        self.records.pop(container_id, None)
        self._static.pop(container_id, None)

    # --- events ---------------------------------------------------------------------

    def emit(self, kind: str, action: str, actor_id: str, attributes: Mapping[str, str]) -> None:
        now = time.time_ns()
        event = api.Event(
            Type=kind,
            Action=action,
            Actor=api.EventActor(ID=actor_id, Attributes=dict(attributes)),
            time=now // 1_000_000_000,
            timeNano=now,
        )
        self.state.add_event(now, event.model_dump(mode="json"))
        for stream in list(self._subscribers.streams):
            try:
                stream.send_nowait(event)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.streams.remove(stream)
                stream.close()

    def _container_event(self, record: ContainerRecord, action: str, **extra: str) -> None:
        labels = record.body.get("Labels") or {}
        self.emit(
            "container",
            action,
            record.id,
            {**labels, "image": record.image, "name": record.name, **extra},
        )

    async def events(self, since: float | None, until: float | None) -> AsyncIterator[api.Event]:
        send, receive = anyio.create_memory_object_stream[api.Event](1024)
        self._subscribers.streams.append(send)
        past = (
            [api.Event.model_validate(e) for e in self.state.events_since(int(since * 1e9))]
            if since is not None
            else []
        )
        until_nano = int(until * 1e9) if until is not None else None

        async def generate() -> AsyncIterator[api.Event]:
            try:
                for event in past:
                    if until_nano is not None and event.timeNano > until_nano:
                        return
                    yield event
                if until_nano is not None and until_nano <= time.time_ns():
                    return
                deadline = (until_nano - time.time_ns()) / 1e9 if until_nano else None
                with anyio.move_on_after(deadline):
                    async for event in receive:
                        if not past or event.timeNano > past[-1].timeNano:
                            yield event
            finally:
                send.close()
                receive.close()
                with contextlib.suppress(ValueError):
                    self._subscribers.streams.remove(send)

        return generate()

    # --- system ---------------------------------------------------------------------

    async def version(self) -> api.Version:
        details = {
            "ApiVersion": api.API_VERSION,
            "MinAPIVersion": api.MIN_API_VERSION,
            "Os": "linux",
            "Arch": _arch(),
            "KernelVersion": platform.release(),
            "Experimental": "false",
        }
        return api.Version(
            Version=ENGINE_VERSION,
            Arch=_arch(),
            KernelVersion=platform.release(),
            GoVersion=f"python{platform.python_version()}",
            Components=[
                api.ComponentVersion(Name="Engine", Version=ENGINE_VERSION, Details=details)
            ],
        )

    async def info(self) -> api.Info:
        states = [self._info(c).state for c in self.records.values() if self._has(c.id)]
        return api.Info(
            ID=_engine_id(self.data_root),
            Name=platform.node(),
            ServerVersion=ENGINE_VERSION,
            Architecture=platform.machine(),
            Containers=len(states),
            ContainersRunning=sum(s is ContainerState.RUNNING for s in states),
            ContainersPaused=sum(s is ContainerState.PAUSED for s in states),
            ContainersStopped=sum(
                s not in (ContainerState.RUNNING, ContainerState.PAUSED) for s in states
            ),
            Images=len(self.images.images()),
            NCPU=os.cpu_count() or 1,
            MemTotal=_mem_total(),
            OperatingSystem=_os_name(),
            KernelVersion=platform.release(),
            DockerRootDir=str(self.data_root),
        )

    # --- containers: lookups --------------------------------------------------------

    def _record(self, ref: str) -> ContainerRecord:
        record = self.records.get(ref)
        if record is not None and record.status == "created":
            return record
        name = ref.lstrip("/")
        for record in self.records.values():
            if record.name == name and record.status == "created":
                return record
        if len(ref) >= 1:
            matches = [
                r for r in self.records.values() if r.id.startswith(ref) and r.status == "created"
            ]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def _has(self, container_id: str) -> bool:
        try:
            self.runtime.inspect(container_id)
        except NotFound:
            return False
        return True

    def _info(self, record: ContainerRecord) -> Any:
        return self.runtime.inspect(record.id)

    def _running(self, container_id: str) -> bool:
        try:
            info = self.runtime.inspect(container_id)
        except NotFound:
            return False
        return info.state in (
            ContainerState.RUNNING,
            ContainerState.PAUSED,
            ContainerState.RESTARTING,
        )

    def _mounts(self, record: ContainerRecord) -> list[api.MountPoint]:
        host_config = record.body.get("HostConfig") or {}
        mounts = []
        for bind in host_config.get("Binds") or []:
            with contextlib.suppress(EngineError, ValueError):
                parsed = parse_bind(bind)
                if parsed.is_volume:
                    source = str(self.volumes.root / parsed.source / "_data")
                    mounts.append(
                        api.MountPoint(
                            Type="volume",
                            Name=parsed.source,
                            Source=source,
                            Destination=parsed.target,
                            Driver="local",
                            Mode="",
                            RW=not parsed.read_only,
                        )
                    )
                else:
                    mounts.append(
                        api.MountPoint(
                            Type="bind",
                            Source=parsed.source,
                            Destination=parsed.target,
                            RW=not parsed.read_only,
                            Propagation="rprivate",
                        )
                    )
        for mount in host_config.get("Mounts") or []:
            kind = mount.get("Type", "volume")
            mounts.append(
                api.MountPoint(
                    Type=kind,
                    Name=mount.get("Source", "") if kind == "volume" else "",
                    Source=mount.get("Source", ""),
                    Destination=mount.get("Target", ""),
                    Driver="local" if kind == "volume" else "",
                    RW=not mount.get("ReadOnly", False),
                )
            )
        return mounts

    def _status_text(self, info: Any) -> str:
        now = time.time()
        state = info.state
        if state is ContainerState.RUNNING or state is ContainerState.PAUSED:
            text = f"Up {human_duration(now - info.started_at)}"
            if state is ContainerState.PAUSED:
                text += " (Paused)"
            if info.health is not HealthStatus.NONE:
                health = info.health.value
                text += " (health: starting)" if health == "starting" else f" ({health})"
            return text
        if state is ContainerState.RESTARTING:
            return f"Restarting ({info.exit_code}) {human_duration(now - info.finished_at)} ago"
        if state is ContainerState.CREATED:
            return "Created"
        if state is ContainerState.REMOVING:
            return "Removal In Progress"
        if state is ContainerState.DEAD:
            return "Dead"
        return f"Exited ({info.exit_code}) {human_duration(now - info.finished_at)} ago"

    def _command(self, info: Any) -> tuple[str, list[str]]:
        config = info.config
        entrypoint = config.entrypoint or []
        cmd = config.cmd or []
        if isinstance(entrypoint, str):
            entrypoint = ["/bin/sh", "-c", entrypoint]
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        argv = [*entrypoint, *cmd]
        return (argv[0] if argv else ""), argv[1:]

    def _summary_static(self, record: ContainerRecord, info: Any) -> dict[str, Any]:
        """The wire form of what a summary holds that changes only with a rename: built
        once per container and cached (``GET /containers/json`` is compose's hot path)."""
        cached = self._static.get(record.id)
        if cached is not None and cached["Names"][0] == "/" + record.name:
            return cached
        path, args = self._command(info)
        host_config = record.body.get("HostConfig") or {}
        cached = {
            "Id": record.id,
            "Names": ["/" + record.name],
            "Image": record.image,
            "ImageID": record.image_id,
            "Command": " ".join([path, *args]).strip(),
            "Created": int(record.created),
            "Labels": record.body.get("Labels") or {},
            "HostConfig": {"NetworkMode": host_config.get("NetworkMode") or "default"},
            "Mounts": [mount.wire() for mount in self._mounts(record)],
        }
        self._static[record.id] = cached
        return cached

    def _summary_wire(self, record: ContainerRecord, info: Any) -> dict[str, Any]:
        ports: list[dict[str, Any]] = []
        networks: dict[str, Any] = {}
        if self.networking is not None:
            ports, networks = self.networking.summary_wire(record.id)
        return {
            **self._summary_static(record, info),
            "Ports": ports,
            "State": info.state.value,
            "Status": self._status_text(info),
            "NetworkSettings": {"Networks": networks},
        }

    def _container_pid(self, ref: str) -> int:
        record = self._record(ref)
        if not self._running(record.id):
            raise Conflict(f"cannot join the network namespace of {ref}: it is not running")
        return int(self._info(record).pid)

    def _network_settings(self, record: ContainerRecord) -> api.InspectNetworkSettings:
        if self.networking is None:
            return api.InspectNetworkSettings()
        networks = self.networking.endpoints(record.id)
        _, ports = self.networking.ports(record.id)
        sandbox = self.networking.sandbox(record.id)
        bridge = networks.get("bridge")
        return api.InspectNetworkSettings(
            SandboxID=record.id if sandbox else "",
            SandboxKey=sandbox.netns if sandbox else "",
            Ports=ports,
            Gateway=bridge.Gateway if bridge else "",
            IPAddress=bridge.IPAddress if bridge else "",
            IPPrefixLen=bridge.IPPrefixLen if bridge else 0,
            MacAddress=bridge.MacAddress if bridge else "",
            Networks=networks,
        )

    def summary(self, record: ContainerRecord, info: Any | None = None) -> api.ContainerSummary:
        return api.ContainerSummary.model_validate(
            self._summary_wire(record, info or self._info(record))
        )

    # --- containers -----------------------------------------------------------------

    async def container_list_wire(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[dict[str, Any]]:
        wanted_labels = filters.get("label", ())
        only_labels = set(filters) <= {"label"}
        active = (ContainerState.RUNNING, ContainerState.PAUSED, ContainerState.RESTARTING)
        result = []
        for record in sorted(self.records.values(), key=lambda r: -r.created):
            if record.status != "created":
                continue
            labels = record.body.get("Labels") or {}
            if wanted_labels and not api.labels_match(labels, wanted_labels):
                continue
            try:
                info = self.runtime.inspect(record.id)
            except NotFound:
                continue
            if not all and info.state not in active:
                continue
            wire = self._summary_wire(record, info)
            if only_labels or container_matches(api.ContainerSummary.model_validate(wire), filters):
                result.append(wire)
            if 0 < limit <= len(result):
                break
        return result

    async def container_list(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[api.ContainerSummary]:
        wires = await self.container_list_wire(all=all, filters=filters, limit=limit)
        return [api.ContainerSummary.model_validate(wire) for wire in wires]

    async def container_create(
        self, name: str | None, body: api.ContainerCreate
    ) -> api.ContainerCreateResponse:
        if not body.Image:
            raise InvalidParameter("config has no image: give Image")
        if name is not None and not _NAME.match(name):
            raise InvalidParameter(f"Invalid container name ({name})")
        image = self.images.resolve(body.Image)
        image_config = RuntimeImageConfig.model_validate(
            strip_nulls(self.images.config(image).get("config") or {})
        )
        raw = body.model_dump(mode="json")
        try:
            config = RuntimeConfig.model_validate(strip_nulls(raw))
        except ValueError as exc:
            raise InvalidParameter(f"invalid container config: {exc}") from exc
        container_id = secrets.token_hex(32)
        name = (name or _random_name()).lstrip("/")
        created = time.time()
        self.state.begin_container(container_id, name, body.Image, image.id, raw, created)
        record = ContainerRecord(
            container_id, name, "creating", created, body.Image, image.id, raw, {}
        )
        self.records[container_id] = record
        target = self._rootfs(container_id)
        try:
            target.mkdir(parents=True, exist_ok=True)
            await self.images.mount_rootfs(container_id, image, target)
            volume_paths = await prepare_mounts(
                self.volumes, container_id, config, image_config, target
            )
            attachment = Attachment({}, {})
            if self.networking is not None:
                attachment = await self.networking.attach(
                    container_id, name, body, self._container_pid
                )
            await self.runtime.create(
                config,
                image_config,
                name=name,
                container_id=container_id,
                rootfs=str(target),
                volume_paths=volume_paths,
                namespace_paths=attachment.namespace_paths,
                etc_files=attachment.etc_files,
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._dispose(container_id, force=True, remove_volumes=True)
            raise
        self.state.set_container_status(container_id, "created")
        record = ContainerRecord(
            container_id, name, "created", created, body.Image, image.id, raw, {}
        )
        self.records[container_id] = record
        self._container_event(record, "create")
        return api.ContainerCreateResponse(Id=container_id)

    async def container_inspect(self, ref: str) -> api.ContainerInspect:
        record = self._record(ref)
        info = self._info(record)
        path, args = self._command(info)
        health = None
        if info.health is not HealthStatus.NONE:
            health = api.Health(
                Status=info.health.value,
                FailingStreak=info.health_failing_streak,
                Log=[
                    api.HealthLog(
                        Start=rfc3339(getattr(h, "start", 0.0)),
                        End=rfc3339(getattr(h, "end", 0.0)),
                        ExitCode=getattr(h, "exit_code", 0),
                        Output=getattr(h, "output", ""),
                    )
                    for h in info.health_log
                ],
            )
        state = info.state
        body = record.body
        config = api.ContainerConfig.model_validate(
            {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        )
        merged = info.config
        config = config.model_copy(
            update={
                "Hostname": merged.hostname or record.id[:12],
                "Env": merged.env or None,
                "Cmd": merged.cmd if isinstance(merged.cmd, list) else config.Cmd,
                "Entrypoint": merged.entrypoint
                if isinstance(merged.entrypoint, list)
                else config.Entrypoint,
                "WorkingDir": merged.working_dir,
                "Labels": body.get("Labels") or {},
            }
        )
        directory = info.directory
        return api.ContainerInspect(
            Id=record.id,
            Created=rfc3339(record.created),
            Path=path,
            Args=args,
            State=api.ContainerStateModel(
                Status=state.value,
                Running=state in (ContainerState.RUNNING, ContainerState.PAUSED),
                Paused=state is ContainerState.PAUSED,
                Restarting=state is ContainerState.RESTARTING,
                OOMKilled=info.oom_killed,
                Dead=state is ContainerState.DEAD,
                Pid=info.pid if state is ContainerState.RUNNING else 0,
                ExitCode=info.exit_code,
                Error=info.error,
                StartedAt=rfc3339(info.started_at),
                FinishedAt=rfc3339(info.finished_at),
                Health=health,
            ),
            Image=record.image_id,
            ResolvConfPath=str(directory / "etc_resolv.conf"),
            HostnamePath=str(directory / "etc_hostname"),
            HostsPath=str(directory / "etc_hosts"),
            LogPath=str(info.log_path),
            Name="/" + record.name,
            RestartCount=info.restart_count,
            ExecIDs=[e.id for e in self.execs.values() if e.container_id == record.id] or None,
            HostConfig=api.HostConfig.model_validate(body.get("HostConfig") or {}),
            GraphDriver={"Name": "overlay2", "Data": {"MergedDir": str(self._rootfs(record.id))}},
            Mounts=self._mounts(record),
            Config=config,
            NetworkSettings=self._network_settings(record),
        )

    async def _ensure_rootfs(self, record: ContainerRecord) -> None:
        """After a host reboot the overlay is gone: mount it again before a start."""
        target = self._rootfs(record.id)
        if not os.path.ismount(target):
            target.mkdir(parents=True, exist_ok=True)
            await self.images.mount_rootfs(record.id, record.image_id, target)

    async def container_start(self, ref: str) -> None:
        record = self._record(ref)
        if self._running(record.id):
            return
        await self._ensure_rootfs(record)
        if self.networking is not None:
            await self.networking.publish(record.id, record.body.get("HostConfig") or {})
        try:
            await self.runtime.start(record.id)
        except BaseException:
            if self.networking is not None:
                with anyio.CancelScope(shield=True):
                    await self.networking.unpublish(record.id)
            raise
        self._container_event(record, "start")
        self._watch(record.id)

    def _watch(self, container_id: str) -> None:
        if container_id in self._watched:
            return
        self._watched.add(container_id)
        self.task_group.start_soon(self._watch_exit, container_id)

    async def _watch_exit(self, container_id: str) -> None:
        """Emit ``die`` when the container stops; honour AutoRemove."""
        try:
            code = await self.runtime.wait(container_id, "not-running")
        except NotFound:
            self._watched.discard(container_id)
            return
        self._watched.discard(container_id)
        self._last_exit[container_id] = code
        record = self.records.get(container_id)
        if record is None:
            return
        self._container_event(record, "die", exitCode=str(code))
        host_config = record.body.get("HostConfig") or {}
        if host_config.get("AutoRemove"):
            # ``docker run --rm`` reads the output through attach: let it finish first
            with anyio.move_on_after(10):
                while self._attached.get(container_id):
                    await anyio.sleep(0.02)
        if host_config.get("AutoRemove") and not self._running(container_id):
            with contextlib.suppress(EngineError):
                await self.container_remove(container_id, force=True, volumes=True)

    async def container_stop(self, ref: str, timeout: int | None, signal: str) -> None:
        record = self._record(ref)
        if not self._running(record.id):
            return
        await self.runtime.stop(record.id, None if timeout is None else float(timeout), signal)
        if self.networking is not None:
            await self.networking.unpublish(record.id)  # host ports are free again, as Docker
        self._container_event(record, "stop")

    async def container_restart(self, ref: str, timeout: int | None) -> None:
        record = self._record(ref)
        if self._running(record.id):
            await self.runtime.stop(record.id, None if timeout is None else float(timeout))
            if self.networking is not None:
                await self.networking.unpublish(record.id)
        await self.container_start(record.id)
        self._container_event(record, "restart")

    async def container_kill(self, ref: str, signal: str) -> None:
        record = self._record(ref)
        if not self._running(record.id):
            raise Conflict(f"Cannot kill container: {ref}: Container {record.id} is not running")
        await self.runtime.kill(record.id, signal or "SIGKILL")
        self._container_event(record, "kill", signal=signal or "SIGKILL")

    async def container_pause(self, ref: str) -> None:
        record = self._record(ref)
        await self.runtime.pause(record.id)
        self._container_event(record, "pause")

    async def container_unpause(self, ref: str) -> None:
        record = self._record(ref)
        await self.runtime.unpause(record.id)
        self._container_event(record, "unpause")

    async def container_wait(
        self, ref: str, condition: str
    ) -> Callable[[], Awaitable[api.WaitResponse]]:
        record = self._record(ref)

        started_before = self._info(record).started_at
        running_now = self._running(record.id)

        async def wait() -> api.WaitResponse:
            try:
                if condition == "next-exit" and not running_now:
                    # The runtime's next-exit polls for the start and misses a run shorter
                    # than its poll (``docker run busybox true``): wait for a later start
                    # here, then for its end, which is recorded even if it came first.
                    while self._info(record).started_at <= started_before:
                        await anyio.sleep(0.02)
                    condition_now = "not-running"
                else:
                    condition_now = condition
                code = await self.runtime.wait(record.id, condition_now)
            except NotFound:  # removed meanwhile (AutoRemove): its last exit code
                code = self._last_exit.get(record.id, 0)
            return api.WaitResponse(StatusCode=code)

        return wait

    async def container_logs(self, ref: str, options: LogOptions) -> LogStream:
        record = self._record(ref)
        tty = bool(record.body.get("Tty"))
        entries = self.runtime.logs(
            record.id,
            follow=options.follow,
            tail=options.tail,
            since=options.since,
            until=options.until,
        )

        async def lines() -> AsyncIterator[tuple[int, bytes]]:
            async for entry in entries:
                stream = _STREAMS.get(entry.stream, 1)
                if (stream == 1 and not options.stdout) or (stream == 2 and not options.stderr):
                    continue
                data = entry.message + b"\n"
                if options.timestamps:
                    data = entry.timestamp().encode() + b" " + data
                yield stream, data

        return LogStream(tty, lines())

    async def container_remove(self, ref: str, *, force: bool, volumes: bool) -> None:
        record = self._record(ref)
        if self._running(record.id) and not force:
            raise Conflict(
                f"You cannot remove a running container {record.id}. "
                "Stop the container before attempting removal or force remove"
            )
        self.state.set_container_status(record.id, "removing")
        self.records[record.id] = ContainerRecord(
            record.id,
            record.name,
            "removing",
            record.created,
            record.image,
            record.image_id,
            record.body,
            record.networks,
        )
        with anyio.CancelScope(shield=True):
            await self._dispose(record.id, force=True, remove_volumes=volumes)
        self._container_event(record, "destroy")

    async def container_rename(self, ref: str, new_name: str) -> None:
        record = self._record(ref)
        new_name = new_name.lstrip("/")
        if not _NAME.match(new_name):
            raise InvalidParameter(f"Invalid container name ({new_name})")
        self.state.rename_container(record.id, new_name)
        self.runtime.rename(record.id, new_name)
        self.records[record.id] = ContainerRecord(
            record.id,
            new_name,
            record.status,
            record.created,
            record.image,
            record.image_id,
            record.body,
            record.networks,
        )
        self._container_event(record, "rename", oldName="/" + record.name)

    async def container_top(self, ref: str, ps_args: str) -> api.ContainerTop:
        record = self._record(ref)
        if not self._running(record.id):
            raise Conflict(f"Container {record.id} is not running")
        pids = _cgroup_pids(self._info(record).pid)
        result = await anyio.run_process(
            ["ps", "-o", "user:16,pid,ppid,c,stime,tty,time,cmd", "-p", ",".join(map(str, pids))],
            check=False,
        )
        lines = result.stdout.decode(errors="replace").splitlines()
        if not lines:
            return api.ContainerTop(Titles=[], Processes=[])
        titles = ["UID" if t == "USER" else t for t in lines[0].split()]
        processes = [line.split(None, len(titles) - 1) for line in lines[1:]]
        return api.ContainerTop(Titles=titles, Processes=processes)

    async def container_stats(self, ref: str) -> dict[str, Any]:
        """One stats document; the CPU delta is measured over half a second."""
        record = self._record(ref)
        pid = self._info(record).pid if self._running(record.id) else 0
        first = await anyio.to_thread.run_sync(stats.sample, pid)
        if pid:
            await anyio.sleep(0.5)
        second = await anyio.to_thread.run_sync(stats.sample, pid)
        return stats.stats_document(first, second, record.name, record.id)

    async def container_prune(self, filters: Filters) -> api.ContainerPrune:
        deleted = []
        for record in list(self.records.values()):
            if record.status != "created" or self._running(record.id):
                continue
            if not api.labels_match(record.body.get("Labels") or {}, filters.get("label", ())):
                continue
            with contextlib.suppress(NotFound):
                await self.container_remove(record.id, force=False, volumes=False)
                deleted.append(record.id)
        return api.ContainerPrune(ContainersDeleted=deleted or None, SpaceReclaimed=0)

    async def system_df(self) -> dict[str, Any]:
        containers = [
            self.summary(r).wire() | {"SizeRw": 0, "SizeRootFs": 0}
            for r in self.records.values()
            if r.status == "created" and self._has(r.id)
        ]
        images = [
            image.wire()
            | {"Containers": sum(r.image_id == image.Id for r in self.records.values())}
            for image in await self.image_list(all=True, filters={})
        ]
        volumes = [
            volume.wire() | {"UsageData": {"Size": -1, "RefCount": len(v.users)}}
            for v in self.volumes.all()
            for volume in [self._volume(v)]
        ]
        return {
            "LayersSize": sum(i["Size"] for i in images),
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }

    async def _archive_root(self, record: ContainerRecord) -> str:
        """Where ``docker cp`` looks: the running container's own view (volumes included),
        else its overlay root (see engine.daemon.archive)."""
        if self._running(record.id):
            return f"/proc/{self._info(record).pid}/root"
        await self._ensure_rootfs(record)
        return str(self._rootfs(record.id))

    async def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        record = self._record(ref)
        return await archive.stat_path(await self._archive_root(record), path, ref)

    async def archive_get(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        record = self._record(ref)
        root = await self._archive_root(record)
        stat = await archive.stat_path(root, path, ref)
        self._container_event(record, "archive-path")
        return stat, archive.read_path(root, path, ref)

    async def archive_put(
        self, ref: str, path: str, tar: AsyncIterator[bytes], *, no_overwrite_dir: bool
    ) -> None:
        record = self._record(ref)
        await archive.write_path(await self._archive_root(record), path, ref, tar)
        self._container_event(record, "extract-to-dir")

    async def container_attach(self, ref: str, options: AttachOptions) -> _AttachSession:
        record = self._record(ref)
        return _AttachSession(self, record, options)

    # --- exec -----------------------------------------------------------------------

    async def exec_create(self, ref: str, body: api.ExecCreate) -> api.IdResponse:
        record = self._record(ref)
        if not self._running(record.id):
            raise Conflict(f"Container {record.id} is not running")
        exec_id = secrets.token_hex(32)
        self.execs[exec_id] = ExecRecord(exec_id, record.id, body)
        self._container_event(record, f"exec_create: {' '.join(body.Cmd)}", execID=exec_id)
        return api.IdResponse(Id=exec_id)

    def _exec(self, exec_id: str) -> ExecRecord:
        record = self.execs.get(exec_id)
        if record is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return record

    async def exec_start(self, exec_id: str, body: api.ExecStart) -> _ExecSession:
        record = self._exec(exec_id)
        if record.running or record.exit_code is not None:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        return _ExecSession(self, record, body.Tty or record.body.Tty)

    async def exec_inspect(self, exec_id: str) -> api.ExecInspect:
        record = self._exec(exec_id)
        body = record.body
        return api.ExecInspect(
            ID=record.id,
            Running=record.running,
            ExitCode=record.exit_code,
            ProcessConfig=api.ProcessConfig(
                tty=body.Tty,
                entrypoint=body.Cmd[0] if body.Cmd else "",
                arguments=body.Cmd[1:],
                privileged=body.Privileged,
                user=body.User,
            ),
            OpenStdin=body.AttachStdin,
            OpenStdout=body.AttachStdout,
            OpenStderr=body.AttachStderr,
            ContainerID=record.container_id,
            Pid=record.pid,
        )

    # --- images ---------------------------------------------------------------------

    async def image_list(self, *, all: bool, filters: Filters) -> list[api.ImageSummary]:
        result = []
        for image in self.images.images():
            config: dict[str, Any] = {}
            with contextlib.suppress(EngineError, OSError, ValueError):
                config = self.images.config(image).get("config") or {}
            labels = config.get("Labels") or {}
            if not api.labels_match(labels, filters.get("label", ())):
                continue
            created = 0
            if image.created:
                with contextlib.suppress(ValueError):
                    created = int(
                        datetime.fromisoformat(image.created.replace("Z", "+00:00")).timestamp()
                    )
            tags = [_familiar(t) for t in image.repo_tags]
            if "reference" in filters and not any(
                t == ref or t.split(":")[0] == ref for ref in filters["reference"] for t in tags
            ):
                continue
            result.append(
                api.ImageSummary(
                    Id=image.id,
                    RepoTags=tags,
                    RepoDigests=[_familiar(d) for d in image.repo_digests],
                    Created=created,
                    Size=image.size,
                    VirtualSize=image.size,
                    Labels=labels,
                )
            )
        return result

    async def image_inspect(self, name: str) -> api.ImageInspect:
        try:
            data = self.images.inspect(name)
        except NotFound as exc:
            raise NotFound(f"no such image: {name}: No such image: {name}") from exc
        return api.ImageInspect.model_validate(data)

    async def _progress_stream(
        self, work: Callable[[Callable[[Progress], None]], Awaitable[list[api.ProgressMessage]]]
    ) -> AsyncIterator[api.ProgressMessage]:
        """Run ``work`` in the engine's task group; its progress as a message stream.

        The first message is awaited before returning, so an error before any progress
        (unknown tag) is raised here and the route answers it as an HTTP error.
        """
        send, receive = anyio.create_memory_object_stream[api.ProgressMessage | EngineError | None](
            10_000
        )

        def on_progress(progress: Progress) -> None:
            detail = None
            if progress.total:
                detail = api.ProgressDetail(current=progress.current, total=progress.total)
            message = api.ProgressMessage(
                status=progress.status, id=progress.id or None, progressDetail=detail
            )
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                send.send_nowait(message)

        async def run() -> None:
            with send:
                try:
                    for message in await work(on_progress):
                        await send.send(message)
                except EngineError as exc:
                    with contextlib.suppress(anyio.BrokenResourceError):
                        await send.send(exc)
                except Exception as exc:
                    log.exception("image operation failed")
                    with contextlib.suppress(anyio.BrokenResourceError):
                        await send.send(EngineError(f"internal error: {exc}"))
                with contextlib.suppress(anyio.BrokenResourceError):
                    await send.send(None)

        self.task_group.start_soon(run)
        held: list[api.ProgressMessage] = []
        first = await receive.receive()
        # "Pulling from x" comes before the manifest is fetched: hold it until the next
        # message, so that an unknown tag is still an HTTP 404 (as dockerd answers).
        while isinstance(first, api.ProgressMessage) and (first.status or "").startswith(
            "Pulling from"
        ):
            held.append(first)
            first = await receive.receive()
        if isinstance(first, EngineError):
            receive.close()
            raise first

        async def messages() -> AsyncIterator[api.ProgressMessage]:
            with receive:
                for message in held:
                    yield message
                item: api.ProgressMessage | EngineError | None = first
                while item is not None:
                    if isinstance(item, EngineError):
                        raise item
                    yield item
                    try:
                        item = await receive.receive()
                    except anyio.EndOfStream:
                        return

        return messages()

    async def image_pull(
        self, image: str, tag: str, *, platform: str, auth: str
    ) -> AsyncIterator[api.ProgressMessage]:
        reference = image
        if tag:
            reference = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"

        async def work(on_progress: Callable[[Progress], None]) -> list[api.ProgressMessage]:
            before = None
            with contextlib.suppress(EngineError):
                before = self.images.resolve(reference).id
            record = await self.images.pull(
                reference, platform=platform or None, progress=on_progress
            )
            self.emit("image", "pull", reference, {"name": reference})
            status = (
                f"Image is up to date for {reference}"
                if before == record.id
                else f"Downloaded newer image for {reference}"
            )
            digest = record.manifest_digest or record.id
            return [
                api.ProgressMessage(status=f"Digest: {digest}"),
                api.ProgressMessage(status=f"Status: {status}"),
            ]

        return await self._progress_stream(work)

    async def image_push(
        self, name: str, tag: str, *, auth: str
    ) -> AsyncIterator[api.ProgressMessage]:
        reference = f"{name}:{tag}" if tag else name

        async def work(on_progress: Callable[[Progress], None]) -> list[api.ProgressMessage]:
            digest = await self.images.push(reference, progress=on_progress)
            self.emit("image", "push", reference, {"name": reference})
            aux = {"Tag": tag or "latest", "Digest": digest, "Size": 0}
            return [
                api.ProgressMessage(status=f"{tag or 'latest'}: digest: {digest}"),
                api.ProgressMessage(progressDetail=api.ProgressDetail(), aux=aux),
            ]

        return await self._progress_stream(work)

    async def image_tag(self, name: str, repo: str, tag: str) -> None:
        target = f"{repo}:{tag}" if tag else repo
        self.images.tag(name, target)
        self.emit("image", "tag", self.images.resolve(target).id, {"name": target})

    async def image_remove(
        self, name: str, *, force: bool, noprune: bool
    ) -> list[api.ImageDeleteItem]:
        report = await self.images.remove(name, force=force)
        for item in report:
            for action, value in item.items():
                self.emit("image", action.lower(), value, {"name": value})
        return [api.ImageDeleteItem.model_validate(item) for item in report]

    async def image_load(
        self, tar: AsyncIterator[bytes], *, quiet: bool
    ) -> AsyncIterator[api.ProgressMessage]:
        spool = Path(tempfile.mkstemp(prefix="load-", suffix=".tar", dir=self.data_root)[1])
        try:
            with open(spool, "wb") as handle:
                async for chunk in tar:
                    await anyio.to_thread.run_sync(handle.write, chunk)
            records = await self.images.load(spool)
        finally:
            spool.unlink(missing_ok=True)
        messages = []
        for record in records:
            names = [_familiar(t) for t in record.repo_tags]
            self.emit("image", "load", record.id, {"name": names[0] if names else record.id})
            text = f"Loaded image: {names[0]}" if names else f"Loaded image ID: {record.id}"
            messages.append(api.ProgressMessage(status=text + "\n"))

        async def generate() -> AsyncIterator[api.ProgressMessage]:
            for message in messages:
                yield message

        return generate()

    async def image_build(
        self, context: AsyncIterator[bytes], query: Mapping[str, Sequence[str]]
    ) -> AsyncIterator[dict[str, Any]]:
        """``POST /build``: the classic builder's JSON stream (``docker build``'s output).

        The build runs to its end before the answer streams, so that its errors can still
        be plain HTTP errors (a bad Dockerfile is a 400, as with dockerd); a failing step
        comes as an ``errorDetail`` line, as docker build expects.
        """
        from engine.build import build, error_message, options_from_query, receive_context

        options = options_from_query(query)  # InvalidParameter / Unsupported before reading
        workdir = Path(tempfile.mkdtemp(prefix="build-", dir=self.data_root))
        messages: list[dict[str, Any]] = []
        try:
            build_context = await receive_context(context, workdir)
            try:
                record = await build(
                    build_context,
                    options,
                    self.images,
                    on_progress=lambda event: messages.append(event.to_message()),
                )
            except EngineError as error:
                messages.append(error_message(error))
            else:
                self.emit("image", "tag", record.id, {"name": (record.repo_tags or [record.id])[0]})
        finally:
            await anyio.to_thread.run_sync(shutil.rmtree, workdir, True)

        async def generate() -> AsyncIterator[dict[str, Any]]:
            for message in messages:
                yield message

        return generate()

    async def image_save(self, names: list[str]) -> AsyncIterator[bytes]:
        for name in names:
            self.images.resolve(name)
        spool = Path(tempfile.mkstemp(prefix="save-", suffix=".tar", dir=self.data_root)[1])
        try:
            await self.images.save(names, spool)
        except BaseException:
            spool.unlink(missing_ok=True)
            raise

        async def generate() -> AsyncIterator[bytes]:
            try:
                async with await anyio.open_file(spool, "rb") as handle:
                    while chunk := await handle.read(1 << 20):
                        yield chunk
            finally:
                spool.unlink(missing_ok=True)

        return generate()

    async def image_prune(self, filters: Filters) -> dict[str, Any]:
        dangling = filters.get("dangling", ["true"])[-1].lower() in ("1", "true")
        report = await self.images.prune(all_images=not dangling)
        return {"ImagesDeleted": report or None, "SpaceReclaimed": 0}

    # --- networks -----------------------------------------------------------------

    def _predefined(self) -> list[api.Network]:
        return [
            api.Network(Name=name, Id=_network_id(name), Driver=driver)
            for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null"))
        ]

    async def network_list(self, filters: Filters) -> list[api.Network]:
        networks = self.networking.all() if self.networking else self._predefined()
        return [n for n in networks if network_matches(n, filters)]

    async def network_inspect(self, ref: str) -> api.Network:
        if self.networking is not None:
            return self.networking.inspect(ref)
        for network in self._predefined():
            if ref in (network.Name, network.Id) or (len(ref) >= 12 and network.Id.startswith(ref)):
                return network
        raise NotFound(f"network {ref} not found")

    def _networking(self) -> Networking:
        if self.networking is None:
            raise Unsupported("this engine runs without bridge networking (--no-network)")
        return self.networking

    async def network_create(self, body: api.NetworkCreate) -> api.NetworkCreateResponse:
        network = await self._networking().create(body)
        self.emit("network", "create", network.id, {"name": network.name, "type": "bridge"})
        return api.NetworkCreateResponse(Id=network.id)

    async def network_remove(self, ref: str) -> None:
        network = await self._networking().remove(ref)
        self.emit("network", "destroy", network.id, {"name": network.name, "type": "bridge"})

    async def network_connect(self, ref: str, body: api.NetworkConnect) -> None:
        networking = self._networking()
        network = networking.network(ref)
        record = self._record(body.Container)
        if networking.sandbox(record.id) is None:
            raise Conflict(
                f"container {record.name} has no network sandbox of its own "
                "(network mode host, none or container:)"
            )
        await networking.connect(record.id, network, body.EndpointConfig, record.name)
        self.emit(
            "network",
            "connect",
            network.id,
            {"container": record.id, "name": network.name, "type": "bridge"},
        )

    async def network_disconnect(self, ref: str, body: api.NetworkDisconnect) -> None:
        networking = self._networking()
        network = networking.network(ref)
        record = self._record(body.Container)
        await networking.disconnect(record.id, network)
        self.emit(
            "network",
            "disconnect",
            network.id,
            {"container": record.id, "name": network.name, "type": "bridge"},
        )

    async def network_prune(self, filters: Filters) -> dict[str, Any]:
        networking = self._networking()
        removed = []
        for network in list(networking.engine.networks.values()):
            if network.name == "bridge" or network.endpoints:
                continue
            if not api.labels_match(network.labels, filters.get("label", ())):
                continue
            await self.network_remove(network.id)
            removed.append(network.name)
        return {"NetworksDeleted": removed or None}

    # --- volumes --------------------------------------------------------------------

    def _volume(self, volume: Any) -> api.Volume:
        return api.Volume(
            Name=volume.name,
            Driver=volume.driver,
            Mountpoint=str(volume.mountpoint),
            CreatedAt=rfc3339(volume.created_at).replace(".", ",", 0),
            Labels=dict(volume.labels) or None,
            Options=dict(volume.options) or None,
        )

    async def volume_list(self, filters: Filters) -> api.VolumeList:
        volumes = [
            self._volume(v)
            for v in self.volumes.all()
            if volume_matches(self._volume(v), filters, in_use=bool(v.users))
        ]
        return api.VolumeList(Volumes=volumes, Warnings=None)

    async def volume_inspect(self, name: str) -> api.Volume:
        try:
            return self._volume(self.volumes.get(name))
        except NotFound as exc:
            raise NotFound(f"get {name}: no such volume") from exc

    async def volume_create(self, body: api.VolumeCreate) -> api.Volume:
        volume = self.volumes.create(
            body.Name, labels=body.Labels, driver=body.Driver, driver_opts=body.DriverOpts
        )
        self.emit("volume", "create", volume.name, {"driver": "local"})
        return self._volume(volume)

    async def volume_remove(self, name: str, *, force: bool) -> None:
        await self.volume_inspect(name)
        await self.volumes.remove(name, force=force)
        self.emit("volume", "destroy", name, {"driver": "local"})

    async def volume_prune(self, filters: Filters) -> dict[str, Any]:
        all_volumes = filters.get("all", ["false"])[-1].lower() in ("1", "true")
        report = await self.volumes.prune(all_volumes=all_volumes)
        return {
            "VolumesDeleted": list(report.removed) or None,
            "SpaceReclaimed": report.space_reclaimed,
        }


class _ExecSession:
    """A ``docker exec`` on the hijacked connection, through ContainerRuntime.exec_session."""

    def __init__(self, backend: EngineBackend, record: ExecRecord, tty: bool) -> None:
        self._backend = backend
        self._record = record
        self._tty = tty

    @property
    def tty(self) -> bool:
        return self._tty

    async def run(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        backend, record, body = self._backend, self._record, self._record.body
        record.running = True
        code = 126
        try:
            session = backend.runtime.exec_session(
                record.container_id,
                body.Cmd,
                env=body.Env or (),
                user=body.User,
                working_dir=body.WorkingDir,
                tty=self._tty,
                privileged=body.Privileged,
            )
            async with session, anyio.create_task_group() as task_group:

                async def feed() -> None:
                    if stdin is not None and body.AttachStdin:
                        async for data in stdin:
                            await session.send(data)
                    await session.close_stdin()

                task_group.start_soon(feed)
                while True:
                    stream, data = await session.receive()
                    if not data:
                        break
                    if (stream == "stdout" and body.AttachStdout) or (
                        stream == "stderr" and body.AttachStderr
                    ):
                        await output(_STREAMS.get(stream, 1), data)
                code = await session.wait()
                task_group.cancel_scope.cancel()
        finally:
            record.running = False
            record.exit_code = code
            container = backend.records.get(record.container_id)
            if container is not None:
                backend._container_event(
                    container, "exec_die", execID=record.id, exitCode=str(code)
                )


class _AttachSession:
    """``attach``: the container's output as it is written, from the attach moment on.

    Served from the log (see the module doc); ends when the container stops.
    """

    def __init__(self, backend: EngineBackend, record: ContainerRecord, options: AttachOptions):
        self._backend = backend
        self._record = record
        self._options = options
        self._since = time.time()

    @property
    def tty(self) -> bool:
        return bool(self._record.body.get("Tty"))

    async def run(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        attached = self._backend._attached
        container_id = self._record.id
        attached[container_id] = attached.get(container_id, 0) + 1
        try:
            await self._stream(stdin, output)
        except NotFound:
            return
        finally:
            attached[container_id] -= 1
            if not attached[container_id]:
                del attached[container_id]

    async def _stream(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        runtime = self._backend.runtime
        container_id = self._record.id
        if not self._options.stream:
            return
        # attach comes before start: wait for the run that follows
        while True:
            info = runtime.inspect(container_id)
            if info.state is not ContainerState.CREATED and (
                info.started_at >= self._since - 1 or info.state is ContainerState.RUNNING
            ):
                break
            await anyio.sleep(0.02)
        async with anyio.create_task_group() as task_group:
            if stdin is not None and self._options.stdin and self._record.body.get("OpenStdin"):
                task_group.start_soon(self._forward_stdin, stdin)
            await self._output(output)
            task_group.cancel_scope.cancel()

    async def _forward_stdin(self, stdin: AsyncIterator[bytes]) -> None:
        """The client's stdin to the container's, through conmon's attach socket; the
        client's EOF closes it (the container's stdin ends with StdinOnce)."""
        with contextlib.suppress(EngineError):
            connection = self._backend.runtime.attach(self._record.id)
            async with connection:
                async for data in stdin:
                    await connection.send(data)

    async def _output(self, output: OutputSink) -> None:
        runtime = self._backend.runtime
        container_id = self._record.id
        async for entry in runtime.logs(container_id, follow=True, since=self._since - 1):
            stream = _STREAMS.get(entry.stream, 1)
            if (stream == 1 and not self._options.stdout) or (
                stream == 2 and not self._options.stderr
            ):
                continue
            await output(stream, entry.message + b"\n")


# --- small helpers -----------------------------------------------------------------------------


_ADJECTIVES = ("brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "wise", "zen")
_NOUNS = ("turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "liskov", "dijkstra")


def _remove_tree(directory: Path) -> None:
    """Delete a directory, after unmounting anything still mounted below it."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(f"{directory}/")), reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    shutil.rmtree(directory, ignore_errors=True)


def _random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{secrets.token_hex(2)}"


def _familiar(reference: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/"):
        if reference.startswith(prefix):
            return reference[len(prefix) :]
    return reference


def _network_id(name: str) -> str:
    import hashlib

    return hashlib.sha256(f"pycompose-network-{name}".encode()).hexdigest()


def _engine_id(data_root: Path) -> str:
    path = data_root / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        engine_id = secrets.token_hex(16)
        path.write_text(engine_id + "\n")
        return engine_id


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _mem_total() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip('"')
    return "Linux"


def _cgroup_pids(pid: int) -> list[int]:
    """The processes of the container whose init is ``pid`` (its cgroup's members)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers in ("", "pids", "memory") or "pids" in controllers.split(","):
                base = "/sys/fs/cgroup" if controllers == "" else f"/sys/fs/cgroup/{controllers}"
                procs = Path(base + path) / "cgroup.procs"
                if procs.exists():
                    return [int(p) for p in procs.read_text().split()]
    return [pid]
