"""Short syntax to long syntax, one file at a time (after interpolation, before merge).

Contract (called by compose.load):

    canonicalize(tree) -> tree
        ``tree`` is one file's interpolated top-level mapping (MapNode/SeqNode with
        locations). Returns the same tree with every short syntax turned into the
        long syntax docker compose prints (ports, volumes, depends_on, environment
        and labels lists -> mappings, env_file, secrets/configs, ulimits, healthcheck
        test, devices, extra_hosts, networks list -> mapping, build string -> mapping,
        ...). New nodes carry the location of the short-syntax value they came from.
        Values of the wrong type are left alone (model validation reports them);
        malformed short syntax raises ModelError with located issues.

Rules are tables keyed by the service key they serve (``SERVICE_RULES``), so
"how is ``ports`` read?" is answered by one line. Each rule takes the value and
its location and returns the long form, or the value unchanged when its type is
not one it knows (the model then reports the type error with its location). The
rules many keys share live in compose.canonical_base; making paths absolute, the
other per-file step, in compose.paths.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from compose.canonical_base import (
    DROP,
    Loc,
    Problems,
    key_value_list_to_map,
    kind_of,
    list_only,
    new_map,
    new_seq,
    scalar_str,
    shell_command,
    string_or_list,
)
from compose.errors import ModelError
from compose.short_syntax import parse_device, parse_port, parse_volume
from compose.source import MapNode, SeqNode
from engine.api.ports import PortSpecError

# --- services ---------------------------------------------------------------------------


def _ports(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if not isinstance(value, SeqNode):
        return value
    out = SeqNode(value.loc)
    seen: list[Any] = []
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, bool):
            out.add(item, item_loc)
            continue
        if isinstance(item, int):
            item = str(item)
        if isinstance(item, str):
            try:
                expanded = parse_port(item)
            except PortSpecError as exc:
                problems.add(
                    f"{exc} in {item!r}",
                    item_loc,
                    (*path, index),
                    hint='expected "[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]", e.g. "8080:80"',
                )
                continue
            for entry in expanded:
                node = new_map(item_loc, entry)
                if entry in seen:
                    continue
                seen.append(entry)
                out.add(node, item_loc)
            continue
        if isinstance(item, MapNode):
            if "protocol" not in item:
                item.set("protocol", "tcp", item_loc, item_loc)
            if "mode" not in item:
                item.set("mode", "ingress", item_loc, item_loc)
            plain = dict(item)
            if plain in seen:
                continue
            seen.append(plain)
        out.add(item, item_loc)
    return out


def _to_node(value: Any, loc: Loc) -> Any:
    if isinstance(value, dict) and not isinstance(value, MapNode):
        node = MapNode(loc)
        for key, child in value.items():
            node.set(key, _to_node(child, loc), loc, loc)
        return node
    if isinstance(value, list) and not isinstance(value, SeqNode):
        return new_seq(loc, [_to_node(child, loc) for child in value])
    return value


def _volumes(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, str):
            try:
                value[index] = _to_node(parse_volume(item), item_loc)
            except ValueError as exc:
                problems.add(
                    str(exc),
                    item_loc,
                    (*path, index),
                    hint='expected "[SOURCE:]TARGET[:OPTIONS]", e.g. "./data:/data:ro"',
                )
        elif isinstance(item, MapNode):
            options = item.get("volume")
            if isinstance(options, MapNode) and "labels" in options:
                labels_path = (*path, index, "volume", "labels")
                options["labels"] = _labels(
                    options["labels"], options.location_of("labels"), labels_path, problems
                )
            target = item.get("target")
            if isinstance(target, str) and target:
                item["target"] = posixpath.normpath(target)
    return _last_mount_per_target(value)


def _last_mount_per_target(mounts: SeqNode) -> SeqNode:
    """Mounts with the same target: the last one wins (docker compose drops the others)."""
    last: dict[str, int] = {}
    for index, item in enumerate(mounts):
        if isinstance(item, MapNode) and isinstance(item.get("target"), str):
            last[item["target"]] = index
    if len(last) == sum(
        1 for item in mounts if isinstance(item, MapNode) and isinstance(item.get("target"), str)
    ):
        return mounts
    out = SeqNode(mounts.loc)
    for index, item in enumerate(mounts):
        if (
            isinstance(item, MapNode)
            and isinstance(item.get("target"), str)
            and last[item["target"]] != index
        ):
            continue
        out.add(item, mounts.location_of(index))
    return out


def _depends_on(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, SeqNode):
        out = MapNode(value.loc)
        for index, item in enumerate(value):
            item_loc = value.location_of(index)
            if not isinstance(item, str):
                problems.add(f"expected a service name, got {item!r}", item_loc, (*path, index))
                continue
            out.set(
                item,
                new_map(item_loc, {"condition": "service_started", "required": True}),
                item_loc,
                item_loc,
            )
        return out
    if isinstance(value, MapNode):
        for name, dep in list(value.items()):
            dep_loc = value.location_of(name)
            if isinstance(dep, MapNode) and "required" not in dep:
                dep.set("required", True, dep_loc, dep_loc)
    return value


def _env_file(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, str):
        value = new_seq(loc, [value])
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, str):
            value[index] = new_map(item_loc, {"path": item, "required": True})
        elif isinstance(item, MapNode) and "required" not in item:
            item.set("required", True, item_loc, item_loc)
    return value


def _environment(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    return key_value_list_to_map(value, loc, path, problems, missing=None)


def _service_environment(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """A service's environment; ``FOO =bar`` in a list is an error, as with docker compose
    (whose mapping form keeps such a key as it is)."""
    if isinstance(value, SeqNode):
        for index, item in enumerate(value):
            if isinstance(item, str):
                key = item.split("=", 1)[0]
                if key != key.rstrip():
                    problems.add(
                        f"environment variable {key!r} is declared with a trailing space",
                        value.location_of(index),
                        (*path, index),
                        hint="remove the space before the =",
                    )
    return _environment(value, loc, path, problems)


def _labels(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    return key_value_list_to_map(value, loc, path, problems, missing="")


def _named_contexts(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """build.additional_contexts: every list entry must be NAME=CONTEXT."""
    if isinstance(value, SeqNode):
        for index, item in enumerate(value):
            if isinstance(item, str) and "=" not in item:
                problems.add(
                    f"expected NAME=CONTEXT, got {item!r}",
                    value.location_of(index),
                    (*path, index),
                    hint="e.g. base=../base or img=docker-image://alpine",
                )
    return _labels(value, loc, path, problems)


def _networks(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if not isinstance(value, SeqNode):
        return value
    out = MapNode(value.loc)
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, str):
            out.set(item, None, item_loc, item_loc)
        else:
            problems.add(f"expected a network name, got {item!r}", item_loc, (*path, index))
    return out


def _models(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    return _networks(value, loc, path, problems)


def _file_mounts(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """secrets/configs entries: ``- name`` -> ``{source: name}``."""
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        if isinstance(item, str):
            item_loc = value.location_of(index)
            value[index] = new_map(item_loc, {"source": item})
    return value


def _healthcheck(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, MapNode):
        test = value.get("test")
        if isinstance(test, str):
            test_loc = value.location_of("test")
            value["test"] = new_seq(test_loc, ["CMD-SHELL", test])
    return value


def _devices(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        if isinstance(item, str):
            item_loc = value.location_of(index)
            try:
                value[index] = new_map(item_loc, dict(parse_device(item)))
            except ValueError as exc:
                problems.add(
                    str(exc),
                    item_loc,
                    (*path, index),
                    hint='expected "HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"',
                )
    return value


def _host_entries(name: str, addresses: str) -> list[str]:
    return [f"{name}={address}" for address in addresses.split(",")]


def _extra_hosts(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """extra_hosts as a list of ``host=ip`` (mapping, ``host:ip`` and ``host=ip1,ip2`` accepted)."""
    out = SeqNode(getattr(value, "loc", None) or loc)
    if isinstance(value, MapNode):
        for name, addresses in value.items():
            item_loc = value.location_of(name)
            if isinstance(addresses, SeqNode):
                for address in addresses:
                    out.add(f"{name}={scalar_str(address)}", item_loc)
            elif not isinstance(addresses, str):
                problems.add(
                    "expected an IP address (a string) or a list of them, "
                    f"got {kind_of(addresses)}",
                    item_loc,
                    (*path, name),
                )
            else:
                for entry in _host_entries(str(name), scalar_str(addresses)):
                    out.add(entry, item_loc)
        return out
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if not isinstance(item, str):
            out.add(item, item_loc)
            continue
        if "=" in item:
            name, _, addresses = item.partition("=")
        elif ":" in item:
            name, _, addresses = item.partition(":")
        else:
            problems.add(
                f"invalid additional host, missing IP: {item}",
                item_loc,
                (*path, index),
                hint='expected "HOSTNAME=IP" or "HOSTNAME:IP"',
            )
            continue
        if addresses.startswith("[") and addresses.endswith("]"):
            addresses = addresses[1:-1]
        for entry in _host_entries(name, addresses):
            out.add(entry, item_loc)
    return out


def _expose(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, SeqNode):
        for index, item in enumerate(value):
            if isinstance(item, int | float) and not isinstance(item, bool):
                value[index] = scalar_str(item)
    return value


def _build(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, str):
        return new_map(loc, {"context": value})
    if not isinstance(value, MapNode):
        return value
    if "context" not in value:
        value.set("context", ".", loc, loc)
    _apply(value, BUILD_RULES, path, problems)
    return value


def _ssh(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """build.ssh as a mapping (``{default: /path}``) becomes ``["default=/path"]``."""
    if isinstance(value, MapNode):
        return new_seq(
            loc, [key if item is None else f"{key}={item}" for key, item in value.items()]
        )
    return value


def _ulimits(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    return value


def _gpus(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if value == "all":
        return new_seq(loc, [new_map(loc, {"count": -1})])
    _device_options(value, path, problems)
    return value


def _watch(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """develop.watch entries: the ``exec`` hook's short syntax.

    A list as ``path`` is refused by the model: docker compose v2.40 validates
    the file against the specification (``path`` is a string) before newer
    compose-go code would expand it.
    """
    if isinstance(value, SeqNode):
        for index, item in enumerate(value):
            if isinstance(item, MapNode) and isinstance(item.get("exec"), MapNode):
                _apply(item["exec"], HOOK_RULES, (*path, index, "exec"), problems)
    return value


def _develop(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, MapNode) and "watch" in value:
        value["watch"] = _watch(
            value["watch"], value.location_of("watch"), (*path, "watch"), problems
        )
    return value


def _hooks(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        if isinstance(item, MapNode):
            _apply(item, HOOK_RULES, (*path, index), problems)
    return value


def _deploy(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, MapNode) and "labels" in value:
        value["labels"] = _labels(
            value["labels"], value.location_of("labels"), (*path, "labels"), problems
        )
    resources = value.get("resources") if isinstance(value, MapNode) else None
    if isinstance(resources, MapNode):
        for kind in ("limits", "reservations"):
            resource = resources.get(kind)
            if isinstance(resource, MapNode):
                where = (*path, "resources", kind, "devices")
                _device_options(resource.get("devices"), where, problems)
    return value


def _device_options(devices: Any, path: tuple[Any, ...], problems: Problems) -> None:
    """Device requests: ``options`` as a list of KEY=VALUE becomes a mapping."""
    if not isinstance(devices, SeqNode):
        return
    for index, device in enumerate(devices):
        if isinstance(device, MapNode) and "options" in device:
            device["options"] = _labels(
                device["options"],
                device.location_of("options"),
                (*path, index, "options"),
                problems,
            )


def _logging(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    return value


def _extends(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if isinstance(value, str):
        return new_map(loc, {"service": value})
    return value


def _provider(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    """provider.options values become lists of strings (compose's MultiOptions)."""
    if isinstance(value, MapNode) and isinstance(value.get("options"), MapNode):
        options = value["options"]
        for key, option in list(options.items()):
            option_loc = options.location_of(key)
            items = list(option) if isinstance(option, SeqNode) else [option]
            if all(not isinstance(item, MapNode | SeqNode) for item in items):
                options[key] = new_seq(option_loc, [scalar_str(item) for item in items])
    return value


Rule = Callable[[Any, Loc, tuple[Any, ...], Problems], Any]

BUILD_RULES: dict[str, Rule] = {
    "args": _environment,
    "labels": _labels,
    "secrets": _file_mounts,
    "additional_contexts": _named_contexts,
    "ssh": _ssh,
    "extra_hosts": _extra_hosts,
    "no_cache_filter": string_or_list,
}

HOOK_RULES: dict[str, Rule] = {
    "command": shell_command,
    "environment": _environment,
}

SERVICE_RULES: dict[str, Rule] = {
    "annotations": _labels,
    "build": _build,
    "command": shell_command,
    "entrypoint": shell_command,
    "configs": _file_mounts,
    "secrets": _file_mounts,
    "depends_on": _depends_on,
    "deploy": _deploy,
    "develop": _develop,
    "devices": _devices,
    "dns": string_or_list,
    "dns_search": string_or_list,
    "env_file": _env_file,
    "environment": _service_environment,
    "expose": _expose,
    "extends": _extends,
    "extra_hosts": _extra_hosts,
    "gpus": _gpus,
    "healthcheck": _healthcheck,
    "label_file": string_or_list,
    "labels": _labels,
    "logging": _logging,
    "models": _models,
    "networks": _networks,
    "ports": _ports,
    "post_start": _hooks,
    "profiles": list_only,
    "pre_stop": _hooks,
    "provider": _provider,
    "sysctls": _labels,
    "tmpfs": string_or_list,
    "ulimits": _ulimits,
    "volumes": _volumes,
}


def _apply(
    node: MapNode, rules: dict[str, Rule], path: tuple[Any, ...], problems: Problems
) -> None:
    for key in [key for key in node if key in rules]:
        value = rules[key](node[key], node.location_of(key), (*path, key), problems)
        if value is DROP:
            del node[key]
        else:
            node[key] = value


def _resource(value: Any, path: tuple[Any, ...], problems: Problems) -> None:
    """Top-level networks/volumes/secrets/configs entry: legacy ``external: {name}``, labels."""
    if not isinstance(value, MapNode):
        return
    external = value.get("external")
    if isinstance(external, MapNode):
        external_loc = value.location_of("external")
        for key in external if path[0] in ("networks", "volumes") else ():
            if key != "name" and not (isinstance(key, str) and key.startswith("x-")):
                problems.add(
                    "unknown key",
                    external.key_locs.get(key, external_loc),
                    (*path, "external", key),
                    hint="external takes only name (better: external: true and name: beside it)",
                )
        name = external.get("name")
        if name is not None and "name" not in value:
            value.set("name", name, external_loc, external_loc)
        value["external"] = True
    if "labels" in value:
        value["labels"] = _labels(
            value["labels"], value.location_of("labels"), (*path, "labels"), problems
        )


def _include(value: Any, loc: Loc, path: tuple[Any, ...], problems: Problems) -> Any:
    if value is not None and not isinstance(value, SeqNode):
        problems.add(
            f"expected a list of files to include, got {kind_of(value)}",
            loc,
            path,
            hint="write include as a list: include: [other.yaml]",
        )
        return value
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, str):
            value[index] = new_map(item_loc, {"path": new_seq(item_loc, [item])})
        elif isinstance(item, MapNode):
            for key in ("path", "env_file"):
                if isinstance(item.get(key), str):
                    item[key] = new_seq(item.location_of(key), [item[key]])
    return value


def canonicalize(tree: Any) -> Any:
    """Turn one file's short syntax into long syntax, in place; returns the tree."""
    if not isinstance(tree, MapNode):
        return tree
    problems = Problems()
    services = tree.get("services")
    if isinstance(services, MapNode):
        for name, service in services.items():
            if isinstance(service, MapNode):
                _apply(service, SERVICE_RULES, ("services", name), problems)
    for section in ("networks", "volumes", "secrets", "configs"):
        resources = tree.get(section)
        if isinstance(resources, MapNode):
            for name, resource in resources.items():
                _resource(resource, (section, name), problems)
    if "include" in tree:
        tree["include"] = _include(
            tree["include"], tree.location_of("include"), ("include",), problems
        )
    if problems.issues:
        raise ModelError(problems.issues)
    return tree
