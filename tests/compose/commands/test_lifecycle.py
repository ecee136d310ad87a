"""up, create, down, start, stop, restart, kill, pause, unpause, rm over the fake engine."""

from __future__ import annotations

import pytest
from command_harness import Harness

from compose.errors import PlanError
from compose.labels import PROJECT, SERVICE

pytestmark = pytest.mark.anyio


async def test_up_detached_creates_networks_volumes_and_containers(harness: Harness) -> None:
    assert await harness.run("up", "-d") == 0
    backend = harness.backend
    assert harness.names() == {"demo-web-1", "demo-db-1"}
    assert {n.Name for n in backend.networks.values()} == {"demo_front", "demo_back"}
    assert set(backend.volumes) == {"demo_data"}
    assert {c.state for c in backend.containers.values()} == {"running"}
    web = harness.container("demo-web-1")
    assert web.body.labels[PROJECT] == "demo" and web.body.labels[SERVICE] == "web"
    # the second network is connected after create (API < 1.44 takes one at create time)
    assert [network for network, _ in backend.connected] == ["demo_front"]
    assert " Container demo-web-1  Started" in harness.err.getvalue()


async def test_up_dry_run_prints_the_plan_and_changes_nothing(harness: Harness) -> None:
    assert await harness.run("up", "--dry-run") == 0
    assert "demo-web-1" in harness.out.getvalue()
    assert harness.backend.containers == {}


async def test_create_does_not_start(harness: Harness) -> None:
    assert await harness.run("create") == 0
    assert {c.state for c in harness.backend.containers.values()} == {"created"}


async def test_a_bad_scale_is_refused(harness: Harness) -> None:
    with pytest.raises(PlanError, match="invalid --scale"):
        await harness.run("up", "-d", "--scale", "web=many")


async def test_stop_start_and_the_per_container_commands(harness: Harness) -> None:
    await harness.run("up", "-d")
    assert await harness.run("stop") == 0
    assert {c.state for c in harness.backend.containers.values()} == {"exited"}
    err = harness.err.getvalue()
    # dependents stop first
    assert err.index("demo-web-1  Stopped") < err.index("demo-db-1  Stopping")
    assert await harness.run("start", "db") == 0
    assert harness.container("demo-db-1").state == "running"
    assert harness.container("demo-web-1").state == "exited"
    assert await harness.run("restart", "web") == 0
    assert ("restart", "demo-web-1") in harness.backend.calls
    assert await harness.run("pause") == 0
    assert {c.state for c in harness.backend.containers.values()} == {"paused"}
    assert await harness.run("unpause", "db") == 0
    assert harness.container("demo-db-1").state == "running"
    assert await harness.run("kill", "db") == 0
    assert harness.container("demo-db-1").state == "exited"
    assert " Container demo-db-1  Killed" in harness.err.getvalue()


async def test_start_without_containers_says_to_run_up(harness: Harness) -> None:
    with pytest.raises(PlanError, match="no containers to start"):
        await harness.run("start")


async def test_rm_removes_stopped_containers_only(harness: Harness) -> None:
    await harness.run("up", "-d")
    await harness.run("stop", "web")
    assert await harness.run("rm", "-f") == 0
    assert harness.names() == {"demo-db-1"}
    assert await harness.run("rm") == 0
    assert "No stopped containers" in harness.err.getvalue()
    assert await harness.run("rm", "--stop") == 0  # no answer on stdin: a no
    assert "Going to remove demo-db-1" in harness.err.getvalue()
    assert "Are you sure? [yN]" in harness.err.getvalue()
    assert harness.names() == {"demo-db-1"}
    harness.stdin = b"y\n"
    assert await harness.run("rm") == 0
    assert harness.names() == set()


async def test_down_removes_containers_and_networks_and_with_v_volumes(harness: Harness) -> None:
    await harness.run("up", "-d")
    assert await harness.run("down") == 0
    assert harness.names() == set() and harness.backend.networks == {}
    assert set(harness.backend.volumes) == {"demo_data"}
    await harness.run("up", "-d")
    assert await harness.run("down", "-v") == 0
    assert harness.backend.volumes == {}
