"""The service-level ``x-pycompose:`` extension: settings only pycompose honours.

docker compose accepts and ignores ``x-*`` keys, so a stack file using these stays
portable. Validated on the located tree (file:line:column); an unknown key or value is
refused by name rather than ignored. Pure.

    x-pycompose:
      on_unhealthy: restart          # restart | stop | none (default)
      wait_for:                      # services of other projects `up` waits for
        - {project: infra, service: db, condition: service_healthy}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compose.errors import Issue, ModelError, did_you_mean
from compose.source import MapNode, SeqNode

KEY = "x-pycompose"
ON_UNHEALTHY_VALUES = ("none", "restart", "stop")
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
_KEYS = ("on_unhealthy", "wait_for")
_WAIT_KEYS = ("project", "service", "condition")
_PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SERVICE_RE = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_WAIT_FOR = 64


@dataclass(frozen=True, slots=True)
class WaitFor:
    """A service of another project that ``up`` waits for."""

    project: str
    service: str
    condition: str = "service_started"

    def describe(self) -> str:
        return f"{self.project}/{self.service} ({self.condition})"


@dataclass(frozen=True, slots=True)
class Settings:
    on_unhealthy: str = "none"
    wait_for: tuple[WaitFor, ...] = ()


NONE = Settings()


def settings_of(extensions: Mapping[str, Any] | None) -> Settings:
    """The settings in a validated service's extensions (``Service.extensions``)."""
    raw = (extensions or {}).get(KEY)
    if not isinstance(raw, Mapping):
        return NONE
    wait_for = tuple(
        WaitFor(
            str(item["project"]), str(item["service"]), str(item.get("condition") or CONDITIONS[0])
        )
        for item in raw.get("wait_for") or ()
        if isinstance(item, Mapping)
    )
    return Settings(str(raw.get("on_unhealthy") or "none"), wait_for)


def check_extensions(tree: MapNode) -> None:
    """Every service's ``x-pycompose`` is well formed; a ModelError with each issue."""
    issues: list[Issue] = []
    services = tree.get("services")
    if not isinstance(services, MapNode):
        return
    for name, service in services.items():
        if isinstance(service, MapNode) and KEY in service:
            issues.extend(_check_service(str(name), service))
    if issues:
        raise ModelError(issues)


def _check_service(name: str, service: MapNode) -> list[Issue]:
    path: tuple[Any, ...] = ("services", name, KEY)
    raw = service[KEY]
    if raw is None:
        return []
    if not isinstance(raw, MapNode):
        return [Issue("must be a mapping", service.location_of(KEY), path)]
    issues: list[Issue] = []
    for key, value in raw.items():
        if key not in _KEYS:
            issues.append(
                Issue(
                    f"unknown key {key}",
                    raw.key_locs.get(key) or raw.loc,
                    (*path, key),
                    did_you_mean(str(key), _KEYS) or f"known keys: {', '.join(_KEYS)}",
                )
            )
        elif key == "on_unhealthy" and value not in ON_UNHEALTHY_VALUES:
            issues.append(
                Issue(
                    f"invalid value {value!r}: must be one of {', '.join(ON_UNHEALTHY_VALUES)}",
                    raw.location_of(key),
                    (*path, key),
                )
            )
        elif key == "wait_for":
            issues.extend(_check_wait_for(raw, (*path, key)))
    return issues


def _check_wait_for(parent: MapNode, path: tuple[Any, ...]) -> list[Issue]:
    items = parent["wait_for"]
    if not isinstance(items, SeqNode):
        return [Issue("must be a list", parent.location_of("wait_for"), path)]
    if len(items) > MAX_WAIT_FOR:
        return [Issue(f"at most {MAX_WAIT_FOR} entries", parent.location_of("wait_for"), path)]
    issues: list[Issue] = []
    for index, item in enumerate(items):
        where = (*path, index)
        if not isinstance(item, MapNode):
            issues.append(Issue("must be a mapping", items.location_of(index), where))
            continue
        for key in item:
            if key not in _WAIT_KEYS:
                issues.append(
                    Issue(
                        f"unknown key {key}",
                        item.key_locs.get(key) or item.loc,
                        (*where, key),
                        did_you_mean(str(key), _WAIT_KEYS),
                    )
                )
        for key, pattern in (("project", _PROJECT_RE), ("service", _SERVICE_RE)):
            value = item.get(key)
            if key not in item:
                issues.append(Issue(f"{key} is required", item.loc, (*where, key)))
            elif not isinstance(value, str) or not pattern.match(value):
                issues.append(
                    Issue(f"invalid {key} name {value!r}", item.location_of(key), (*where, key))
                )
        condition = item.get("condition", CONDITIONS[0])
        if condition not in CONDITIONS:
            issues.append(
                Issue(
                    f"invalid condition {condition!r}: must be one of {', '.join(CONDITIONS)}",
                    item.location_of("condition"),
                    (*where, "condition"),
                )
            )
    return issues
