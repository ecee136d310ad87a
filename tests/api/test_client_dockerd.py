"""EngineClient against a real dockerd (the oracle), read-only: skipped when none runs."""

from __future__ import annotations

import os

import pytest

from engine.api import errors
from engine.api.client import EngineClient
from tests.oracle import DOCKER_SOCKET

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.anyio,
    pytest.mark.skipif(not os.access(DOCKER_SOCKET, os.R_OK | os.W_OK), reason="no dockerd"),
]


async def test_negotiates_and_reads_a_real_dockerd() -> None:
    async with EngineClient(f"unix://{DOCKER_SOCKET}", timeout=30) as client:
        try:
            version = await client.version()
        except errors.EngineUnavailable:
            pytest.skip("dockerd does not answer")
        assert client.api_version is not None
        assert version.ApiVersion and version.Os == "linux"
        info = await client.info()
        assert info.ServerVersion == version.Version
        await client.container_list(all=True, filters={"label": ["com.docker.compose.project"]})
        await client.image_list()
        assert {"bridge", "host", "none"} & {n.Name for n in await client.network_list()}
        await client.volume_list()
        with pytest.raises(errors.NotFound):
            await client.container_inspect("pycompose-no-such-container")
        with pytest.raises(errors.NotFound):
            await client.image_inspect("pycompose-no-such-image:never")
        with pytest.raises(errors.NotFound):
            await client.network_inspect("pycompose-no-such-network")
        with pytest.raises(errors.NotFound):
            await client.volume_inspect("pycompose-no-such-volume")
