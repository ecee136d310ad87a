"""The engine client's transport: httpx over a unix socket, API version negotiation,
errors as :mod:`engine.api.errors`, JSON and JSON-lines bodies (for :mod:`engine.api.client`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import anyio
import httpx

from engine.api.address import CLIENT_API_VERSION, socket_from_host
from engine.api.errors import EngineError, EngineUnavailable, error_for_status
from engine.api.models import version_tuple

Filters = Mapping[str, Iterable[str]]


def query(**params: Any) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            result[key] = "1" if value else "0"
        else:
            result[key] = str(value)
    return result


DEFAULT_IN_FLIGHT = 64
"""Requests in flight when the caller sets no bound (``--parallel``): the rest wait for a
slot here, in order. Queued in the HTTP pool instead, every request's end rescans the whole
queue against every connection: ``up --scale s0=1000`` spent nearly all its CPU there."""


class Transport:
    """One engine socket: requests on versioned paths; use as ``async with``."""

    def __init__(
        self,
        socket_path: str | None = None,
        *,
        timeout: float | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        """``max_concurrent`` bounds the requests in flight at once, :data:`DEFAULT_IN_FLIGHT`
        unless given (streams excepted: a followed log or an attach would hold a slot for as
        long as it lasts)."""
        self.socket_path = socket_from_host(socket_path)
        self._limit = anyio.CapacityLimiter(max_concurrent or DEFAULT_IN_FLIGHT)
        self._http = httpx.AsyncClient(
            # a unix socket has no TLS: verify=False skips loading the CA bundle (~40 ms)
            transport=httpx.AsyncHTTPTransport(
                uds=self.socket_path,
                verify=False,
                # connections of the requests in flight stay open for the next ones; streams
                # (logs -f, events) have the rest of the pool
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=64),
            ),
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
            async with self._limit:
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

    async def _stream_bytes(
        self, method: str, path: str, params: Any = None
    ) -> AsyncIterator[bytes]:
        """A binary response (a tar), chunk by chunk."""
        url = await self._url(path)
        try:
            async with self._http.stream(method, url, params=params) as response:
                await self._raise_for(response)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except (httpx.TransportError, OSError) as exc:
            raise self._unavailable(exc) from exc
