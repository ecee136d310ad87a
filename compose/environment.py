"""A service's ``env_file`` and ``label_file`` read into ``environment`` and ``labels``.

Precedence, as docker compose: the env files in order (a later file wins), then the
service's own ``environment``; an entry without a value (``- FOO``) takes the value
the project environment (shell, then .env) has for it, or stays unset. Values in env
files are expanded with the project environment first, then the file's earlier lines;
``format: raw`` files are taken as written. Build ``args`` without a value are
resolved the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from compose.dotenv import parse_dotenv
from compose.errors import Issue, Location, ProjectError
from compose.source import MapNode, SeqNode


class EnvFiles(Protocol):
    """How this phase reads files (the loader's reader, with its error messages)."""

    def read(self, path: Path, what: str, location: Location | None = None) -> str: ...

    def is_file(self, path: Path) -> bool: ...


def resolve_service_environment(
    tree: MapNode, environment: Mapping[str, str], files: EnvFiles
) -> None:
    """env_file/label_file into environment/labels; values left unset from ``environment``."""
    services = tree.get("services")
    if not isinstance(services, MapNode):
        return
    for name, service in services.items():
        if not isinstance(service, MapNode):
            continue
        if "env_file" in service or "environment" in service:
            resolve_environment(name, service, environment, files)
        if "label_file" in service:
            resolve_labels(service, files)
        build = service.get("build")
        if isinstance(build, MapNode) and isinstance(build.get("args"), MapNode):
            args = build["args"]
            for key, value in list(args.items()):
                if value is None and key in environment:
                    args[key] = environment[key]


def resolve_environment(
    name: str, service: MapNode, project_environment: Mapping[str, str], files: EnvFiles
) -> None:
    """A service's env_file entries, then its environment, into one mapping."""
    env_files = service.get("env_file")
    environment = service.get("environment")
    resolved = MapNode(service.location_of("environment") or service.location_of("env_file"))
    if isinstance(env_files, SeqNode):
        for index, entry in enumerate(env_files):
            location = env_files.location_of(index)
            if not isinstance(entry, MapNode) or not isinstance(entry.get("path"), str):
                continue
            env_path = Path(entry["path"])
            required = entry.get("required", True) is not False
            if not files.is_file(env_path):
                if required:
                    raise ProjectError(
                        [
                            Issue(
                                f"env file {env_path} not found",
                                location,
                                ("services", name, "env_file", index),
                                hint="create it, or mark it `required: false`",
                            )
                        ]
                    )
                continue
            text = files.read(env_path, "env file", location)
            raw = entry.get("format") == "raw"
            env = project_environment

            def lookup(
                key: str, resolved: MapNode = resolved, env: Mapping[str, str] = env
            ) -> str | None:
                value = env.get(key)
                if value is not None:
                    return value
                found = resolved.get(key)
                return found if isinstance(found, str) else None

            values = _parse_raw_env(text) if raw else parse_dotenv(text, str(env_path), lookup)
            for key, value in values.items():
                resolved.set(key, value, location, location)
    if isinstance(environment, MapNode):
        for key, value in environment.items():
            resolved.set(key, value, environment.key_locs.get(key), environment.value_locs.get(key))
    elif environment is not None:
        # not a mapping: leave it for validation to report
        return
    for key, value in list(resolved.items()):
        if value is None and key in project_environment:
            resolved[key] = project_environment[key]
    service.pop("env_file", None)
    if resolved or "environment" in service:
        service["environment"] = resolved
        if resolved.loc is not None:
            service.value_locs["environment"] = resolved.loc


def resolve_labels(service: MapNode, files: EnvFiles) -> None:
    """A service's label_file entries, then its labels, into one mapping."""
    label_files = service.get("label_file")
    labels = MapNode(service.location_of("labels") or service.location_of("label_file"))
    files_list = [label_files] if isinstance(label_files, str) else list(label_files or [])
    for index, label_path in enumerate(files_list):
        location = (
            label_files.location_of(index)
            if isinstance(label_files, SeqNode)
            else service.location_of("label_file")
        )
        text = files.read(Path(str(label_path)), "label file", location)
        for key, value in parse_dotenv(text, str(label_path), None, interpolate=False).items():
            labels.set(key, value, location, location)
    existing = service.get("labels")
    if isinstance(existing, MapNode):
        for key, value in existing.items():
            labels.set(key, value, existing.key_locs.get(key), existing.value_locs.get(key))
    service.pop("label_file", None)
    service["labels"] = labels


def _parse_raw_env(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value
    return values


def null_environments(tree: MapNode) -> list[Issue]:
    """``environment: null`` is refused by docker compose ("must be a mapping")."""
    issues = []
    services = tree.get("services")
    if isinstance(services, MapNode):
        for name, service in services.items():
            if (
                isinstance(service, MapNode)
                and "environment" in service
                and service["environment"] is None
            ):
                issues.append(
                    Issue(
                        "expected a mapping or a list of KEY=VALUE strings, got null",
                        service.location_of("environment"),
                        ("services", name, "environment"),
                        hint="remove the key, or give it values",
                    )
                )
    return issues
