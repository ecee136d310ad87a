"""Attack: API input that slips past the engine's parsers.

Names end where the string ends: ``re.match("^name$")`` also accepts ``"name\\n"`` (``$``
matches before a trailing newline), so each name, reference and tag with a trailing newline
must be refused with 400. JSON nested ten thousand levels deep (filters, a seccomp profile,
a request body) must be a 400 as well, never a RecursionError (a 500, or a dead engine).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from engine.api import errors
from engine.api.client import EngineClient
from tests.security.storage_helpers import Daemon, engine_client, running_engine, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

DEEP = "[" * 10_000 + "]" * 10_000


async def _status(client: EngineClient, method: str, path: str, **kwargs: Any) -> int:
    try:
        response = await client.request(method, path, **kwargs)
    except errors.InvalidParameter:
        return 400
    except errors.NotFound:
        return 404
    except errors.EngineError as exc:
        return 500 if "unavailable" not in type(exc).__name__.lower() else 0
    return response.status_code


def test_names_with_a_trailing_newline_and_deep_json_are_refused() -> None:
    async def scenario(daemon: Daemon) -> None:
        problems: list[str] = []
        async with engine_client(daemon) as client:
            busybox = {"Image": "busybox", "Cmd": ["true"]}
            checks: list[tuple[str, str, str, dict[str, Any]]] = [
                (
                    "container name",
                    "POST",
                    "/containers/create",
                    {"params": {"name": "web\n"}, "body": busybox},
                ),
                ("volume name", "POST", "/volumes/create", {"body": {"Name": "data\n"}}),
                ("network name", "POST", "/networks/create", {"body": {"Name": "net\n"}}),
                (
                    "image reference",
                    "POST",
                    "/containers/create",
                    {"body": {"Image": "busybox:latest\n", "Cmd": ["true"]}},
                ),
                (
                    "tag",
                    "POST",
                    "/images/busybox/tag",
                    {"params": {"repo": "busybox", "tag": "v1\n"}},
                ),
                (
                    "repository",
                    "POST",
                    "/images/busybox/tag",
                    {"params": {"repo": "mine\n", "tag": "v1"}},
                ),
                ("deep filters", "GET", "/containers/json", {"params": {"filters": DEEP}}),
                ("deep volume filters", "GET", "/volumes", {"params": {"filters": DEEP}}),
                (
                    "deep body",
                    "POST",
                    "/containers/create",
                    {
                        "content": b'{"Image": "busybox", "Cmd": ' + DEEP.encode() + b"}",
                        "headers": {"Content-Type": "application/json"},
                    },
                ),
                (
                    "deep seccomp profile",
                    "POST",
                    "/containers/create",
                    {
                        "body": {
                            **busybox,
                            "HostConfig": {"SecurityOpt": [f"seccomp={DEEP}"]},
                        }
                    },
                ),
            ]
            for what, method, path, kwargs in checks:
                status = await _status(client, method, path, **kwargs)
                if status != 400:
                    problems.append(f"{what}: {status}, not 400")
            created = await client.request(
                "POST", "/containers/create", params={"name": "good"}, body=busybox
            )
            assert created.status_code == 201
            status = await _status(
                client, "POST", "/containers/good/rename", params={"name": "bad\n"}
            )
            if status != 400:
                problems.append(f"rename: {status}, not 400")
            listed = await client.request("GET", "/containers/json", params={"all": "1"})
            names = [name for c in listed.json() for name in c["Names"]]
            if names != ["/good"]:
                problems.append(f"containers made: {names}")
            volumes = (await client.request("GET", "/volumes")).json()["Volumes"] or []
            if volumes:
                problems.append(f"volumes made: {[v['Name'] for v in volumes]}")
            assert await client.ping() is not None  # still alive
        assert not problems, "\n".join(problems)

    with running_engine() as daemon:
        anyio.run(scenario, daemon)
