"""Relative paths of one file's canonical tree made absolute, as docker compose does.

resolve_paths(tree, working_dir, home) -> tree
    Relative paths of one file's canonical tree made absolute against
    ``working_dir`` (build.context unless a URL, bind-mount sources, env_file,
    label_file, secrets/configs ``file``, additional_contexts, develop.watch
    paths; ``~`` expanded with ``home``). Each file resolves against its own
    directory, so this runs per file, before the files are merged.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from compose.source import MapNode, SeqNode

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
    if posixpath.isabs(path) or _is_windows_absolute(path):
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
    volumes = tree.get("volumes")
    if isinstance(volumes, MapNode):
        for volume in volumes.values():
            # a bind-like local volume names a host directory: compose-go resolves it when
            # the driver is "local" in so many words and ``o`` is exactly "bind"
            options = volume.get("driver_opts") if isinstance(volume, MapNode) else None
            if (
                isinstance(options, MapNode)
                and volume.get("driver") == "local"
                and options.get("o") == "bind"
                and isinstance(options.get("device"), str)
            ):
                options["device"] = _absolute(options["device"], working_dir, home)
    return tree
