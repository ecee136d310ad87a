"""docker compose's cells, checked against what docker compose 2.40.3 and docker/cli print."""

from __future__ import annotations

import io

import pytest

from compose.commands.docker_format import (
    Published,
    displayable_ports,
    ellipsis,
    go_quote,
    tab_table,
)
from engine.api.units import human_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "Less than a second"),
        (1.9, "1 second"),
        (59.9, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5399, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (14 * 86400, "2 weeks"),
        (60 * 86400, "2 months"),
        (730 * 86400, "2 years"),
        (-5, "Less than a second"),
    ],
)
def test_human_duration_is_go_units(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_commands_are_cut_to_20_columns_and_go_quoted() -> None:
    assert ellipsis("sh -c 'sleep 1000000000 && echo'", 20) == "sh -c 'sleep 100000…"
    assert ellipsis("x" * 20, 20) == "x" * 20
    assert ellipsis("日本語の長いコマンドライン", 10) == "日本語の…"  # 2 columns each
    assert go_quote('echo "a\\b"\n\x01é') == '"echo \\"a\\\\b\\"\\n\\x01é"'
    assert go_quote("\u2028") == '"\\u2028"'


def test_ports_as_docker_cli_displays_them() -> None:
    ports = [
        Published("0.0.0.0", 8001, 8001, "tcp"),
        Published("0.0.0.0", 8000, 8000, "tcp"),
        Published("::", 8000, 8000, "tcp"),
        Published("127.0.0.1", 80, 18081, "tcp"),
        Published("::", 9999, 49153, "udp"),
        Published("", 53, 0, "udp"),
        Published("", 54, 0, "udp"),
        Published("", 60, 0, "udp"),
    ]
    assert displayable_ports(ports) == (
        "53-54/udp, 60/udp, 0.0.0.0:8000-8001->8000-8001/tcp, :::8000->8000/tcp, "
        "127.0.0.1:18081->80/tcp, [::]:49153->9999/udp"
    )
    assert displayable_ports([]) == ""


def test_the_table_is_docker_clis_tabwriter() -> None:
    out = io.StringIO()
    tab_table([("NAME", "IMAGE", "PORTS"), ("a-very-long-name", "x", "")], out)
    assert out.getvalue() == (
        "NAME               IMAGE     PORTS\n"  # 16 + 3; at least 10
        "a-very-long-name   x         \n"  # the cell before an empty last one: padded
    )
