"""pycompose's client: Compose files and environment in, a validated Project out, and from
it a plan that compose.apply runs against the engine through engine.api (the layers are in
docs/architecture.md). This package's names are the load pipeline's.

The load pipeline, one function per phase (see :mod:`compose.load`):

1. options      which files, project directory, env files and profiles
2. parse        YAML to trees that keep file:line:column          (compose.source)
3. interpolate  ${VAR} in values, per file                          (compose.interpolate)
4. canonical    short syntax to long syntax, paths resolved  (compose.canonical, .paths)
5. extends      services built on other services, across files
6. include      other projects imported whole, with their own env
7. merge        override files on the first one                     (compose.merge)
8. environment  env_file and label_file into environment and labels
9. profiles     only the enabled services and what they need
10. normalize   the defaults docker compose adds                    (compose.normalize)
11. validate    pydantic models, every issue with its location      (compose.model)
12. references  undefined services/networks/volumes, cycles         (compose.graph)

Typical use::

    from compose import LoadOptions, load_project, build_graph
    result = load_project(LoadOptions(cwd=Path.cwd(), environment=os.environ), files)
    graph = build_graph(result.project)
"""

from __future__ import annotations

# not typing.TYPE_CHECKING: importing typing costs the console script (compose.launch) time
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from compose.errors import (
        ComposeError,
        DependencyCycleError,
        InterpolationError,
        Issue,
        Location,
        ModelError,
        PlanError,
        ProjectError,
        PycomposeError,
        UndefinedReferenceError,
        UnsupportedKeyError,
        YamlSyntaxError,
    )
    from compose.graph import ServiceGraph, build_graph
    from compose.load import FileSystem, LoadOptions, LoadResult, load_project
    from compose.load_text import load_from_text
    from compose.model import Project

# Everything is imported on first use: the console script (compose.launch) lives in this
# package and must not pay for the errors, the loader, pydantic models or networkx.
_LAZY = {
    "ComposeError": "compose.errors",
    "DependencyCycleError": "compose.errors",
    "InterpolationError": "compose.errors",
    "Issue": "compose.errors",
    "Location": "compose.errors",
    "ModelError": "compose.errors",
    "PlanError": "compose.errors",
    "ProjectError": "compose.errors",
    "PycomposeError": "compose.errors",
    "UndefinedReferenceError": "compose.errors",
    "UnsupportedKeyError": "compose.errors",
    "YamlSyntaxError": "compose.errors",
    "ServiceGraph": "compose.graph",
    "build_graph": "compose.graph",
    "FileSystem": "compose.load",
    "LoadOptions": "compose.load",
    "LoadResult": "compose.load",
    "load_from_text": "compose.load_text",
    "load_project": "compose.load",
    "Project": "compose.model",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'compose' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ComposeError",
    "DependencyCycleError",
    "FileSystem",
    "InterpolationError",
    "Issue",
    "LoadOptions",
    "LoadResult",
    "Location",
    "ModelError",
    "PlanError",
    "Project",
    "ProjectError",
    "PycomposeError",
    "ServiceGraph",
    "UndefinedReferenceError",
    "UnsupportedKeyError",
    "YamlSyntaxError",
    "build_graph",
    "load_from_text",
    "load_project",
]
