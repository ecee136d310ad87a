"""The real route table over a real unix socket in /tmp, on a fake backend (see fake_backend)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
from fake_backend import FakeBackend

from engine.api.client import EngineClient
from engine.daemon.routes import Router
from engine.daemon.server import Limits, serve


@dataclass
class Engine:
    socket: str
    backend: FakeBackend
    client: EngineClient

    async def raw(self, data: bytes, *, read_until_close: bool = True) -> bytes:
        """Send raw bytes on a fresh connection; everything the server answers until it closes."""
        async with await anyio.connect_unix(self.socket) as stream:
            await stream.send(data)
            if not read_until_close:
                return await stream.receive()
            chunks = []
            with anyio.fail_after(60):
                while True:
                    try:
                        chunks.append(await stream.receive())
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        break
            return b"".join(chunks)


@contextlib.asynccontextmanager
async def running_engine(limits: Limits | None = None) -> AsyncIterator[Engine]:
    directory = tempfile.mkdtemp(prefix="pcapi", dir="/tmp")
    socket = str(Path(directory) / "engine.sock")
    backend = FakeBackend()
    try:
        async with anyio.create_task_group() as task_group:
            listener = await anyio.create_unix_listener(socket, mode=0o660)
            await task_group.start(
                lambda task_status: serve(
                    Router(backend), listener, limits=limits, task_status=task_status
                )
            )
            async with EngineClient(socket, timeout=10) as client:
                yield Engine(socket, backend, client)
            # Let the server see its connections close first: cancelling a unix socket
            # receive that is just becoming readable trips an asyncio InvalidStateError
            # callback in anyio 4.16 (harmless, but the pytest plugin reports it).
            await anyio.sleep(0.05)
            task_group.cancel_scope.cancel()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
