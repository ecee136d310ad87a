"""compose.load: profiles select the services.

Each project is a dict of path -> text; nothing touches the real disk or the
process environment.
"""

from __future__ import annotations

from typing import Any

import pytest

from compose.errors import UndefinedReferenceError
from tests.compose.load_helpers import Loader

# --- profiles --------------------------------------------------------------------------------

PROFILED = {
    "/p/compose.yaml": """\
services:
  web:
    image: w
    depends_on: [api]
  api:
    image: a
  debug:
    image: d
    profiles: [debug]
    depends_on: [tools]
  tools:
    image: t
    profiles: [debug, ops]
  metrics:
    image: m
    profiles: [ops]
"""
}


ALL_PROFILED = ["api", "debug", "metrics", "tools", "web"]
OPS = ["api", "metrics", "tools", "web"]


@pytest.mark.parametrize(
    ("options", "services"),
    [
        ({}, ["api", "web"]),
        ({"profiles": ["debug"]}, ["api", "debug", "tools", "web"]),
        ({"profiles": ["ops"]}, OPS),
        ({"profiles": ["*"]}, ALL_PROFILED),
        ({"environment": {"COMPOSE_PROFILES": "ops, debug"}}, ALL_PROFILED),
        ({"profiles": ["ops"], "environment": {"COMPOSE_PROFILES": "debug"}}, OPS),
        ({"services": ["debug"]}, ["debug", "tools"]),
        ({"services": ["web"]}, ["api", "web"]),
    ],
    ids=["none", "debug", "ops", "all", "COMPOSE_PROFILES", "flag-wins", "named", "named-deps"],
)  # fmt: skip
def test_only_services_without_profiles_or_with_an_active_one_are_loaded(
    load: Loader, options: dict[str, Any], services: list[str]
) -> None:
    assert sorted(load(PROFILED, cwd="/p", **options).project.services) == services


def test_a_service_named_that_does_not_exist_is_an_error_with_a_suggestion(
    load: Loader,
) -> None:
    with pytest.raises(UndefinedReferenceError) as error:
        load(PROFILED, cwd="/p", services=["wbe"])
    (issue,) = error.value.issues
    assert (issue.message, issue.hint) == ("no such service: wbe", "did you mean 'web'?")


def test_depending_on_a_service_whose_profile_is_off_is_an_error(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    image: w\n    depends_on: [db]\n"
        "  db:\n    image: d\n    profiles: [x]\n"
    }
    with pytest.raises(UndefinedReferenceError, match='depends on undefined service "db"'):
        load(disk, cwd="/p")


def test_an_optional_dependency_on_a_disabled_service_is_dropped(load: Loader) -> None:
    disk = {
        "/p/compose.yaml": "services:\n  web:\n    image: w\n    depends_on:\n"
        "      db: {condition: service_started, required: false}\n"
        "  db:\n    image: d\n    profiles: [x]\n"
    }
    assert sorted(load(disk, cwd="/p").project.services) == ["web"]
