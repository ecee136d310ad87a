"""docker compose 2.40's later commands and flags, run by both tools on both engines
(the ``stack`` fixture): each test checks the effect through the CLI's own listings or
the engine, and the same assertions hold for pycompose and for docker compose."""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from engine.api.client import EngineClient
from tests.e2e.conftest import IMAGE, Engine, Stack

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


def test_restart_restarts_dependents_that_ask_for_it_unless_no_deps(stack: Stack) -> None:
    stack.write(
        PAIR.replace(
            "\nvolumes:",
            textwrap.indent(
                textwrap.dedent(f"""
                cache:
                  image: {IMAGE}
                  command: ["sleep", "1000000"]
                  stop_grace_period: 1s
                  depends_on:
                    db: {{condition: service_started, restart: true}}
                """),
                "  ",
            ).rstrip()
            + "\nvolumes:",
        )
    )
    stack.pycompose("up", "-d")

    def pid_start(service: str) -> str:
        # a restarted container's init has a fresh start time (field 22 of /proc/1/stat)
        done = stack.pycompose("exec", "-T", service, "cat", "/proc/1/stat").stdout
        return done.split()[21]

    before = {s: pid_start(s) for s in ("db", "web", "cache")}
    time.sleep(1.2)
    stack.pycompose("restart", "-t", "1", "--no-deps", "db")
    after = {s: pid_start(s) for s in ("db", "web", "cache")}
    assert after["db"] != before["db"]
    assert (after["web"], after["cache"]) == (before["web"], before["cache"])
    time.sleep(1.2)
    stack.pycompose("restart", "-t", "1", "db")
    again = {s: pid_start(s) for s in ("db", "web", "cache")}
    # web's depends_on has no restart: true, cache's has
    assert again["db"] != after["db"] and again["cache"] != after["cache"]
    assert again["web"] == after["web"]


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


@pytest.fixture
def own_project(engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    """A project driven by pycompose only (on either engine), taken down at the end."""
    project = Stack(engine, tmp_path, "pycompose")
    try:
        yield project
    finally:
        if (tmp_path / "compose.yaml").exists():
            project.pycompose("down", "-v", "--remove-orphans", "-t", "1", check=False)


# docker compose 2.40 on dockerd prints the first exit, then hangs without taking the
# project down: pycompose does what its help says, so this runs with pycompose only
def test_wait_down_project_takes_the_project_down_after_the_first_exit(
    own_project: Stack,
) -> None:
    stack = own_project
    stack.write(
        textwrap.dedent(f"""
        services:
          quick:
            image: {IMAGE}
            # long enough for `wait` to be waiting: docker compose waits for the next exit
            command: ["sh", "-c", "sleep 6; exit 3"]
          slow:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            stop_grace_period: 1s
        """)
    )
    stack.pycompose("up", "-d")
    done = stack.pycompose("wait", "--down-project", "quick", "slow", check=False, timeout=60)
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
    stack.pycompose(
        "exec", "-T", "web", "sh", "-c", "mkdir /d && echo o > /d/o && chown 1234:4321 /d/o"
    )
    stack.pycompose("cp", "-a", "web:/d", str(out))
    if stack.tool == "pycompose":
        # docker compose 2.40 ignores -a when copying to the host (docker cp's documented
        # -a keeps the source's owners; pycompose does that)
        assert ((out / "d/o").stat().st_uid, (out / "d/o").stat().st_gid) == (1234, 4321)
    (out / "plain").mkdir()
    stack.pycompose("cp", "web:/d", str(out / "plain"))
    owner = (out / "plain/d/o").stat()
    assert (owner.st_uid, owner.st_gid) == (os.getuid(), os.getgid())
    local = tmp_path / "local"
    local.write_text("x")
    os.chown(local, 555, 666)
    stack.pycompose("cp", str(local), "web:/plain")
    stack.pycompose("cp", "-a", str(local), "web:/kept")
    owners = stack.pycompose(
        "exec", "-T", "web", "stat", "-c", "%u:%g", "/plain", "/kept"
    ).stdout.split()
    # dockerd and pycompose's engine keep the archive's owners either way
    assert owners == ["555:666", "555:666"]


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


def _image(socket: str, name: str, *, remove: bool = False) -> dict[str, Any]:
    """The engine's inspect of image ``name`` (removed after, when ``remove``)."""

    async def work() -> dict[str, Any]:
        async with EngineClient(socket, timeout=60) as client:
            found: dict[str, Any] = (await client.request("GET", f"/images/{name}/json")).json()
            if remove:
                await client.image_remove(name, force=True)
            return found

    return anyio.run(work)


def _last_layer(socket: str, name: str) -> list[str]:
    """The member names of image ``name``'s last layer, from the engine's ``docker save``."""

    async def work() -> bytes:
        async with EngineClient(socket, timeout=60) as client:
            return (await client.request("GET", f"/images/{name}/get")).content

    with tarfile.open(fileobj=io.BytesIO(anyio.run(work))) as saved:
        files = {m.name: saved.extractfile(m) for m in saved if m.isfile()}
        manifest = json.loads(files["manifest.json"].read())  # type: ignore[union-attr]
        layer = files[manifest[0]["Layers"][-1]].read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return sorted(tar.getnames())


def test_commit_makes_an_image_of_the_container_changes(stack: Stack) -> None:
    repository = f"{stack.name}-committed"
    stack.write(PAIR)
    stack.pycompose("up", "-d", "web")
    stack.pycompose("exec", "-T", "web", "sh", "-c", "echo committed > /x && rm /etc/group")
    stack.pycompose(
        "commit",
        "-a",
        "Ann <ann@example.com>",
        "-m",
        "the message",
        "-c",
        'CMD ["cat","/x"]',
        "-c",
        "ENV ADDED=yes",
        "web",
        f"{repository}:v1",
    )
    try:
        image = _image(stack.engine.socket, f"{repository}:v1")
        assert image["Config"]["Cmd"] == ["cat", "/x"]
        assert "ADDED=yes" in image["Config"]["Env"]
        assert image["Author"] == "Ann <ann@example.com>"
        assert image["Comment"] == "the message"
        # the container's config is the image's: compose's labels come along (as dockerd)
        assert image["Config"]["Labels"]["com.docker.compose.service"] == "web"
        # the layer: the container's changes only (not the runtime's mount points)
        assert _last_layer(stack.engine.socket, f"{repository}:v1") == [
            "etc",
            "etc/.wh.group",
            "x",
        ]
        stack.write(
            PAIR.replace(
                "volumes:\n  data: {}",
                f"  again:\n    image: {repository}:v1\nvolumes:\n  data: {{}}",
            )
        )
        ran = stack.pycompose("run", "--rm", "-T", "--no-deps", "again")
        assert ran.stdout.strip() == "committed"
        gone = stack.pycompose(
            "run", "--rm", "-T", "--no-deps", "again", "sh", "-c", "ls /etc/group || echo gone"
        )
        assert gone.stdout.strip().endswith("gone")
        # a change a commit cannot apply is refused by the engine, naming it (as dockerd)
        refused = stack.pycompose("commit", "-c", "RUN true", "web", check=False)
        assert refused.returncode != 0
        assert "run is not a valid change command" in refused.stderr
    finally:
        stack.pycompose("down", "-t", "1", "--remove-orphans", check=False)
        _image(stack.engine.socket, f"{repository}:v1", remove=True)


def test_images_stats_and_version_formats(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    images = json.loads(stack.pycompose("images", "--format", "json").stdout)
    assert sorted(i["ContainerName"] for i in images) == [
        f"{stack.name}-db-1",
        f"{stack.name}-web-1",
    ]
    assert {i["Repository"] for i in images} == {IMAGE.rsplit(":", 1)[0]}
    names = sorted(i["ContainerName"] for i in images)
    stats = stack.pycompose("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}").stdout
    assert sorted(line.split()[0] for line in stats.splitlines()) == names
    assert all(int(line.split()[1]) >= 1 for line in stats.splitlines())
    stack.pycompose("stop", "-t", "1", "web")
    running = stack.pycompose("stats", "--no-stream", "--format", "{{.Name}}").stdout.split()
    every = stack.pycompose("stats", "-a", "--no-stream", "--format", "{{.Name}}").stdout.split()
    assert running == [f"{stack.name}-db-1"] and sorted(every) == names
    assert "version" in json.loads(stack.pycompose("version", "--format", "json").stdout)


def ids(stack: Stack) -> dict[str, str]:
    out = stack.pycompose("ps", "-a", "--no-trunc", "--format", "{{.Service}} {{.ID}}").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def test_up_always_recreate_deps_recreates_the_dependencies(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    first = ids(stack)
    stack.pycompose("up", "-d", "web")
    assert ids(stack) == first
    stack.pycompose("up", "-d", "--always-recreate-deps", "web")
    again = ids(stack)
    assert again["db"] != first["db"]


def test_kill_remove_orphans_removes_containers_of_undeclared_services(stack: Stack) -> None:
    stack.write(PAIR)
    stack.pycompose("up", "-d")
    stack.write(
        textwrap.dedent(f"""
        services:
          db:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            volumes: ["data:/data"]
        volumes:
          data: {{}}
        """)
    )
    # web is an orphan now: ps lists it unless --orphans=false
    assert states(stack) == {"db": "running", "web": "running"}
    hidden = stack.pycompose("ps", "--orphans=false", "--format", "{{.Service}}").stdout
    # docker compose 2.40 lists web even so, against its help ("Include orphaned services
    # (not declared by project)"); pycompose does what the help says
    assert hidden.split() == (["db"] if stack.tool == "pycompose" else ["db", "web"])
    stack.pycompose("kill", "--remove-orphans")
    after = states(stack)
    if stack.tool == "pycompose":
        assert after == {"db": "exited"}
    else:
        # docker compose 2.40 removes the orphan while it kills it, and loses that race now
        # and then (seen in CI on both engines): the orphan is then left killed
        assert after in ({"db": "exited"}, {"db": "exited", "web": "exited"}), after


def test_up_renew_anon_volumes_gives_fresh_anonymous_volumes(stack: Stack) -> None:
    stack.write(
        textwrap.dedent(f"""
        services:
          box:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            stop_grace_period: 1s
            volumes: ["/scratch"]
        """)
    )
    stack.pycompose("up", "-d")
    stack.pycompose("exec", "-T", "box", "touch", "/scratch/old")
    stack.pycompose("up", "-d", "--force-recreate", "-V")
    listed = stack.pycompose("exec", "-T", "box", "ls", "/scratch").stdout.split()
    assert listed == []


def test_build_print_prints_the_bake_file(stack: Stack) -> None:
    (stack.directory / "app").mkdir()
    (stack.directory / "app" / "Dockerfile").write_text(f"FROM {IMAGE}\n")
    stack.write(
        textwrap.dedent(f"""
        services:
          app:
            build:
              context: ./app
              args: {{A: "1"}}
            image: example/{stack.name}:v1
          plain:
            image: {IMAGE}
        """)
    )
    printed = json.loads(stack.pycompose("build", "--print").stdout)
    context = str(stack.directory / "app")
    assert printed == {
        "group": {"default": {"targets": ["app"]}},
        "target": {
            "app": {
                "context": context,
                "dockerfile": f"{context}/Dockerfile",
                "args": {"A": "1"},
                "labels": {
                    "com.docker.compose.project": stack.name,
                    "com.docker.compose.service": "app",
                    "com.docker.compose.version": "2.40.3",
                },
                "tags": [f"example/{stack.name}:v1"],
                "output": ["type=docker"],
            }
        },
    }
