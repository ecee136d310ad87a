"""``ps`` reads the engine's list as plain JSON: the checks on each element, the rows it
prints, and when the quick path gives way to the full client's."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from compose.arguments import build_parser
from compose.commands.ps_view import list_query, quick_ps, show_ps, summary
from compose.commands.terminal import Terminal
from compose.errors import PlanError
from compose.load_text import load_from_text
from engine.api.errors import EngineError
from tests.answering import serve_once

NOW = 1_700_000_000


def _container(n: int, service: str, **fields: Any) -> dict[str, Any]:
    return {
        "Id": f"{n:064x}",
        "Names": [f"/demo-{service}-{n}"],
        "Image": "busybox",
        "Command": "sleep 1000000000 and a command longer than the column",
        "Created": NOW,
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 53, "Type": "udp"},
        ],
        "Labels": {"com.docker.compose.project": "demo", "com.docker.compose.service": service},
        "State": "running",
        "Status": "Up 2 minutes (healthy)",
        **fields,
    }


def _ps(data: list[Any], *argv: str, declared: tuple[str, ...] = ("web", "db")) -> str:
    args = build_parser().parse_args(["ps", *argv])
    out = io.StringIO()
    assert show_ps(data, "demo", set(declared), args, out) == 0
    return out.getvalue()


def test_the_table_filters_sorts_and_truncates() -> None:
    data = [
        _container(2, "web"),
        _container(1, "db", State="exited", Status="Exited (3) 1 second ago", Ports=None),
        _container(3, "gone"),  # an orphan
        _container(
            4,
            "web",
            Labels={"com.docker.compose.service": "web", "com.docker.compose.oneoff": "True"},
        ),
    ]
    lines = _ps(data, "--orphans=false").splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert [line.split()[0] for line in lines[1:]] == ["demo-db-1", "demo-web-2"]
    assert '"sleep 1000000000 an…"' in lines[2]  # 20 columns, as docker compose cuts
    assert lines[2].endswith("   53/udp, 0.0.0.0:8080->80/tcp")
    assert lines[1].endswith("1 second ago   ")  # docker's tabwriter pads all but the last cell
    assert _ps(data, "-q", "--orphans=false").split() == [f"{1:064x}", f"{2:064x}"]
    assert _ps(data, "--services").split() == ["db", "gone", "web"]  # orphans: by default
    assert _ps(data, "--services", "web").split() == ["web"]
    assert _ps(data, "--status", "exited", "-q", "--orphans=false").split() == [f"{1:064x}"]
    assert _ps(data, "--filter", "status=running", "-q", "--orphans=false").split() == [f"{2:064x}"]
    assert _ps(data, "-a", "-q", "--orphans=false").split() == [
        f"{1:064x}",
        f"{2:064x}",
        f"{4:064x}",
    ]
    assert "and a command longer than the column" in _ps(data, "--no-trunc")


def test_json_and_templates_see_docker_compose_fields() -> None:
    data = [_container(1, "web", Ports=None, Labels=None, Names=None, Command=None)]
    line = _ps(data, "--format", "json", "--orphans=true")
    assert line.startswith('{"Command":"\\"\\"","CreatedAt":"')  # Go's map order: sorted
    record = json.loads(line)
    assert record["ID"] == f"{1:064x}"[:12]
    assert (record["Name"], record["Labels"], record["Mounts"]) == ("", "", "")
    assert (record["Health"], record["ExitCode"], record["Publishers"]) == ("healthy", 0, [])
    assert list(record) == sorted(record)
    assert _ps(data, "--format", "{{.Service}} {{.Health}}", "--orphans=true") == " healthy\n"
    exited = [_container(1, "web", State="exited", Status="Exited (137) 5 seconds ago")]
    assert _ps(exited, "-a", "--format", "{{.ExitCode}} {{.ID}}") == f"137 {f'{1:064x}'[:12]}\n"
    mounted = _container(
        2,
        "web",
        Command="echo <&>",
        Mounts=[
            {"Type": "volume", "Name": "demo_a-long-volume-name", "Driver": "local"},
            {"Type": "bind", "Source": "/srv", "Name": None},
        ],
        NetworkSettings={"Networks": {"demo_b": {}, "demo_a": {}}},
    )
    record = json.loads(_ps([mounted], "--format", "json"))
    assert record["Mounts"] == "demo_a-long-vo…,/srv"
    assert (record["LocalVolumes"], record["Networks"]) == ("1", "demo_a,demo_b")
    assert "\\u003c\\u0026\\u003e" in _ps([mounted], "--format", "json")  # Go's escapes
    assert json.loads(_ps([mounted], "--format", "json", "--no-trunc"))["Mounts"] == (
        "demo_a-long-volume-name,/srv"
    )


@pytest.mark.parametrize(
    ("item", "what"),
    [
        ("a string", "an element is not an object"),
        ({"Names": []}, "Id is not a string"),
        ({"Id": "x", "Names": "/n"}, "Names is not a list of strings"),
        ({"Id": "x", "Labels": {"a": 1}}, "Labels is not a map of strings"),
        ({"Id": "x", "Ports": {"a": 1}}, "Ports is not a list"),
        ({"Id": "x", "Ports": [{"Type": "tcp"}]}, "a port has no PrivatePort"),
        ({"Id": "x", "Ports": [{"PrivatePort": "80"}]}, "PrivatePort is not an integer"),
        ({"Id": "x", "Ports": [{"PrivatePort": 80, "IP": 1}]}, "IP is not a string"),
        ({"Id": "x", "Created": 1.5}, "Created is not an integer"),
        ({"Id": "x", "Status": []}, "Status is not a string"),
        ({"Id": "x", "Mounts": ["/a"]}, "Mounts is not a list of objects"),
        ({"Id": "x", "NetworkSettings": {"Networks": ["n"]}}, "Networks is not an object"),
    ],
)
def test_a_malformed_element_is_an_engine_error(item: Any, what: str) -> None:
    with pytest.raises(EngineError, match=what):
        summary(item)


@pytest.mark.parametrize(
    "answer",
    [
        b'HTTP/1.1 400 Bad Request\r\n\r\n{"message": "client version 1.41 is too new"}',
        b'HTTP/1.1 200 OK\r\n\r\n{"not": "a list"}',
        b"HTTP/1.1 200 OK\r\n\r\n[{]",
    ],
)
def test_the_full_client_answers_what_the_quick_path_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: bytes
) -> None:
    loaded = load_from_text("services:\n  web:\n    image: busybox\n", name="demo")
    args = build_parser().parse_args(["ps"])
    out = io.StringIO()
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("PYCOMPOSE_HOST", f"unix://{tmp_path}/e.sock")
    thread = serve_once(tmp_path / "e.sock", answer)
    assert quick_ps(loaded, args, Terminal(out=out)) is None
    thread.join(timeout=10)
    assert out.getvalue() == ""
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")  # the full client says why
    assert quick_ps(loaded, args, Terminal(out=out)) is None


def test_a_status_filter_lists_stopped_containers_and_other_filters_are_refused() -> None:
    def query(*argv: str) -> tuple[bool, dict[str, list[str]]]:
        return list_query("demo", build_parser().parse_args(["ps", *argv]))

    assert query() == (False, {"label": ["com.docker.compose.project=demo"]})
    assert query("--filter", "status=exited")[0] is True  # as docker compose: stopped too
    assert query("--status", "exited")[0] is True
    with pytest.raises(PlanError, match="unknown filter name"):
        query("--filter", "name=x")
    with pytest.raises(PlanError, match="should be in form KEY=VAL"):
        query("--filter", "status")
