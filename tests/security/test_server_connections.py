"""Attacks on the engine's API server: too many connections, and clients that never read.

The engine serves its API on a unix socket; a local client (or a runaway script) can open
thousands of idle connections. The engine must stay up and keep answering ``GET /_ping``
(new clients wait or get 503, idle ones make room), whatever its file-descriptor limit.
A client that asks for a big stream and never reads it must not make the engine buffer it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import time
from collections.abc import Iterator

import anyio
import pytest

from engine.api.client import EngineClient
from engine.api.models import ContainerCreate
from tests.security.net_security_helpers import (
    Daemon,
    busybox_image_tar,
    running_engine,
    skip_reason,
    vm_rss_kib,
)

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

ENGINE_FD_LIMIT = 1024  # the usual default soft limit of a service
IDLE_CONNECTIONS = 3000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def engine() -> Iterator[Daemon]:
    with running_engine() as daemon:
        yield daemon


def ping(path: str, timeout: float) -> bytes:
    """The body of ``GET /_ping`` on the engine's socket, within ``timeout`` seconds."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        sock.connect(path)
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n")
        data = b""
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


@contextlib.contextmanager
def idle_connections(path: str, count: int) -> Iterator[list[socket.socket]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, count + 1024)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_UNIX)
            sock.setblocking(False)
            try:
                sock.connect(path)
            except BlockingIOError:  # the listen queue is full: the engine is not accepting
                sock.close()
                break
            except OSError:
                sock.close()
                break
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_thousands_of_idle_connections_do_not_stop_the_engine(engine: Daemon) -> None:
    assert engine.process is not None
    pid = engine.process.pid
    _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (ENGINE_FD_LIMIT, hard))
    with idle_connections(engine.socket, IDLE_CONNECTIONS) as opened:
        assert len(opened) >= 1500, "could not even open the connections"
        time.sleep(2)  # let the engine accept what it will
        assert engine.process.poll() is None, "the engine exited under idle connections"
        started = time.monotonic()
        answer = ping(engine.socket, timeout=1.0)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"OK"), answer[:200]
        assert time.monotonic() - started < 1.0
        assert len(os.listdir(f"/proc/{pid}/fd")) < ENGINE_FD_LIMIT
    time.sleep(0.5)
    assert engine.process.poll() is None
    assert ping(engine.socket, timeout=1.0).endswith(b"OK")


@pytest.mark.anyio
async def test_a_client_that_never_reads_a_stream_does_not_grow_the_engine(
    engine: Daemon,
) -> None:
    assert engine.process is not None
    pid = engine.process.pid
    async with EngineClient(engine.socket, timeout=60) as client:
        await client.request(
            "POST",
            "/images/load",
            content=busybox_image_tar(),
            headers={"Content-Type": "application/x-tar"},
        )
        chatty = await client.container_create(
            ContainerCreate(Image="busybox", Cmd=["sh", "-c", "yes 0123456789abcdef0123456789"]),
            name="sec-chatty",
        )
        await client.container_start(chatty.Id)
        try:
            await anyio.sleep(1)
            before = vm_rss_kib(pid)
            stalled = []
            for path in (f"/containers/{chatty.Id}/logs?follow=1&stdout=1", "/events"):
                sock = socket.socket(socket.AF_UNIX)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(engine.socket)
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: engine\r\n\r\n".encode())
                stalled.append(sock)  # and never read
            peak = before
            for _ in range(16):
                await anyio.sleep(0.5)
                peak = max(peak, vm_rss_kib(pid))
            assert peak - before < 64 * 1024, f"engine RSS grew from {before} to {peak} KiB"
            for sock in stalled:
                sock.close()
            assert ping(engine.socket, timeout=1.0).endswith(b"OK")
        finally:
            await client.container_remove(chatty.Id, force=True)
