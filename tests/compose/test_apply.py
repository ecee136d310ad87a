"""The apply step (observe, then execute a plan) over the real client, routes and server,
on the in-memory fake backend of the API tests: what `up` does, in which order, and
what happens when a dependency never becomes ready."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from api_helpers import Engine, running_engine
from fake_backend import FakeBackend

from compose import apply, labels
from compose.apply import ApplyContext, ApplyError, ProgressEvent, execute, failures, observe
from compose.desired import DesiredState, desired_state
from compose.graph import build_graph
from compose.load_text import load_from_text
from compose.plan import OperationType
from compose.reconcile import ReconcileOptions, reconcile
from engine.api.models import ContainerInspect, Health

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class HealthBackend(FakeBackend):
    """The fake backend, with a scripted health status per container name: each inspect
    takes the next status of the script (the last one stays)."""

    def __init__(self) -> None:
        super().__init__()
        self.health: dict[str, list[str]] = {}

    async def container_inspect(self, ref: str) -> ContainerInspect:
        inspect = await super().container_inspect(ref)
        script = self.health.get(inspect.Name.lstrip("/"))
        if not script or not inspect.State.Running:
            return inspect
        status = script.pop(0) if len(script) > 1 else script[0]
        state = inspect.State.model_copy(update={"Health": Health(Status=status)})
        return inspect.model_copy(update={"State": state})


@pytest.fixture
async def engine(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Engine]:
    monkeypatch.setattr(apply, "POLL_INTERVAL", 0.01)
    monkeypatch.setattr("api_helpers.FakeBackend", HealthBackend)
    async with running_engine() as running:
        yield running


def desired(text: str) -> DesiredState:
    result = load_from_text(textwrap.dedent(text), name="shop")
    return desired_state(result.project, build_graph(result.project))


async def up(engine: Engine, text: str, **options: Any) -> list[ProgressEvent]:
    """observe, reconcile, execute: `up -d`; the progress events in the order they came."""
    state = desired(text)
    observed = await observe(engine.client, state)
    plan = reconcile(state, observed, ReconcileOptions(**options))
    events: list[ProgressEvent] = []
    await execute(plan, engine.client, ApplyContext(state, observed), events.append)
    return events


def position(events: list[ProgressEvent], name: str, status: str) -> int:
    return next(i for i, e in enumerate(events) if e.name == name and e.status == status)


def running(engine: Engine) -> dict[str, str]:
    return {c.name: c.state for c in engine.backend.containers.values()}


CHAIN = """
services:
  web:
    image: web
    network_mode: none
    depends_on: [api]
  api:
    image: api
    network_mode: none
    depends_on: [db]
  db:
    image: db
    network_mode: none
"""


async def test_services_start_after_the_services_they_depend_on(engine: Engine) -> None:
    events = await up(engine, CHAIN)
    assert running(engine) == {
        "shop-db-1": "running",
        "shop-api-1": "running",
        "shop-web-1": "running",
    }
    db, api, web = (position(events, f"shop-{s}-1", "Started") for s in ("db", "api", "web"))
    assert db < position(events, "shop-api-1", "Starting")
    assert api < position(events, "shop-web-1", "Starting")
    assert db < api < web


HEALTHY = """
services:
  web:
    image: web
    network_mode: none
    depends_on:
      db: {condition: service_healthy}
  db:
    image: db
    network_mode: none
    healthcheck: {test: [CMD, "true"]}
"""


async def test_a_service_waits_until_its_dependency_is_healthy(engine: Engine) -> None:
    assert isinstance(engine.backend, HealthBackend)
    engine.backend.health["shop-db-1"] = ["starting", "starting", "starting", "healthy"]
    events = await up(engine, HEALTHY)
    healthy = position(events, "shop-db-1", "Healthy")
    assert position(events, "shop-web-1", "Waiting") < healthy
    assert healthy < position(events, "shop-web-1", "Starting")
    assert engine.backend.health["shop-db-1"] == ["healthy"]  # every "starting" was seen
    assert running(engine)["shop-web-1"] == "running"


async def test_an_unhealthy_dependency_fails_up_and_its_dependent_is_not_started(
    engine: Engine,
) -> None:
    assert isinstance(engine.backend, HealthBackend)
    engine.backend.health["shop-db-1"] = ["starting", "unhealthy"]
    with pytest.raises(BaseExceptionGroup) as caught:
        await up(engine, HEALTHY)
    (error,) = failures(caught.value)
    assert isinstance(error, ApplyError)
    assert "container shop-db-1 is unhealthy" in str(error)
    assert running(engine) == {"shop-db-1": "running", "shop-web-1": "created"}


async def test_service_healthy_on_a_dependency_without_healthcheck_fails(engine: Engine) -> None:
    text = HEALTHY.replace('    healthcheck: {test: [CMD, "true"]}\n', "")
    with pytest.raises(BaseExceptionGroup) as caught:
        await up(engine, text)
    (error,) = failures(caught.value)
    assert "has no healthcheck configured" in str(error)
    assert running(engine)["shop-web-1"] == "created"


async def test_a_failing_api_call_cancels_the_rest(engine: Engine) -> None:
    # a container name taken by a container of no project: the create conflicts
    await up(engine, "services:\n  other:\n    image: x\n    network_mode: none\n")
    engine.backend.containers[next(iter(engine.backend.containers))].name = "shop-db-1"
    with pytest.raises(BaseExceptionGroup) as caught:
        await up(engine, CHAIN)
    (error,) = failures(caught.value)
    assert "already in use" in str(error)
    assert "shop-web-1" not in running(engine) or running(engine)["shop-web-1"] != "running"


async def test_a_changed_service_is_recreated_and_the_others_are_left_alone(
    engine: Engine,
) -> None:
    await up(engine, CHAIN)
    before = {c.name: c.id for c in engine.backend.containers.values()}
    changed = CHAIN.replace("    image: api\n", "    image: api\n    environment: {DEBUG: '1'}\n")
    state = desired(changed)
    plan = reconcile(state, await observe(engine.client, state), ReconcileOptions())
    assert [(op.type, op.target) for op in plan.operations] == [
        (OperationType.RECREATE_CONTAINER, "shop-api-1")
    ]
    assert plan.operations[0].cause == "environment added"
    await up(engine, changed)
    after = {c.name: c for c in engine.backend.containers.values()}
    assert set(after) == set(before)
    assert after["shop-api-1"].id != before["shop-api-1"]
    assert after["shop-api-1"].state == "running"
    assert after["shop-api-1"].body.env == ["DEBUG=1"]
    assert (after["shop-api-1"].body.labels or {})[labels.CONFIG_HASH] == (
        state.services["api"].config_hash
    )
    assert after["shop-db-1"].id == before["shop-db-1"]
    assert after["shop-web-1"].id == before["shop-web-1"]
    # and a third `up` has nothing to do
    again = desired(changed)
    assert (
        reconcile(again, await observe(engine.client, again), ReconcileOptions()).operations == ()
    )
