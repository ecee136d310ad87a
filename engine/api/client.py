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
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import anyio
import httpx

from engine.api.errors import EngineError, EngineUnavailable, error_for_status
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
    ImageDeleteItem,
    ImageInspect,
    ImageSummary,
    Info,
    Network,
    NetworkConnect,
    NetworkCreate,
    NetworkCreateResponse,
    NetworkDisconnect,
    Version,
    Volume,
    VolumeCreate,
    VolumeList,
    WaitResponse,
    encode_filters,
    version_tuple,
)

CLIENT_API_VERSION = "1.41"
DEFAULT_SOCKET = "/run/pycompose/engine.sock"
DEFAULT_DATA_ROOT = "/var/lib/pycompose"

Filters = Mapping[str, Iterable[str]]


def socket_from_host(host: str | None = None) -> str:
    """The socket path of ``PYCOMPOSE_HOST`` / ``DOCKER_HOST``-style ``unix://`` URLs."""
    host = host or os.environ.get("PYCOMPOSE_HOST") or DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://") :]
    if "://" in host:
        raise EngineUnavailable(
            f"unsupported engine address {host!r}", hint="use unix:///path/to/socket"
        )
    return host


def _query(**params: Any) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            result[key] = "1" if value else "0"
        else:
            result[key] = str(value)
    return result


class EngineClient:
    """An async client of one engine socket; use as ``async with``."""

    def __init__(
        self,
        socket_path: str | None = None,
        *,
        timeout: float | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        """``max_concurrent`` bounds the requests in flight at once (streams excepted:
        a followed log or an attach would hold a slot for as long as it lasts)."""
        self.socket_path = socket_from_host(socket_path)
        self._limit = anyio.CapacityLimiter(max_concurrent) if max_concurrent else None
        self._http = httpx.AsyncClient(
            # a unix socket has no TLS: verify=False skips loading the CA bundle (~40 ms)
            transport=httpx.AsyncHTTPTransport(uds=self.socket_path, verify=False),
            base_url="http://api.moby.localhost",
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": "pycompose"},
        )
        self.api_version: str | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport ------------------------------------------------------------------

    def _unavailable(self, exc: Exception) -> EngineUnavailable:
        return EngineUnavailable(
            f"cannot reach the engine at {self.socket_path}: {exc}",
            hint="is it running? `pycompose engine start` starts it",
        )

    async def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        message = response.text.strip()
        if response.headers.get("content-type", "") == "application/json":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                message = str(json.loads(response.content)["message"])
        raise error_for_status(response.status_code, message or response.reason_phrase)

    async def negotiate(self) -> str:
        """``HEAD /_ping`` (then ``GET``): the API version used from now on."""
        if self.api_version is not None:
            return self.api_version
        try:
            response = await self._http.head("/_ping")
            if response.status_code not in (200, 500):
                response = await self._http.get("/_ping")
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc
        server = response.headers.get("api-version", "1.24")
        try:
            chosen = min(version_tuple(server), version_tuple(CLIENT_API_VERSION))
        except EngineError:
            chosen = version_tuple("1.24")
        self.api_version = f"{chosen[0]}.{chosen[1]}"
        return self.api_version

    async def _url(self, path: str) -> str:
        return f"/v{await self.negotiate()}{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request on a versioned path; errors raised as EngineError."""
        url = await self._url(path)
        try:
            if body is not None:
                content = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            async with self._limit or contextlib.nullcontext():
                response = await self._http.request(
                    method, url, params=params, content=content, headers=headers
                )
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc
        await self._raise_for(response)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    async def _stream_lines(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: AsyncIterable[bytes] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """A JSON-lines response, object by object; in-band errors raised."""
        url = await self._url(path)
        try:
            async with self._http.stream(
                method, url, params=params, headers=headers, content=content
            ) as response:
                await self._raise_for(response)
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    message = json.loads(line)
                    if isinstance(message, dict) and message.get("error"):
                        detail = message.get("errorDetail") or {}
                        raise error_for_status(500, str(detail.get("message") or message["error"]))
                    yield message
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc

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
        params = _query(all=all or None)
        if filters:
            params["filters"] = encode_filters(filters)
        data = await self._json("GET", "/containers/json", params=params)
        return [ContainerSummary.model_validate(item) for item in data]

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

    # --- images ---------------------------------------------------------------------

    async def image_list(self, *, all: bool = False) -> list[ImageSummary]:
        data = await self._json("GET", "/images/json", params=_query(all=all or None))
        return [ImageSummary.model_validate(item) for item in data]

    async def image_inspect(self, name: str) -> ImageInspect:
        return ImageInspect.model_validate(await self._json("GET", f"/images/{name}/json"))

    async def distribution_inspect(self, name: str) -> dict[str, Any]:
        """What the registry holds under ``name`` (its descriptor and platforms), asked by
        the engine with the credentials it uses for a pull."""
        data = await self._json(
            "GET", f"/distribution/{name}/json", headers={"X-Registry-Auth": "e30="}
        )
        if not isinstance(data, dict):
            raise EngineError(f"the answer to GET /distribution/{name}/json is not an object")
        return data

    async def image_pull(
        self, image: str, tag: str = "", *, platform: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Pull progress messages; an error during the pull is raised."""
        params = _query(fromImage=image, tag=tag or None, platform=platform or None)
        async for message in self._stream_lines(
            "POST", "/images/create", params, headers={"X-Registry-Auth": "e30="}
        ):
            yield message

    async def image_push(self, name: str, tag: str = "") -> AsyncIterator[dict[str, Any]]:
        async for message in self._stream_lines(
            "POST",
            f"/images/{name}/push",
            _query(tag=tag or None),
            headers={"X-Registry-Auth": "e30="},
        ):
            yield message

    async def image_tag(self, name: str, repo: str, tag: str = "") -> None:
        await self.request("POST", f"/images/{name}/tag", params=_query(repo=repo, tag=tag or None))

    async def image_remove(self, name: str, *, force: bool = False) -> list[ImageDeleteItem]:
        data = await self._json("DELETE", f"/images/{name}", params=_query(force=force or None))
        return [ImageDeleteItem.model_validate(item) for item in data]

    async def image_load(
        self, archive: AsyncIterable[bytes], *, quiet: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """``POST /images/load`` of a docker-save or OCI archive streamed from ``archive``;
        the engine's messages (``Loaded image: ...``)."""
        async for message in self._stream_lines(
            "POST",
            "/images/load",
            params=_query(quiet=quiet or None),
            headers={"Content-Type": "application/x-tar"},
            content=archive,
        ):
            yield message

    async def image_save(self, names: Iterable[str]) -> AsyncIterator[bytes]:
        """``GET /images/get``: the images as one docker-loadable tar, chunk by chunk."""
        url = await self._url("/images/get")
        try:
            async with self._http.stream(
                "GET", url, params=[("names", name) for name in names]
            ) as response:
                await self._raise_for(response)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def container_export(self, ref: str) -> AsyncIterator[bytes]:
        """``GET /containers/{id}/export``: the container's file system as a tar, chunk by
        chunk."""
        url = await self._url(f"/containers/{quote(ref)}/export")
        try:
            async with self._http.stream("GET", url) as response:
                await self._raise_for(response)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc

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

    async def image_prune(self, *, filters: Filters | None = None) -> dict[str, Any]:
        params = {"filters": encode_filters(filters)} if filters else None
        result: dict[str, Any] = await self._json("POST", "/images/prune", params=params)
        return result

    # --- networks -------------------------------------------------------------------

    async def network_list(self, *, filters: Filters | None = None) -> list[Network]:
        params = {"filters": encode_filters(filters)} if filters else None
        data = await self._json("GET", "/networks", params=params)
        return [Network.model_validate(item) for item in data]

    async def network_inspect(self, ref: str) -> Network:
        return Network.model_validate(await self._json("GET", f"/networks/{quote(ref)}"))

    async def network_create(self, body: NetworkCreate) -> NetworkCreateResponse:
        data = await self._json("POST", "/networks/create", body=body.request_body())
        return NetworkCreateResponse.model_validate(data)

    async def network_connect(self, ref: str, body: NetworkConnect) -> None:
        await self.request(
            "POST",
            f"/networks/{quote(ref)}/connect",
            body=body.request_body(),
        )

    async def network_disconnect(self, ref: str, body: NetworkDisconnect) -> None:
        await self.request(
            "POST", f"/networks/{quote(ref)}/disconnect", body=body.model_dump(mode="json")
        )

    async def network_remove(self, ref: str) -> None:
        await self.request("DELETE", f"/networks/{quote(ref)}")

    # --- volumes --------------------------------------------------------------------

    async def volume_list(self, *, filters: Filters | None = None) -> VolumeList:
        params = {"filters": encode_filters(filters)} if filters else None
        return VolumeList.model_validate(await self._json("GET", "/volumes", params=params))

    async def volume_inspect(self, name: str) -> Volume:
        return Volume.model_validate(await self._json("GET", f"/volumes/{quote(name)}"))

    async def volume_create(self, body: VolumeCreate) -> Volume:
        data = await self._json("POST", "/volumes/create", body=body.request_body())
        return Volume.model_validate(data)

    async def volume_remove(self, name: str, *, force: bool = False) -> None:
        await self.request("DELETE", f"/volumes/{quote(name)}", params=_query(force=force or None))
