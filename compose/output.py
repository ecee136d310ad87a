"""`pycompose config` output: the project as docker compose prints it.

Contract (called by compose.cli):

    config_dict(project) -> dict
        Plain JSON-able data equal to `docker compose config --format json`
        (key names, null vs absent, published ports as strings, sizes as byte
        strings, Go durations, "$" escaped as "$$" unless interpolation is off, ...).
"""

from __future__ import annotations

from typing import Any

from compose.model import Project


def config_dict(project: Project) -> dict[str, Any]:
    return project.model_dump(mode="json", exclude_none=True)
