"""What the engine reports about a project: a frozen snapshot, plain data.

``compose.apply.observe`` fills it from the Engine API (containers, networks and
volumes listed by the ``com.docker.compose.project`` label); the planner reads it
and makes no API call of its own (docker compose's ``observed_state.go``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from typing import Any

from compose import labels


@dataclasses.dataclass(frozen=True, slots=True)
class ObservedContainer:
    id: str
    name: str
    service: str
    number: int
    state: str  # created | running | paused | restarting | exited | dead | removing
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    image_id: str = ""
    exit_code: int = 0
    health: str | None = None  # starting | healthy | unhealthy
    networks: frozenset[str] = frozenset()  # network names it is attached to
    volumes: frozenset[str] = frozenset()  # named volumes it mounts

    @property
    def config_hash(self) -> str:
        return self.labels.get(labels.CONFIG_HASH, "")

    @property
    def oneoff(self) -> bool:
        return labels.is_true(self.labels.get(labels.ONEOFF))

    @property
    def recorded_config(self) -> dict[str, Any] | None:
        """The service config pycompose recorded at creation (None for other tools')."""
        raw = self.labels.get(labels.SERVICE_CONFIG)
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")


class _Labelled:
    """An observed object whose labels carry the config hash ``up`` wrote."""

    __slots__ = ()
    labels: Mapping[str, str]

    @property
    def config_hash(self) -> str:
        return self.labels.get(labels.CONFIG_HASH, "")


@dataclasses.dataclass(frozen=True, slots=True)
class ObservedNetwork(_Labelled):
    id: str
    name: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class ObservedVolume(_Labelled):
    name: str
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class ObservedState:
    """The project's objects as the engine has them, plus the images it knows."""

    project: str
    containers: tuple[ObservedContainer, ...] = ()
    networks: Mapping[str, ObservedNetwork] = dataclasses.field(default_factory=dict)
    volumes: Mapping[str, ObservedVolume] = dataclasses.field(default_factory=dict)
    images: Mapping[str, str] = dataclasses.field(default_factory=dict)  # reference -> image id
    # reference -> when the engine last pulled or tagged it (Metadata.LastTagTime), if known
    image_pulled: Mapping[str, datetime.datetime] = dataclasses.field(default_factory=dict)
    observed_at: datetime.datetime | None = None  # "now" for timed pull policies

    def containers_of(self, service: str) -> list[ObservedContainer]:
        """The service's containers (one-off ``run`` containers excluded), by number."""
        found = [c for c in self.containers if c.service == service and not c.oneoff]
        return sorted(found, key=lambda c: (c.number, c.name))
