"""The service dependency graph (networkx stays inside this module).

An edge ``a -> b`` means "a needs b first": ``depends_on`` (with its condition,
``required`` and ``restart``), ``network_mode: service:b``, ``ipc``/``pid:
service:b``, ``volumes_from: b`` and ``links: b``. Cycles are errors that name
the cycle, found in name order so the message is the same on every run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import networkx as nx

from compose.errors import DependencyCycleError, Issue, UndefinedReferenceError
from compose.model import Project
from compose.source import MapNode


@dataclasses.dataclass(frozen=True, slots=True)
class Dependency:
    """Why ``service`` needs ``dependency`` and what it waits for."""

    service: str
    dependency: str
    kind: str  # depends_on | network_mode | ipc | pid | volumes_from | links
    condition: str = "service_started"
    required: bool = True
    restart: bool = False


class ServiceGraph:
    """Services and their dependencies; iteration orders are deterministic."""

    def __init__(self, graph: Any) -> None:
        self._graph = graph

    @property
    def services(self) -> list[str]:
        return sorted(self._graph.nodes)

    def dependencies(self, service: str) -> list[Dependency]:
        """What ``service`` needs, in name order."""
        return sorted(
            (data["dependency"] for _, _, data in self._graph.out_edges(service, data=True)),
            key=lambda d: (d.dependency, d.kind),
        )

    def dependents(self, service: str) -> list[str]:
        return sorted({source for source, _ in self._graph.in_edges(service)})

    def start_order(self) -> list[str]:
        """Dependencies first; ties broken by name."""
        return list(nx.lexicographical_topological_sort(self._graph.reverse(copy=False)))

    def stop_order(self) -> list[str]:
        return list(reversed(self.start_order()))

    def edges(self) -> Iterator[Dependency]:
        for service in self.services:
            yield from self.dependencies(service)

    def with_dependencies(self, services: list[str]) -> list[str]:
        """The given services and everything they need, transitively."""
        wanted: set[str] = set()
        for service in services:
            if service not in self._graph:
                raise UndefinedReferenceError([Issue(f"no such service: {service}")])
            wanted.add(service)
            wanted |= nx.descendants(self._graph, service)
        return sorted(wanted)


def _edges_of(name: str, service: Any) -> Iterator[Dependency]:
    depends_on = getattr(service, "depends_on", None) or {}
    for dependency, spec in depends_on.items():
        yield Dependency(
            name,
            dependency,
            "depends_on",
            getattr(spec, "condition", "service_started") or "service_started",
            bool(getattr(spec, "required", True)),
            bool(getattr(spec, "restart", False)),
        )
    for kind in ("network_mode", "ipc", "pid"):
        mode = getattr(service, kind, None)
        if isinstance(mode, str) and mode.startswith("service:"):
            yield Dependency(name, mode.removeprefix("service:"), kind)
    for entry in getattr(service, "volumes_from", None) or []:
        if isinstance(entry, str) and not entry.startswith("container:"):
            yield Dependency(name, entry.split(":", 1)[0], "volumes_from")
    for link in getattr(service, "links", None) or []:
        if isinstance(link, str):
            yield Dependency(name, link.split(":", 1)[0], "links")


def build_graph(project: Project, tree: MapNode | None = None) -> ServiceGraph:
    """The dependency graph of ``project``; raises DependencyCycleError on a cycle.

    ``tree`` (the loaded tree) is used only to place the error.
    """
    graph = nx.DiGraph()
    for name in sorted(project.services):
        graph.add_node(name)
    for name in sorted(project.services):
        for dependency in _edges_of(name, project.services[name]):
            if dependency.dependency not in project.services:
                continue  # an optional dependency on a disabled service
            if graph.has_edge(name, dependency.dependency):
                continue
            graph.add_edge(name, dependency.dependency, dependency=dependency)
    cycle = _first_cycle(graph)
    if cycle:
        first = cycle[0]
        location = None
        if tree is not None:
            services = tree.get("services")
            if isinstance(services, MapNode) and isinstance(services.get(first), MapNode):
                service = services[first]
                location = service.location_of("depends_on") or services.location_of(first)
        chain = " -> ".join([*cycle, first])
        raise DependencyCycleError(
            [
                Issue(
                    f"dependency cycle detected: {chain}",
                    location,
                    ("services", first),
                    hint="remove one of these dependencies (depends_on, network_mode, "
                    "volumes_from or links)",
                )
            ]
        )
    return ServiceGraph(graph)


def _first_cycle(graph: Any) -> list[str]:
    """The cycle reached first when walking services in name order, as a list of names."""
    if nx.is_directed_acyclic_graph(graph):  # linear; the common case
        return []
    # every cycle lies inside one strongly connected component: take the one holding
    # the smallest name and walk from there (linear too, unlike trying every start)
    cyclic = [
        component
        for component in nx.strongly_connected_components(graph)
        if len(component) > 1 or any(graph.has_edge(n, n) for n in component)
    ]
    for component in sorted(cyclic, key=min):
        start = min(component)
        edges = nx.find_cycle(graph.subgraph(component), source=start)
        nodes = [edge[0] for edge in edges]
        # rotate so the smallest name comes first: the same message on every run
        pivot = nodes.index(min(nodes))
        return nodes[pivot:] + nodes[:pivot]
    return []


# --- rendering (`pycompose graph`) -----------------------------------------------------------


def _label(dependency: Dependency) -> str:
    if dependency.kind != "depends_on":
        return dependency.kind
    label = dependency.condition.removeprefix("service_")
    if not dependency.required:
        label += ", optional"
    if dependency.restart:
        label += ", restart"
    return label


def render_text(graph: ServiceGraph) -> str:
    lines: list[str] = []
    for service in graph.start_order():
        dependencies = graph.dependencies(service)
        if not dependencies:
            lines.append(service)
            continue
        needs = ", ".join(f"{d.dependency} ({_label(d)})" for d in dependencies)
        lines.append(f"{service} <- {needs}")
    return "\n".join(lines) + "\n"


def _mermaid_id(name: str) -> str:
    return "s_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def render_mermaid(graph: ServiceGraph) -> str:
    lines = ["graph TD"]
    for service in graph.services:
        lines.append(f'    {_mermaid_id(service)}["{service}"]')
    for dependency in graph.edges():
        lines.append(
            f"    {_mermaid_id(dependency.service)} -->|{_label(dependency)}| "
            f"{_mermaid_id(dependency.dependency)}"
        )
    return "\n".join(lines) + "\n"


def render_dot(graph: ServiceGraph) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph services {", "    rankdir=LR;"]
    for service in graph.services:
        lines.append(f"    {quote(service)};")
    for dependency in graph.edges():
        style = ' style="dashed"' if not dependency.required else ""
        lines.append(
            f"    {quote(dependency.service)} -> {quote(dependency.dependency)} "
            f"[label={quote(_label(dependency))}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = [
    "Dependency",
    "ServiceGraph",
    "build_graph",
    "render_dot",
    "render_mermaid",
    "render_text",
]
