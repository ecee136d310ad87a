"""Every per-container pycompose command, run as a user runs it, checked through the engine.

Each test runs the venv's ``pycompose`` binary against the engine under test and checks the
command's effect by another route: the engine's API on its socket (inspect, image inspect),
``ps --format json`` or ``exec``. Waits poll a condition with a deadline and fail with what
they last saw. Every project is taken down at the end, also when the test fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_helpers import (
    EngineAPI,
    RunningCommand,
    engine_api,
    environment,
    pycompose_project,
    wait_for,
)
from tests.e2e.conftest import IMAGE, Engine, Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]

WEB_AND_WORKER = textwrap.dedent(f"""
    services:
      web:
        image: {IMAGE}
        command: ["sh", "-c", "mkdir -p /www && echo web-ok > /www/index.html && exec httpd -f -p 80 -h /www"]
        ports: ["127.0.0.1::80"]
        stop_grace_period: 1s
      worker:
        image: {IMAGE}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
""")


@pytest.fixture
def api(engine: Engine) -> Iterator[EngineAPI]:
    with engine_api(engine) as client:
        yield client


@pytest.fixture
def project(engine: Engine, tmp_path: Path, api: EngineAPI) -> Iterator[Stack]:
    with pycompose_project(engine, tmp_path / "project", api) as stack:
        stack.directory.mkdir()
        yield stack


def name(stack: Stack, service: str, number: int = 1) -> str:
    return f"{stack.name}-{service}-{number}"


def ps_states(stack: Stack) -> dict[str, str]:
    """Container name -> State, as `pycompose ps -a --format json` reports it."""
    return {str(c["Name"]): str(c["State"]) for c in stack.ps()}


def exited(api: EngineAPI, container: str) -> dict[str, Any]:
    return wait_for(
        lambda: api.state(container),
        lambda state: state["Status"] == "exited",
        f"{container} to exit",
    )


# --- create / start / stop / kill / pause / unpause / rm ------------------------------------


def test_create_makes_stopped_containers_and_start_runs_them(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("create")
    for service in ("web", "worker"):
        state = api.state(name(project, service))
        assert state["Status"] == "created" and not state["Running"], state
    assert ps_states(project) == {
        name(project, "web"): "created",
        name(project, "worker"): "created",
    }
    # start SERVICE starts that service only
    project.pycompose("start", "worker")
    assert api.state(name(project, "worker"))["Running"]
    assert api.state(name(project, "web"))["Status"] == "created"
    project.pycompose("start")
    assert api.state(name(project, "web"))["Running"]
    with urllib.request.urlopen(f"http://{port_of(api, name(project, 'web'))}/", timeout=10) as r:
        assert r.read().decode().strip() == "web-ok"


def port_of(api: EngineAPI, container: str) -> str:
    """The host address the engine bound for the container's port 80/tcp."""
    inspect = api.container(container)
    assert inspect is not None
    binding = inspect["NetworkSettings"]["Ports"]["80/tcp"][0]
    return f"{binding['HostIp']}:{binding['HostPort']}"


def test_stop_stops_only_the_named_service_and_keeps_its_container(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d")
    project.pycompose("stop", "-t", "1", "worker")
    state = api.state(name(project, "worker"))
    assert state["Status"] == "exited" and not state["Running"], state
    assert api.state(name(project, "web"))["Running"]
    assert ps_states(project) == {
        name(project, "web"): "running",
        name(project, "worker"): "exited",
    }


KILLABLE = textwrap.dedent(f"""
    services:
      trapper:
        image: {IMAGE}
        # exits 42 on SIGTERM; healthy once the trap is set, so the signal cannot come first
        command: ["sh", "-c", "trap 'exit 42' TERM; touch /tmp/ready; while :; do sleep 0.1; done"]
        healthcheck:
          test: ["CMD", "test", "-f", "/tmp/ready"]
          interval: 1s
          retries: 60
      sleeper:
        image: {IMAGE}
        command: ["sleep", "1000000"]
""")


def test_kill_sends_the_signal_it_is_given(project: Stack, api: EngineAPI):
    project.write(KILLABLE)
    project.pycompose("up", "-d", "--wait", "--wait-timeout", "120")
    project.pycompose("kill", "-s", "SIGKILL", "sleeper")
    assert exited(api, name(project, "sleeper"))["ExitCode"] == 137
    assert api.state(name(project, "trapper"))["Running"], "kill SERVICE touched another service"
    project.pycompose("kill", "-s", "SIGTERM", "trapper")
    assert exited(api, name(project, "trapper"))["ExitCode"] == 42
    containers = {str(c["Name"]): c for c in project.ps()}
    assert containers[name(project, "sleeper")]["ExitCode"] == 137
    assert containers[name(project, "trapper")]["ExitCode"] == 42


def test_kill_with_an_unknown_signal_fails_and_kills_nothing(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d", "worker")
    result = project.pycompose("kill", "-s", "SIGBOGUS", check=False)
    assert result.returncode != 0
    assert "SIGBOGUS" in result.stderr
    assert api.state(name(project, "worker"))["Running"]


def test_pause_freezes_the_service_and_unpause_resumes_it(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d")
    project.pycompose("pause", "worker")
    assert ps_states(project) == {
        name(project, "web"): "running",
        name(project, "worker"): "paused",
    }
    state = api.state(name(project, "worker"))
    assert state["Paused"] and state["Status"] == "paused", state
    assert not api.state(name(project, "web"))["Paused"]
    project.pycompose("unpause", "worker")
    state = api.state(name(project, "worker"))
    assert state["Running"] and not state["Paused"] and state["Status"] == "running", state
    # the process really runs again: it answers an exec
    assert project.pycompose("exec", "-T", "worker", "echo", "awake").stdout.strip() == "awake"


def test_rm_removes_stopped_containers_and_rm_s_stops_running_ones_first(
    project: Stack, api: EngineAPI
):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d")
    project.pycompose("stop", "-t", "1", "worker")
    project.pycompose("rm", "-f")
    assert api.container(name(project, "worker")) is None
    assert api.state(name(project, "web"))["Running"], "rm -f removed a running container"
    project.pycompose("rm", "-f", "-s")
    assert api.container(name(project, "web")) is None
    assert project.ps() == []


def test_rm_without_f_asks_and_removes_only_when_the_answer_is_yes(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d", "worker")
    project.pycompose("stop", "-t", "1", "worker")
    worker = name(project, "worker")
    declined = run_with_input(project, "n\n", "rm", "worker")
    assert declined.returncode == 0, declined
    assert f"Going to remove {worker}" in declined.stdout + declined.stderr
    assert api.container(worker) is not None, "rm removed the container without a yes"
    accepted = run_with_input(project, "y\n", "rm", "worker")
    assert accepted.returncode == 0, accepted
    assert api.container(worker) is None


def run_with_input(stack: Stack, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*stack.command(), *args],
        cwd=stack.directory,
        env=environment(stack),
        input=text,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


# --- top / port / images / stats / wait --------------------------------------------------------


def top_processes(output: str, container: str) -> list[dict[str, str]]:
    """The process table `pycompose top` printed under ``container``."""
    lines = output.splitlines()
    assert container in lines, output
    titles = lines[lines.index(container) + 1].split()
    rows = []
    for line in lines[lines.index(container) + 2 :]:
        if not line.strip():
            break
        rows.append(dict(zip(titles, line.split(maxsplit=len(titles) - 1), strict=True)))
    return rows


def test_top_lists_the_process_running_in_each_container(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d")
    output = project.pycompose("top").stdout
    for service, command in (("worker", "sleep 1000000"), ("web", "httpd -f -p 80 -h /www")):
        container = name(project, service)
        processes = top_processes(output, container)
        assert [p["CMD"] for p in processes] == [command], processes
        # the PID top shows is the one the engine reports for the container's main process
        assert processes[0]["PID"] == str(api.state(container)["Pid"])
    only_worker = project.pycompose("top", "worker").stdout
    assert name(project, "web") not in only_worker and name(project, "worker") in only_worker


def test_port_prints_the_bound_host_address(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d")
    printed = project.pycompose("port", "web", "80").stdout.strip()
    assert printed == port_of(api, name(project, "web"))
    assert re.fullmatch(r"127\.0\.0\.1:\d+", printed), printed
    with urllib.request.urlopen(f"http://{printed}/", timeout=10) as response:
        assert response.read().decode().strip() == "web-ok"
    unpublished = project.pycompose("port", "web", "81", check=False)
    assert unpublished.returncode != 0
    assert "81/tcp" in unpublished.stderr


def test_images_lists_the_image_of_each_container(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d")
    image = api.image(IMAGE)
    assert image is not None
    short_id = image["Id"].removeprefix("sha256:")[:12]
    rows = [line.split() for line in project.pycompose("images").stdout.splitlines()]
    assert rows[0][:2] == ["CONTAINER", "REPOSITORY"], rows
    repository, tag = IMAGE.rsplit(":", 1)
    assert sorted(row[:4] for row in rows[1:]) == [
        [name(project, "web"), repository, tag, short_id],
        [name(project, "worker"), repository, tag, short_id],
    ]


def test_stats_no_stream_prints_one_row_per_running_container(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d")
    result = project.pycompose("stats", "--no-stream", timeout=120)
    rows = [re.split(r" {3,}", line) for line in result.stdout.splitlines()]
    header, body = rows[0], rows[1:]
    assert header == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"]
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in body}
    assert sorted(by_name) == [name(project, "web"), name(project, "worker")], result.stdout
    for container, row in by_name.items():
        inspect = api.container(container)
        assert inspect is not None
        assert row["CONTAINER ID"] == inspect["Id"][:12]
        assert int(row["PIDS"]) >= 1, row
        assert re.fullmatch(r"[\d.]+%", row["CPU %"]), row


def test_wait_blocks_until_the_container_exits_and_returns_its_exit_code(
    project: Stack, api: EngineAPI
):
    project.write(
        textwrap.dedent(f"""
        services:
          job:
            image: {IMAGE}
            command: ["sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.1; done; exit 5"]
    """)
    )
    project.pycompose("up", "-d")
    waiting = RunningCommand(project, "wait", "job")
    try:
        # exit code 5 exists only once the job is told to go: `wait` cannot report it early
        project.pycompose("exec", "-T", "job", "touch", "/tmp/go")
        assert waiting.finish() == 5
        assert waiting.lines == ["5"]
    finally:
        waiting.stop()
    assert api.state(name(project, "job"))["ExitCode"] == 5


# --- cp / events -------------------------------------------------------------------------------


def test_cp_copies_files_both_ways(project: Stack, tmp_path: Path):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d", "worker")
    local = tmp_path / "to-container.txt"
    local.write_text(f"into {project.name}\n")
    project.pycompose("cp", str(local), "worker:/tmp/in.txt")
    inside = project.pycompose("exec", "-T", "worker", "cat", "/tmp/in.txt").stdout
    assert inside == f"into {project.name}\n"

    project.pycompose("exec", "-T", "worker", "sh", "-c", "echo out of $HOSTNAME > /tmp/out.txt")
    hostname = project.pycompose("exec", "-T", "worker", "hostname").stdout.strip()
    copied = tmp_path / "from-container.txt"
    project.pycompose("cp", "worker:/tmp/out.txt", str(copied))
    assert copied.read_text() == f"out of {hostname}\n"
    # into a directory, the file keeps its name
    directory = tmp_path / "into"
    directory.mkdir()
    project.pycompose("cp", "worker:/tmp/out.txt", str(directory))
    assert (directory / "out.txt").read_text() == f"out of {hostname}\n"


def test_cp_of_a_missing_local_file_fails_and_names_it(project: Stack, tmp_path: Path):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d", "worker")
    result = project.pycompose("cp", str(tmp_path / "absent.txt"), "worker:/tmp/", check=False)
    assert result.returncode != 0
    assert "absent.txt" in result.stderr


def test_events_prints_create_and_start_while_another_command_runs(project: Stack, api: EngineAPI):
    project.write(WEB_AND_WORKER)
    project.pycompose("up", "-d", "worker")
    events = RunningCommand(project, "events", "--json")
    try:
        # events are live, not replayed: restart until one shows that the stream is subscribed
        def started(lines: list[str]) -> bool:
            return any(json.loads(line)["action"] == "start" for line in lines)

        for _ in range(6):
            project.pycompose("restart", "-t", "0", "worker")
            if started(events.lines):
                break
        events.wait_for_lines(started, "a start event after `restart`", timeout=30)

        project.pycompose("up", "-d", "web")
        web = name(project, "web")

        def web_actions(lines: list[str]) -> list[str]:
            return [
                event["action"]
                for event in map(json.loads, lines)
                if event["attributes"].get("name") == web
            ]

        lines = events.wait_for_lines(
            lambda seen: {"create", "start"} <= set(web_actions(seen)),
            f"create and start events for {web}",
        )
        actions = web_actions(lines)
        assert actions.index("create") < actions.index("start"), actions
        inspect = api.container(web)
        assert inspect is not None
        web_events = [e for e in map(json.loads, lines) if e["attributes"].get("name") == web]
        assert {e["id"] for e in web_events} == {inspect["Id"]}
        assert {e["service"] for e in web_events} == {"web"}
    finally:
        events.stop()


# --- what a user meets when something is wrong --------------------------------------------------

EVERY_SERVICE_COMMAND = [
    ("create", "nosuch"),
    ("start", "nosuch"),
    ("stop", "nosuch"),
    ("kill", "nosuch"),
    ("pause", "nosuch"),
    ("unpause", "nosuch"),
    ("rm", "-f", "nosuch"),
    ("top", "nosuch"),
    ("port", "nosuch", "80"),
    ("images", "nosuch"),
    ("wait", "nosuch"),
    ("pull", "nosuch"),
    ("push", "nosuch"),
    ("events", "nosuch"),
    ("stats", "--no-stream", "nosuch"),
    ("cp", "nosuch:/etc/hostname", "."),
    ("cp", "./compose.yaml", "nosuch:/tmp/"),
]


@pytest.mark.parametrize("command", EVERY_SERVICE_COMMAND, ids=" ".join)
def test_an_unknown_service_is_named_in_the_error(project: Stack, command: tuple[str, ...]):
    project.write(WEB_AND_WORKER)
    result = project.pycompose(*command, check=False, timeout=60)
    assert result.returncode == 1, result
    assert "no such service: nosuch" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


NEEDS_A_CONTAINER = [
    pytest.param(command, message, id=" ".join(command))
    for command, message in (
        (("start",), "no containers to start"),
        (("wait",), "no containers"),
        (("port", "web", "80"), "service 'web' has no running container #1"),
        (("exec", "-T", "worker", "true"), "service 'worker' has no running container #1"),
        (("cp", "worker:/etc/hostname", "."), "service 'worker' has no container #1"),
    )
]


@pytest.mark.parametrize(("command", "message"), NEEDS_A_CONTAINER)
def test_a_command_that_needs_containers_fails_clearly_on_a_project_without_any(
    project: Stack, command: tuple[str, ...], message: str
):
    project.write(WEB_AND_WORKER)
    result = project.pycompose(*command, check=False, timeout=60)
    assert result.returncode == 1, result
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
