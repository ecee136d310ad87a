"""HTTP/1.1 server for the engine API: h11 over anyio byte streams (a unix socket in practice).

Lifecycle of a connection (one task each, trio ``serve_listeners`` style)::

    accept -> [read request head -> handler(request) -> Response -> write it]* -> close
                                                      \\-> Hijack: raw stream, then close

The request and response types are in :mod:`engine.daemon.http`.

Rules:

1. A request the parser rejects (bad syntax, head over ``max_head`` bytes) gets the 4xx h11
   suggests (400, 431), then the connection is closed; nothing reaches the handler.
2. A body over ``Limits.max_body`` gets 413 and the connection is closed.
3. The handler's exceptions never escape the connection task: it answers 500 (the routes
   layer maps engine errors itself, this is the last guard) and the engine goes on.
4. A streaming response watches the client side: when the client closes, the iterator is
   cancelled (``docker run -d`` abandons its ``wait``; ``logs -f`` and ``events`` end by the
   client going away).

Connection bounds (file-descriptor exhaustion guard): at most ``max_connections``, and never
more than half the engine's RLIMIT_NOFILE, are served at once. The bound is checked before
``accept``: at the bound, the oldest *idle* connection (waiting for a request, or for the rest
of its head) is closed to make room; when every connection is busy in a request, a few
clients at a time get 503 and the others wait in the listen queue. An ``accept`` that fails
(EMFILE) closes an idle connection or waits, and never ends :func:`serve`. Idle connections
are closed after ``idle_timeout`` anyway.

Resource handling: every connection's stream is closed in ``finally``; a connection's
tasks are children of its own task group, so nothing outlives the connection.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import resource
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import anyio
import h11
from anyio.abc import ByteStream, SocketAttribute, SocketListener, TaskStatus

from engine.daemon.http import (
    BodyTooLarge,
    FullResponse,
    Handler,
    Headers,
    Hijack,
    RawStream,
    Request,
    StreamResponse,
)

# how long a finished hijacked session waits for the client to close its side
HIJACK_DRAIN_SECONDS = 5.0

log = logging.getLogger(__name__)

# clients answered 503 at once when every connection is busy; the others wait to be accepted
REFUSED_AT_ONCE = 16
# idle connections being closed at once to make room (each still holds a descriptor a moment)
EVICTING_AT_ONCE = 64
# accept errors that mean "out of descriptors or memory for now", not a broken listener
_ACCEPT_RETRY = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a client may send."""

    max_head: int = 64 * 1024
    """Request line plus headers, in bytes."""
    max_body: int = 16 * 1024 * 1024
    """Default request body bound (a route may ask for more: image load, archive put)."""
    head_timeout: float = 30.0
    """Seconds a started request head may take to arrive (slow-loris guard)."""
    idle_timeout: float = 300.0
    """Seconds a kept-alive connection may wait for its next request before it is closed."""
    max_connections: int = 1024
    """Connections served at once, and at most half the engine's file descriptors (see serve)."""


_CLIENT_GONE = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    ConnectionError,
)


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _decode(headers: Sequence[tuple[bytes, bytes]]) -> Headers:
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers]


def _encode(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


class _ConnectionSlots:
    """How many connections are served, and which of them are idle (evictable)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.refusing = 0  # connections being answered 503
        self.evicting = 0  # idle connections told to close, not closed yet
        self._idle: dict[int, anyio.CancelScope] = {}  # insertion order: oldest first
        self._freed = anyio.Event()

    @contextlib.contextmanager
    def idle(self) -> Iterator[anyio.CancelScope]:
        """A scope that :meth:`evict_idle` may cancel while a connection waits for a request."""
        scope = anyio.CancelScope()
        self._idle[id(scope)] = scope
        try:
            with scope:
                yield scope
        finally:
            self._idle.pop(id(scope), None)
            if scope.cancel_called:
                self.evicting -= 1

    @property
    def full(self) -> bool:
        """Whether the bound is reached (evicted connections are as good as closed)."""
        return self.count - self.evicting >= self.limit

    def evict_idle(self) -> bool:
        """Close the oldest idle connection; False when none is idle or enough are closing."""
        if not self._idle or self.evicting >= EVICTING_AT_ONCE:
            return False
        self._idle.pop(next(iter(self._idle))).cancel()
        self.evicting += 1
        return True

    async def wait_freed(self, timeout: float = 1.0) -> None:
        with anyio.move_on_after(timeout):
            await self._freed.wait()

    def release(self, refused: bool = False) -> None:
        if refused:
            self.refusing -= 1
        else:
            self.count -= 1
        self._freed.set()
        self._freed = anyio.Event()


class _Connection:
    def __init__(
        self,
        stream: ByteStream,
        handler: Handler,
        limits: Limits,
        slots: _ConnectionSlots | None = None,
    ) -> None:
        self.stream = stream
        self.handler = handler
        self.limits = limits
        self.slots = slots or _ConnectionSlots(1)
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head)

    async def _receive_more(self) -> None:
        try:
            data = await self.stream.receive(65536)
        except _CLIENT_GONE:
            data = b""
        self.conn.receive_data(data)

    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                await self._receive_more()
                continue
            return event

    async def _send(self, event: Any) -> None:
        data = self.conn.send(event)
        if data:
            await self.stream.send(data)

    async def _receive_body(self) -> bytes | None:
        event = await self._next_event()
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            return None
        if isinstance(event, h11.ConnectionClosed):
            raise anyio.EndOfStream
        if event is h11.PAUSED:
            return None
        raise h11.RemoteProtocolError(f"unexpected {type(event).__name__} in body")

    async def _send_error(self, status: int, message: str) -> None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = (json.dumps({"message": message}) + "\n").encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
        try:
            await self._send(
                h11.Response(status_code=status, headers=_encode(headers), reason=_reason(status))
            )
            await self._send(h11.Data(data=body))
            await self._send(h11.EndOfMessage())
        except (h11.LocalProtocolError, *_CLIENT_GONE):
            pass

    async def run(self) -> None:
        while True:
            try:
                with self.slots.idle() as idle:
                    event = await self._next_request_event()
                if idle.cancelled_caught:
                    return  # evicted to make room for another client
            except h11.RemoteProtocolError as exc:
                await self._send_error(exc.error_status_hint, f"bad request: {exc}")
                return
            except TimeoutError:
                await self._send_error(408, "request head not received in time")
                return
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return
            if not isinstance(event, h11.Request):
                return
            if not await self._handle(event):
                return
            if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
                return
            try:
                self.conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _next_request_event(self) -> Any:
        """Wait (without limit) for a request to begin, then bound the time its head takes."""
        event = self.conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        if not self.conn.trailing_data[0]:
            with anyio.move_on_after(self.limits.idle_timeout) as waited:
                await self._receive_more()
            if waited.cancelled_caught:
                return h11.PAUSED  # idle too long: an idle connection holds a descriptor
        with anyio.fail_after(self.limits.head_timeout):
            return await self._next_event()

    async def _handle(self, event: h11.Request) -> bool:
        """Answer one request; False when the connection must end."""
        head_size = len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
        if head_size > self.limits.max_head:
            # h11 bounds only heads that arrive incomplete; a head read whole is checked here.
            await self._send_error(431, f"request head larger than {self.limits.max_head} bytes")
            return False
        target = event.target.decode("latin-1")
        split = urlsplit(target)
        request = Request(
            method=event.method.decode("ascii", "replace").upper(),
            target=target,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=_decode(event.headers),
            _receive=self._receive_body,
            _limit=self.limits.max_body,
        )
        try:
            response = await self.handler(request)
        except BodyTooLarge as exc:
            await self._send_error(413, str(exc))
            return False
        except h11.RemoteProtocolError as exc:
            await self._send_error(exc.error_status_hint, f"bad request: {exc}")
            return False
        except _CLIENT_GONE:
            return False
        except Exception:
            log.exception("handler failed on %s %s", request.method, request.target)
            response = FullResponse(
                500,
                [("Content-Type", "application/json")],
                b'{"message":"internal error in the engine; see its log"}\n',
            )
        if isinstance(response, Hijack):
            await self._drain(request)
            await self._hijack(request, response)
            return False
        try:
            if not await self._drain(request):
                await self._send_error(413, "request body too large")
                return False
        except h11.RemoteProtocolError as exc:
            await self._send_error(exc.error_status_hint, f"bad request: {exc}")
            return False
        if isinstance(response, FullResponse):
            await self._send_full(request, response)
            return True
        return await self._send_stream(response)

    async def _drain(self, request: Request) -> bool:
        """Read what the handler left of the body; False when it is over the limit."""
        try:
            async for _ in request.chunks():
                pass
        except BodyTooLarge:
            return False
        return True

    async def _send_full(self, request: Request, response: FullResponse) -> None:
        headers = list(response.headers)
        if response.status not in (204, 304) and not any(
            k.lower() == "content-length" for k, _ in headers
        ):
            headers.append(("Content-Length", str(len(response.body))))
        await self._send(
            h11.Response(
                status_code=response.status,
                headers=_encode(headers),
                reason=_reason(response.status),
            )
        )
        if response.body and request.method != "HEAD":
            await self._send(h11.Data(data=response.body))
        await self._send(h11.EndOfMessage())

    async def _send_stream(self, response: StreamResponse) -> bool:
        """Chunked response; returns False when the client went away."""
        await self._send(
            h11.Response(
                status_code=response.status,
                headers=_encode(response.headers),
                reason=_reason(response.status),
            )
        )
        client_gone = False
        async with anyio.create_task_group() as task_group:

            async def watch_client() -> None:
                # While streaming, the client sends nothing; EOF means it has gone.
                nonlocal client_gone
                while True:
                    try:
                        data = await self.stream.receive(65536)
                    except _CLIENT_GONE:
                        data = b""
                    self.conn.receive_data(data)
                    if not data:
                        client_gone = True
                        task_group.cancel_scope.cancel()
                        return

            task_group.start_soon(watch_client)
            try:
                async for chunk in response.chunks:
                    if chunk:
                        await self._send(h11.Data(data=chunk))
                await self._send(h11.EndOfMessage())
            except _CLIENT_GONE:
                client_gone = True
            finally:
                aclose = getattr(response.chunks, "aclose", None)
                if aclose is not None:
                    with anyio.CancelScope(shield=True):
                        await aclose()
            task_group.cancel_scope.cancel()
        return not client_gone

    async def _hijack(self, request: Request, hijack: Hijack) -> None:
        if request.wants_upgrade:
            head = (
                "HTTP/1.1 101 UPGRADED\r\n"
                f"Content-Type: {hijack.content_type}\r\n"
                "Connection: Upgrade\r\n"
                "Upgrade: tcp\r\n\r\n"
            )
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {hijack.content_type}\r\n\r\n"
        pending, closed = self.conn.trailing_data
        await self.stream.send(head.encode("latin-1"))
        raw = RawStream(self.stream, bytes(pending), closed)
        await hijack.run(raw)
        await raw.send_eof()  # the session is over: the client reads the end of its output
        await raw.drain(HIJACK_DRAIN_SECONDS)


async def serve_connection(
    stream: ByteStream,
    handler: Handler,
    limits: Limits,
    slots: _ConnectionSlots | None = None,
) -> None:
    """Serve HTTP requests on one connection until it closes.

    Error handling: never raises (rule 3); the stream is closed at the end.
    """
    try:
        await _Connection(stream, handler, limits, slots).run()
    except _CLIENT_GONE:
        pass
    except Exception:
        log.exception("connection failed")
    finally:
        with anyio.CancelScope(shield=True):
            await stream.aclose()


_REFUSAL_BODY = b'{"message":"the engine serves too many connections; retry later"}\n'
_REFUSAL = (
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    f"Content-Length: {len(_REFUSAL_BODY)}\r\nConnection: close\r\n\r\n"
).encode() + _REFUSAL_BODY


async def _refuse(stream: Any) -> None:
    try:
        with anyio.move_on_after(1):
            await stream.send(_REFUSAL)
            # read what the client sent: closing on unread data would reset the connection
            # before it reads the answer
            await stream.receive(65536)
    except _CLIENT_GONE:
        pass
    finally:
        with anyio.CancelScope(shield=True):
            await stream.aclose()


def _has_request(stream: Any) -> bool:
    """Whether a just-accepted client has sent something already (never blocks)."""
    raw = stream.extra(SocketAttribute.raw_socket)
    try:
        return bool(raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:
        return False


async def _refuse_at_once(stream: Any) -> None:
    with contextlib.suppress(OSError):
        stream.extra(SocketAttribute.raw_socket).send(_REFUSAL, socket.MSG_DONTWAIT)
    with anyio.CancelScope(shield=True):
        await stream.aclose()


async def serve(
    handler: Handler,
    listener: SocketListener,
    *,
    limits: Limits | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Accept connections on ``listener`` forever, one task per connection.

    Args:
        handler: turns a :class:`Request` into a Response (the route table).
        listener: e.g. ``await anyio.create_unix_listener(path)``; closed on exit.
    Resource handling: ``task_status.started()`` once accepting; cancelling ``serve``
    closes the listener and every connection.
    """
    bounds = limits or Limits()
    slots = _ConnectionSlots(bounds.max_connections)

    async def on_connection(stream: Any) -> None:
        try:
            await serve_connection(stream, handler, bounds, slots)
        finally:
            slots.release()

    async def refuse(stream: Any) -> None:
        try:
            await _refuse(stream)
        finally:
            slots.release(refused=True)

    async with listener, anyio.create_task_group() as task_group:
        task_status.started()
        while True:
            # half the descriptors stay for containers, logs, layers and the engine's own files
            soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            slots.limit = max(1, min(bounds.max_connections, soft_limit // 2))
            # checked before accept: at the bound an idle connection makes room, else a few
            # clients at a time get 503 and the rest wait in the kernel's listen queue
            if slots.full and slots.refusing >= REFUSED_AT_ONCE:
                await slots.wait_freed()
                continue
            try:
                stream = await listener.accept()
            except (OSError, anyio.BrokenResourceError) as exc:
                cause = exc if isinstance(exc, OSError) else exc.__cause__
                if not isinstance(cause, OSError) or cause.errno not in _ACCEPT_RETRY:
                    raise
                # out of descriptors or memory: make room, never stop serving
                log.warning("cannot accept a connection: %s", cause)
                if not slots.evict_idle():
                    await slots.wait_freed(0.1)
                continue
            if slots.full and not _has_request(stream):
                # at the bound a client that sent nothing is one more idle one: 503 at once,
                # without a task (thousands of them queue up in a descriptor flood)
                await _refuse_at_once(stream)
                continue
            if slots.full and not slots.evict_idle():
                slots.refusing += 1
                task_group.start_soon(refuse, stream)
                continue
            slots.count += 1
            task_group.start_soon(on_connection, stream)
