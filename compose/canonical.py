"""Phase 3 (per file, after interpolation, before merge): short syntax to long syntax.

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

    resolve_paths(tree, working_dir, home) -> tree
        Relative paths of one file's canonical tree made absolute against
        ``working_dir`` (build.context unless a URL, bind-mount sources, env_file,
        label_file, secrets/configs ``file``, additional_contexts, develop.watch
        paths; ``~`` expanded with ``home``).

Rules are tables keyed by the service key they serve (``SERVICE_RULES``), so
"how is ``ports`` read?" is answered by one line. Each rule takes the value and
its location and returns the long form, or the value unchanged when its type is
not one it knows (the model then reports the type error with its location).
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compose.errors import Issue, Location, ModelError
from compose.short_syntax import parse_device, parse_port, parse_volume
from compose.source import MapNode, SeqNode
from engine.api.ports import PortSpecError

Loc = Location | None
DROP = object()  # a rule's answer for "leave the key out"


class _Problems:
    """Issues found while canonicalizing one file; raised together at the end."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, message: str, loc: Loc, path: tuple[Any, ...], hint: str | None = None) -> None:
        self.issues.append(Issue(message, loc, path, hint))


def _map(loc: Loc, items: dict[str, Any] | None = None) -> MapNode:
    node = MapNode(loc)
    if items:
        for key, value in items.items():
            node.set(key, value, loc, loc)
    return node


def _seq(loc: Loc, items: list[Any] | None = None) -> SeqNode:
    node = SeqNode(loc)
    for item in items or ():
        node.add(item, loc)
    return node


def _scalar_str(value: Any) -> str:
    """A scalar as docker compose prints it in a string field (``true``, ``1.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


# --- list or mapping helpers -------------------------------------------------------------


def _kind(value: Any) -> str:
    return (
        "a mapping"
        if isinstance(value, dict)
        else "a list"
        if isinstance(value, list)
        else repr(value)
    )


def _key_value_list_to_map(
    value: Any,
    loc: Loc,
    path: tuple[Any, ...],
    problems: _Problems,
    *,
    missing: Any,
    sep: str = "=",
) -> Any:
    """``["A=b", "C"]`` -> ``{A: "b", C: missing}``; mappings are returned as they are."""
    if isinstance(value, MapNode) and "" in value:
        problems.add(
            "a key cannot be empty", value.key_locs.get("", loc), path, hint="name the entry"
        )
    if not isinstance(value, SeqNode):
        return value
    out = MapNode(value.loc or loc)
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, MapNode | SeqNode):
            problems.add(
                f'expected a "KEY{sep}VALUE" string, got {_kind(item)}',
                item_loc,
                (*path, index),
                hint=f"write the entry as KEY{sep}VALUE, or turn the whole list into a mapping",
            )
            continue
        if not isinstance(item, str):
            problems.add(
                f'expected a "KEY{sep}VALUE" string, got {_kind(item)}',
                item_loc,
                (*path, index),
                hint="quote the entry",
            )
            continue
        key, found, rest = item.partition(sep)
        out.set(key, rest if found else missing, item_loc, item_loc)
    return out


def _list_only(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if value is not None and not isinstance(value, SeqNode):
        problems.add(f"expected a list, got {_kind(value)}", loc, path)
    return value


def _string_or_list(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if value == "":
        return DROP  # e.g. `dns: ${UNSET}`: docker compose prints nothing
    if isinstance(value, str):
        return _seq(loc, [value])
    return value


def _shell_command(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    """``command: echo hi`` -> ``["echo", "hi"]`` (POSIX shell words, as compose splits them)."""
    if not isinstance(value, str):
        return value
    try:
        words = shlex.split(value, posix=True)
    except ValueError as exc:
        problems.add(
            f"cannot split {value!r} into words: {exc}", loc, path, hint="check the quotes"
        )
        return value
    return _seq(loc, words)


# --- services ---------------------------------------------------------------------------


def _ports(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
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
                node = _map(item_loc, entry)
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
        return _seq(loc, [_to_node(child, loc) for child in value])
    return value


def _volumes(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
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


def _depends_on(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if isinstance(value, SeqNode):
        out = MapNode(value.loc)
        for index, item in enumerate(value):
            item_loc = value.location_of(index)
            if not isinstance(item, str):
                problems.add(f"expected a service name, got {item!r}", item_loc, (*path, index))
                continue
            out.set(
                item,
                _map(item_loc, {"condition": "service_started", "required": True}),
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


def _env_file(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if isinstance(value, str):
        value = _seq(loc, [value])
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        item_loc = value.location_of(index)
        if isinstance(item, str):
            value[index] = _map(item_loc, {"path": item, "required": True})
        elif isinstance(item, MapNode) and "required" not in item:
            item.set("required", True, item_loc, item_loc)
    return value


def _environment(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    return _key_value_list_to_map(value, loc, path, problems, missing=None)


def _labels(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    return _key_value_list_to_map(value, loc, path, problems, missing="")


def _named_contexts(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
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


def _networks(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
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


def _models(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    return _networks(value, loc, path, problems)


def _file_mounts(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    """secrets/configs entries: ``- name`` -> ``{source: name}``."""
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        if isinstance(item, str):
            item_loc = value.location_of(index)
            value[index] = _map(item_loc, {"source": item})
    return value


def _healthcheck(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if isinstance(value, MapNode):
        test = value.get("test")
        if isinstance(test, str):
            test_loc = value.location_of("test")
            value["test"] = _seq(test_loc, ["CMD-SHELL", test])
    return value


def _devices(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        if isinstance(item, str):
            item_loc = value.location_of(index)
            try:
                value[index] = _map(item_loc, dict(parse_device(item)))
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


def _extra_hosts(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    """extra_hosts as a list of ``host=ip`` (mapping, ``host:ip`` and ``host=ip1,ip2`` accepted)."""
    out = SeqNode(getattr(value, "loc", None) or loc)
    if isinstance(value, MapNode):
        for name, addresses in value.items():
            item_loc = value.location_of(name)
            if isinstance(addresses, SeqNode):
                for address in addresses:
                    out.add(f"{name}={_scalar_str(address)}", item_loc)
            elif not isinstance(addresses, str):
                problems.add(
                    f"expected an IP address (a string) or a list of them, got {_kind(addresses)}",
                    item_loc,
                    (*path, name),
                )
            else:
                for entry in _host_entries(str(name), _scalar_str(addresses)):
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


def _expose(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if isinstance(value, SeqNode):
        for index, item in enumerate(value):
            if isinstance(item, int | float) and not isinstance(item, bool):
                value[index] = _scalar_str(item)
    return value


def _build(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if isinstance(value, str):
        return _map(loc, {"context": value})
    if not isinstance(value, MapNode):
        return value
    if "context" not in value:
        value.set("context", ".", loc, loc)
    _apply(value, BUILD_RULES, path, problems)
    return value


def _ssh(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    """build.ssh as a mapping (``{default: /path}``) becomes ``["default=/path"]``."""
    if isinstance(value, MapNode):
        return _seq(loc, [key if item is None else f"{key}={item}" for key, item in value.items()])
    return value


def _ulimits(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    return value


def _gpus(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if value == "all":
        return _seq(loc, [_map(loc, {"count": -1})])
    _device_options(value, path, problems)
    return value


def _watch(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
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


def _develop(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if isinstance(value, MapNode) and "watch" in value:
        value["watch"] = _watch(
            value["watch"], value.location_of("watch"), (*path, "watch"), problems
        )
    return value


def _hooks(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if not isinstance(value, SeqNode):
        return value
    for index, item in enumerate(value):
        if isinstance(item, MapNode):
            _apply(item, HOOK_RULES, (*path, index), problems)
    return value


def _deploy(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
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


def _device_options(devices: Any, path: tuple[Any, ...], problems: _Problems) -> None:
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


def _logging(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    return value


def _extends(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if isinstance(value, str):
        return _map(loc, {"service": value})
    return value


def _provider(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    """provider.options values become lists of strings (compose's MultiOptions)."""
    if isinstance(value, MapNode) and isinstance(value.get("options"), MapNode):
        options = value["options"]
        for key, option in list(options.items()):
            option_loc = options.location_of(key)
            items = list(option) if isinstance(option, SeqNode) else [option]
            if all(not isinstance(item, MapNode | SeqNode) for item in items):
                options[key] = _seq(option_loc, [_scalar_str(item) for item in items])
    return value


Rule = Callable[[Any, Loc, tuple[Any, ...], _Problems], Any]

BUILD_RULES: dict[str, Rule] = {
    "args": _environment,
    "labels": _labels,
    "secrets": _file_mounts,
    "additional_contexts": _named_contexts,
    "ssh": _ssh,
    "extra_hosts": _extra_hosts,
    "no_cache_filter": _string_or_list,
}

HOOK_RULES: dict[str, Rule] = {
    "command": _shell_command,
    "environment": _environment,
}

SERVICE_RULES: dict[str, Rule] = {
    "annotations": _labels,
    "build": _build,
    "command": _shell_command,
    "entrypoint": _shell_command,
    "configs": _file_mounts,
    "secrets": _file_mounts,
    "depends_on": _depends_on,
    "deploy": _deploy,
    "develop": _develop,
    "devices": _devices,
    "dns": _string_or_list,
    "dns_search": _string_or_list,
    "env_file": _env_file,
    "environment": _environment,
    "expose": _expose,
    "extends": _extends,
    "extra_hosts": _extra_hosts,
    "gpus": _gpus,
    "healthcheck": _healthcheck,
    "label_file": _string_or_list,
    "labels": _labels,
    "logging": _logging,
    "models": _models,
    "networks": _networks,
    "ports": _ports,
    "post_start": _hooks,
    "profiles": _list_only,
    "pre_stop": _hooks,
    "provider": _provider,
    "sysctls": _labels,
    "tmpfs": _string_or_list,
    "ulimits": _ulimits,
    "volumes": _volumes,
}


def _apply(
    node: MapNode, rules: dict[str, Rule], path: tuple[Any, ...], problems: _Problems
) -> None:
    for key in [key for key in node if key in rules]:
        value = rules[key](node[key], node.location_of(key), (*path, key), problems)
        if value is DROP:
            del node[key]
        else:
            node[key] = value


def _resource(value: Any, path: tuple[Any, ...], problems: _Problems) -> None:
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


def _include(value: Any, loc: Loc, path: tuple[Any, ...], problems: _Problems) -> Any:
    if value is not None and not isinstance(value, SeqNode):
        problems.add(
            f"expected a list of files to include, got {_kind(value)}",
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
            value[index] = _map(item_loc, {"path": _seq(item_loc, [item])})
        elif isinstance(item, MapNode):
            for key in ("path", "env_file"):
                if isinstance(item.get(key), str):
                    item[key] = _seq(item.location_of(key), [item[key]])
    return value


def canonicalize(tree: Any) -> Any:
    """Turn one file's short syntax into long syntax, in place; returns the tree."""
    if not isinstance(tree, MapNode):
        return tree
    problems = _Problems()
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


# --- path resolution --------------------------------------------------------------------

_URL_PREFIXES = ("http://", "https://", "git://", "ssh://", "git@", "github.com/")
_CONTEXT_SCHEMES = re.compile(
    r"^[a-z][a-z0-9+.-]*://|^docker-image://|^service:|^oci-layout://", re.I
)


def _expand_home(path: str, home: str | None) -> str:
    if home and (path == "~" or path.startswith("~/")):
        return home + path[1:]
    return path


def _is_windows_absolute(path: str) -> bool:
    """``C:\\data``, ``C:/data`` or ``\\\\server\\share``: left alone, as docker compose does."""
    if path.startswith("\\\\"):
        return True
    return len(path) >= 3 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/"


def _absolute(path: str, working_dir: Path, home: str | None) -> str:
    path = _expand_home(path, home)
    if os.path.isabs(path) or _is_windows_absolute(path):
        return path
    return posixpath.normpath(posixpath.join(str(working_dir), path))


def _is_remote_context(context: str) -> bool:
    return context.startswith(_URL_PREFIXES) or bool(_CONTEXT_SCHEMES.match(context))


def _resolve_service(service: MapNode, working_dir: Path, home: str | None) -> None:
    build = service.get("build")
    if isinstance(build, MapNode):
        context = build.get("context")
        if isinstance(context, str) and not _is_remote_context(context):
            build["context"] = _absolute(context, working_dir, home)
        contexts = build.get("additional_contexts")
        if isinstance(contexts, MapNode):
            for key, value in contexts.items():
                if isinstance(value, str) and not _is_remote_context(value):
                    contexts[key] = _absolute(value, working_dir, home)
    volumes = service.get("volumes")
    if isinstance(volumes, SeqNode):
        for volume in volumes:
            if isinstance(volume, MapNode) and volume.get("type") == "bind":
                source = volume.get("source")
                if isinstance(source, str) and source:
                    volume["source"] = _absolute(source, working_dir, home)
    env_files = service.get("env_file")
    if isinstance(env_files, SeqNode):
        for entry in env_files:
            if isinstance(entry, MapNode) and isinstance(entry.get("path"), str):
                entry["path"] = _absolute(entry["path"], working_dir, home)
    label_files = service.get("label_file")
    if isinstance(label_files, SeqNode):
        for index, entry in enumerate(label_files):
            if isinstance(entry, str):
                label_files[index] = _absolute(entry, working_dir, home)
    extends = service.get("extends")
    if isinstance(extends, MapNode) and isinstance(extends.get("file"), str):
        extends["file"] = _absolute(extends["file"], working_dir, home)
    develop = service.get("develop")
    if isinstance(develop, MapNode) and isinstance(develop.get("watch"), SeqNode):
        for trigger in develop["watch"]:
            if isinstance(trigger, MapNode) and isinstance(trigger.get("path"), str):
                trigger["path"] = _absolute(trigger["path"], working_dir, home)


def resolve_paths(tree: Any, working_dir: Path, home: str | None) -> Any:
    """Make the relative paths of one canonical file absolute, in place; returns the tree."""
    if not isinstance(tree, MapNode):
        return tree
    services = tree.get("services")
    if isinstance(services, MapNode):
        for service in services.values():
            if isinstance(service, MapNode):
                _resolve_service(service, working_dir, home)
    for section in ("secrets", "configs"):
        resources = tree.get(section)
        if isinstance(resources, MapNode):
            for resource in resources.values():
                if isinstance(resource, MapNode) and isinstance(resource.get("file"), str):
                    resource["file"] = _absolute(resource["file"], working_dir, home)
    return tree
