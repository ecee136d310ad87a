"""The service dependency graph (plain dicts: a graph library costs more to import than it saves).

An edge ``a -> b`` means "a needs b first": ``depends_on`` (with its condition,
``required`` and ``restart``), ``network_mode: service:b``, ``ipc``/``pid:
service:b``, ``volumes_from: b`` and ``links: b``. Cycles are errors that name
the cycle, found in name order so the message is the same on every run.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterator
from typing import Any

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


class _Graph:
    """Nodes and edges ``service -> dependency``, each edge's data kept in insertion order."""

    def __init__(self) -> None:
        self.out: dict[str, dict[str, Dependency]] = {}
        self.into: dict[str, dict[str, None]] = {}

    def add_node(self, name: str) -> None:
        self.out.setdefault(name, {})
        self.into.setdefault(name, {})

    def add_edge(self, dependency: Dependency) -> None:
        self.out[dependency.service][dependency.dependency] = dependency
        self.into[dependency.dependency][dependency.service] = None


class ServiceGraph:
    """Services and their dependencies; iteration orders are deterministic."""

    def __init__(self, graph: _Graph) -> None:
        self._graph = graph

    @property
    def services(self) -> list[str]:
        return sorted(self._graph.out)

    def dependencies(self, service: str) -> list[Dependency]:
        """What ``service`` needs, in name order."""
        return sorted(self._graph.out[service].values(), key=lambda d: (d.dependency, d.kind))

    def dependents(self, service: str) -> list[str]:
        return sorted(self._graph.into[service])

    def start_order(self) -> list[str]:
        """Dependencies first; ties broken by name (the graph has no cycle)."""
        waiting = {name: len(needs) for name, needs in self._graph.out.items()}
        ready = [name for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            order.append(name)
            for dependent in self._graph.into[name]:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, dependent)
        return order

    def stop_order(self) -> list[str]:
        return list(reversed(self.start_order()))

    def edges(self) -> Iterator[Dependency]:
        for service in self.services:
            yield from self.dependencies(service)

    def with_dependencies(self, services: list[str]) -> list[str]:
        """The given services and everything they need, transitively."""
        wanted: set[str] = set()
        for service in services:
            if service not in self._graph.out:
                raise UndefinedReferenceError([Issue(f"no such service: {service}")])
            pending = [service]
            while pending:
                name = pending.pop()
                if name not in wanted:
                    wanted.add(name)
                    pending.extend(self._graph.out[name])
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
    graph = _Graph()
    for name in sorted(project.services):
        graph.add_node(name)
    for name in sorted(project.services):
        for dependency in _edges_of(name, project.services[name]):
            if dependency.dependency not in project.services:
                continue  # an optional dependency on a disabled service
            if dependency.dependency in graph.out[name]:
                continue
            graph.add_edge(dependency)
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


def _first_cycle(graph: _Graph) -> list[str]:
    """The cycle reached first when walking services in name order, as a list of names."""
    # every cycle lies inside one strongly connected component: take the one holding
    # the smallest name and walk from there (linear, unlike trying every start)
    cyclic = [
        component
        for component in _strong_components(graph)
        if len(component) > 1 or any(n in graph.out[n] for n in component)
    ]
    for component in sorted(cyclic, key=min):
        nodes = _cycle_from(graph, component, min(component))
        # rotate so the smallest name comes first: the same message on every run
        pivot = nodes.index(min(nodes))
        return nodes[pivot:] + nodes[:pivot]
    return []


def _strong_components(graph: _Graph) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in graph.out:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph.out[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(graph.out[successor])))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_from(graph: _Graph, component: set[str], start: str) -> list[str]:
    """The first cycle a depth-first walk from ``start`` inside ``component`` closes."""
    path = [start]
    on_path = {start}
    visited = {start}
    work: list[Iterator[str]] = [iter(graph.out[start])]
    while work:
        for successor in work[-1]:
            if successor not in component:
                continue
            if successor in on_path:
                return path[path.index(successor) :]
            if successor not in visited:
                visited.add(successor)
                path.append(successor)
                on_path.add(successor)
                work.append(iter(graph.out[successor]))
                break
        else:
            work.pop()
            on_path.discard(path.pop())
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
