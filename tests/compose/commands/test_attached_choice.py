"""Which services attached ``up`` shows, and the flags it refuses, as docker compose decides."""

from __future__ import annotations

import pytest
from command_harness import Harness

from compose.commands.lifecycle import _attached_services, _check_up_flags
from compose.errors import PlanError

pytestmark = pytest.mark.anyio

FILES = {
    "compose.yaml": """
services:
  web:
    image: web:1
    depends_on: [api]
  api:
    image: web:1
    depends_on: [db]
  db:
    image: db:1
  sidecar:
    image: web:1
    attach: false
"""
}


async def _attached(harness: Harness, *argv: str) -> set[str]:
    args = harness.parse("up", *argv)
    return _attached_services(harness.session(FILES).desired, args)


async def test_all_but_attach_false_by_default(harness: Harness) -> None:
    assert await _attached(harness) == {"web", "api", "db"}


async def test_all_when_every_one_says_attach_false(harness: Harness) -> None:
    assert await _attached(harness, "sidecar") == {"sidecar"}


async def test_named_services_and_their_dependencies_on_request(harness: Harness) -> None:
    assert await _attached(harness, "web") == {"web"}
    assert await _attached(harness, "--attach-dependencies", "web") == {"web", "api", "db"}


async def test_attach_and_no_attach(harness: Harness) -> None:
    assert await _attached(harness, "--attach", "sidecar", "--attach", "db") == {"sidecar", "db"}
    assert await _attached(harness, "--no-attach", "db") == {"web", "api"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-d", "--exit-code-from", "web"], "--detach cannot be combined"),
        (["-d", "--attach", "web"], "--detach cannot be combined"),
        (["--exit-code-from", "nope"], "no such service: nope"),
        (["--no-attach", "nope"], "no such service: nope"),
        (
            ["--abort-on-container-exit", "--abort-on-container-failure"],
            "cannot be combined with --abort-on-container-failure",
        ),
    ],
)
async def test_bad_combinations_are_refused(
    harness: Harness, argv: list[str], message: str
) -> None:
    args = harness.parse("up", *argv)
    with pytest.raises(PlanError, match=message):
        _check_up_flags(harness.session(FILES).desired, args)
