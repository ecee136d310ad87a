"""The narrow interface between the HTTP routes and the engine (moby's ``backend.go``).

Routes parse a request, call one method of :class:`Backend`, and render what it returns.
Every method of the base class raises :class:`~engine.errors.Unsupported`, so a backend
implements what it can and the rest answers 501 in Docker's error shape. The real backend
(``engine.daemon.backend``) wires the subsystem libraries; tests use a fake.

Two-phase methods (``container_wait``, ``container_logs``, ``container_attach``,
``exec_start``, ``image_pull``...) check their arguments first and raise at once, so the
route can still answer 404/409 before the response starts; what comes afterwards (the
wait result, log lines, progress) is produced later, while the response streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.api.models import (
    ContainerCreate,
    ContainerCreateResponse,
    ContainerInspect,
    ContainerPrune,
    ContainerSummary,
    ContainerTop,
    Event,
    ExecCreate,
    ExecInspect,
    ExecStart,
    IdResponse,
    ImageDeleteItem,
    ImageInspect,
    ImageSummary,
    Info,
    Network,
    NetworkConnect,
    NetworkCreate,
    NetworkCreateResponse,
    NetworkDisconnect,
    ProgressMessage,
    Version,
    Volume,
    VolumeCreate,
    VolumeList,
    WaitResponse,
)
from engine.errors import Unsupported

Filters = Mapping[str, list[str]]
OutputSink = Callable[[int, bytes], Awaitable[None]]
"""Where a session writes its output: ``(stream, data)`` with stream 1 = stdout, 2 = stderr."""


@dataclass(frozen=True, slots=True)
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    timestamps: bool = False
    tail: int | None = None
    since: float = 0.0
    until: float = 0.0


@dataclass(frozen=True, slots=True)
class LogStream:
    """Log lines of a container: ``(stream, bytes)`` pairs; ``tty`` = raw (no framing)."""

    tty: bool
    lines: AsyncIterator[tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class AttachOptions:
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    stream: bool = True
    logs: bool = False
    # with a TTY, typing this sequence ends the attach, the container running on
    detach_keys: bytes = b"\x10\x11"


class Session(Protocol):
    """An attach or exec session, run on a hijacked connection."""

    @property
    def tty(self) -> bool: ...

    async def run(self, stdin: AsyncIterator[bytes] | None, output: OutputSink) -> None:
        """Feed ``stdin`` (None: no stdin) and write output until the process is done."""


def _unsupported(what: str) -> Unsupported:
    return Unsupported(f"{what} is not supported by this engine")


@dataclass(frozen=True, slots=True)
class CommitOptions:
    """``POST /commit``'s query: ``repo:tag``, author, comment, pause, ``changes``."""

    repo: str = ""
    tag: str = ""
    author: str = ""
    comment: str = ""
    pause: bool = True
    changes: tuple[str, ...] = ()


class Backend:
    """What the routes need from the engine; every method raises Unsupported by default."""

    async def durable(self) -> None:
        """Return once the changes made so far are on disk; the router awaits it before it
        answers each request (engine.state's group commit)."""

    # --- system ---------------------------------------------------------------------

    async def version(self) -> Version:
        return Version()

    async def info(self) -> Info:
        return Info()

    async def system_df(self) -> dict[str, Any]:
        raise _unsupported("system df")

    async def events(self, since: float | None, until: float | None) -> AsyncIterator[Event]:
        """Past events from ``since`` then live ones; ends at ``until`` if given."""
        raise _unsupported("events")

    # --- containers -----------------------------------------------------------------

    async def container_list(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[ContainerSummary]:
        raise _unsupported("listing containers")

    async def container_list_wire(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> list[dict[str, Any]]:
        """``container_list`` as wire JSON objects: what the route sends. A backend may
        override it to skip the models on this hot path (compose lists on every command)."""
        summaries = await self.container_list(all=all, filters=filters, limit=limit)
        return [summary.wire() for summary in summaries]

    async def container_list_json(
        self, *, all: bool, filters: Filters, limit: int = -1
    ) -> bytes | None:
        """The route's body for ``container_list``, a JSON array as Go encodes it, from a
        backend that keeps its summaries encoded; ``None``: the route encodes
        :meth:`container_list_wire`."""
        return None

    async def container_create(
        self, name: str | None, body: ContainerCreate
    ) -> ContainerCreateResponse:
        raise _unsupported("creating containers")

    async def container_inspect(self, ref: str) -> ContainerInspect:
        raise _unsupported("inspecting containers")

    async def container_start(self, ref: str) -> None:
        raise _unsupported("starting containers")

    async def container_stop(self, ref: str, timeout: int | None, signal: str) -> None:
        raise _unsupported("stopping containers")

    async def container_restart(self, ref: str, timeout: int | None) -> None:
        raise _unsupported("restarting containers")

    async def container_kill(self, ref: str, signal: str) -> None:
        raise _unsupported("killing containers")

    async def container_pause(self, ref: str) -> None:
        raise _unsupported("pausing containers")

    async def container_unpause(self, ref: str) -> None:
        raise _unsupported("unpausing containers")

    async def container_wait(
        self, ref: str, condition: str
    ) -> Callable[[], Awaitable[WaitResponse]]:
        raise _unsupported("waiting for containers")

    async def container_logs(self, ref: str, options: LogOptions) -> LogStream:
        raise _unsupported("container logs")

    async def container_remove(self, ref: str, *, force: bool, volumes: bool) -> None:
        raise _unsupported("removing containers")

    async def container_rename(self, ref: str, new_name: str) -> None:
        raise _unsupported("renaming containers")

    async def container_top(self, ref: str, ps_args: str) -> ContainerTop:
        raise _unsupported("top")

    async def container_stats(self, ref: str) -> dict[str, Any]:
        raise _unsupported("container stats")

    async def container_resize(self, ref: str, height: int, width: int) -> None:
        return None

    async def container_attach(self, ref: str, options: AttachOptions) -> Session:
        raise _unsupported("attaching to containers")

    async def container_prune(self, filters: Filters) -> ContainerPrune:
        raise _unsupported("pruning containers")

    async def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        raise _unsupported("copying files (docker cp)")

    async def archive_get(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        raise _unsupported("copying files (docker cp)")

    async def container_export(self, ref: str) -> AsyncIterator[bytes]:
        raise _unsupported("exporting containers")

    async def container_commit(self, ref: str, options: CommitOptions) -> str:
        raise _unsupported("committing containers")

    async def archive_put(
        self, ref: str, path: str, tar: AsyncIterator[bytes], *, no_overwrite_dir: bool
    ) -> None:
        raise _unsupported("copying files (docker cp)")

    # --- exec -----------------------------------------------------------------------

    async def exec_create(self, ref: str, body: ExecCreate) -> IdResponse:
        raise _unsupported("exec")

    async def exec_start(self, exec_id: str, body: ExecStart) -> Session:
        raise _unsupported("exec")

    async def exec_inspect(self, exec_id: str) -> ExecInspect:
        raise _unsupported("exec")

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        return None

    # --- images ---------------------------------------------------------------------

    async def image_list(self, *, all: bool, filters: Filters) -> list[ImageSummary]:
        raise _unsupported("listing images")

    async def image_inspect(self, name: str) -> ImageInspect:
        raise _unsupported("inspecting images")

    async def image_history(self, name: str) -> list[dict[str, Any]]:
        raise _unsupported("image history")

    async def distribution_inspect(self, name: str, *, auth: str) -> dict[str, Any]:
        raise _unsupported("inspecting registry images")

    async def image_pull(
        self, image: str, tag: str, *, platform: str, auth: str
    ) -> AsyncIterator[ProgressMessage]:
        raise _unsupported("pulling images")

    async def image_push(self, name: str, tag: str, *, auth: str) -> AsyncIterator[ProgressMessage]:
        raise _unsupported("pushing images")

    async def image_tag(self, name: str, repo: str, tag: str) -> None:
        raise _unsupported("tagging images")

    async def image_remove(self, name: str, *, force: bool, noprune: bool) -> list[ImageDeleteItem]:
        raise _unsupported("removing images")

    async def image_load(
        self, tar: AsyncIterator[bytes], *, quiet: bool
    ) -> AsyncIterator[ProgressMessage]:
        raise _unsupported("loading images")

    async def image_build(
        self, context: AsyncIterator[bytes], query: Mapping[str, Sequence[str]]
    ) -> AsyncIterator[dict[str, Any]]:
        raise _unsupported("building images")

    async def image_save(self, names: list[str]) -> AsyncIterator[bytes]:
        raise _unsupported("saving images")

    async def image_prune(self, filters: Filters) -> dict[str, Any]:
        raise _unsupported("pruning images")

    # --- networks -------------------------------------------------------------------

    async def network_list(self, filters: Filters) -> list[Network]:
        raise _unsupported("listing networks")

    async def network_inspect(self, ref: str) -> Network:
        raise _unsupported("inspecting networks")

    async def network_create(self, body: NetworkCreate) -> NetworkCreateResponse:
        raise _unsupported("creating networks")

    async def network_connect(self, ref: str, body: NetworkConnect) -> None:
        raise _unsupported("connecting networks")

    async def network_disconnect(self, ref: str, body: NetworkDisconnect) -> None:
        raise _unsupported("disconnecting networks")

    async def network_remove(self, ref: str) -> None:
        raise _unsupported("removing networks")

    async def network_prune(self, filters: Filters) -> dict[str, Any]:
        raise _unsupported("pruning networks")

    # --- volumes --------------------------------------------------------------------

    async def volume_list(self, filters: Filters) -> VolumeList:
        raise _unsupported("listing volumes")

    async def volume_inspect(self, name: str) -> Volume:
        raise _unsupported("inspecting volumes")

    async def volume_create(self, body: VolumeCreate) -> Volume:
        raise _unsupported("creating volumes")

    async def volume_remove(self, name: str, *, force: bool) -> None:
        raise _unsupported("removing volumes")

    async def volume_prune(self, filters: Filters) -> dict[str, Any]:
        raise _unsupported("pruning volumes")
