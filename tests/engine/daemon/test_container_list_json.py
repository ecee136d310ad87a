"""``GET /containers/json`` from cached JSON text: the same bytes as encoding the summaries.

A pure unit test of :class:`ContainerViews` (stand-ins for the index's store, the runtime
and the networking part); the engine's own tests list through the real route.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from engine.api import models as api
from engine.daemon.backend.container_view import ContainerViews, list_command
from engine.daemon.backend.index import ContainerIndex
from engine.daemon.routes.common import go_json
from engine.errors import NotFound
from engine.runtime import ContainerState, HealthStatus
from engine.state import ContainerRecord

NOW = 1_800_000_000.0


class Runtime:
    def __init__(self) -> None:
        self.infos: dict[str, Any] = {}

    def inspect(self, ref: str) -> Any:
        try:
            return self.infos[ref]
        except KeyError:
            raise NotFound(f"no such container: {ref}") from None


class Store:
    def containers(self) -> list[ContainerRecord]:
        return []


class Networking:
    """Gives the same (ports, networks) objects until ``change``, as the real cache does."""

    def __init__(self) -> None:
        self.given: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}

    def summary_wire(self, container_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self.given.get(container_id, ([], {}))

    def change(self, container_id: str, port: int) -> None:
        ports = [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": port, "Type": "tcp"}]
        networks = {"p_default": {"NetworkID": "n" * 64, "IPAddress": "10.208.0.2"}}
        self.given[container_id] = (ports, networks)


def info(state: ContainerState, cmd: Any, exit_code: int = 0, health: str = "") -> Any:
    return SimpleNamespace(
        state=state,
        started_at=NOW - 75,
        finished_at=NOW - 30,
        exit_code=exit_code,
        health=HealthStatus(health) if health else HealthStatus.NONE,
        unhealthy_action="",
        config=SimpleNamespace(entrypoint=None, cmd=cmd),
    )


def views_with_containers() -> tuple[ContainerViews, Runtime, Networking]:
    runtime = Runtime()
    index = ContainerIndex(Path("/nonexistent"), Store(), runtime)  # type: ignore[arg-type]
    networking = Networking()
    volumes = SimpleNamespace(root=Path("/data/volumes"))
    views = ContainerViews(index, volumes, networking)  # type: ignore[arg-type]
    rows = [
        # labels Go escapes (<, >, &), non-ASCII, quotes and a JSON-valued label
        ("a" * 64, "p-web-1", {"com.docker.compose.project": "p", "x": '<b>&"é☃'}, "running"),
        ("b" * 64, "p-db-1", {"com.docker.compose.project": "p", "j": '{"k":[1]}'}, "exited"),
        ("c" * 64, "other-1", {"com.docker.compose.project": "other"}, "running"),
        ("d" * 64, "p-half-1", {"com.docker.compose.project": "p"}, "running"),
    ]
    for number, (container_id, name, labels, state) in enumerate(rows):
        body = {
            "Labels": labels,
            "HostConfig": {"NetworkMode": "p_default", "Binds": ["p_data:/data:ro"]},
        }
        status = "creating" if name == "p-half-1" else "created"
        index.put(
            ContainerRecord(container_id, name, status, NOW - number, "busybox", "sha256:1", body)
        )
        runtime.infos[container_id] = info(
            ContainerState(state), ["sh", "-c", "echo <&>"], exit_code=3, health="healthy"
        )
    networking.change("a" * 64, 8080)
    return views, runtime, networking


def encoded(views: ContainerViews, **query: Any) -> bytes:
    selected = views.select(**query)
    return go_json([views.summary_wire(record, info) for record, info in selected])


def test_list_json_is_the_encoding_of_the_summaries() -> None:
    views, _, _ = views_with_containers()
    for query in (
        {"all": True, "filters": {}},
        {"all": False, "filters": {}},
        {"all": True, "filters": {"label": ["com.docker.compose.project=p"]}},
        {"all": True, "filters": {"status": ["exited"]}},
        {"all": True, "filters": {}, "limit": 1},
    ):
        assert views.list_json(**query) == encoded(views, **query), query
    listed = json.loads(views.list_json(all=True, filters={}))
    assert [s["Names"] for s in listed] == [["/p-web-1"], ["/p-db-1"], ["/other-1"]]
    assert [s["State"] for s in listed] == ["running", "exited", "running"]
    assert listed[0]["Labels"]["x"] == '<b>&"é☃'
    assert listed[1]["Status"].startswith("Exited (3) ")
    assert listed[0]["Ports"][0]["PublicPort"] == 8080
    assert b"\\u003cb\\u003e\\u0026" in views.list_json(all=True, filters={})
    summaries = [api.ContainerSummary.model_validate(s) for s in listed]
    assert summaries[0].Mounts[0].Name == "p_data" and not summaries[0].Mounts[0].RW


def test_list_json_follows_state_ports_renames_and_removals() -> None:
    views, runtime, networking = views_with_containers()
    web = "a" * 64
    views.list_json(all=True, filters={})  # fills the caches
    runtime.infos[web] = info(ContainerState.EXITED, ["true"], exit_code=137)
    networking.change(web, 9090)
    record = views.index.records[web]
    views.index.put(
        ContainerRecord(web, "renamed", "created", record.created, "busybox", "sha256:1", {})
    )
    listed = json.loads(views.list_json(all=True, filters={}))
    assert listed[0]["Names"] == ["/renamed"] and listed[0]["State"] == "exited"
    assert listed[0]["Status"].startswith("Exited (137) ")
    assert listed[0]["Ports"][0]["PublicPort"] == 9090
    assert views.list_json(all=True, filters={}) == encoded(views, all=True, filters={})
    assert json.loads(views.list_json(all=False, filters={}))[0]["Names"] == ["/other-1"]
    del runtime.infos[web]  # gone from the runtime: not listed
    views.forget(web)
    assert [s["Id"][0] for s in json.loads(views.list_json(all=True, filters={}))] == ["b", "c"]


def test_the_command_is_dockerds() -> None:
    """dockerd's list quotes an argument with a space (docker compose's COMMAND shows it)."""
    assert list_command("sh", ["-c", "sleep 1 && ls", "x"]) == "sh -c 'sleep 1 && ls' x"
    assert list_command("/bin/true", []) == "/bin/true"
    assert list_command("echo", ["a", ""]) == "echo a "
