"""An in-memory Backend for the route tests: containers are records, processes are echoes.

Conventions the tests rely on:
  * ``container_inspect("error-<Kind>")`` raises that EngineError kind (round-trip test);
  * a container's log is ``hi\\n`` on stdout and ``oops\\n`` on stderr;
  * attach/exec sessions echo stdin to stdout upper-cased and write ``err\\n`` to stderr;
    an exec's exit code is the length of its command;
  * ``image_pull`` of tag ``missing`` fails before streaming (404), of tag ``broken`` after
    the first message (in-band error);
  * ``events`` yields the recorded events, then live ones until the client goes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from engine.api import errors
from engine.api.models import (
    ContainerConfig,
    ContainerCreate,
    ContainerCreateResponse,
    ContainerInspect,
    ContainerStateModel,
    ContainerSummary,
    Event,
    EventActor,
    ExecCreate,
    ExecInspect,
    ExecStart,
    IdResponse,
    ImageDeleteItem,
    ImageInspect,
    Network,
    NetworkCreate,
    NetworkCreateResponse,
    ProgressMessage,
    Version,
    Volume,
    VolumeCreate,
    VolumeList,
    WaitResponse,
)
from engine.daemon.backend_api import (
    AttachOptions,
    Backend,
    Filters,
    LogOptions,
    LogStream,
    OutputSink,
)
from engine.daemon.filters import container_matches, network_matches, volume_matches

_counter = itertools.count(1)


def _new_id() -> str:
    return hashlib.sha256(str(next(_counter)).encode()).hexdigest()


@dataclass
class FakeContainer:
    id: str
    name: str
    body: ContainerCreate
    state: str = "created"
    exit_code: int = 0
    stopped: anyio.Event = field(default_factory=anyio.Event)
    started: anyio.Event = field(default_factory=anyio.Event)


class EchoSession:
    def __init__(self, tty: bool, on_done: Callable[[], None] | None = None) -> None:
        self._tty = tty
        self._on_done = on_done

    @property
    def tty(self) -> bool:
        return self._tty

    async def run(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        await output(2, b"err\n")
        if stdin is not None:
            async for data in stdin:
                await output(1, data.upper())
        if self._on_done is not None:
            self._on_done()


class FakeBackend(Backend):
    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.execs: dict[str, ExecInspect] = {}
        self.exec_commands: dict[str, list[str]] = {}
        self.networks: dict[str, Network] = {}
        self.volumes: dict[str, Volume] = {}
        self.events_log: list[Event] = []
        self.events_open = 0
        self.events_closed = anyio.Event()

    # --- helpers --------------------------------------------------------------------

    def _get(self, ref: str) -> FakeContainer:
        if ref.startswith("error-"):
            kind = getattr(errors, ref.removeprefix("error-"))
            raise kind(f"{kind.__name__} raised for {ref}")
        for container in self.containers.values():
            if ref in (container.id, container.name) or (
                len(ref) >= 12 and container.id.startswith(ref)
            ):
                return container
        raise errors.NotFound(f"No such container: {ref}")

    def _event(self, container: FakeContainer, action: str) -> None:
        labels = dict(container.body.labels or {})
        attributes = {**labels, "image": container.body.image, "name": container.name}
        self.events_log.append(
            Event(
                Type="container",
                Action=action,
                Actor=EventActor(ID=container.id, Attributes=attributes),
            )
        )

    def _summary(self, container: FakeContainer) -> ContainerSummary:
        return ContainerSummary(
            Id=container.id,
            Names=["/" + container.name],
            Image=container.body.image,
            Labels=dict(container.body.labels or {}),
            State=container.state,
            Status="Up" if container.state == "running" else f"Exited ({container.exit_code})",
        )

    # --- system ---------------------------------------------------------------------

    async def version(self) -> Version:
        return Version(Version="0.1.0-fake")

    async def events(self, since: float | None, until: float | None) -> AsyncIterator[Event]:
        async def generate() -> AsyncIterator[Event]:
            self.events_open += 1
            try:
                for event in list(self.events_log):
                    yield event
                await anyio.sleep_forever()
            finally:
                self.events_open -= 1
                self.events_closed.set()

        return generate()

    # --- containers -----------------------------------------------------------------

    async def container_list(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[ContainerSummary]:
        summaries = [self._summary(c) for c in self.containers.values()]
        return [
            s for s in summaries if (all or s.State == "running") and container_matches(s, filters)
        ]

    async def container_create(
        self, name: str | None, body: ContainerCreate
    ) -> ContainerCreateResponse:
        if not body.image:
            raise errors.InvalidParameter("config has no image")
        container_id = _new_id()
        name = (name or container_id[:12]).lstrip("/")
        if any(c.name == name for c in self.containers.values()):
            raise errors.Conflict(f'The container name "/{name}" is already in use')
        container = FakeContainer(container_id, name, body)
        self.containers[container_id] = container
        self._event(container, "create")
        return ContainerCreateResponse(Id=container_id)

    async def container_inspect(self, ref: str) -> ContainerInspect:
        container = self._get(ref)
        return ContainerInspect(
            Id=container.id,
            Name="/" + container.name,
            State=ContainerStateModel(
                Status=container.state,
                Running=container.state == "running",
                ExitCode=container.exit_code,
            ),
            Config=ContainerConfig.model_validate(
                container.body.model_dump(exclude={"host_config", "networking_config"})
            ),
        )

    async def container_start(self, ref: str) -> None:
        container = self._get(ref)
        if container.state == "running":
            return
        container.state = "running"
        container.stopped = anyio.Event()
        container.started.set()
        self._event(container, "start")

    async def container_stop(self, ref: str, timeout: int | None, signal: str) -> None:
        container = self._get(ref)
        if container.state == "running":
            container.state = "exited"
            container.exit_code = 137 if signal == "SIGKILL" else 0
            container.stopped.set()
            self._event(container, "die")

    async def container_kill(self, ref: str, signal: str) -> None:
        container = self._get(ref)
        if container.state != "running":
            raise errors.Conflict(f"Container {container.id} is not running")
        await self.container_stop(ref, 0, "SIGKILL")

    async def container_wait(
        self, ref: str, condition: str
    ) -> Callable[[], Awaitable[WaitResponse]]:
        container = self._get(ref)

        async def wait() -> WaitResponse:
            if condition == "next-exit" or container.state != "running":
                await container.started.wait()
            await container.stopped.wait()
            return WaitResponse(StatusCode=container.exit_code)

        return wait

    async def container_logs(self, ref: str, options: LogOptions) -> LogStream:
        container = self._get(ref)

        async def lines() -> AsyncIterator[tuple[int, bytes]]:
            if options.stdout:
                yield 1, b"hi\n"
            if options.stderr:
                yield 2, b"oops\n"

        return LogStream(container.body.tty, lines())

    async def container_remove(self, ref: str, *, force: bool, volumes: bool) -> None:
        container = self._get(ref)
        if container.state == "running" and not force:
            raise errors.Conflict(
                f"You cannot remove a running container {container.id}. "
                "Stop the container before attempting removal or force remove"
            )
        del self.containers[container.id]
        self._event(container, "destroy")

    async def container_rename(self, ref: str, new_name: str) -> None:
        self._get(ref).name = new_name.lstrip("/")

    async def container_attach(self, ref: str, options: AttachOptions) -> EchoSession:
        container = self._get(ref)
        return EchoSession(container.body.tty)

    # --- exec -----------------------------------------------------------------------

    async def exec_create(self, ref: str, body: ExecCreate) -> IdResponse:
        container = self._get(ref)
        if container.state != "running":
            raise errors.Conflict(f"Container {container.id} is not running")
        exec_id = _new_id()
        self.execs[exec_id] = ExecInspect(
            ID=exec_id, ContainerID=container.id, Running=False, OpenStdin=body.AttachStdin
        )
        self.exec_commands[exec_id] = body.Cmd
        return IdResponse(Id=exec_id)

    async def exec_start(self, exec_id: str, body: ExecStart) -> EchoSession:
        record = self.execs.get(exec_id)
        if record is None:
            raise errors.NotFound(f"No such exec instance: {exec_id}")
        cmd = self.exec_commands[exec_id]

        def done() -> None:
            self.execs[exec_id] = record.model_copy(update={"ExitCode": len(cmd)})

        return EchoSession(body.Tty, done)

    async def exec_inspect(self, exec_id: str) -> ExecInspect:
        record = self.execs.get(exec_id)
        if record is None:
            raise errors.NotFound(f"No such exec instance: {exec_id}")
        return record

    # --- images ---------------------------------------------------------------------

    async def image_inspect(self, name: str) -> ImageInspect:
        if name.startswith("missing"):
            raise errors.NotFound(f"no such image: {name}: No such image: {name}")
        return ImageInspect(
            Id="sha256:" + hashlib.sha256(name.encode()).hexdigest(), RepoTags=[name]
        )

    async def image_pull(
        self, image: str, tag: str, *, platform: str, auth: str
    ) -> AsyncIterator[ProgressMessage]:
        if tag == "missing":
            raise errors.NotFound(
                f"manifest for {image}:{tag} not found: manifest unknown: manifest unknown"
            )

        async def progress() -> AsyncIterator[ProgressMessage]:
            yield ProgressMessage(status=f"Pulling from {image}", id=tag or "latest")
            if tag == "broken":
                raise errors.EngineInternal("registry went away <here>")
            yield ProgressMessage(status=f"Status: Downloaded newer image for {image}:{tag}")

        return progress()

    async def image_tag(self, name: str, repo: str, tag: str) -> None:
        await self.image_inspect(name)

    async def image_remove(self, name: str, *, force: bool, noprune: bool) -> list[ImageDeleteItem]:
        await self.image_inspect(name)
        return [ImageDeleteItem(Untagged=name)]

    # --- networks / volumes ---------------------------------------------------------

    async def network_list(self, filters: Filters) -> list[Network]:
        return [n for n in self.networks.values() if network_matches(n, filters)]

    async def network_inspect(self, ref: str) -> Network:
        for network in self.networks.values():
            if ref in (network.Id, network.Name):
                return network
        raise errors.NotFound(f"network {ref} not found")

    async def network_create(self, body: NetworkCreate) -> NetworkCreateResponse:
        if any(n.Name == body.Name for n in self.networks.values()):
            raise errors.Conflict(f"network with name {body.Name} already exists")
        network = Network(Name=body.Name, Id=_new_id(), Labels=body.Labels or {})
        self.networks[network.Id] = network
        return NetworkCreateResponse(Id=network.Id)

    async def network_remove(self, ref: str) -> None:
        network = await self.network_inspect(ref)
        del self.networks[network.Id]

    async def volume_list(self, filters: Filters) -> VolumeList:
        return VolumeList(Volumes=[v for v in self.volumes.values() if volume_matches(v, filters)])

    async def volume_inspect(self, name: str) -> Volume:
        if name not in self.volumes:
            raise errors.NotFound(f"get {name}: no such volume")
        return self.volumes[name]

    async def volume_create(self, body: VolumeCreate) -> Volume:
        name = body.Name or _new_id()
        volume = self.volumes.setdefault(name, Volume(Name=name, Labels=body.Labels or {}))
        return volume

    async def volume_remove(self, name: str, *, force: bool) -> None:
        await self.volume_inspect(name)
        del self.volumes[name]
