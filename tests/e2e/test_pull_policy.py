"""Timed `pull_policy` (`daily`, `every_<duration>`) against a real registry: the engine's
record of the last pull (image inspect's ``Metadata.LastTagTime``) decides, on pycompose's
engine and on dockerd alike."""

from __future__ import annotations

import textwrap
import time

import pytest

from compose.pull_policy import parse_last_tag_time
from tests.e2e.cli_helpers import EngineAPI
from tests.e2e.conftest import IMAGE, Engine, Stack
from tests.e2e.test_cli_registry import api, project, registry  # noqa: F401 - fixtures

pytestmark = [pytest.mark.root, pytest.mark.slow]


def _build(stack: Stack, api: EngineAPI, reference: str, marker: str) -> str:  # noqa: F811
    """Build an image of its own under ``reference``; return its ID."""
    app = stack.directory / "app"
    app.mkdir(exist_ok=True)
    (app / "marker.txt").write_text(f"{marker}\n")
    (app / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY marker.txt /marker.txt\n")
    stack.write(f"services:\n  app:\n    build: ./app\n    image: {reference}\n")
    stack.pycompose("build")
    built = api.image(reference)
    assert built is not None
    return str(built["Id"])


def _use(stack: Stack, reference: str, policy: str) -> None:
    stack.write(
        textwrap.dedent(f"""
        services:
          app:
            image: {reference}
            pull_policy: {policy}
            command: [cat, /marker.txt]
    """)
    )


def test_every_pulls_again_after_its_interval_and_daily_not_within_the_day(
    engine: Engine,
    project: Stack,  # noqa: F811
    api: EngineAPI,  # noqa: F811
    registry: str,  # noqa: F811
) -> None:
    reference = f"{registry}/e2e/timed-{project.name}:v1"
    try:
        old = _build(project, api, reference, "old")
        new = _build(project, api, reference, "new")
        project.pycompose("push")  # the registry has "new"
        project.pycompose("image", "tag", old, reference)  # the engine "old", tagged now
        tagged = api.image(reference)
        assert tagged is not None and tagged["Id"] == old
        assert parse_last_tag_time(tagged["Metadata"]["LastTagTime"]) is not None

        _use(project, reference, "daily")  # tagged a moment ago: not due
        assert "pull image" not in project.pycompose("up", "--dry-run").stdout
        assert project.pycompose("run", "--rm", "app").stdout == "old\n"

        time.sleep(1.5)
        _use(project, reference, "every_1s")
        plan = project.pycompose("up", "--dry-run").stdout
        assert f"pull image {reference} (pull policy every_1s: last pulled " in plan, plan
        ran = project.pycompose("run", "--rm", "app")
        assert ran.stdout == "new\n", ran
        pulled = api.image(reference)
        assert pulled is not None and pulled["Id"] == new
        before = parse_last_tag_time(tagged["Metadata"]["LastTagTime"])
        after = parse_last_tag_time(pulled["Metadata"]["LastTagTime"])
        if engine.name == "pycompose":
            # ours records the pull; dockerd 20.10 sets LastTagTime on tag and build only
            # (a fresh pull reads Go's zero time), so there the build's time stays
            assert before is not None and after is not None and after > before

        _use(project, reference, "daily")  # the engine says it was just pulled
        assert "pull image" not in project.pycompose("up", "--dry-run").stdout
    finally:
        api.remove_image(reference)
        for image in (locals().get("old"), locals().get("new")):
            if image and api.image(image) is not None:
                api.remove_image(image)
