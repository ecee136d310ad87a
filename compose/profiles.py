"""Profiles decide which services the project has.

A service with ``profiles:`` is enabled only when one of them is active
(``--profile``, ``COMPOSE_PROFILES``; ``*`` activates all); services named on the
command line are enabled whatever their profiles, with the services they depend on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compose.errors import Issue, UndefinedReferenceError, did_you_mean
from compose.source import MapNode


def select_services(
    tree: MapNode,
    profiles: Sequence[str],
    only: Sequence[str] = (),
    enable: Sequence[str] = (),
) -> None:
    """Keep the services enabled by ``profiles`` (in place).

    ``only`` (``config SERVICE...``) keeps just those services and what they need;
    ``enable`` (``up SERVICE...``) adds those and what they need to the enabled ones.
    A service without profiles is always enabled; ``*`` enables every profile.
    """
    services = tree.get("services")
    if not isinstance(services, MapNode):
        return
    active = set(profiles)
    wanted = set(only)

    def enabled(service: Any) -> bool:
        if not isinstance(service, MapNode):
            return True
        service_profiles = service.get("profiles")
        if not service_profiles:
            return True
        if "*" in active:
            return True
        return any(p in active for p in service_profiles if isinstance(p, str))

    named = wanted | set(enable)
    unknown = sorted(named - set(services))
    if unknown:
        raise UndefinedReferenceError(
            [
                Issue(
                    f"no such service: {unknown[0]}",
                    hint=did_you_mean(unknown[0], sorted(services)),
                )
            ]
        )
    # services named on the command line, and what they need, whatever their profiles
    forced: set[str] = set()
    todo = list(named)
    while todo:
        current = todo.pop()
        if current in forced or current not in services:
            continue
        forced.add(current)
        todo.extend(_service_dependencies(services[current]))
    keep = forced if wanted else forced | {n for n, s in services.items() if enabled(s)}
    for name in list(services):
        if name not in keep:
            del services[name]


def _service_dependencies(service: Any) -> list[str]:
    if not isinstance(service, MapNode):
        return []
    out: list[str] = []
    depends_on = service.get("depends_on")
    if isinstance(depends_on, MapNode):
        out.extend(
            str(k)
            for k, v in depends_on.items()
            if not (isinstance(v, MapNode) and v.get("required") is False)
        )
    return out
