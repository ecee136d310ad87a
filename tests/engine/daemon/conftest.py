"""Fixtures of the daemon tests: a real engine on a tmp data root, with a busybox image."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from daemon_helpers import Daemon, busybox_image_tar

from engine.api.client import EngineClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def busybox_tar() -> bytes:
    return busybox_image_tar()


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    running = Daemon()
    try:
        running.start()
        yield running
    finally:
        running.cleanup()


@pytest.fixture
async def client(daemon: Daemon, busybox_tar: bytes) -> AsyncIterator[EngineClient]:
    async with EngineClient(daemon.socket, timeout=60) as engine_client:
        await engine_client.request(
            "POST",
            "/images/load",
            content=busybox_tar,
            headers={"Content-Type": "application/x-tar"},
        )
        yield engine_client
