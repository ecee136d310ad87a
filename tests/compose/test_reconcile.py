"""The planner's decisions, compared as rendered plans (the text `up --dry-run` prints)."""

from __future__ import annotations

import json
import textwrap

import pytest

from compose import labels
from compose.desired import DesiredState, desired_state
from compose.errors import PlanError
from compose.graph import build_graph
from compose.load_text import load_from_text
from compose.observed import ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume
from compose.reconcile import DownOptions, ReconcileOptions, plan_down, reconcile

STACK = """
services:
  web:
    image: web
    ports: ["8080:80"]
    depends_on:
      api: {condition: service_healthy}
  api:
    image: api
    environment: {DEBUG: "0"}
    volumes: [notes:/data]
    healthcheck: {test: [CMD, "true"]}
    depends_on: [db]
  db:
    image: db
    networks: [back]
networks:
  back: {}
volumes:
  notes: {}
"""


IMAGES = {"web": "sha256:w", "api": "sha256:a", "db": "sha256:d"}


def nothing() -> ObservedState:
    """An engine that has the images and nothing of the project."""
    return ObservedState("shop", images=IMAGES)


def desired(text: str = STACK, **environment: str) -> DesiredState:
    result = load_from_text(textwrap.dedent(text), name="shop", environment=environment)
    return desired_state(result.project, build_graph(result.project))


def running(state: DesiredState, *, status: str = "running") -> ObservedState:
    """What the engine would report after a successful `up` of ``state``."""
    containers = []
    for service in state.services.values():
        for number in range(1, service.replicas + 1):
            containers.append(
                ObservedContainer(
                    id=f"{service.name}{number}",
                    name=f"{state.project}-{service.name}-{number}",
                    service=service.name,
                    number=number,
                    state=status,
                    labels={
                        labels.PROJECT: state.project,
                        labels.SERVICE: service.name,
                        labels.CONFIG_HASH: service.config_hash,
                        labels.SERVICE_CONFIG: json.dumps(service.config),
                        labels.ONEOFF: "False",
                    },
                    networks=frozenset(service.networks),
                    volumes=frozenset(service.volumes),
                )
            )
    return ObservedState(
        project=state.project,
        containers=tuple(containers),
        networks={n.name: ObservedNetwork(n.name, n.name) for n in state.networks.values()},
        volumes={v.name: ObservedVolume(v.name) for v in state.volumes.values()},
        images=IMAGES,
    )


def plan_text(state: DesiredState, observed: ObservedState, **options: object) -> str:
    return reconcile(state, observed, ReconcileOptions(**options)).render()  # type: ignore[arg-type]


def test_up_from_scratch_creates_resources_then_containers_in_dependency_order():
    state = desired()
    assert plan_text(state, nothing()) == textwrap.dedent("""\
        #1 create network shop_back (not found)
        #2 create network shop_default (not found)
        #3 create volume shop_notes (not found)
        #4 create container shop-db-1 (not found) after #1
        #5 start container shop-db-1 (created) after #4
        #6 create container shop-api-1 (not found) after #2, #3
        #7 start container shop-api-1 (created) after #5, #6; waits for db started
        #8 create container shop-web-1 (not found) after #2
        #9 start container shop-web-1 (created) after #7, #8; waits for api healthy
        """)


def test_second_up_changes_nothing():
    state = desired()
    assert plan_text(state, running(state)) == "nothing to do\n"


def test_changing_one_environment_value_recreates_only_that_service_and_says_why():
    before = desired()
    after = desired(STACK.replace('DEBUG: "0"', 'DEBUG: "1"'))
    assert plan_text(after, running(before)) == (
        "#1 recreate container shop-api-1 (environment.DEBUG changed) waits for db started\n"
    )


def test_recreate_of_a_container_made_by_another_tool_gives_a_general_cause():
    before = desired()
    observed = running(before)
    stripped = tuple(
        c
        if c.service != "api"
        else ObservedContainer(
            c.id,
            c.name,
            c.service,
            c.number,
            c.state,
            {k: v for k, v in c.labels.items() if k != labels.SERVICE_CONFIG}
            | {labels.CONFIG_HASH: "x"},
            networks=c.networks,
            volumes=c.volumes,
        )
        for c in observed.containers
    )
    plan = reconcile(
        before,
        ObservedState("shop", stripped, observed.networks, observed.volumes, IMAGES),
        ReconcileOptions(),
    )
    assert [(op.type.value, op.target, op.cause) for op in plan.operations] == [
        ("recreate container", "shop-api-1", "configuration changed")
    ]


def test_exited_containers_are_started_not_recreated():
    state = desired()
    assert plan_text(state, running(state, status="exited")) == textwrap.dedent("""\
        #1 start container shop-db-1 (exited (0))
        #2 start container shop-api-1 (exited (0)) after #1; waits for db started
        #3 start container shop-web-1 (exited (0)) after #2; waits for api healthy
        """)


def test_scaling_up_adds_replicas_and_leaves_the_others_alone():
    state = desired()
    text = plan_text(state, running(state), scale={"db": 3})
    assert text == textwrap.dedent("""\
        #1 create container shop-db-2 (not found)
        #2 start container shop-db-2 (created) after #1
        #3 create container shop-db-3 (not found)
        #4 start container shop-db-3 (created) after #3
        """)


def test_scaling_down_removes_the_highest_numbers():
    three = desired(STACK.replace("image: db", "image: db\n    scale: 3"))
    one = desired()
    assert plan_text(one, running(three)) == textwrap.dedent("""\
        #1 stop container shop-db-2 (scale db to 1)
        #2 remove container shop-db-2 (scaled down) after #1
        #3 stop container shop-db-3 (scale db to 1)
        #4 remove container shop-db-3 (scaled down) after #3
        """)


def test_orphans_are_reported_and_removed_only_when_asked():
    state = desired()
    observed = running(state)
    orphan = ObservedContainer("o1", "shop-old-1", "old", 1, "running", {labels.ONEOFF: "False"})
    observed = ObservedState(
        "shop", (*observed.containers, orphan), observed.networks, observed.volumes, IMAGES
    )
    assert plan_text(state, observed).startswith("warning: found orphan containers (shop-old-1)")
    assert plan_text(state, observed, remove_orphans=True) == textwrap.dedent("""\
        #1 stop container shop-old-1 (orphan (service old is not in the project))
        #2 remove container shop-old-1 (orphan) after #1
        """)


def test_force_and_no_recreate():
    state = desired()
    forced = reconcile(state, running(state), ReconcileOptions(force_recreate=True))
    assert [op.cause for op in forced.operations] == ["--force-recreate"] * 3
    changed = desired(STACK.replace('DEBUG: "0"', 'DEBUG: "1"'))
    assert plan_text(changed, running(state), no_recreate=True) == "nothing to do\n"


def test_a_missing_external_network_is_an_error():
    state = desired(STACK.replace("back: {}", "back: {external: true}"))
    with pytest.raises(PlanError, match="external network 'back' not found"):
        reconcile(state, nothing(), ReconcileOptions())


def test_selected_services_bring_their_dependencies_unless_no_deps():
    state = desired()
    plan = reconcile(state, nothing(), ReconcileOptions(services=("api",)))
    assert {op.target for op in plan.operations} >= {"shop-db-1", "shop-api-1"}
    assert "shop-web-1" not in {op.target for op in plan.operations}
    plan = reconcile(
        state, ObservedState("shop"), ReconcileOptions(services=("api",), no_deps=True)
    )
    assert {op.service for op in plan.operations if op.service} == {"api"}


def test_down_stops_dependents_first_then_removes_networks_and_volumes():
    state = desired()
    plan = plan_down(running(state), state, DownOptions(remove_volumes=True))
    assert plan.render() == textwrap.dedent("""\
        #1 stop container shop-web-1 (down)
        #2 remove container shop-web-1 (down) after #1
        #3 stop container shop-api-1 (down) after #1
        #4 remove container shop-api-1 (down) after #3
        #5 stop container shop-db-1 (down) after #3
        #6 remove container shop-db-1 (down) after #5
        #7 remove network shop_back (down) after #2, #4, #6
        #8 remove network shop_default (down) after #2, #4, #6
        #9 remove volume shop_notes (down -v) after #2, #4, #6
        """)


def test_missing_images_are_pulled_before_their_containers_are_created():
    state = desired()
    observed = ObservedState("shop", images={"web": "sha256:w", "api": "sha256:a"})
    text = plan_text(state, observed)
    assert (
        "#4 pull image db (not found)\n#5 create container shop-db-1 (not found) after #1, #4\n"
        in text
    )


def test_a_service_with_build_and_no_image_is_built():
    state = desired(STACK.replace("image: db", "build: ./db"))
    plan = reconcile(state, nothing(), ReconcileOptions())
    assert [(op.type.value, op.target) for op in plan.operations][3] == ("build image", "shop-db")


def test_no_build_refuses_to_start_a_service_whose_image_was_never_built():
    state = desired(STACK.replace("image: db", "build: ./db"))
    with pytest.raises(PlanError, match="has not been built"):
        reconcile(state, nothing(), ReconcileOptions(no_build=True))


def test_a_linking_container_is_created_after_the_container_it_links_to_started():
    state = desired("""\
        services:
          db: {image: db}
          web: {image: web, links: ["db:database"]}
        """)
    assert plan_text(state, ObservedState("shop", images={"web": "w", "db": "d"})) == (
        textwrap.dedent("""\
        #1 create network shop_default (not found)
        #2 create container shop-db-1 (not found) after #1
        #3 start container shop-db-1 (created) after #2
        #4 create container shop-web-1 (not found) after #1, #3
        #5 start container shop-web-1 (created) after #3, #4; waits for db started
        """)
    )
