"""Include: other projects imported whole into this one, each with its own environment.

An included project is loaded from its own directory with its own env files; its
resources are added to the project, and a different definition of a name it shares
with the project is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from compose.environment import resolve_service_environment
from compose.errors import (
    Issue,
    Location,
    ModelError,
    ProjectError,
)
from compose.merge import merge_trees
from compose.source import MapNode, SeqNode

if TYPE_CHECKING:
    from compose.load import Loader


def apply_include(
    loader: Loader, tree: MapNode, path: Path, working_dir: Path, chain: tuple[Path, ...]
) -> MapNode:
    """``tree`` (the file at ``path``) with the projects its ``include:`` names added."""
    includes = tree.get("include")
    tree = tree.copy_node()
    tree.pop("include", None)
    if not isinstance(includes, SeqNode):
        raise ModelError(
            [
                Issue(
                    "include must be a list of files or of mappings with path:",
                    tree.location_of("include") if isinstance(tree, MapNode) else None,
                    ("include",),
                    hint="write `include:` followed by `- path/to/compose.yaml` items",
                )
            ]
        )
    for index, entry in enumerate(includes):
        location = includes.location_of(index)
        if isinstance(entry, str):
            entry = MapNode(location)
            entry["path"] = includes[index]
        if not isinstance(entry, MapNode):
            continue
        paths = entry.get("path")
        paths_list = [paths] if isinstance(paths, str) else list(paths or [])
        if not paths_list:
            continue
        include_files = [loader.absolute(str(p), working_dir) for p in paths_list]
        for include_file in include_files:
            if include_file in chain:
                cycle = "\n".join(f" include {p}" for p in (*chain, include_file))
                raise ProjectError(
                    [Issue(f"include cycle detected:\n{cycle}", location, ("include", index))]
                )
        project_dir_value = entry.get("project_directory")
        include_dir = (
            loader.absolute(str(project_dir_value), working_dir)
            if project_dir_value
            else include_files[0].parent
        )
        # the included project's own environment: the shell, then its env files
        environment = dict(loader.options.environment)
        env_files_value = entry.get("env_file")
        if env_files_value:
            env_list = (
                [env_files_value] if isinstance(env_files_value, str) else list(env_files_value)
            )
            env_paths = [loader.absolute(str(p), working_dir) for p in env_list]
            required = True
        else:
            env_paths, required = [include_dir / ".env"], False
        collected, _sources = loader.read_env_files(env_paths, environment, required=required)
        for key, value in collected.items():
            environment.setdefault(key, value)
        for key in ("COMPOSE_PROJECT_NAME",):
            if key in loader.environment:
                environment.setdefault(key, loader.environment[key])
        included: MapNode | None = None
        for include_file in include_files:
            if not loader.fs.is_file(include_file):
                raise ProjectError(
                    [
                        Issue(
                            f"included file {include_file} not found",
                            location,
                            ("include", index),
                        )
                    ]
                )
            raw = loader.parse_file(include_file, location)
            processed = loader.process_file(
                raw, include_file, include_dir, environment, (*chain, include_file)
            )
            included = processed if included is None else merge_trees(included, processed)
        if included is None:
            continue
        resolve_service_environment(included, environment, loader)
        tree = _import_resources(tree, included, location)
    return tree


def _import_resources(tree: MapNode, included: MapNode, location: Location | None) -> MapNode:
    """Add an included project's resources; a different definition of the same name is an error."""
    issues: list[Issue] = []
    for section in ("services", "networks", "volumes", "secrets", "configs", "models"):
        imported = included.get(section)
        if not isinstance(imported, MapNode):
            continue
        own = tree.get(section)
        if not isinstance(own, MapNode):
            own = MapNode(imported.loc)
            tree.set(section, own, included.key_locs.get(section), imported.loc)
        for name, value in imported.items():
            if name in own:
                if _plain(own[name]) != _plain(value):
                    issues.append(
                        Issue(
                            "conflicts with an imported resource of the same name",
                            own.location_of(name),
                            (section, name),
                            hint=f"{_file_of(value)} defines it differently; rename one of them",
                        )
                    )
                continue
            own.set(name, value, imported.key_locs.get(name), imported.value_locs.get(name))
    if issues:
        raise ProjectError(issues)
    return tree


def _file_of(value: Any) -> str:
    location = getattr(value, "loc", None)
    return f"the included file {location.file}" if location else "an included file"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
