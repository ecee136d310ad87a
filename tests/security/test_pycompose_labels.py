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
from engine.api.client import EngineClient
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


@pytest.mark.root
@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
def test_a_takeover_label_cannot_take_what_is_not_its_own() -> None:
    def body(project: str, service: str, **extra: str) -> dict[str, object]:
        return {
            "Image": "busybox",
            "Cmd": ["sleep", "100"],
            "Labels": {
                "com.docker.compose.project": project,
                "com.docker.compose.service": service,
                **extra,
            },
        }

    async def status_of(client: EngineClient, method: str, path: str, **kwargs: object) -> int:
        try:
            return (await client.request(method, path, **kwargs)).status_code  # type: ignore[arg-type]
        except errors.InvalidParameter:
            return 400

    async def scenario(daemon: Daemon) -> None:
        async with engine_client(daemon) as client:
            made = await client.request(
                "POST", "/containers/create", params={"name": "old"}, body=body("p", "web")
            )
            assert made.status_code == 201
            assert (await client.request("POST", "/containers/old/start")).status_code == 204
            bad_labels = [
                {"io.pycompose.takes-over": "old\n"},
                {"io.pycompose.takes-over": "x" * 100_000},
                {"io.pycompose.takes-over": "../old"},
                {"io.pycompose.takes-over": "old", "io.pycompose.takeover-after": "nan"},
                {"io.pycompose.takes-over": "old", "io.pycompose.takeover-after": "-1"},
                {"io.pycompose.takes-over": "old", "io.pycompose.takeover-after": "1e9"},
                {"io.pycompose.takeover-after": "3"},
            ]
            for number, extra in enumerate(bad_labels):
                status = await status_of(
                    client,
                    "POST",
                    "/containers/create",
                    params={"name": f"bad{number}"},
                    body=body("p", "web", **extra),
                )
                assert status == 400, (extra, status)
            # well formed, but not its own: another project's, another service's, itself
            for name, project, service, target in (
                ("thief1", "q", "web", "old"),
                ("thief2", "p", "db", "old"),
                ("thief4", "p", "web", "thief4"),
            ):
                extra = {"io.pycompose.takes-over": target}
                made = await client.request(
                    "POST",
                    "/containers/create",
                    params={"name": name},
                    body=body(project, service, **extra),
                )
                assert made.status_code == 201
                status = await status_of(client, "POST", f"/containers/{name}/start")
                assert status == 400, (name, status)
            state = (await client.request("GET", "/containers/old/json")).json()["State"]
            assert state["Running"]
            # a container whose predecessor is gone (long after its update) starts as any other
            made = await client.request(
                "POST",
                "/containers/create",
                params={"name": "successor"},
                body=body("p", "web", **{"io.pycompose.takes-over": "gone"}),
            )
            assert made.status_code == 201
            started = await client.request("POST", "/containers/successor/start")
            assert started.status_code == 204
            await client.request("DELETE", "/containers/successor", params={"force": "1"})
            await client.request("DELETE", "/containers/old", params={"force": "1"})

    with running_engine() as daemon:
        anyio.run(scenario, daemon)
