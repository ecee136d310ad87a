"""exec and run (through the executor's conversion) over the fake engine."""

from __future__ import annotations

import anyio
import pytest
from command_harness import Harness

from compose.errors import PlanError
from compose.labels import ONEOFF, SLUG

pytestmark = pytest.mark.anyio

SHARED = {
    "compose.yaml": """
services:
  app:
    image: web:1
    network_mode: "service:db"
    restart: always
    environment: {A: "1"}
    ports: ["8080:80"]
  db:
    image: db:1
"""
}


async def test_exec_runs_in_the_running_replica(harness: Harness) -> None:
    await harness.run("up", "-d")
    harness.stdin = b"piped in"
    assert await harness.run("exec", "-T", "db", "cat") == 1  # fake: len(command)
    assert harness.out.getvalue() == "PIPED IN"  # the fake echoes stdin upper-cased
    assert "err" in harness.err.getvalue()
    harness.stdin = b""
    assert await harness.run("exec", "-T", "db", "echo", "hi") == 2
    assert list(harness.backend.exec_commands.values()) == [["cat"], ["echo", "hi"]]
    with pytest.raises(PlanError, match="has no running container #3"):
        await harness.run("exec", "--index", "3", "db", "true")


async def test_run_creates_a_one_off_container_as_up_would(harness: Harness) -> None:
    async def exit_once_started() -> None:
        while "once" not in harness.names() or harness.container("once").state != "running":
            await anyio.sleep(0.05)
        harness.container("once").exit_code = 3
        harness.container("once").state = "exited"
        harness.container("once").stopped.set()

    harness.stdin = b"typed"
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(exit_once_started)
        code = await harness.run("run", "--rm", "--name", "once", "web", "echo", "x")
    assert code == 3
    # attached: stdin reached the container, its output came through the attach session
    # (the fake echoes stdin upper-cased and writes "err" on stderr)
    assert harness.out.getvalue() == "TYPED"
    assert "err" in harness.err.getvalue()
    # its dependency was started; the one-off container is gone (--rm)
    assert harness.names() == {"demo-db-1"}
    events = [(e.Action, e.Actor.Attributes["name"]) for e in harness.backend.events_log]
    assert ("create", "once") in events and ("destroy", "once") in events


async def test_run_keeps_the_container_and_resolves_service_references(harness: Harness) -> None:
    code = await harness.run(
        "run", "-d", "--name", "once", "-e", "B=2", "-v", "/tmp:/host", "app", "sh", files=SHARED
    )
    assert code == 0
    assert harness.out.getvalue() == "once\n"
    body = harness.container("once").body
    assert body.labels is not None
    assert body.labels[ONEOFF] == "True" and len(body.labels[SLUG]) == 64
    assert body.cmd == ["sh"]
    assert sorted(body.env or []) == ["A=1", "B=2"]
    # as `up` creates it: network_mode service:db is the db container
    assert body.host_config.network_mode == "container:demo-db-1"
    assert body.host_config.binds == ["/tmp:/host:rw"]  # as a bind of the file
    policy = body.host_config.restart_policy
    assert policy is None or policy.name in ("", "no")  # a one-off runs once
    assert not body.host_config.port_bindings  # no --service-ports


async def test_run_of_an_unknown_service(harness: Harness) -> None:
    with pytest.raises(PlanError, match="no such service: nope"):
        await harness.run("run", "nope")
