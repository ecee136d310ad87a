"""Fixtures of the command tests: a :class:`~command_harness.Harness` on a fake engine."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from command_harness import CommandBackend, Harness

from engine.api.client import EngineClient
from engine.daemon.routes import Router
from engine.daemon.server import serve


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    directory = Path(tempfile.mkdtemp(prefix="pccmd", dir="/tmp"))
    socket = str(directory / "engine.sock")
    backend = CommandBackend()
    backend.add_image("web:1")
    backend.add_image("db:1")
    try:
        async with anyio.create_task_group() as task_group:
            listener = await anyio.create_unix_listener(socket, mode=0o660)
            await task_group.start(
                lambda task_status: serve(Router(backend), listener, task_status=task_status)
            )
            async with EngineClient(socket, timeout=10) as client:
                yield Harness(client, backend, directory / "project")
            await anyio.sleep(0.05)
            task_group.cancel_scope.cancel()
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(directory)
