"""The service-level ``x-pycompose`` extension: validated with locations, read as settings,
carried to the engine as a label (pure: no engine)."""

from __future__ import annotations

import pytest

from compose import pycompose_ext
from compose.errors import ComposeError
from compose.load_text import load_from_text


def _issues(text: str) -> list[str]:
    with pytest.raises(ComposeError) as error:
        load_from_text(text)
    return [f"{issue.location}: {issue.message}" for issue in error.value.issues]


def test_settings_are_read_and_defaults_hold() -> None:
    result = load_from_text(
        "services:\n"
        "  web:\n"
        "    image: busybox\n"
        "    x-pycompose:\n"
        "      on_unhealthy: restart\n"
        "      wait_for:\n"
        "        - {project: infra, service: db, condition: service_healthy}\n"
        "        - {project: infra, service: cache}\n"
        "  plain:\n"
        "    image: busybox\n"
    )
    services = result.project.services
    settings = pycompose_ext.settings_of(services["web"].extensions)
    assert settings.on_unhealthy == "restart"
    assert settings.wait_for == (
        pycompose_ext.WaitFor("infra", "db", "service_healthy"),
        pycompose_ext.WaitFor("infra", "cache", "service_started"),
    )
    assert pycompose_ext.settings_of(services["plain"].extensions) == pycompose_ext.NONE


def test_a_bad_value_and_an_unknown_key_are_refused_at_their_place() -> None:
    issues = _issues(
        "services:\n"
        "  web:\n"
        "    image: busybox\n"
        "    x-pycompose:\n"
        "      on_unhealthy: reboot\n"
        "      on_unhealty: stop\n"
    )
    assert issues[0].endswith(
        "compose.yaml:5:21: invalid value 'reboot': must be one of none, restart, stop"
    )
    assert issues[1].endswith("compose.yaml:6:7: unknown key on_unhealty")


def test_wait_for_entries_are_checked() -> None:
    issues = _issues(
        "services:\n"
        "  web:\n"
        "    image: busybox\n"
        "    x-pycompose:\n"
        "      wait_for:\n"
        "        - {project: Infra, service: db, condition: service_ready}\n"
        "        - {service: db, after: 3}\n"
        "        - db\n"
    )
    joined = "\n".join(issues)
    assert "compose.yaml:6:21: invalid project name 'Infra'" in joined
    assert "invalid condition 'service_ready'" in joined
    assert "compose.yaml:7:25: unknown key after" in joined
    assert "project is required" in joined
    assert "compose.yaml:8:11: must be a mapping" in joined


def test_the_label_carries_on_unhealthy_and_a_change_recreates() -> None:
    from compose.convert import container_labels
    from compose.labels import service_hash

    result = load_from_text(
        "services:\n  web:\n    image: busybox\n    x-pycompose: {on_unhealthy: stop}\n"
    )
    service = result.project.services["web"]
    made = container_labels(
        "p",
        "web",
        service,
        {},
        1,
        image_id="",
        working_dir="",
        config_files=(),
        oneoff=False,
        replace=None,
    )
    assert made["io.pycompose.on-unhealthy"] == "stop"
    assert service_hash({}) == made["com.docker.compose.config-hash"]


def test_wait_for_shows_in_the_plan_of_a_start() -> None:
    from compose.plan import WaitCondition

    shown = WaitCondition("db", "service_healthy", project="infra").render()
    assert shown == "infra/db healthy"
    assert (
        WaitCondition("db", "service_completed_successfully").render()
        == "db completed successfully"
    )
