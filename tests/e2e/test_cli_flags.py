"""docker compose 2.40's later commands and flags, run by both tools on both engines
(the ``stack`` fixture): each test checks the effect through the CLI's own listings or
the engine, and the same assertions hold for pycompose and for docker compose."""

from __future__ import annotations

import json
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import IMAGE, Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]

PAIR = textwrap.dedent(f"""
    services:
      db:
        image: {IMAGE}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
        volumes: ["data:/data"]
      web:
        image: {IMAGE}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
        depends_on: [db]
    volumes:
      data: {{}}
""")


def states(stack: Stack) -> dict[str, str]:
    out = stack.pycompose("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def test_ps_go_templates_and_table_headers(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    assert states(stack) == {"db": "running", "web": "running"}
    table = stack.pycompose("ps", "--format", "table {{.Service}}\t{{.State}}").stdout
    lines = table.splitlines()
    assert lines[0].split() == ["SERVICE", "STATE"]
    assert sorted(line.split() for line in lines[1:]) == [["db", "running"], ["web", "running"]]
    labelled = stack.pycompose(
        "ps", "--format", '{{.Label "com.docker.compose.service"}}', "web"
    ).stdout
    assert labelled.strip() == "web"
    full = stack.pycompose("ps", "--no-trunc", "--format", "{{.ID}}", "web").stdout.strip()
    short = stack.pycompose("ps", "--format", "{{.ID}}", "web").stdout.strip()
    assert len(full) == 64 and full.startswith(short) and len(short) == 12


def test_down_services_removes_only_those(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    stack.pycompose("down", "-t", "1", "web")
    assert states(stack) == {"db": "running"}
    # the network and volume stay for db
    assert stack.pycompose("volumes", "-q").stdout.split() == [f"{stack.name}_data"]


def test_restart_restarts_dependencies_unless_no_deps(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")

    def pid_start(service: str) -> str:
        # a restarted container's init has a fresh start time (field 22 of /proc/1/stat)
        done = stack.pycompose("exec", "-T", service, "cat", "/proc/1/stat").stdout
        return done.split()[21]

    db_before = pid_start("db")
    time.sleep(1.2)
    stack.pycompose("restart", "-t", "1", "--no-deps", "web")
    assert pid_start("db") == db_before
    stack.pycompose("restart", "-t", "1", "web")
    assert pid_start("db") != db_before


def test_scale_sets_the_replicas(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    stack.pycompose("scale", "web=3")
    names = stack.pycompose("ps", "--format", "{{.Name}}", "web").stdout.split()
    assert sorted(names) == [f"{stack.name}-web-{n}" for n in (1, 2, 3)]
    stack.pycompose("scale", "web=1")
    assert stack.pycompose("ps", "--format", "{{.Name}}", "web").stdout.split() == [
        f"{stack.name}-web-1"
    ]


def test_volumes_lists_the_projects_volumes(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    assert stack.pycompose("volumes", "-q").stdout.split() == [f"{stack.name}_data"]
    assert stack.pycompose("volumes", "-q", "web").stdout.split() == []
    out = stack.pycompose("volumes", "--format", "{{.Name}} {{.Driver}}", "db").stdout
    assert out.split() == [f"{stack.name}_data", "local"]


def test_wait_down_project_takes_the_project_down_after_the_first_exit(stack: Stack) -> None:
    stack.write(
        textwrap.dedent(f"""
        services:
          quick:
            image: {IMAGE}
            command: ["sh", "-c", "sleep 1; exit 3"]
          slow:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            stop_grace_period: 1s
        """)
    )
    stack.pycompose("up", "-d")
    done = stack.pycompose("wait", "--down-project", check=False, timeout=60)
    assert done.returncode == 3, done
    assert states(stack) == {}


def test_ls_filter_by_name(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    assert stack.pycompose("ls", "-q", "--filter", f"name={stack.name}").stdout.split() == [
        stack.name
    ]
    assert stack.pycompose("ls", "-q", "--filter", "name=^no-such-project$").stdout.split() == []
    listed = json.loads(
        stack.pycompose("ls", "--format", "json", "--filter", f"name={stack.name}").stdout
    )
    assert [p["Name"] for p in listed] == [stack.name]


def test_cp_archive_keeps_owners_and_follow_link_copies_the_target(
    stack: Stack, tmp_path: Path
) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    stack.pycompose(
        "exec",
        "-T",
        "web",
        "sh",
        "-c",
        "echo target > /t && ln -s /t /link ",
    )
    out = tmp_path / "out"
    out.mkdir()
    stack.pycompose("cp", "-L", "web:/link", str(out / "copy"))
    assert (out / "copy").read_text() == "target\n" and not (out / "copy").is_symlink()
    local = tmp_path / "local"
    local.write_text("x")
    import os

    os.chown(local, 555, 666)
    stack.pycompose("cp", str(local), "web:/plain")
    stack.pycompose("cp", "-a", str(local), "web:/kept")
    owners = stack.pycompose(
        "exec", "-T", "web", "stat", "-c", "%u:%g", "/plain", "/kept"
    ).stdout.split()
    assert owners == ["0:0", "555:666"]


def test_export_writes_the_container_filesystem(stack: Stack, tmp_path: Path) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    stack.pycompose("exec", "-T", "web", "sh", "-c", "echo exported > /marker")
    archive = tmp_path / "web.tar"
    stack.pycompose("export", "-o", str(archive), "web")
    with tarfile.open(archive) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        assert "bin/busybox" in members, sorted(members)[:20]
        extracted = tar.extractfile(members["marker"])
        assert extracted is not None and extracted.read() == b"exported\n"
        # the container's own file system: nothing of the /proc a running container sees
        assert not [n for n in members if n.startswith("proc/") and n != "proc/"]
