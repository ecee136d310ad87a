"""``max_concurrent`` (``pycompose --parallel N``) bounds the client's requests in flight,
counted by a real HTTP server on a unix socket that answers slowly."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

from compose.commands.session import connect
from engine.api.client import EngineClient
from engine.api.transport import DEFAULT_IN_FLIGHT


async def _max_in_flight(socket_path: Path, limit: int | None, requests: int) -> int:
    in_flight = 0
    highest = 0

    async def serve(stream: SocketStream) -> None:
        nonlocal in_flight, highest
        buffer = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        buffer += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                in_flight += 1
                highest = max(highest, in_flight)
                await anyio.sleep(0.05)
                in_flight -= 1
                body = b"" if head.startswith(b"HEAD") else b"{}"
                await stream.send(
                    b"HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )

    listener = await anyio.create_unix_listener(socket_path)
    async with anyio.create_task_group() as server:
        server.start_soon(listener.serve, serve)
        async with EngineClient(str(socket_path), max_concurrent=limit) as client:
            await client.negotiate()
            async with anyio.create_task_group() as calls:
                for _ in range(requests):
                    calls.start_soon(client.request, "GET", "/info")
        server.cancel_scope.cancel()
    return highest


@pytest.mark.parametrize(("limit", "expected"), [(2, 2), (1, 1)])
def test_requests_in_flight_are_bounded(tmp_path: Path, limit: int | None, expected: int) -> None:
    assert anyio.run(_max_in_flight, tmp_path / "s.sock", limit, 6) == expected


def test_a_few_requests_go_at_once(tmp_path: Path) -> None:
    # held at the server until all have come: on a busy machine the first may otherwise
    # be answered before the last is sent
    assert anyio.run(_held_in_flight, tmp_path / "s.sock", 6) == 6


def test_without_a_bound_the_client_keeps_its_own(tmp_path: Path) -> None:
    """More requests than DEFAULT_IN_FLIGHT wait in the client (up --scale 1000), not in
    the HTTP pool, whose queue costs CPU in proportion to its length."""
    assert anyio.run(_held_in_flight, tmp_path / "s.sock", DEFAULT_IN_FLIGHT + 16) == (
        DEFAULT_IN_FLIGHT
    )


async def _held_in_flight(socket_path: Path, requests: int) -> int:
    """The most requests in flight when the server answers none until a second passes
    with no new one arriving (then all)."""
    in_flight = highest = 0
    arrived = anyio.Event()
    gate = anyio.Event()

    async def serve(stream: SocketStream) -> None:
        nonlocal in_flight, highest, arrived
        buffer = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        buffer += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                in_flight += 1
                highest = max(highest, in_flight)
                arrived.set()
                await gate.wait()
                in_flight -= 1
                body = b"" if head.startswith(b"HEAD") else b"{}"
                await stream.send(
                    b"HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )

    async def open_when_quiet() -> None:
        nonlocal arrived
        while True:
            with anyio.move_on_after(1.0) as quiet:
                await arrived.wait()
            if quiet.cancelled_caught and highest > 1:
                gate.set()
                return
            arrived = anyio.Event()

    listener = await anyio.create_unix_listener(socket_path)
    async with anyio.create_task_group() as server:
        server.start_soon(listener.serve, serve)
        async with EngineClient(str(socket_path)) as client:
            gate.set()
            await client.negotiate()
            gate = anyio.Event()
            server.start_soon(open_when_quiet)
            async with anyio.create_task_group() as calls:
                for _ in range(requests):
                    calls.start_soon(client.request, "GET", "/info")
        server.cancel_scope.cancel()
    return highest


def test_parallel_reaches_the_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")

    async def limits() -> list[float | None]:
        found = []
        for parallel in (3, -1):
            client = await connect(parallel)
            found.append(client._limit.total_tokens)
            await client.aclose()
        return found

    assert anyio.run(limits) == [3, DEFAULT_IN_FLIGHT]
