"""Extends: a service built on another one, from the same file or another, merged over it.

Cycles are errors; the base file is parsed, interpolated and canonicalized like the
one that names it (cached per load), and the service's own keys win.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compose import paths
from compose.errors import (
    Issue,
    ModelError,
    ProjectError,
    UndefinedReferenceError,
    did_you_mean,
)
from compose.merge import enforce_unicity, merge_values
from compose.source import MapNode

if TYPE_CHECKING:
    from compose.load import Loader


def extend_service(
    loader: Loader,
    tree: MapNode,
    path: Path,
    name: str,
    working_dir: Path,
    environment: Mapping[str, str],
    cache: dict[Path, MapNode],
    seen: tuple[tuple[Path, str], ...],
) -> Any:
    """Service ``name`` of ``tree`` with what it extends merged under it (``seen``: the chain)."""
    services = tree["services"]
    service = services.get(name)
    if not isinstance(service, MapNode) or "extends" not in service:
        return service
    if (path, name) in seen:
        cycle = " -> ".join(f"{p.name}:{s}" for p, s in (*seen, (path, name)))
        raise ModelError(
            [
                Issue(
                    f"extends loop: {cycle}",
                    service.location_of("extends"),
                    ("services", name, "extends"),
                    hint="a service cannot extend itself, directly or through others",
                )
            ]
        )
    extends = service["extends"]
    location = service.location_of("extends")
    base_name: Any
    base_file: Any
    if isinstance(extends, str):
        base_name, base_file = extends, None
    elif isinstance(extends, MapNode):
        base_name, base_file = extends.get("service"), extends.get("file")
        if not isinstance(base_name, str) or not base_name:
            raise ModelError(
                [
                    Issue(
                        "extends needs a `service` to extend",
                        extends.loc,
                        ("services", name, "extends", "service"),
                        hint="add `service: <name of the base service>`",
                    )
                ]
            )
    else:
        raise ModelError(
            [
                Issue(
                    "extends must be a service name or a mapping with service (and file)",
                    location,
                    ("services", name, "extends"),
                )
            ]
        )
    seen = (*seen, (path, name))
    if base_file is None:
        base_path, base_tree, base_dir = path, tree, working_dir
    else:
        base_path = loader.absolute(str(base_file), path.parent)
        if base_path not in cache:
            if not loader.fs.is_file(base_path):
                raise ProjectError(
                    [
                        Issue(
                            f"extends: file {base_path} not found",
                            location,
                            ("services", name, "extends", "file"),
                        )
                    ]
                )
            raw = loader.parse_file(base_path, location)
            loader.interpolate(raw, environment)
            raw = loader.canonicalize(raw)
            if loader.options.resolve_paths:
                raw = paths.resolve_paths(raw, base_path.parent, loader.home)
            cache[base_path] = enforce_unicity(raw)
        base_tree, base_dir = cache[base_path], base_path.parent
    base_services = base_tree.get("services")
    if isinstance(base_services, MapNode) and base_services.get(base_name, {}) is None:
        return service  # docker compose keeps a service extending a null one as written
    if not isinstance(base_services, MapNode) or base_name not in base_services:
        where = "" if base_file is None else f" in {base_path}"
        known = sorted(base_services) if isinstance(base_services, MapNode) else []
        raise UndefinedReferenceError(
            [
                Issue(
                    f"cannot extend service {base_name!r}: no such service{where}",
                    location,
                    ("services", name, "extends"),
                    hint=did_you_mean(str(base_name), known),
                )
            ]
        )
    base = extend_service(
        loader, base_tree, base_path, base_name, base_dir, environment, cache, seen
    )
    base_services[base_name] = base
    own = service.copy_node()
    own.pop("extends", None)
    if not isinstance(base, MapNode):
        return own
    base = base.copy_node()
    base.pop("extends", None)
    return merge_values(base, own, ("services", name))
