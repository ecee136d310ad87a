"""Normalisation (after merge, extends, include and profiles): project-wide defaults.

Contract (called by compose.load):

    normalize(tree, project_name, all_resources=False) -> tree
        Adds what docker compose adds: the ``default`` network where a service is
        attached to it (and ``networks: {default: null}`` on services that name no
        network and have no network_mode), ``name`` of networks/volumes/configs/
        secrets (``<project>_<key>`` unless set or external), ``command``/
        ``entrypoint`` null, port/volume defaults, ...; drops networks, volumes,
        secrets and configs that no service uses unless ``all_resources``.

Rules, in order (each one a small function below):

1. every service: implicit ``default`` network, build defaults, secret targets,
   ``pull_policy: if_not_present`` -> ``missing``, and the implicit dependencies
   docker compose adds for ``links``, ``volumes_from`` and ``service:x``
   namespaces (network_mode, ipc, pid, uts, cgroup);
2. the ``default`` network is defined when a service uses it;
3. resources no service uses are dropped (unless ``all_resources``), after a
   shape check: docker compose refuses an invalid resource even when unused;
4. every remaining resource gets its ``name``.

Build args still without a value (``args: [FOO]`` with FOO unset) are dropped,
as docker compose does; compose.load resolves them before this phase.
"""

from __future__ import annotations

from typing import Any

from compose.errors import ModelError
from compose.model import check_shapes
from compose.source import MapNode, SeqNode

_SECTIONS = ("networks", "volumes", "secrets", "configs", "models")
_NAMESPACE_KEYS = ("network_mode", "ipc", "pid", "uts", "cgroup")


def _add_dependency(service: MapNode, name: str, restart: bool) -> None:
    depends_on = service.get("depends_on")
    if not isinstance(depends_on, MapNode):
        if depends_on is not None:
            return  # a wrong type; validation reports it
        depends_on = MapNode(service.loc)
        service.set("depends_on", depends_on, service.loc, service.loc)
    if name in depends_on:
        return
    dependency = MapNode(service.loc)
    dependency.set("condition", "service_started", None, None)
    if restart:
        dependency.set("restart", True, None, None)
    dependency.set("required", True, None, None)
    depends_on.set(name, dependency, service.loc, service.loc)


def _secret_targets(entries: Any) -> None:
    if not isinstance(entries, SeqNode):
        return
    for entry in entries:
        if (
            isinstance(entry, MapNode)
            and isinstance(entry.get("source"), str)
            and not entry.get("target")
        ):
            entry.set("target", f"/run/secrets/{entry['source']}", entry.loc, entry.loc)


def _normalize_service(service: MapNode) -> None:
    networks = service.get("networks")
    unset = networks is None and "networks" not in service  # an explicit null is an error
    if (unset or networks == {}) and not service.get("network_mode") and "provider" not in service:
        default = MapNode(service.loc)
        default.set("default", None, service.loc, service.loc)
        service.set("networks", default, service.key_locs.get("networks"), service.loc)
    build = service.get("build")
    if isinstance(build, MapNode):
        if build.get("dockerfile", "") == "" and not build.get("dockerfile_inline"):
            build.set("dockerfile", "Dockerfile", build.loc, build.loc)
        _secret_targets(build.get("secrets"))
        args = build.get("args")
        if isinstance(args, MapNode):  # an arg left without a value is not passed at all
            for name in [name for name, value in args.items() if value is None]:
                del args[name]
    _secret_targets(service.get("secrets"))
    if service.get("pull_policy") == "if_not_present":
        service["pull_policy"] = "missing"
    links = service.get("links")
    if isinstance(links, SeqNode):
        for link in links:
            if isinstance(link, str):
                _add_dependency(service, link.split(":", 1)[0], restart=True)
    for key in _NAMESPACE_KEYS:
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            _add_dependency(service, value[len("service:") :], restart=True)
    volumes_from = service.get("volumes_from")
    if isinstance(volumes_from, SeqNode):
        for source in volumes_from:
            if isinstance(source, str) and not source.startswith("container:"):
                _add_dependency(service, source.split(":", 1)[0], restart=False)


def _used_resources(services: dict[str, Any]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {section: set() for section in _SECTIONS}
    for service in services.values():
        if not isinstance(service, MapNode):
            continue
        networks = service.get("networks")
        if isinstance(networks, dict):
            used["networks"].update(networks)
        volumes = service.get("volumes")
        if isinstance(volumes, list):
            for mount in volumes:
                if (
                    isinstance(mount, dict)
                    and mount.get("type") == "volume"
                    and isinstance(mount.get("source"), str)
                ):
                    used["volumes"].add(mount["source"])
        for section in ("secrets", "configs"):
            entries = service.get(section)
            if isinstance(entries, list):
                used[section].update(
                    e["source"]
                    for e in entries
                    if isinstance(e, dict) and isinstance(e.get("source"), str)
                )
        build = service.get("build")
        if isinstance(build, dict) and isinstance(build.get("secrets"), list):
            used["secrets"].update(
                e["source"]
                for e in build["secrets"]
                if isinstance(e, dict) and isinstance(e.get("source"), str)
            )
        models = service.get("models")
        if isinstance(models, dict):
            used["models"].update(models)
    return used


def _check_dropped(tree: MapNode, section: str, resources: MapNode, keys: list[Any]) -> None:
    """Resources about to be dropped must still be valid (docker compose checks them all)."""
    dropped = MapNode(tree.loc)
    subset = MapNode(resources.loc)
    for key in keys:
        subset.set(key, resources[key], resources.key_locs.get(key), resources.value_locs.get(key))
    dropped.set(section, subset, tree.key_locs.get(section), tree.value_locs.get(section))
    issues = check_shapes(dropped)
    if issues:
        raise ModelError(issues)


def normalize(tree: Any, project_name: str, all_resources: bool = False) -> Any:
    """Add docker compose's project-wide defaults to a merged tree, in place; returns it."""
    if not isinstance(tree, MapNode):
        return tree
    tree["name"] = project_name
    services = tree.get("services")
    if not isinstance(services, MapNode):
        services = MapNode(tree.loc) if services is None and "services" not in tree else services
    if isinstance(services, MapNode):
        for service in services.values():
            if isinstance(service, MapNode):
                _normalize_service(service)
    used = _used_resources(services if isinstance(services, dict) else {})
    for section in _SECTIONS:
        resources = tree.get(section)
        if resources is None:
            if section not in tree and section == "networks" and "default" in used["networks"]:
                resources = MapNode(tree.loc)
                tree.set(section, resources, tree.loc, tree.loc)
            else:
                continue
        if not isinstance(resources, MapNode):
            continue
        if section == "networks" and "default" in used["networks"] and "default" not in resources:
            resources.set("default", None, tree.loc, tree.loc)
        if not all_resources:
            unused = [key for key in resources if key not in used[section]]
            if unused:
                _check_dropped(tree, section, resources, unused)
            for key in unused:
                del resources[key]
        for key, resource in list(resources.items()):
            if resource is None:
                resource = MapNode(resources.location_of(key))
                resources.set(key, resource, None, resources.location_of(key))
            if not isinstance(resource, MapNode) or section == "models":
                continue
            if resource.get("name", "") == "":
                external = resource.get("external")
                name = key if external is True else f"{project_name}_{key}"
                resource.set("name", name, resource.loc, resource.loc)
    return tree
