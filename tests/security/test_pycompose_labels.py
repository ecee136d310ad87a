"""Attack: the labels pycompose's engine acts on come from API clients.

A value the engine does not know is refused (400) before anything is made, and the error
shows a bounded, escaped excerpt of it (not megabytes, not raw control characters). The
Compose labels ordered restore reads (``com.docker.compose.depends_on``) are bounded and
checked: a malformed one orders nothing.
"""

from __future__ import annotations

import anyio
import pytest

from engine.api import errors
from engine.daemon.backend import restore
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()


@pytest.mark.root
@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
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


@pytest.mark.parametrize(
    "hostile",
    [
        "db:service_ready:false",
        "db",
        "db:service_started:maybe",
        "../x:service_started:false",
        "db:service_started:false:extra",
        "a:service_started:false," * 2000,
        "x" * 100_000,
        ",".join(f"s{n}:service_started:false" for n in range(200)),
        "db\n:service_started:false",
    ],
)
def test_hostile_depends_on_labels_order_nothing(hostile: str) -> None:
    assert restore.parse_depends_on(hostile) is None
    assert (
        restore.member_of(
            "c1", {restore.PROJECT: "p", restore.SERVICE: "web", restore.DEPENDS_ON: hostile}
        )
        is None
    )
