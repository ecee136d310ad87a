"""pycompose's stack-file layer: Compose files and environment in, a validated Project out.

The load pipeline, one function per phase (see :mod:`compose.load`):

1. options      which files, project directory, env files and profiles
2. parse        YAML to trees that keep file:line:column          (compose.source)
3. interpolate  ${VAR} in values, per file                          (compose.interpolate)
4. canonical    short syntax to long syntax, paths resolved         (compose.canonical)
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
    YamlSyntaxError,
)
from compose.graph import ServiceGraph, build_graph
from compose.load import FileSystem, LoadOptions, LoadResult, load_from_text, load_project
from compose.model import Project

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
    "YamlSyntaxError",
    "build_graph",
    "load_from_text",
    "load_project",
]
