"""Fixtures of the API tests: the real route table over a real unix socket, on a fake backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_helpers import Engine, running_engine


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with running_engine() as running:
        yield running
