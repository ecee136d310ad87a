"""What only pycompose does (issue 18): restart on unhealthy, ordered restore, wait_for.

Each test drives the ``pycompose`` CLI as a user does and checks the engine's own answers
(inspect, events) over its socket.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_helpers import EngineAPI, engine_api
from tests.e2e.conftest import (
    IMAGE,
    Engine,
    Stack,
    _docker_engine,
    _pycompose_engine,
    docker_compose_binary,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def shared_engine() -> Iterator[Engine]:
    """One pycompose engine for this module's tests that do not stop it."""
    with (
        tempfile.TemporaryDirectory(prefix="e2e-beyond-") as tmp,
        _pycompose_engine(Path(tmp)) as ours,
    ):
        yield ours


@pytest.fixture
def our_stack(shared_engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    project = Stack(shared_engine, tmp_path)
    try:
        yield project
    finally:
        if (tmp_path / "compose.yaml").exists():
            project.pycompose("down", "-v", "--remove-orphans", "-t", "0", check=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def events(api: EngineAPI, container: str, since: float) -> list[dict[str, Any]]:
    filters = json.dumps({"container": [container]})
    response = api.client.get(
        "/events",
        params={"since": f"{since:.3f}", "until": f"{time.time():.3f}", "filters": filters},
    )
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_a_service_that_turns_unhealthy_is_restarted_and_says_why(our_stack: Stack):
    our_stack.write(
        textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ok; while :; do sleep 0.1; done"]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ok"]
              interval: 1s
              retries: 2
            x-pycompose:
              on_unhealthy: restart
    """)
    )
    our_stack.pycompose("up", "-d", "--wait")
    name = f"{our_stack.name}-web-1"
    with engine_api(our_stack.engine) as api:
        before = api.container(name)
        assert before is not None
        assert before["Config"]["Labels"]["io.pycompose.on-unhealthy"] == "restart"
        assert before["RestartCount"] == 0
        since = time.time()
        our_stack.pycompose("exec", "-T", "web", "rm", "/tmp/ok")
        broken = time.monotonic()
        deadline = 1 * 2 + 1  # interval x retries + 1 s
        while True:
            seen = api.container(name)
            assert seen is not None
            if (
                seen["RestartCount"] == 1
                and seen["State"]["StartedAt"] != before["State"]["StartedAt"]
            ):
                break
            elapsed = time.monotonic() - broken
            assert elapsed < deadline, (
                f"not restarted {elapsed:.1f}s after it broke: {seen['State']}"
            )
            time.sleep(0.05)
        assert seen["Id"] == before["Id"]  # the same container, restarted
        actions = [e["Action"] for e in events(api, name, since)]
        print(actions, events(api, name, since))
        unhealthy = actions.index("health_status: unhealthy")
        die = actions.index("die", unhealthy)
        assert "start" in actions[die:], actions
        reasons = [
            e["Actor"]["Attributes"].get("reason")
            for e in events(api, name, since)
            if e["Action"] == "die"
        ]
        assert reasons == ["unhealthy"]
    status = next(c for c in our_stack.ps() if c["Name"] == name)["Status"]
    assert "restarted: unhealthy" in str(status)
    logs = our_stack.pycompose("logs", "web").stdout
    assert "container unhealthy (2 failing checks" in logs and "restarting it" in logs
    # healthy again after the restart (the command made /tmp/ok again)
    with engine_api(our_stack.engine) as api:
        deadline_healthy = time.monotonic() + 30
        while api.state(name).get("Health", {}).get("Status") != "healthy":
            assert time.monotonic() < deadline_healthy, api.state(name)
            time.sleep(0.1)


def test_on_unhealthy_stop_leaves_it_stopped(our_stack: Stack):
    our_stack.write(
        textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            command: ["sh", "-c", "trap 'exit 3' TERM; touch /tmp/ok; while :; do sleep 0.1; done"]
            restart: always
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ok"]
              interval: 1s
              retries: 1
            x-pycompose: {{on_unhealthy: stop}}
    """)
    )
    our_stack.pycompose("up", "-d", "--wait")
    name = f"{our_stack.name}-web-1"
    our_stack.pycompose("exec", "-T", "web", "rm", "/tmp/ok")
    with engine_api(our_stack.engine) as api:
        deadline = time.monotonic() + 10
        while api.state(name)["Status"] != "exited":
            assert time.monotonic() < deadline, api.state(name)
            time.sleep(0.1)
        time.sleep(1)  # restart: always must not bring it back
        state = api.state(name)
        assert state["Status"] == "exited" and state["ExitCode"] == 3
    status = next(c for c in our_stack.ps() if c["Name"] == name)["Status"]
    assert "stopped: unhealthy" in str(status)


def _engine_pid(socket_path: str) -> int:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"engine.daemon" in argv and socket_path.encode() in argv:
            return int(entry)
    raise AssertionError(f"no engine serves {socket_path}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


HEALTH_GATED = """
services:
  web:
    image: {image}
    command: ["sleep", "1000000"]
    restart: always
    depends_on: {{api: {{condition: service_healthy}}}}
  api:
    image: {image}
    command: ["sh", "-c", "sleep 1; touch /tmp/up; exec sleep 1000000"]
    restart: unless-stopped
    healthcheck: {{test: ["CMD", "test", "-f", "/tmp/up"], interval: 1s, retries: 30}}
    depends_on: {{db: {{condition: service_healthy}}}}
  db:
    image: {image}
    command: ["sh", "-c", "sleep 1; touch /tmp/up; exec sleep 1000000"]
    restart: always
    healthcheck: {{test: ["CMD", "test", "-f", "/tmp/up"], interval: 1s, retries: 30}}
"""


def test_after_the_engine_stopped_and_the_processes_died_they_come_back_in_order(
    own_stack: Stack,
):
    own_stack.write(HEALTH_GATED.format(image=IMAGE))
    own_stack.pycompose("up", "-d", "--wait")
    engine = own_stack.engine
    names = {s: f"{own_stack.name}-{s}-1" for s in ("db", "api", "web")}
    with engine_api(engine) as api:
        pids = {s: api.state(n)["Pid"] for s, n in names.items()}
    assert all(pids.values())
    daemon = _engine_pid(engine.socket)
    os.kill(daemon, signal.SIGKILL)  # the engine goes down (as a crash; nothing stops them)
    wait_until(lambda: _gone(daemon), 30, "the engine to die")
    for pid in pids.values():  # then the containers' processes die (as at a power cut)
        os.kill(pid, signal.SIGKILL)
    for pid in pids.values():
        wait_until(lambda pid=pid: _gone(pid), 30, f"process {pid} to die")
    since = time.time()
    engine.restart()
    with engine_api(engine) as api:
        for service, name in names.items():
            wait_until(
                lambda name=name: (
                    api.state(name)["Status"] == "running"
                    and (api.state(name).get("Health") or {}).get("Status", "healthy") == "healthy"
                ),
                60,
                f"{service} running (and healthy) again",
            )
        seen = [
            (e["Actor"]["Attributes"]["com.docker.compose.service"], e["Action"])
            for name in names.values()
            for e in events(api, name, since)
        ]
        timeline = sorted(
            (e["timeNano"], e["Actor"]["Attributes"]["com.docker.compose.service"], e["Action"])
            for name in names.values()
            for e in events(api, name, since)
            if e["Action"] in ("start", "health_status: healthy")
        )
    steps = [(service, action) for _, service, action in timeline]
    assert steps[:5] == [
        ("db", "start"),
        ("db", "health_status: healthy"),
        ("api", "start"),
        ("api", "health_status: healthy"),
        ("web", "start"),
    ], (steps, seen)


def test_wait_for_orders_two_projects(shared_engine: Engine, tmp_path: Path):
    (tmp_path / "infra").mkdir()
    (tmp_path / "app").mkdir()
    infra = Stack(shared_engine, tmp_path / "infra")
    app = Stack(shared_engine, tmp_path / "app")
    infra.write(
        textwrap.dedent(f"""
        services:
          db:
            image: {IMAGE}
            command: ["sh", "-c", "sleep 2; touch /tmp/up; exec sleep 1000000"]
            healthcheck: {{test: ["CMD", "test", "-f", "/tmp/up"], interval: 1s, retries: 30}}
          broken:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 1}}
    """)
    )
    app.write(
        textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            command: ["sleep", "1000000"]
            x-pycompose:
              wait_for:
                - {{project: {infra.name}, service: db, condition: service_healthy}}
    """)
    )
    try:
        plan = app.pycompose("up", "--dry-run").stdout
        assert f"waits for {infra.name}/db healthy" in plan, plan
        infra.pycompose("up", "-d")
        app.pycompose("up", "-d")  # waits: infra's db turns healthy after ~3 s
        with engine_api(shared_engine) as api:
            db = api.state(f"{infra.name}-db-1")
            web = api.state(f"{app.name}-web-1")
        healthy_at = min(entry["End"] for entry in db["Health"]["Log"] if entry["ExitCode"] == 0)
        assert db["Health"]["Status"] == "healthy"
        assert web["StartedAt"] > healthy_at, (web["StartedAt"], healthy_at)
        # fail fast, as depends_on: an unhealthy service of the other project
        app.pycompose("down", "-t", "0")
        app.write(
            textwrap.dedent(f"""
            services:
              web:
                image: {IMAGE}
                command: ["sleep", "1000000"]
                x-pycompose:
                  wait_for: [{{project: {infra.name}, service: broken, condition: service_healthy}}]
        """)
        )
        failed = app.pycompose("up", "-d", check=False)
        assert failed.returncode != 0
        assert f"{infra.name}-broken-1 is unhealthy" in failed.stderr, failed.stderr
        app.write((tmp_path / "app" / "compose.yaml").read_text().replace(infra.name, "nosuch"))
        missing = app.pycompose("up", "-d", "--wait", "--wait-timeout", "2", check=False)
        assert missing.returncode != 0
        assert "project 'nosuch' has no container of service 'broken'" in missing.stderr
    finally:
        for stack in (app, infra):
            stack.pycompose("down", "-v", "-t", "0", check=False)


def start_first_stack(port: int, greeting: str) -> str:
    return textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            command: ["sh", "-c", "mkdir -p /www && echo $$GREETING > /www/index.html && exec httpd -f -p 8080 -h /www"]
            environment: {{GREETING: {greeting}}}
            ports: ["127.0.0.1:{port}:8080"]
            healthcheck:
              test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
              interval: 1s
              retries: 30
            stop_grace_period: 1s
            deploy: {{update_config: {{order: start-first}}}}
          client:
            image: {IMAGE}
            command: ["sh", "-c", "while :; do wget -q -O - http://web:8080/ 2>/dev/null || echo FAIL; sleep 0.02; done"]
            stop_grace_period: 0s
    """)


class Poller:
    """Hits a URL every 20 ms from the host, in a thread; counts answers and failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    self.answers.append(response.read().decode().strip())
            except OSError as exc:
                self.failures.append(f"{time.time():.3f} {exc}")
            time.sleep(0.02)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _answer(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return str(response.read().decode().strip())
    except OSError:
        return None


def rolling_update(stack: Stack, port: int) -> tuple[Poller, list[str]]:
    """`up -d` after an environment change while the host and a container poll the service."""
    stack.pycompose("up", "-d", "--wait")
    with Poller(f"http://127.0.0.1:{port}/") as poller:
        wait_until(lambda: poller.answers, 30, "the first answer")
        stack.write(start_first_stack(port, "two"))
        stack.pycompose("up", "-d", "web")
        wait_until(lambda: poller.answers and poller.answers[-1] == "two", 30, "the new answer")
        time.sleep(1)
    lines = stack.pycompose("logs", "--no-log-prefix", "client").stdout.split()
    served = lines[lines.index("one") :] if "one" in lines else lines
    return poller, served


def test_a_start_first_service_is_updated_without_a_failed_request(
    our_stack: Stack, tmp_path_factory: pytest.TempPathFactory, record_property: Any
):
    port = free_port()
    our_stack.write(start_first_stack(port, "one"))
    our_stack.pycompose("up", "-d", "--wait")
    our_stack.write(start_first_stack(port, "two"))
    plan = our_stack.pycompose("up", "--dry-run").stdout
    assert "recreate container" in plan and "environment.GREETING changed; start-first" in plan
    our_stack.write(start_first_stack(port, "one"))
    poller, served = rolling_update(our_stack, port)
    assert not poller.failures, poller.failures[:5]
    assert "one" in poller.answers and poller.answers[-1] == "two"
    assert "FAIL" not in served, served.count("FAIL")
    assert "two" in served
    names = [c["Name"] for c in our_stack.ps() if c["Service"] == "web"]
    assert names == [f"{our_stack.name}-web-1"]
    # the updated container stops and starts as any other (its predecessor is gone)
    our_stack.pycompose("stop", "web")
    our_stack.pycompose("start", "web")
    wait_until(lambda: _answer(port) == "two", 30, "the port to answer after a restart")
    # the same update by docker compose on dockerd (where the oracle runs): measured only
    docker_failures = docker_compose_failures(tmp_path_factory.mktemp("docker"))
    if docker_failures is not None:
        record_property("docker_compose_failed_requests", docker_failures)
        print(f"docker compose, same update: {docker_failures} failed requests (pycompose: 0)")


def docker_compose_failures(directory: Path) -> str | None:
    """Failed requests (host / in-container) during docker compose's own update, or None
    when no Docker oracle answers here."""
    if docker_compose_binary() is None or not os.environ.get("PYCOMPOSE_TEST_DOCKER_HOST"):
        return None
    docker = _docker_engine(directory)
    if docker is None:
        return None
    stack = Stack(docker, directory, "docker-compose")
    port = free_port()
    stack.write(start_first_stack(port, "one"))
    try:
        poller, served = rolling_update(stack, port)
    finally:
        stack.pycompose("down", "-v", "-t", "0", check=False)
    return f"{len(poller.failures)} from the host, {served.count('FAIL')} by service name"


def test_a_new_container_that_never_becomes_healthy_leaves_the_old_one_serving(
    our_stack: Stack,
):
    port = free_port()
    our_stack.write(start_first_stack(port, "one"))
    our_stack.pycompose("up", "-d", "--wait", "web")
    before = {c["Name"]: c["ID"] for c in our_stack.ps()}
    broken = (
        start_first_stack(port, "two")
        .replace('"http://127.0.0.1:8080/"]', '"http://127.0.0.1:9/"]')
        .replace("retries: 30", "retries: 2")
    )
    our_stack.write(broken)
    with Poller(f"http://127.0.0.1:{port}/") as poller:
        wait_until(lambda: poller.answers, 30, "the first answer")
        failed = our_stack.pycompose("up", "-d", "web", check=False)
        time.sleep(0.5)
    assert failed.returncode != 0
    assert "the old container serves on" in failed.stderr and "unhealthy" in failed.stderr
    assert not poller.failures, poller.failures[:5]
    assert set(poller.answers) == {"one"}
    assert {c["Name"]: c["ID"] for c in our_stack.ps()} == before  # the new one is gone
