"""References: every service, network, volume, config and secret a service names must exist.

Runs on the merged tree (also after validation failed, so that all problems are
reported together), and places each issue at the referring value.
"""

from __future__ import annotations

from typing import Any

from compose.errors import Issue, UndefinedReferenceError, did_you_mean
from compose.source import MapNode, SeqNode


def check_references(tree: MapNode) -> None:
    """Every service, network, volume, config and secret a service names must exist."""
    issues: list[Issue] = []
    services = tree.get("services") if isinstance(tree.get("services"), MapNode) else MapNode()
    assert isinstance(services, MapNode)

    def section(name: str) -> MapNode:
        value = tree.get(name)
        return value if isinstance(value, MapNode) else MapNode()

    networks, volumes = section("networks"), section("volumes")
    secrets, configs = section("secrets"), section("configs")
    models = section("models")

    def undefined(
        kind: str, service_name: str, target: str, node: Any, where: tuple[Any, ...], known: MapNode
    ) -> None:
        """``target`` is not in ``known``: an issue at ``node[where[-1]]``, in the service."""
        key = where[-1]
        location = node.location_of(key) if isinstance(node, MapNode | SeqNode) else None
        issues.append(
            Issue(
                f'service "{service_name}" refers to undefined {kind} "{target}"'
                if kind != "service"
                else f'service "{service_name}" depends on undefined service "{target}"',
                location,
                ("services", service_name, *where),
                hint=did_you_mean(target, sorted(str(k) for k in known))
                or f"define it under the top-level `{kind}s:` key"
                if kind != "service"
                else did_you_mean(target, sorted(str(k) for k in known)),
            )
        )

    for name, service in services.items():
        if not isinstance(service, MapNode):
            continue
        reported: set[str] = set()
        for mode_key in ("network_mode", "ipc", "pid"):
            mode = service.get(mode_key)
            if isinstance(mode, str) and mode.startswith("service:"):
                target = mode.removeprefix("service:")
                if target not in services and target not in reported:
                    reported.add(target)
                    undefined("service", name, target, service, (mode_key,), services)
        volumes_from = service.get("volumes_from")
        if isinstance(volumes_from, SeqNode):
            for index, entry in enumerate(volumes_from):
                if not isinstance(entry, str) or entry.startswith("container:"):
                    continue
                target = entry.split(":", 1)[0]
                if target not in services and target not in reported:
                    reported.add(target)
                    undefined(
                        "service", name, target, volumes_from, ("volumes_from", index), services
                    )
        depends_on = service.get("depends_on")
        if isinstance(depends_on, MapNode):
            for dependency, spec in depends_on.items():
                if dependency not in services and dependency not in reported:
                    required = not (isinstance(spec, MapNode) and spec.get("required") is False)
                    if required:
                        undefined(
                            "service",
                            name,
                            dependency,
                            depends_on,
                            ("depends_on", dependency),
                            services,
                        )
        service_networks = service.get("networks")
        if isinstance(service_networks, MapNode):
            for network in service_networks:
                if network not in networks:
                    undefined(
                        "network",
                        name,
                        str(network),
                        service_networks,
                        ("networks", network),
                        networks,
                    )
        mounts = service.get("volumes")
        if isinstance(mounts, SeqNode):
            for index, mount in enumerate(mounts):
                if (
                    isinstance(mount, MapNode)
                    and mount.get("type") == "volume"
                    and isinstance(mount.get("source"), str)
                    and mount["source"]
                    and mount["source"] not in volumes
                ):
                    undefined("volume", name, mount["source"], mounts, ("volumes", index), volumes)
        build = service.get("build")
        build_secrets = build.get("secrets") if isinstance(build, MapNode) else None
        for kind, known, refs, path in (
            ("secret", secrets, service.get("secrets"), ("secrets",)),
            ("config", configs, service.get("configs"), ("configs",)),
            ("secret", secrets, build_secrets, ("build", "secrets")),
        ):
            if isinstance(refs, SeqNode):
                for index, ref in enumerate(refs):
                    source = ref.get("source", "") if isinstance(ref, MapNode) else ref
                    if isinstance(source, str) and source not in known:
                        # a long-syntax entry without source names the secret "" (as compose)
                        undefined(kind, name, source, refs, (*path, index), known)
        models_used = service.get("models")
        if isinstance(models_used, MapNode | SeqNode):
            names = list(models_used) if isinstance(models_used, MapNode) else models_used
            for index, model_name in enumerate(names):
                if isinstance(model_name, str) and model_name not in models:
                    key: Any = model_name if isinstance(models_used, MapNode) else index
                    undefined("model", name, model_name, models_used, ("models", key), models)
    if issues:
        raise UndefinedReferenceError(issues)
