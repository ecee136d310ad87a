"""EngineClient: the async Docker Engine API client (httpx over the engine's unix socket).

Works against the pycompose engine and against a real dockerd (``DOCKER_HOST``). Methods are
named after the endpoints (``container_create`` = ``POST /containers/create``) and return the
models of :mod:`engine.api.models`.

Lifecycle::

    async with EngineClient("/run/pycompose/engine.sock") as client:   # HEAD /_ping once
        created = await client.container_create(ContainerCreate(Image="busybox"), name="x")
        await client.container_start(created.Id)

Version negotiation (what the docker CLI does): the first call sends ``HEAD /_ping``
(``GET /_ping`` if HEAD fails) and every later request uses
``/v<min(CLIENT_API_VERSION, Api-Version)>/...``.

Error handling: an error status becomes the :mod:`engine.api.errors` class of that status
(:func:`~engine.api.errors.error_for_status`) with the engine's ``message``; an error inside
a progress stream (pull/push) is raised when it is read; a socket that is missing or refuses
is :class:`~engine.api.errors.EngineUnavailable`.

Starting the engine when its socket does not answer is :mod:`engine.api.autostart`.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from engine.api.address import (
    CLIENT_API_VERSION,
    DEFAULT_DATA_ROOT,
    DEFAULT_SOCKET,
    socket_from_host,
)
from engine.api.errors import EngineError
from engine.api.hijack import HijackedConnection, demultiplex
from engine.api.models import (
    ContainerCreate,
    ContainerCreateResponse,
    ContainerInspect,
    ContainerSummary,
    ContainerTop,
    Event,
    ExecCreate,
    ExecInspect,
    IdResponse,
    Info,
    Version,
    WaitResponse,
    encode_filters,
)
from engine.api.resources import ResourcesClient
from engine.api.transport import Filters
from engine.api.transport import query as _query

if TYPE_CHECKING:
    from pydantic import TypeAdapter


@functools.cache
def _summaries() -> TypeAdapter[list[ContainerSummary]]:
    from pydantic import TypeAdapter

    return TypeAdapter(list[ContainerSummary])


class EngineClient(ResourcesClient):
    """An async client of one engine socket; use as ``async with``. The transport is
    :class:`~engine.api.transport.Transport`; images, networks and volumes are
    :class:`~engine.api.resources.ResourcesClient`; the system, containers and execs are
    here."""

    # --- system ---------------------------------------------------------------------

    async def ping(self) -> str:
        """``GET /_ping``: the engine's ``Api-Version``."""
        try:
            response = await self._http.get("/_ping")
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc
        await self._raise_for(response)
        return str(response.headers.get("api-version", ""))

    async def version(self) -> Version:
        return Version.model_validate(await self._json("GET", "/version"))

    async def info(self) -> Info:
        return Info.model_validate(await self._json("GET", "/info"))

    async def events(
        self,
        *,
        filters: Filters | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> AsyncIterator[Event]:
        # seconds.nanoseconds, nine digits, as dockerd reads them
        params = _query(
            since=None if since is None else f"{since:.9f}",
            until=None if until is None else f"{until:.9f}",
        )
        if filters:
            params["filters"] = encode_filters(filters)
        async for message in self._stream_lines("GET", "/events", params):
            yield Event.model_validate(message)

    # --- containers -----------------------------------------------------------------

    async def container_list(
        self, *, all: bool = False, filters: Filters | None = None
    ) -> list[ContainerSummary]:
        data = await self.container_list_json(all=all, filters=filters)
        return _summaries().validate_python(data)  # one call for the list: ps of hundreds

    async def container_list_json(
        self, *, all: bool = False, filters: Filters | None = None
    ) -> list[Any]:
        """``GET /containers/json`` as the engine wrote it (``ps`` reads a few fields of
        each element without a model per container)."""
        params = _query(all=all or None)
        if filters:
            params["filters"] = encode_filters(filters)
        data = await self._json("GET", "/containers/json", params=params)
        if not isinstance(data, list):
            raise EngineError("the engine's container list is not a JSON array")
        return data

    async def container_create(
        self, body: ContainerCreate, *, name: str | None = None
    ) -> ContainerCreateResponse:
        data = await self._json(
            "POST",
            "/containers/create",
            params=_query(name=name),
            body=body.request_body(),
        )
        return ContainerCreateResponse.model_validate(data)

    async def container_inspect(self, ref: str) -> ContainerInspect:
        return ContainerInspect.model_validate(
            await self._json("GET", f"/containers/{quote(ref)}/json")
        )

    async def container_start(self, ref: str) -> None:
        await self.request("POST", f"/containers/{quote(ref)}/start")

    async def container_stop(self, ref: str, *, timeout: int | None = None) -> None:
        await self.request("POST", f"/containers/{quote(ref)}/stop", params=_query(t=timeout))

    async def container_restart(self, ref: str, *, timeout: int | None = None) -> None:
        await self.request("POST", f"/containers/{quote(ref)}/restart", params=_query(t=timeout))

    async def container_kill(self, ref: str, *, signal: str | None = None) -> None:
        await self.request("POST", f"/containers/{quote(ref)}/kill", params=_query(signal=signal))

    async def container_pause(self, ref: str) -> None:
        await self.request("POST", f"/containers/{quote(ref)}/pause")

    async def container_unpause(self, ref: str) -> None:
        await self.request("POST", f"/containers/{quote(ref)}/unpause")

    async def container_wait(self, ref: str, *, condition: str | None = None) -> WaitResponse:
        data = await self._json(
            "POST", f"/containers/{quote(ref)}/wait", params=_query(condition=condition)
        )
        return WaitResponse.model_validate(data)

    async def container_remove(
        self, ref: str, *, force: bool = False, volumes: bool = False
    ) -> None:
        await self.request(
            "DELETE",
            f"/containers/{quote(ref)}",
            params=_query(force=force or None, v=volumes or None),
        )

    async def container_rename(self, ref: str, new_name: str) -> None:
        await self.request("POST", f"/containers/{quote(ref)}/rename", params={"name": new_name})

    async def container_archive_put(self, ref: str, path: str, tar: bytes) -> None:
        """``PUT /containers/{id}/archive``: extract ``tar`` at ``path`` in the container."""
        await self.request(
            "PUT",
            f"/containers/{quote(ref)}/archive",
            params={"path": path},
            content=tar,
            headers={"Content-Type": "application/x-tar"},
        )

    async def container_top(self, ref: str) -> ContainerTop:
        return ContainerTop.model_validate(await self._json("GET", f"/containers/{quote(ref)}/top"))

    async def container_logs(
        self,
        ref: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        timestamps: bool = False,
        tty: bool | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> AsyncIterator[tuple[int, bytes]]:
        """``(stream, bytes)`` pairs (stream 1 stdout, 2 stderr; TTY output comes as 1);
        ``since``/``until`` bound the lines' times (Unix seconds)."""
        if tty is None:
            tty = (await self.container_inspect(ref)).Config.tty
        params = _query(
            stdout=True,
            stderr=True,
            follow=follow or None,
            timestamps=timestamps or None,
            tail="all" if tail is None else tail,
            since=None if since is None else f"{since:.9f}",
            until=None if until is None else f"{until:.9f}",
        )
        url = await self._url(f"/containers/{quote(ref)}/logs")
        try:
            async with self._http.stream("GET", url, params=params) as response:
                await self._raise_for(response)
                buffer = bytearray()
                async for chunk in response.aiter_bytes():
                    if tty:
                        yield 1, chunk
                        continue
                    buffer += chunk
                    for item in demultiplex(buffer):
                        yield item
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def _hijack(
        self, path: str, params: Mapping[str, str], body: Any, tty: bool
    ) -> AsyncIterator[HijackedConnection]:
        """Upgrade the connection (expects 101): the live connection, closed on the way out."""
        url = await self._url(path)
        headers = {"Connection": "Upgrade", "Upgrade": "tcp"}
        content = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode()
        try:
            async with self._http.stream(
                "POST", url, params=params, headers=headers, content=content
            ) as response:
                await self._raise_for(response)
                if response.status_code != 101:
                    raise EngineError(f"unable to upgrade to tcp, received {response.status_code}")
                yield HijackedConnection(response.extensions["network_stream"], tty=tty)
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc

    @staticmethod
    async def _collect(
        connection: HijackedConnection, stdin: bytes | None
    ) -> list[tuple[int, bytes]]:
        """Send all of ``stdin`` (then half-close), and read all output."""
        if stdin:
            await connection.send(stdin)
        if stdin is not None:
            await connection.close_stdin()
        return [frame async for frame in connection]

    def container_attach_stream(
        self,
        ref: str,
        *,
        stdin: bool = False,
        tty: bool = False,
        logs: bool = False,
        detach_keys: str | None = None,
    ) -> contextlib.AbstractAsyncContextManager[HijackedConnection]:
        """``POST /containers/{id}/attach``, live (see :mod:`engine.api.hijack`)."""
        params = _query(
            stream=True,
            stdout=True,
            stderr=True,
            stdin=stdin or None,
            logs=logs or None,
            detachKeys=detach_keys,
        )
        return self._hijack(f"/containers/{quote(ref)}/attach", params, None, tty)

    async def container_attach(
        self, ref: str, *, stdin: bytes | None = None, tty: bool = False, logs: bool = False
    ) -> list[tuple[int, bytes]]:
        """Attach, send ``stdin`` whole, and return all output once the container ends."""
        async with self.container_attach_stream(
            ref, stdin=stdin is not None, tty=tty, logs=logs
        ) as connection:
            return await self._collect(connection, stdin)

    async def container_resize(self, ref: str, height: int, width: int) -> None:
        await self.request(
            "POST", f"/containers/{quote(ref)}/resize", params=_query(h=height, w=width)
        )

    # --- exec -----------------------------------------------------------------------

    async def exec_create(self, ref: str, body: ExecCreate) -> IdResponse:
        data = await self._json(
            "POST", f"/containers/{quote(ref)}/exec", body=body.model_dump(mode="json")
        )
        return IdResponse.model_validate(data)

    def exec_attach(
        self, exec_id: str, *, tty: bool = False
    ) -> contextlib.AbstractAsyncContextManager[HijackedConnection]:
        """``POST /exec/{id}/start``, live (see :mod:`engine.api.hijack`)."""
        return self._hijack(f"/exec/{quote(exec_id)}/start", {}, {"Detach": False, "Tty": tty}, tty)

    async def exec_start(
        self, exec_id: str, *, stdin: bytes | None = None, tty: bool = False
    ) -> list[tuple[int, bytes]]:
        """Start, send ``stdin`` whole, and return all output once the process ends."""
        async with self.exec_attach(exec_id, tty=tty) as connection:
            return await self._collect(connection, stdin)

    async def exec_start_detached(self, exec_id: str) -> None:
        """``POST /exec/{id}/start`` with ``Detach``: returns once the process has started."""
        await self.request(
            "POST", f"/exec/{quote(exec_id)}/start", body={"Detach": True, "Tty": False}
        )

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        await self.request(
            "POST", f"/exec/{quote(exec_id)}/resize", params=_query(h=height, w=width)
        )

    async def exec_inspect(self, exec_id: str) -> ExecInspect:
        return ExecInspect.model_validate(await self._json("GET", f"/exec/{exec_id}/json"))

    async def container_export(self, ref: str) -> AsyncIterator[bytes]:
        """``GET /containers/{id}/export``: the container's file system as a tar, chunk by
        chunk."""
        async for chunk in self._stream_bytes("GET", f"/containers/{quote(ref)}/export"):
            yield chunk

    async def container_commit(
        self,
        ref: str,
        *,
        repo: str = "",
        tag: str = "",
        author: str = "",
        comment: str = "",
        pause: bool = True,
        changes: Sequence[str] = (),
    ) -> str:
        """``POST /commit``: the container's changes as a new image; its ID."""
        query = _query(container=ref, repo=repo or None, tag=tag or None, pause=pause)
        query.update(_query(author=author or None, comment=comment or None))
        params = [*query.items(), *(("changes", change) for change in changes)]
        data = await self._json("POST", "/commit", params=params)
        return str(data["Id"])


__all__ = [
    "CLIENT_API_VERSION",
    "DEFAULT_DATA_ROOT",
    "DEFAULT_SOCKET",
    "EngineClient",
    "Filters",
    "socket_from_host",
]
