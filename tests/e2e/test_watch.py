"""develop.watch as a user sees it: files edited on the host show up in the container.

``watch`` (and ``up --watch``) run as a user runs them, against each engine; what they do
is checked through the engine's API (the container's files through ``GET .../archive``,
its state through inspect), never through pycompose. The sync scenario also runs docker
compose's own ``watch`` (the ``stack`` fixture), so both tools are held to the same
result. The detached watcher is checked as a process: gone after ``down``, gone by itself
once the project's containers are.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import EngineAPI, engine_api, environment, pycompose_project, wait_for
from tests.e2e.conftest import IMAGE, Engine, Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _private_watch_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Detached watchers keep their records under the test's own runtime directory; the
    warm CLI the test's commands started there leaves with the test."""
    from compose.cli_server import stop
    from compose.launch import server_socket

    (tmp_path / "run").mkdir()  # docker compose's watch takes its lock there too
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    yield
    assert stop(server_socket()), "the test's warm CLI did not leave"


@pytest.fixture
def api(engine: Engine) -> Iterator[EngineAPI]:
    with engine_api(engine) as client:
        yield client


@pytest.fixture
def project(engine: Engine, tmp_path: Path, api: EngineAPI) -> Iterator[Stack]:
    with pycompose_project(engine, tmp_path / "project", api) as stack:
        stack.directory.mkdir()
        yield stack


def read_in(api: EngineAPI, container: str, path: str) -> str | None:
    """A file of the container through the engine's archive API; None when it is absent."""
    response = api.client.get(f"/containers/{container}/archive", params={"path": path})
    if response.status_code == 404:
        return None
    response.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        members = tar.getmembers()
        if not members:
            return None  # removed while dockerd was archiving it
        member = tar.extractfile(members[0])
        return None if member is None else member.read().decode()


def owner_in(api: EngineAPI, container: str, path: str) -> tuple[int, int]:
    response = api.client.get(f"/containers/{container}/archive", params={"path": path})
    response.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        member = tar.getmembers()[0]
        return member.uid, member.gid


class Watching:
    """A command left running with stdout and stderr merged, read line by line."""

    def __init__(self, stack: Stack, *args: str) -> None:
        self.process = subprocess.Popen(
            [*stack.command(), *args],
            cwd=stack.directory,
            env=environment(stack)
            | (
                {"DOCKER_HOST": f"unix://{stack.engine.socket}"}
                if stack.tool != "pycompose"
                else {}
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float = 120) -> None:
        wait_for(
            lambda: (self.process.poll(), self.lines[-30:]),
            lambda seen: any(text in line for line in self.lines) or seen[0] is not None,
            f"{text!r} from the watch",
            timeout,
        )
        assert any(text in line for line in self.lines), self.lines

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=10)


@pytest.fixture
def watching() -> Iterator[Callable[..., Watching]]:
    started: list[Watching] = []

    def start(stack: Stack, *args: str) -> Watching:
        started.append(Watching(stack, *args))
        return started[-1]

    yield start
    for command in started:
        command.stop()


def until_in_container(
    api: EngineAPI, container: str, path: str, expected: str | None, timeout: float = 10
) -> float:
    """Seconds until ``path`` in the container holds ``expected`` (None: is absent)."""
    start = time.monotonic()
    wait_for(
        lambda: read_in(api, container, path),
        lambda seen: seen == expected,
        f"{path} in {container} to be {expected!r}",
        timeout,
    )
    return time.monotonic() - start


SYNC = textwrap.dedent(f"""
    services:
      app:
        image: {IMAGE}
        command: ["sleep", "3600"]
        init: true
        stop_grace_period: 1s
        develop:
          watch:
            - path: ./src
              target: /app
              action: sync
              ignore: ["*.tmp", "cache/"]
              initial_sync: true
""")


def test_sync_copies_edits_and_deletions_and_respects_ignore(
    stack: Stack, watching: Callable[..., Watching]
) -> None:
    """The same scenario through docker compose's watch and pycompose's, on each engine."""
    stack.write(SYNC)
    (stack.directory / "src").mkdir()
    (stack.directory / "src" / "before.txt").write_text("there before\n")
    container = f"{stack.name}-app-1"
    with engine_api(stack.engine) as api:
        watch = watching(stack, "watch")
        watch.wait_for_line("Watch enabled")
        assert read_in(api, container, "/app/before.txt") == "there before\n"  # initial_sync

        (stack.directory / "src" / "new.txt").write_text("one\n")
        took = until_in_container(api, container, "/app/new.txt", "one\n")
        assert took < 3, f"synced after {took:.1f}s"

        (stack.directory / "src" / "skip.tmp").write_text("no")
        (stack.directory / "src" / "cache").mkdir()
        (stack.directory / "src" / "cache" / "c.txt").write_text("no")
        (stack.directory / "src" / "sub").mkdir()
        (stack.directory / "src" / "sub" / "deep.txt").write_text("deep\n")
        (stack.directory / "src" / "new.txt").write_text("two\n")
        until_in_container(api, container, "/app/sub/deep.txt", "deep\n")
        until_in_container(api, container, "/app/new.txt", "two\n")
        assert read_in(api, container, "/app/skip.tmp") is None
        assert read_in(api, container, "/app/cache/c.txt") is None

        (stack.directory / "src" / "new.txt").unlink()
        until_in_container(api, container, "/app/new.txt", None)
        assert any('Syncing service "app"' in line for line in watch.lines), watch.lines


HOOKS = textwrap.dedent(f"""
    services:
      app:
        image: {IMAGE}
        command: ["sh", "-c", "cat /conf/setting 2>/dev/null; exec sleep 3600"]
        init: true
        stop_grace_period: 1s
        develop:
          watch:
            - path: ./conf
              target: /conf
              action: sync+restart
            - path: ./assets
              target: /assets
              action: sync+exec
              exec:
                command: ["sh", "-c", "ls /assets | wc -l > /tmp/hook-ran; echo $$HOOK_VAR >> /tmp/hook-ran"]
                environment:
                  HOOK_VAR: from-hook
            - path: ./restart-me
              action: restart
              target: /unused  # docker compose 2.40 wants one for every action but rebuild
""")


def test_sync_restart_restarts_and_sync_exec_runs_its_hook(
    engine: Engine, project: Stack, api: EngineAPI, watching: Callable[..., Watching]
) -> None:
    project.write(HOOKS)
    for directory in ("conf", "assets"):
        (project.directory / directory).mkdir()
    (project.directory / "restart-me").write_text("0")
    container = f"{project.name}-app-1"
    watch = watching(project, "watch")
    watch.wait_for_line("Watch enabled")
    started = api.state(container)["StartedAt"]

    (project.directory / "conf" / "setting").write_text("level=2\n")
    wait_for(
        lambda: api.state(container)["StartedAt"],
        lambda seen: seen != started,
        "the container to be restarted after a sync+restart",
        timeout=20,
    )
    assert read_in(api, container, "/conf/setting") == "level=2\n"
    watch.wait_for_line('service(s) ["app"] restarted')

    # two files in one batch: the hook runs once, after both are there
    (project.directory / "assets" / "a.css").write_text("a")
    (project.directory / "assets" / "b.css").write_text("b")
    until_in_container(api, container, "/tmp/hook-ran", "2\nfrom-hook\n", timeout=15)

    restarted = api.state(container)["StartedAt"]
    (project.directory / "restart-me").write_text("1")
    wait_for(
        lambda: api.state(container)["StartedAt"],
        lambda seen: seen != restarted,
        "the container to be restarted after a restart trigger",
        timeout=20,
    )


REBUILD = textwrap.dedent("""
    services:
      app:
        build: .
        command: ["sleep", "3600"]
        init: true
        stop_grace_period: 1s
        develop:
          watch:
            - path: ./Dockerfile
              action: rebuild
""")


def test_rebuild_builds_the_image_again_and_recreates_the_container(
    engine: Engine, project: Stack, api: EngineAPI, watching: Callable[..., Watching]
) -> None:
    project.write(REBUILD)
    dockerfile = project.directory / "Dockerfile"
    dockerfile.write_text(f"FROM {IMAGE}\nRUN echo v1 > /version\n")
    container = f"{project.name}-app-1"
    try:
        watch = watching(project, "watch")
        watch.wait_for_line("Watch enabled")
        before = api.container(container)
        assert before is not None and read_in(api, container, "/version") == "v1\n"

        dockerfile.write_text(f"FROM {IMAGE}\nRUN echo v2 > /version\n")
        after = wait_for(
            lambda: api.container(container),
            lambda seen: (
                seen is not None and seen["Id"] != before["Id"] and seen["State"]["Running"]
            ),
            "the container to be recreated from the rebuilt image",
            timeout=60,
        )
        assert after is not None and after["Image"] != before["Image"]
        assert read_in(api, container, "/version") == "v2\n"
        watch.wait_for_line('service(s) ["app"] successfully built')
        # --prune (the default): the image the rebuild replaced goes, just after that line
        wait_for(
            lambda: api.image(before["Image"]),
            lambda seen: seen is None,
            "the replaced image to be pruned",
            timeout=30,
        )
    finally:
        api.remove_image(f"{project.name}-app")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose (its parent, the test's pycompose, has exited)
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"


def _records(stack: Stack) -> list[Path]:
    """The watcher records of the project (under the test's XDG_RUNTIME_DIR)."""
    runtime = Path(os.environ["XDG_RUNTIME_DIR"]) / "pycompose" / "watch"
    return list(runtime.glob(f"{stack.name}-*/watcher.json"))


def _recorded_pid(stack: Stack) -> int:
    records = _records(stack)
    assert len(records) == 1, records
    return int(json.loads(records[0].read_text())["pid"])


DETACHED = textwrap.dedent(f"""
    services:
      app:
        image: {IMAGE}
        command: ["sleep", "3600"]
        user: nobody
        init: true
        stop_grace_period: 1s
        develop:
          watch:
            - path: ./src
              target: /app
              action: sync
""")


def test_detached_watch_syncs_after_return_and_ends_with_the_project(
    engine: Engine, project: Stack, api: EngineAPI
) -> None:
    """``watch -d``, ``--status``, ``--stop``; ``down`` stops it; it ends by itself when the
    containers go; and what is refused is refused before anything is made."""
    project.write(DETACHED.replace("develop:\n      watch:", "x-develop-off:\n      watch:"))
    refused = project.pycompose("watch", "-d", check=False)
    assert refused.returncode == 1
    assert "none of the selected services is configured for watch" in refused.stderr
    project.write(DETACHED.replace("action: sync", "action: rebuild"))
    refused = project.pycompose("up", "-d", "--watch", check=False)
    assert "can't watch service 'app' with action rebuild without a build context" in (
        refused.stderr
    )
    assert not api.project_resources(project.name) and not _records(project)

    project.write(DETACHED)
    (project.directory / "src").mkdir()
    container = f"{project.name}-app-1"
    result = project.pycompose("watch", "-d", timeout=120)
    assert "Watch enabled in the background" in result.stderr
    status = project.pycompose("watch", "--status").stdout
    assert f"watching project {project.name}" in status and "services: app" in status
    pid = int(status.split("pid ")[1].split(",")[0])
    assert pid == _recorded_pid(project) and _alive(pid)
    # edited after the command returned: the background watcher syncs it
    (project.directory / "src" / "later.txt").write_text("after return\n")
    until_in_container(api, container, "/app/later.txt", "after return\n")
    # owned by the container's user, as docker compose's copy (CopyUIDGID) makes it
    assert owner_in(api, container, "/app/later.txt") == (65534, 65534)
    stopped = project.pycompose("watch", "--stop")
    assert f"pid {pid}" in stopped.stderr
    assert not _alive(pid) and not _records(project)
    assert api.state(container)["Running"]  # --stop ends the watch only

    project.pycompose("watch", "-d", "--no-up", "--quiet")
    pid = _recorded_pid(project)
    project.pycompose("down", "-t", "0")
    assert not _alive(pid), "down left the detached watcher running"
    assert not _records(project)

    project.pycompose("up", "-d", "--watch", timeout=120)
    pid = _recorded_pid(project)
    # the containers go behind pycompose's back (docker rm -f): the watcher follows
    api.client.delete(f"/containers/{container}", params={"force": "1"}).raise_for_status()
    wait_for(lambda: _alive(pid), lambda alive: not alive, "the watcher to end", timeout=20)
    assert not _records(project)
    log = Path(os.environ["XDG_RUNTIME_DIR"]).glob(f"pycompose/watch/{project.name}-*/watch.log")
    assert "the project's containers are gone" in next(log).read_text()


def test_up_watch_shows_logs_and_syncs_until_interrupted(
    engine: Engine, project: Stack, api: EngineAPI, watching: Callable[..., Watching]
) -> None:
    project.write(
        DETACHED.replace(
            'command: ["sleep", "3600"]',
            'command: ["sh", "-c", "echo app-says-hi; exec sleep 3600"]',
        )
    )
    (project.directory / "src").mkdir()
    container = f"{project.name}-app-1"
    up = watching(project, "up", "--watch")
    up.wait_for_line("Watch enabled")
    (project.directory / "src" / "a.txt").write_text("a\n")
    until_in_container(api, container, "/app/a.txt", "a\n")
    up.wait_for_line("app-says-hi")
    up.stop()  # SIGTERM, as Ctrl-C: the watch ends and the containers stop, as attached up does
    assert up.process.returncode == 0, up.lines
    assert not api.state(container)["Running"]
