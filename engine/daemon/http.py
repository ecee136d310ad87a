"""What an engine API handler receives and answers: the request and the three responses.

    Request       method, path, query, headers; the body is read on demand
                  (``await request.body()``), bounded by the server's ``Limits.max_body``.
    FullResponse  status + headers + bytes (Content-Length).
    StreamResponse  status + headers sent at once, then chunks from an async iterator
                  (chunked encoding, one flush per chunk): pull progress, events, logs -f,
                  wait. Ends when the iterator ends or the client goes away.
    Hijack        the connection leaves HTTP: ``101 UPGRADED`` (``Connection: Upgrade``,
                  ``Upgrade: tcp``) when the client asked for it, else ``200`` and the raw
                  stream (Docker's old behaviour); the callback gets a :class:`RawStream`.

:func:`frame` is Docker's multiplexed-stream framing of stdout/stderr. engine.daemon.server
serves these over HTTP/1.1; the routes build them.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from anyio.abc import ByteStream

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3

Headers = list[tuple[str, str]]


# what a hijacked connection reads at a time: few iterations for a bulk stream, one bounded
# buffer per connection (below malloc's mmap threshold, so small reads stay cheap)
RELAY_SIZE = 262144


def frame(stream: int, data: bytes) -> bytes:
    """Docker's multiplexed-stream frame: ``[stream, 0, 0, 0, size:uint32be] + data``."""
    return struct.pack(">BxxxL", stream, len(data)) + data


class BodyTooLarge(Exception):
    """The request body is larger than allowed; answered 413."""


@dataclass(eq=False)
class Request:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    _receive: Callable[[], Awaitable[bytes | None]] = field(repr=False)
    _limit: int = field(repr=False, default=16 * 1024 * 1024)
    _consumed: bool = field(default=False, repr=False)

    def header(self, name: str, default: str = "") -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """Docker's boolean query values: ``1``/``true``/``True`` vs ``0``/``false``/empty."""
        if name not in self.query:
            return default
        return self.arg(name).lower() not in ("", "0", "false", "no")

    @property
    def wants_upgrade(self) -> bool:
        connection = self.header("connection").lower()
        return "upgrade" in connection and bool(self.header("upgrade"))

    async def chunks(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """The request body piece by piece; BodyTooLarge past ``limit`` bytes."""
        limit = self._limit if limit is None else limit
        if self._consumed:
            return
        self._consumed = True
        declared = self.header("content-length")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"request body larger than {limit} bytes")
        total = 0
        while True:
            data = await self._receive()
            if data is None:
                return
            total += len(data)
            if total > limit:
                raise BodyTooLarge(f"request body larger than {limit} bytes")
            yield data

    async def body(self, limit: int | None = None) -> bytes:
        return b"".join([chunk async for chunk in self.chunks(limit)])


@dataclass(frozen=True, slots=True)
class FullResponse:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class StreamResponse:
    status: int
    headers: Headers
    chunks: AsyncIterator[bytes]


class RawStream:
    """A hijacked connection: raw bytes both ways. ``receive`` returns b"" at the client's EOF."""

    def __init__(self, stream: ByteStream, pending: bytes, closed: bool) -> None:
        self._stream = stream
        self._pending = pending
        self._eof = closed and not pending

    async def receive(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self._eof:
            return b""
        try:
            return await self._stream.receive(RELAY_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._eof = True
            return b""

    async def send(self, data: bytes) -> None:
        await self._stream.send(data)

    async def drain(self, seconds: float) -> None:
        """Read and drop what the client still sends until it closes its side (at most
        ``seconds``): closing with input unread would reset the connection, and a client
        still sending (``yes | docker exec -i c head -1``) would report the reset."""
        with anyio.move_on_after(seconds):
            while await self.receive():
                pass

    async def send_eof(self) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await self._stream.send_eof()


@dataclass(frozen=True, slots=True)
class Hijack:
    content_type: str
    run: Callable[[RawStream], Awaitable[None]]


Response = FullResponse | StreamResponse | Hijack
Handler = Callable[[Request], Awaitable[Response]]
