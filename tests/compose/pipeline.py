"""The model half of the pipeline in one call, for tests that need no disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose import canonical, normalize, output, paths
from compose.model import Project, validate_project
from compose.source import parse

WORKING_DIR = Path("/project")


def project_of(text: str, *, name: str = "case", all_resources: bool = False) -> Project:
    """parse -> canonicalize -> resolve_paths -> normalize -> validate one file."""
    tree = canonical.canonicalize(parse(text, "compose.yaml"))
    tree = paths.resolve_paths(tree, WORKING_DIR, "/home/user")
    tree = normalize.normalize(tree, name, all_resources)
    return validate_project(tree)


def config_of(text: str, **options: Any) -> dict[str, Any]:
    """What `config --format json` prints for one stack file."""
    return output.config_dict(project_of(text, **options))


def service_of(text: str, name: str = "app") -> dict[str, Any]:
    return config_of(text)["services"][name]
