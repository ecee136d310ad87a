"""Ordered restore (engine.daemon.backend.restore): the order from Compose labels, and the
conditions, with containers simulated (the real scenario is in tests/e2e)."""

from __future__ import annotations

import anyio

from engine.daemon.backend import restore
from engine.daemon.backend.restore import Observed


def labels(service: str, depends_on: str = "", project: str = "shop") -> dict[str, str]:
    return {
        restore.PROJECT: project,
        restore.SERVICE: service,
        restore.DEPENDS_ON: depends_on,
        restore.ONEOFF: "False",
    }


def test_depends_on_labels_parse_as_docker_compose_writes_them() -> None:
    assert restore.parse_depends_on("") == {}
    assert restore.parse_depends_on(
        "db:service_healthy:false,init:service_completed_successfully:true"
    ) == {
        "db": "service_healthy",
        "init": "service_completed_successfully",
    }
    assert restore.parse_depends_on("db:service_started") == {"db": "service_started"}


def test_labels_of_the_wrong_shape_are_not_members() -> None:
    assert restore.member_of("c1", None) is None
    assert restore.member_of("c1", {restore.PROJECT: "p"}) is None
    assert restore.member_of("c1", {**labels("web"), restore.ONEOFF: "True"}) is None
    assert restore.member_of("c1", {**labels("web"), restore.SERVICE: ["x"]}) is None  # type: ignore[dict-item]


def test_a_cycle_has_no_order() -> None:
    members = [
        restore.Member("a", "p", "a", {"b": "service_started"}),
        restore.Member("b", "p", "b", {"a": "service_started"}),
    ]
    assert restore.service_order(members) is None


def test_conditions() -> None:
    running = Observed("running", "", 0)
    healthy = Observed("running", "healthy", 0)
    starting = Observed("running", "starting", 0)
    exited0 = Observed("exited", "", 0)
    exited1 = Observed("exited", "", 1)
    assert restore.satisfied("service_started", [running])
    assert restore.satisfied("service_healthy", [running])  # no health check: started is enough
    assert restore.satisfied("service_healthy", [starting]) is False
    assert restore.satisfied("service_healthy", [healthy])
    assert restore.satisfied("service_healthy", [exited1]) is None
    assert restore.satisfied("service_started", [Observed("created", "", 0)]) is None
    assert restore.satisfied("service_completed_successfully", [running]) is False
    assert restore.satisfied("service_completed_successfully", [exited0])
    assert restore.satisfied("service_completed_successfully", [exited1]) is None


def test_services_start_after_their_dependencies_meet_their_conditions() -> None:
    everyone = {
        "w1": labels("web", "api:service_healthy:false"),
        "w2": labels("web", "api:service_healthy:false"),
        "a1": labels("api", "db:service_healthy:false,init:service_completed_successfully:false"),
        "d1": labels("db"),
        "i1": labels("init"),
        "x1": None,  # not a Compose container: starts at once
        "o1": labels("other", project="elsewhere"),
    }
    state: dict[str, Observed] = {"i1": Observed("exited", "", 0)}
    order: list[str] = []

    async def start(cid: str) -> None:
        order.append(cid)
        state[cid] = Observed("running", "starting", 0)

    async def become_healthy() -> None:
        while True:
            await anyio.sleep(0.05)
            for cid, seen in list(state.items()):
                if seen.health == "starting":
                    state[cid] = Observed("running", "healthy", 0)

    async def scenario() -> list[str]:
        async with anyio.create_task_group() as group:
            group.start_soon(become_healthy)
            started = await restore.restore_in_order(
                ["w1", "w2", "a1", "d1", "x1", "o1"],
                everyone,
                start=start,
                observe=state.get,
                wait_limit=10,
            )
            group.cancel_scope.cancel()
        return started

    started = anyio.run(scenario)
    assert sorted(started) == ["a1", "d1", "o1", "w1", "w2", "x1"]
    shop = [cid for cid in order if cid in ("w1", "w2", "a1", "d1")]
    assert shop[:2] == ["d1", "a1"] and sorted(shop[2:]) == ["w1", "w2"]


def test_a_dependency_that_never_comes_is_waited_for_boundedly() -> None:
    everyone = {"w1": labels("web", "db:service_healthy:false"), "d1": labels("db")}
    state = {"d1": Observed("running", "unhealthy", 0)}
    started: list[str] = []

    async def start(cid: str) -> None:
        started.append(cid)

    async def scenario() -> None:
        with anyio.fail_after(5):
            await restore.restore_in_order(
                ["w1"], everyone, start=start, observe=state.get, wait_limit=0.3
            )

    anyio.run(scenario)
    assert started == ["w1"]
