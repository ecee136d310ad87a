"""A hijacked connection (attach, exec start) used live: input sent and output read as they come.

``POST /containers/{id}/attach`` and ``POST /exec/{id}/start`` leave HTTP after the
``101 UPGRADED`` answer: the socket then carries the process's stdin one way and its
output the other. :class:`HijackedConnection` is that socket::

    async with client.exec_attach(exec_id, tty=True) as connection:
        await connection.send(b"ls\\n")
        await connection.close_stdin()          # half-close: the process reads EOF
        async for stream, chunk in connection:  # (1 stdout | 2 stderr, bytes), as produced
            ...

Output: with a TTY the bytes are the terminal's, given as stream 1; without one they are
Docker's multiplexed frames (8-byte header: stream, size), taken apart here. Nothing is
read ahead: a caller that stops reading holds the process back (backpressure through the
socket). Input: :meth:`HijackedConnection.send` may run in another task than the reader.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpcore

from engine.api.errors import EngineUnavailable

# bytes asked of the socket at a time: big enough that a bulk stream costs few iterations,
# small enough to stay one bounded buffer per connection
READ_SIZE = 262144


def demultiplex(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Take the complete 8-byte-header frames off the front of ``buffer``."""
    frames: list[tuple[int, bytes]] = []
    view, offset, end = memoryview(buffer), 0, len(buffer)
    with view:
        while end - offset >= 8:
            stream, size = struct.unpack_from(">BxxxL", view, offset)
            if end - offset < 8 + size:
                break
            frames.append((stream, bytes(view[offset + 8 : offset + 8 + size])))
            offset += 8 + size
    del buffer[:offset]  # once: the rest moves to the front a single time
    return frames


def _reset(exc: BaseException | None) -> bool:
    """Whether ``exc`` comes of a connection reset (through httpcore's and anyio's wrappers)."""
    while exc is not None:
        if isinstance(exc, ConnectionResetError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class HijackedConnection:
    """The raw stream of an upgraded request (httpcore's network stream).

    Error handling: a connection lost while reading is
    :class:`~engine.api.errors.EngineUnavailable`; sending after the engine closed its side
    (the process ended) is ignored, as the process can read nothing more.
    """

    def __init__(self, stream: Any, *, tty: bool) -> None:
        self._stream = stream
        self.tty = tty
        self._stdin_closed = False

    async def send(self, data: bytes) -> None:
        """Send ``data`` to the process's stdin (waits while the engine is not reading)."""
        if self._stdin_closed or not data:
            return
        sock = self._stream.get_extra_info("socket")
        try:
            if sock is None:
                await self._stream.write(data)
                return
            # on the socket itself: anyio's own send, cancelled while it waits, can leave
            # asyncio an "invalid state" callback to complain about
            view = memoryview(data)
            while view:
                await anyio.wait_writable(sock)
                try:
                    view = view[sock.send(view) :]
                except BlockingIOError:
                    continue
        except (httpcore.WriteError, OSError):
            # the engine closed its side: the process ended and reads nothing more
            self._stdin_closed = True

    async def close_stdin(self) -> None:
        """Half-close the connection: the process reads the end of its input."""
        if self._stdin_closed:
            return
        self._stdin_closed = True
        sock = self._stream.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)

    async def read(self) -> bytes:
        """The next bytes from the engine as they come; b"" at the end."""
        try:
            data: bytes = await self._stream.read(READ_SIZE)
        except (httpcore.ReadError, OSError) as exc:
            if _reset(exc):
                return b""  # the engine closed with our input unread: the process ended
            raise EngineUnavailable(f"the connection to the engine broke: {exc}") from exc
        return data

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """``(stream, bytes)`` as produced: 1 stdout, 2 stderr (all of a TTY's output is 1)."""
        buffer = bytearray()
        while True:
            data = await self.read()
            if not data:
                return
            if self.tty:
                yield 1, data
                continue
            buffer += data
            for frame in demultiplex(buffer):
                yield frame

    def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        return self.output()
