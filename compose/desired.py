"""What the project wants the engine to have, built from the typed Project.

``desired_state(project, graph)`` gives, per service, the replicas, the image, the
engine names of the networks and named volumes it uses, and its config hash; per
network and volume, the engine name and whether it is external. ``config_hashes``
is what ``config --hash`` prints: the same :func:`compose.labels.service_hash` over
the same data as the ``com.docker.compose.config-hash`` label ``up`` writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from compose import file_mounts, labels
from compose import model as models
from compose.errors import PlanError
from compose.graph import ServiceGraph
from compose.output import config_dict


@dataclasses.dataclass(frozen=True, slots=True)
class DesiredService:
    name: str
    service: models.Service  # what the container is made from
    config: Mapping[str, Any]  # the service as `config --format json` prints it, "$" unescaped
    replicas: int
    image: str
    networks: tuple[str, ...]  # engine names of the networks it attaches to
    volumes: tuple[str, ...]  # engine names of the named volumes it mounts
    depends_on: Mapping[str, Mapping[str, Any]]
    files: tuple[file_mounts.FileMount, ...] = ()  # its secrets and configs, contents included
    files_error: PlanError | None = None  # why they cannot be made (raised by the planner)

    @property
    def config_hash(self) -> str:
        return labels.service_hash(self.config)


@dataclasses.dataclass(frozen=True, slots=True)
class DesiredResource:
    key: str  # the name in the compose file
    name: str  # the engine's name
    external: bool
    config: Mapping[str, Any]

    @property
    def config_hash(self) -> str:
        return labels.resource_hash(self.config)


@dataclasses.dataclass(frozen=True, slots=True)
class DesiredState:
    project: str
    services: Mapping[str, DesiredService]
    networks: Mapping[str, DesiredResource]  # by key
    volumes: Mapping[str, DesiredResource]  # by key
    graph: ServiceGraph


def image_of(project_name: str, service_name: str, service: Mapping[str, Any]) -> str:
    """The image a service runs: its ``image``, or the one its build produces."""
    image = service.get("image")
    if isinstance(image, str) and image:
        return image
    return f"{project_name}-{service_name}"


def container_name(project: str, service: str, number: int, config: Mapping[str, Any]) -> str:
    """Replica ``number`` of a service: its ``container_name``, else ``<project>-<service>-<n>``."""
    explicit = config.get("container_name")
    if isinstance(explicit, str) and explicit:
        return explicit
    return f"{project}-{service}-{number}"


def _engine_name(project: str, key: str, name: str | None) -> str:
    return name or f"{project}_{key}"


def _service_config(project: models.Project) -> Mapping[str, Any]:
    # the engine gets "$", not the "$$" that `config` prints
    services: Mapping[str, Any] = config_dict(project, escape_dollars=False)["services"]
    return services


def config_hashes(project: models.Project) -> dict[str, str]:
    """``config --hash``: each service's com.docker.compose.config-hash, by service name."""
    return {name: labels.service_hash(config) for name, config in _service_config(project).items()}


def _files(
    project: models.Project,
    name: str,
    sources: Mapping[tuple[str, str], file_mounts.FileSource] | None,
) -> tuple[tuple[file_mounts.FileMount, ...], PlanError | None]:
    service = project.services[name]
    if sources is None or not (service.secrets or service.configs):
        return (), None
    try:
        return file_mounts.service_files(project, name, sources), None
    except PlanError as exc:
        return (), exc


def desired_state(
    project: models.Project,
    graph: ServiceGraph,
    sources: Mapping[tuple[str, str], file_mounts.FileSource] | None = None,
) -> DesiredState:
    """The desired state of ``project`` (see the module docstring). ``sources`` are the
    contents of its secrets and configs (:mod:`compose.file_sources` reads them); without
    them no container gets its files."""
    data = config_dict(project, escape_dollars=False)

    def resources(
        section: str, items: Mapping[str, models.Network | models.Volume]
    ) -> dict[str, DesiredResource]:
        return {
            key: DesiredResource(
                key,
                _engine_name(project.name, key, item.name),
                bool(item.external),
                data[section][key],
            )
            for key, item in items.items()
        }

    networks = resources("networks", project.networks)
    volumes = resources("volumes", project.volumes)
    services = {}
    for name, service in project.services.items():
        replicas = service.scale
        if replicas is None and service.deploy is not None:
            replicas = service.deploy.replicas
        config = data["services"][name]
        files, files_error = _files(project, name, sources)
        services[name] = DesiredService(
            name=name,
            service=service,
            config=config,
            replicas=1 if replicas is None else int(replicas),
            image=image_of(project.name, name, config),
            networks=tuple(
                sorted(networks[key].name for key in service.networks if key in networks)
            ),
            volumes=tuple(
                sorted(
                    {
                        volumes[mount.source].name
                        for mount in service.volumes or []
                        if mount.type == "volume" and mount.source in volumes
                    }
                )
            ),
            depends_on=config.get("depends_on") or {},
            files=files,
            files_error=files_error,
        )
    return DesiredState(project.name, services, networks, volumes, graph)
