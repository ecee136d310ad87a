"""What a user does with a stack, and what they must observe (issue 7's scenarios).

Each test states one intent; the steps are CLI commands and the checks look at the
state the engine reports (ps --format json, exec), not at progress text.
"""

from __future__ import annotations

import os
import select
import socket
import textwrap
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import IMAGE, Stack
from tests.waiting import wait_until

pytestmark = [pytest.mark.root, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def three_tier(port: int, greeting: str = "hello") -> str:
    return textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            command: ["sh", "-c", "mkdir -p /www && echo web-ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
            ports: ["127.0.0.1:{port}:8080"]
            depends_on:
              api: {{condition: service_healthy}}
            stop_grace_period: 1s
          api:
            image: {IMAGE}
            command: ["sh", "-c", "mkdir -p /srv && echo $$GREETING > /srv/index.html && exec httpd -f -p 5000 -h /srv"]
            environment:
              GREETING: {greeting}
            healthcheck:
              test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5000/"]
              interval: 1s
              retries: 30
            depends_on:
              db: {{condition: service_healthy}}
            stop_grace_period: 1s
          db:
            image: {IMAGE}
            command: ["sh", "-c", "touch /data/ready && exec sleep 1000000"]
            volumes: [data:/data]
            healthcheck:
              test: ["CMD", "test", "-f", "/data/ready"]
              interval: 1s
              retries: 30
            stop_grace_period: 1s
        volumes:
          data: {{}}
    """)


def page(port: int, timeout: float = 20.0) -> str:
    """The page on a published port; `up -d` returns once the server's process started, not
    once it listens, so a refused connection is tried again for a while."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                return response.read().decode().strip()
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def state_of(stack: Stack) -> dict[str, dict[str, object]]:
    return {str(c["Name"]): c for c in stack.ps()}


def test_the_three_tier_stack_starts_healthy_in_order_and_answers(stack: Stack):
    port = free_port()
    stack.write(three_tier(port))
    stack.pycompose("up", "-d")
    containers = state_of(stack)
    assert {c["Service"] for c in containers.values()} == {"web", "api", "db"}
    assert all(c["State"] == "running" for c in containers.values())
    assert containers[f"{stack.name}-api-1"]["Health"] == "healthy"
    # services find each other by name
    answer = stack.pycompose("exec", "-T", "web", "wget", "-q", "-O", "-", "http://api:5000/")
    assert answer.stdout.strip() == "hello"
    # the published port answers on 127.0.0.1
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        assert response.read().decode().strip() == "web-ok"


def test_a_second_up_changes_nothing(stack: Stack):
    stack.write(three_tier(free_port()))
    stack.pycompose("up", "-d")
    before = {name: c["ID"] for name, c in state_of(stack).items()}
    if stack.tool == "pycompose":
        assert stack.pycompose("up", "--dry-run").stdout.strip() == "nothing to do"
    stack.pycompose("up", "-d")
    assert {name: c["ID"] for name, c in state_of(stack).items()} == before


def test_changing_one_services_environment_recreates_only_it(stack: Stack):
    port = free_port()
    stack.write(three_tier(port))
    stack.pycompose("up", "-d")
    before = {name: c["ID"] for name, c in state_of(stack).items()}
    stack.write(three_tier(port, greeting="changed"))
    if stack.tool == "pycompose":  # the plan and its reasons are pycompose's own output
        plan = stack.pycompose("up", "--dry-run").stdout
        assert plan.startswith(
            f"#1 recreate container {stack.name}-api-1 (environment.GREETING changed)"
        )
    stack.pycompose("up", "-d")
    after = {name: c["ID"] for name, c in state_of(stack).items()}
    assert after[f"{stack.name}-api-1"] != before[f"{stack.name}-api-1"]
    assert after[f"{stack.name}-web-1"] == before[f"{stack.name}-web-1"]
    assert after[f"{stack.name}-db-1"] == before[f"{stack.name}-db-1"]
    answer = stack.pycompose("exec", "-T", "web", "wget", "-q", "-O", "-", "http://api:5000/")
    assert answer.stdout.strip() == "changed"


def test_scaling_up_and_down_keeps_the_other_replicas(stack: Stack):
    stack.write(
        textwrap.dedent(f"""
        services:
          worker:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            stop_grace_period: 1s
    """)
    )
    stack.pycompose("up", "-d")
    first = state_of(stack)[f"{stack.name}-worker-1"]["ID"]
    stack.pycompose("up", "-d", "--scale", "worker=3")
    assert sorted(state_of(stack)) == [f"{stack.name}-worker-{n}" for n in (1, 2, 3)]
    stack.pycompose("up", "-d", "--scale", "worker=1")
    containers = state_of(stack)
    assert list(containers) == [f"{stack.name}-worker-1"]
    assert containers[f"{stack.name}-worker-1"]["ID"] == first


def test_run_rm_returns_the_exit_code_and_leaves_no_container(stack: Stack):
    stack.write(
        textwrap.dedent(f"""
        services:
          tool:
            image: {IMAGE}
    """)
    )
    result = stack.pycompose(
        "run", "--rm", "tool", "sh", "-c", "echo from-run; exit 7", check=False
    )
    assert result.returncode == 7
    assert "from-run" in result.stdout
    assert stack.ps() == []


def test_abort_on_container_exit_returns_the_exit_code_of_the_named_service(stack: Stack):
    stack.write(
        textwrap.dedent(f"""
        services:
          tests:
            image: {IMAGE}
            command: ["sh", "-c", "sleep 1; echo done; exit 3"]
          server:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            stop_grace_period: 1s
    """)
    )
    result = stack.pycompose(
        "up", "--abort-on-container-exit", "--exit-code-from", "tests", check=False
    )
    assert result.returncode == 3, result.stderr
    assert "done" in result.stdout
    assert all(c["State"] != "running" for c in stack.ps())


def test_logs_follow_keeps_following_across_a_restart(stack: Stack):
    if stack.tool == "docker-compose":
        pytest.skip("docker compose v2.40 stops following a container once it restarts")
    stack.write(
        textwrap.dedent(f"""
        services:
          ticker:
            image: {IMAGE}
            command: ["sh", "-c", "echo started-$$(date +%s%N); exec sleep 1000000"]
            stop_grace_period: 1s
    """)
    )
    stack.pycompose("up", "-d")
    import subprocess

    follower = subprocess.Popen(
        [*stack.command(), "logs", "-f", "--no-log-prefix"],
        cwd=stack.directory,
        env=_env(stack),  # (pycompose only: docker compose is skipped above)
        stdout=subprocess.PIPE,
    )
    try:
        assert follower.stdout is not None
        lines = LineReader(follower.stdout.fileno())

        def starts() -> int:
            return len([line for line in lines.read() if line.startswith("started-")])

        wait_until(lambda: starts() >= 1, 60, "logs -f to print the first start")
        stack.pycompose("restart", "-t", "1")
        wait_until(lambda: starts() >= 2, 60, f"logs -f to follow the restart (saw {lines.lines})")
    finally:
        follower.terminate()
        follower.wait(timeout=10)


class LineReader:
    """The lines a pipe has delivered so far, read without blocking."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.lines: list[str] = []

    def read(self) -> list[str]:
        while select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        self.lines += [line.decode(errors="replace").strip() for line in complete]
        return self.lines


def test_a_named_volume_survives_down_and_up_and_down_v_leaves_nothing(stack: Stack):
    stack.write(three_tier(free_port()))
    stack.pycompose("up", "-d")
    stack.pycompose("exec", "-T", "db", "sh", "-c", "echo kept > /data/note")
    stack.pycompose("down", "-t", "1")
    assert stack.ps() == []
    stack.pycompose("up", "-d")
    assert stack.pycompose("exec", "-T", "db", "cat", "/data/note").stdout.strip() == "kept"
    stack.pycompose("down", "-v", "-t", "1")
    assert stack.ps() == []
    # nothing of the project is left in the engine
    leftovers = stack.pycompose("ls", "-a", "-q").stdout.split()
    assert stack.name not in leftovers


def _env(stack: Stack) -> dict[str, str]:
    import os

    return {**os.environ, **stack.engine.environment, "NO_COLOR": "1"}


def test_a_service_with_a_published_port_can_be_recreated(stack: Stack):
    port = free_port()
    stack.write(three_tier(port))
    stack.pycompose("up", "-d")
    stack.write(three_tier(port).replace("web-ok", "web-changed"))
    stack.pycompose("up", "-d")
    assert page(port) == "web-changed"


def test_up_after_an_engine_restart_changes_nothing(own_stack: Stack):
    stack = own_stack  # the engine is killed mid-test: not the one the session shares
    port = free_port()
    stack.write(three_tier(port))
    stack.pycompose("up", "-d")
    before = {name: c["ID"] for name, c in state_of(stack).items()}
    stack.engine.restart()
    assert stack.pycompose("up", "--dry-run").stdout.strip() == "nothing to do"
    assert {name: c["ID"] for name, c in state_of(stack).items()} == before
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        assert response.read().decode().strip() == "web-ok"


def test_a_service_built_from_a_dockerfile_runs_and_rebuilds_when_its_source_changes(stack: Stack):
    if stack.tool != "pycompose":
        pytest.skip("docker compose builds with BuildKit, which no engine here serves")
    app = stack.directory / "app"
    app.mkdir()
    (app / "Dockerfile").write_text(
        f'FROM {IMAGE}\nCOPY message.txt /message.txt\nCMD ["sh", "-c", "cat /message.txt; sleep 1000000"]\n'
    )
    (app / "message.txt").write_text("first\n")
    stack.write(
        textwrap.dedent("""
        services:
          app:
            build: ./app
            stop_grace_period: 1s
    """)
    )
    stack.pycompose("up", "-d", "--build")
    assert stack.pycompose("exec", "-T", "app", "cat", "/message.txt").stdout.strip() == "first"
    (app / "message.txt").write_text("second\n")
    stack.pycompose("build")
    stack.pycompose("up", "-d")
    assert stack.pycompose("exec", "-T", "app", "cat", "/message.txt").stdout.strip() == "second"
