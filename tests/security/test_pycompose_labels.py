"""Attack: pycompose's own labels (``io.pycompose.on-unhealthy``) come from API clients.

A value the engine does not know is refused (400) before anything is made, and the error
shows a bounded, escaped excerpt of it (not megabytes, not raw control characters).
"""

from __future__ import annotations

import anyio
import pytest

from engine.api import errors
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def test_a_bad_on_unhealthy_label_is_refused_before_anything_is_made() -> None:
    async def scenario(daemon: Daemon) -> None:
        async with engine_client(daemon) as client:
            for value in ("reboot", "restart\n", "x" * 1_000_000, "\x1b[2J\x00stop"):
                body = {
                    "Image": "busybox",
                    "Cmd": ["true"],
                    "Labels": {"io.pycompose.on-unhealthy": value},
                }
                with pytest.raises(errors.InvalidParameter) as refused:
                    await client.request(
                        "POST", "/containers/create", params={"name": "bad"}, body=body
                    )
                message = str(refused.value)
                assert "io.pycompose.on-unhealthy" in message
                assert len(message) < 400 and "\x1b" not in message and "\x00" not in message
            good = {
                "Image": "busybox",
                "Cmd": ["true"],
                "Labels": {"io.pycompose.on-unhealthy": "restart"},
            }
            made = await client.request(
                "POST", "/containers/create", params={"name": "ok"}, body=good
            )
            assert made.status_code == 201
            listed = await client.request("GET", "/containers/json", params={"all": "1"})
            assert [name for c in listed.json() for name in c["Names"]] == ["/ok"]

    with running_engine() as daemon:
        anyio.run(scenario, daemon)
