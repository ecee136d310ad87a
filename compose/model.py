"""Phase 8: pydantic models of the Compose Specification (long syntax).

Contract (called by compose.load; the helper filling this in owns the module):

    validate_project(tree) -> Project
        ``tree`` is the normalised project mapping (MapNode/SeqNode with locations).
        Raises ModelError listing every issue with file:line:column (taken from the
        tree with compose.source.location_of / key_location_of) and "did you mean"
        hints for unknown keys.

    Project.services[name] is a Service with at least: depends_on:
    dict[str, ServiceDependency(condition, required, restart)], network_mode:
    str | None, volumes_from: list[str], links: list[str], networks: dict[str, ... | None],
    profiles: list[str], image, build, ...
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ServiceDependency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    condition: str = "service_started"
    required: bool = True
    restart: bool = False


class Service(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    image: str | None = None
    depends_on: dict[str, ServiceDependency] = {}
    network_mode: str | None = None
    volumes_from: list[str] = []
    links: list[str] = []
    networks: dict[str, Any] = {}
    profiles: list[str] = []


class Project(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    name: str
    services: dict[str, Service] = {}
    networks: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    configs: dict[str, Any] = {}


def validate_project(tree: Any) -> Project:
    return Project.model_validate(tree)
