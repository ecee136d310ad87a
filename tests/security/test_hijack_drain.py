"""A hijacked session (attach, exec) that is over while its client still sends.

The engine reads and drops what comes after the end (closing with input unread would reset
the connection under a client such as ``yes | docker exec -i c head -1``), but only for a
bounded time: a client that floods the finished session forever is cut off after
HIJACK_DRAIN_SECONDS, and nothing it sends is kept.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from engine.api.client import EngineClient
from engine.api.models import ContainerCreate, ExecCreate
from engine.daemon import server
from engine.daemon.http import Hijack, RawStream, Request, Response
from tests.security.net_security_helpers import (
    Daemon,
    busybox_image_tar,
    running_engine,
    skip_reason,
    vm_rss_kib,
)

pytestmark = pytest.mark.anyio

UPGRADE = (
    b"POST /exec/x/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _ended_at_once(raw: RawStream) -> None:
    await raw.send(b"done")  # the process's whole output; then the session is over


async def handler(request: Request) -> Response:
    return Hijack("application/vnd.docker.raw-stream", _ended_at_once)


async def with_server(test: object) -> None:
    directory = tempfile.mkdtemp(prefix="pcdrain", dir="/tmp")
    path = str(Path(directory) / "engine.sock")
    try:
        async with anyio.create_task_group() as task_group:
            listener = await anyio.create_unix_listener(path)
            await task_group.start(
                lambda task_status: server.serve(handler, listener, task_status=task_status)
            )
            await anyio.to_thread.run_sync(test, path)  # type: ignore[arg-type]
            task_group.cancel_scope.cancel()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def read_to_end(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


async def test_input_after_the_end_is_dropped_and_the_close_is_clean() -> None:
    def client(path: str) -> None:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(30)
            sock.connect(path)
            sock.sendall(UPGRADE)
            time.sleep(0.3)  # the session is over by now
            sock.sendall(b"y\n" * 50_000)  # more input than the engine will ever read
            sock.shutdown(socket.SHUT_WR)  # as docker's client does once its input ends
            received = read_to_end(sock)  # a reset here would raise ConnectionResetError
        assert received.startswith(b"HTTP/1.1 101 UPGRADED\r\n")
        assert received.endswith(b"\r\n\r\ndone")

    await with_server(client)


async def test_a_client_flooding_a_finished_session_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server, "HIJACK_DRAIN_SECONDS", 1.0)

    def client(path: str) -> None:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(30)
            sock.connect(path)
            sock.sendall(UPGRADE)
            started = time.monotonic()
            chunk = b"x" * 65536
            with pytest.raises(OSError):  # EPIPE or a reset: the engine closed
                while time.monotonic() - started < 20:
                    sock.sendall(chunk)
            assert time.monotonic() - started < 10, "the finished session was not cut off"

    await with_server(client)


def _real_engine_skip() -> str | None:
    return skip_reason()


@pytest.fixture
def real_engine() -> Iterator[Daemon]:
    with running_engine() as daemon:
        yield daemon


@pytest.mark.root
@pytest.mark.skipif(_real_engine_skip() is not None, reason=_real_engine_skip() or "")
async def test_detached_execs_neither_hold_output_nor_take_the_engine_down(
    real_engine: Daemon,
) -> None:
    """``exec -d`` runs in the engine's own task group: a detached process that floods its
    output has it dropped (the engine does not grow), and one that cannot start ends
    alone (exit 126) while the engine goes on."""
    engine = real_engine
    assert engine.process is not None
    pid = engine.process.pid
    async with EngineClient(engine.socket, timeout=60) as client:
        await client.request(
            "POST",
            "/images/load",
            content=busybox_image_tar(),
            headers={"Content-Type": "application/x-tar"},
        )
        created = await client.container_create(
            ContainerCreate(Image="busybox", Cmd=["sleep", "1000"]), name="sec-detached"
        )
        await client.container_start(created.Id)
        try:
            flood = await client.exec_create(
                created.Id, ExecCreate(Cmd=["sh", "-c", "yes 0123456789abcdef"])
            )
            started = time.monotonic()
            await client.exec_start_detached(flood.Id)
            assert time.monotonic() - started < 10
            assert (await client.exec_inspect(flood.Id)).Running
            before = vm_rss_kib(pid)
            peak = before
            for _ in range(8):
                await anyio.sleep(0.5)
                peak = max(peak, vm_rss_kib(pid))
            assert peak - before < 64 * 1024, f"engine RSS grew from {before} to {peak} KiB"
            missing = await client.exec_create(created.Id, ExecCreate(Cmd=["/no/such"]))
            await client.exec_start_detached(missing.Id)
            with anyio.fail_after(30):
                while (await client.exec_inspect(missing.Id)).Running:
                    await anyio.sleep(0.1)
            assert (await client.exec_inspect(missing.Id)).ExitCode == 126
            assert engine.process.poll() is None
            assert (await client.version()).ApiVersion
        finally:
            await client.container_remove(created.Id, force=True)
