"""compose.graph: the service dependency graph, its orders, cycles and renderers."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from compose.errors import DependencyCycleError, UndefinedReferenceError
from compose.graph import (
    Dependency,
    ServiceGraph,
    build_graph,
    render_dot,
    render_mermaid,
    render_text,
)
from compose.load import LoadResult
from compose.load_text import load_from_text

STACK = """\
services:
  web:
    image: w
    depends_on:
      api: {condition: service_healthy}
      cache: {condition: service_started, required: false}
  api:
    image: a
    depends_on:
      db: {condition: service_completed_successfully, restart: true}
  db:
    image: d
  worker:
    image: k
    depends_on: [db]
  my.tool:
    image: t
"""


def graph_of(text: str) -> ServiceGraph:
    result = load_from_text(text)
    return build_graph(result.project, result.tree)


@pytest.fixture(scope="module")
def graph() -> ServiceGraph:
    return graph_of(STACK)


def test_services_are_listed_in_name_order(graph: ServiceGraph) -> None:
    assert graph.services == ["api", "db", "my.tool", "web", "worker"]


def test_start_order_puts_dependencies_first_and_breaks_ties_by_name(
    graph: ServiceGraph,
) -> None:
    assert graph.start_order() == ["db", "api", "my.tool", "web", "worker"]


def test_stop_order_is_the_start_order_reversed(graph: ServiceGraph) -> None:
    assert graph.stop_order() == ["worker", "web", "my.tool", "api", "db"]


def test_a_dependency_carries_its_condition_required_and_restart(graph: ServiceGraph) -> None:
    assert graph.dependencies("api") == [
        Dependency("api", "db", "depends_on", "service_completed_successfully", True, True)
    ]


def test_an_optional_dependency_on_an_absent_service_is_not_an_edge(
    graph: ServiceGraph,
) -> None:
    assert [d.dependency for d in graph.dependencies("web")] == ["api"]


def test_dependents_are_the_services_that_need_one(graph: ServiceGraph) -> None:
    assert graph.dependents("db") == ["api", "worker"]
    assert graph.dependents("web") == []


def test_with_dependencies_adds_everything_needed_transitively(graph: ServiceGraph) -> None:
    assert graph.with_dependencies(["web"]) == ["api", "db", "web"]
    assert graph.with_dependencies(["my.tool", "worker"]) == ["db", "my.tool", "worker"]


def test_other_kinds_of_dependency_are_edges_too(load: Callable[..., LoadResult]) -> None:
    text = (
        "services:\n"
        "  web:\n    image: w\n    links: ['api:backend']\n"
        "  api:\n    image: a\n"
        "  db:\n    image: d\n"
        "  sidecar:\n"
        "    image: s\n"
        "    network_mode: service:web\n"
        "    volumes_from: ['db:ro', 'container:abc']\n"
        "    pid: service:api\n"
        "    ipc: service:db\n"
    )
    # without normalisation, which would turn these into depends_on entries
    result = load({"/p/compose.yaml": text}, cwd="/p", normalize=False)
    graph = build_graph(result.project, result.tree)
    assert [(d.service, d.dependency, d.kind) for d in graph.edges()] == [
        ("sidecar", "api", "pid"),
        ("sidecar", "db", "ipc"),
        ("sidecar", "web", "network_mode"),
        ("web", "api", "links"),
    ]


# --- cycles -----------------------------------------------------------------------------------

CYCLE_BODIES = {
    "a": "    depends_on: [b]\n",
    "b": "    depends_on: [c]\n",
    "c": "    depends_on: [a]\n",
}


@pytest.mark.parametrize("order", list(itertools.permutations("abc")), ids="".join)
def test_a_cycle_is_reported_the_same_way_whatever_the_file_order(order: tuple[str, ...]) -> None:
    text = "services:\n" + "".join(f"  {n}:\n    image: x\n{CYCLE_BODIES[n]}" for n in order)
    with pytest.raises(DependencyCycleError) as error:
        load_from_text(text)
    (issue,) = error.value.issues
    assert issue.message == "dependency cycle detected: a -> b -> c -> a"
    assert issue.path == ("services", "a")
    assert issue.location is not None
    # placed at the depends_on of the first service in name order
    line = 2 + 3 * order.index("a") + 2
    assert (issue.location.line, issue.location.column) == (line, 17)


def test_a_service_depending_on_itself_is_a_cycle() -> None:
    with pytest.raises(DependencyCycleError, match=r"dependency cycle detected: a -> a"):
        load_from_text("services:\n  a:\n    image: x\n    depends_on: [a]\n")


def test_a_cycle_through_network_mode_is_found() -> None:
    text = (
        "services:\n"
        "  z:\n    image: x\n    depends_on: [y]\n"
        "  y:\n    image: x\n    network_mode: service:z\n"
    )
    with pytest.raises(DependencyCycleError) as error:
        load_from_text(text)
    assert error.value.issues[0].message == "dependency cycle detected: y -> z -> y"
    assert error.value.issues[0].hint == (
        "remove one of these dependencies (depends_on, network_mode, volumes_from or links)"
    )


# --- renderers --------------------------------------------------------------------------------


def test_text_lists_services_in_start_order_with_what_each_waits_for(
    graph: ServiceGraph,
) -> None:
    assert render_text(graph) == (
        "db\n"
        "api <- db (completed_successfully, restart)\n"
        "my.tool\n"
        "web <- api (healthy)\n"
        "worker <- db (started)\n"
    )


def test_mermaid_declares_every_service_then_labelled_edges(graph: ServiceGraph) -> None:
    assert render_mermaid(graph) == (
        "graph TD\n"
        '    s_api["api"]\n'
        '    s_db["db"]\n'
        '    s_my_tool["my.tool"]\n'
        '    s_web["web"]\n'
        '    s_worker["worker"]\n'
        "    s_api -->|completed_successfully, restart| s_db\n"
        "    s_web -->|healthy| s_api\n"
        "    s_worker -->|started| s_db\n"
    )


def test_dot_quotes_names_and_dashes_optional_edges() -> None:
    graph = graph_of(
        "services:\n"
        "  web:\n    image: w\n    depends_on:\n"
        "      db: {condition: service_started, required: false}\n"
        "  db:\n    image: d\n"
    )
    assert render_dot(graph) == (
        "digraph services {\n"
        "    rankdir=LR;\n"
        '    "db";\n'
        '    "web";\n'
        '    "web" -> "db" [label="started, optional" style="dashed"];\n'
        "}\n"
    )


def test_renderers_are_deterministic(graph: ServiceGraph) -> None:
    again = graph_of(STACK)
    for render in (render_text, render_mermaid, render_dot):
        assert render(graph) == render(again)


def test_with_dependencies_of_an_unknown_service_is_a_compose_error(graph: ServiceGraph) -> None:
    with pytest.raises(UndefinedReferenceError, match="no such service: nope"):
        graph.with_dependencies(["web", "nope"])
