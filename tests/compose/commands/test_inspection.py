"""ps, logs, top, port, images, ls, events, wait over the fake engine."""

from __future__ import annotations

import json

import anyio
import pytest
from command_harness import Harness

from compose.errors import PlanError

pytestmark = pytest.mark.anyio


async def test_ps_table_json_quiet_and_services(harness: Harness) -> None:
    await harness.run("up", "-d")
    assert await harness.run("ps") == 0
    header, *rows = harness.out.getvalue().splitlines()
    assert header.split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert [row.split()[0] for row in rows] == ["demo-db-1", "demo-web-1"]
    await harness.run("ps", "--format", "json", "web")
    [entry] = [json.loads(line) for line in harness.out.getvalue().splitlines()]
    assert (entry["Name"], entry["Service"], entry["Project"]) == ("demo-web-1", "web", "demo")
    await harness.run("ps", "-q")
    assert len(harness.out.getvalue().split()) == 2
    await harness.run("ps", "--services")
    assert harness.out.getvalue() == "db\nweb\n"
    await harness.run("stop", "web")
    await harness.run("ps", "--status", "exited")
    assert [line.split()[0] for line in harness.out.getvalue().splitlines()[1:]] == ["demo-web-1"]


async def test_logs_prefix_each_line_with_the_container(harness: Harness) -> None:
    await harness.run("up", "-d")
    assert await harness.run("logs", "db") == 0
    assert sorted(harness.out.getvalue().splitlines()) == ["db-1 | hi", "db-1 | oops"]
    await harness.run("logs", "--no-log-prefix", "db")
    assert sorted(harness.out.getvalue().splitlines()) == ["hi", "oops"]


async def test_top_and_port(harness: Harness) -> None:
    await harness.run("up", "-d")
    assert await harness.run("top", "db") == 0
    assert harness.out.getvalue().splitlines()[:3] == ["demo-db-1", "PID   CMD", "1     sleep 60"]
    with pytest.raises(PlanError, match="no port 80/tcp published for web"):
        await harness.run("port", "web", "80")  # the fake engine publishes nothing
    with pytest.raises(PlanError, match="has no running container #2"):
        await harness.run("port", "--index", "2", "web", "80")


async def test_images_lists_each_containers_image(harness: Harness) -> None:
    await harness.run("up", "-d")
    assert await harness.run("images") == 0
    header, *rows = harness.out.getvalue().splitlines()
    assert header.split()[:3] == ["CONTAINER", "REPOSITORY", "TAG"]
    assert [row.split()[:3] for row in rows] == [
        ["demo-db-1", "db", "1"],
        ["demo-web-1", "web", "1"],
    ]


async def test_ls_counts_the_projects_containers(harness: Harness) -> None:
    await harness.run("up", "-d")
    await harness.run("stop", "web")
    assert await harness.run("ls", "-a", "--format", "json") == 0
    [project] = json.loads(harness.out.getvalue())
    assert (project["Name"], project["Status"]) == ("demo", "exited(1), running(1)")
    await harness.run("ls", "-q")
    assert harness.out.getvalue() == "demo\n"


async def test_events_and_wait(harness: Harness) -> None:
    await harness.run("up", "-d")
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(harness.run, "events", "--json", "db")
        with anyio.fail_after(10):
            while harness.out.getvalue().count("\n") < 2:
                await anyio.sleep(0.05)
        await anyio.sleep(0.1)
        task_group.cancel_scope.cancel()
    actions = [json.loads(line)["action"] for line in harness.out.getvalue().splitlines()]
    assert actions == ["create", "start"]

    async def stop_soon() -> None:
        await anyio.sleep(0.2)
        await harness.backend.container_stop("demo-db-1", None, "SIGKILL")

    async with anyio.create_task_group() as task_group:
        task_group.start_soon(stop_soon)
        assert await harness.run("wait", "db") == 137
    assert harness.out.getvalue() == "137\n"


def test_logs_since_and_until_read_times_as_docker_compose() -> None:
    from compose.commands.inspection import point_in_time

    now = 1_000_000.0
    assert point_in_time("10m", "--since", now) == now - 600
    assert point_in_time("1h30m", "--since", now) == now - 5400
    assert point_in_time("1700000000", "--since", now) == 1_700_000_000
    assert point_in_time("1700000000.5", "--until", now) == 1_700_000_000.5
    assert point_in_time("2024-05-01T10:00:00Z", "--since", now) == 1_714_557_600
    assert point_in_time("2024-05-01T12:00:00.5+02:00", "--since", now) == 1_714_557_600.5
    with pytest.raises(PlanError, match="invalid value for --since: 'yesterday'"):
        point_in_time("yesterday", "--since", now)
