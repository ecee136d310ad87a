"""Helpers for the CLI-level tests: a pycompose-only project, the engine's API seen directly,
bounded condition-based waits, and a reader for a command's output while it runs.

The tests drive the venv's ``pycompose`` binary as a subprocess (as a user runs it) and
check the effect through another route: the engine's own API on its socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.conftest import Engine, Stack

T = TypeVar("T")


def wait_for(
    observe: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 60
) -> T:
    """Poll ``observe`` until ``done`` holds for what it returns; fail showing the last value."""
    deadline = time.monotonic() + timeout
    while True:
        seen = observe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last seen: {seen!r}")
        time.sleep(0.1)


class EngineAPI:
    """The engine under test, asked directly over its socket (not through pycompose)."""

    def __init__(self, socket_path: str) -> None:
        self.client = httpx.Client(
            transport=httpx.HTTPTransport(uds=socket_path), base_url="http://engine", timeout=60
        )

    def container(self, name: str) -> dict[str, Any] | None:
        """``GET /containers/{name}/json``, or None when there is no such container."""
        response = self.client.get(f"/containers/{name}/json")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def state(self, name: str) -> dict[str, Any]:
        found = self.container(name)
        assert found is not None, f"container {name} does not exist"
        return dict(found["State"])

    def image(self, reference: str) -> dict[str, Any] | None:
        response = self.client.get(f"/images/{reference}/json")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def remove_image(self, reference: str) -> None:
        response = self.client.delete(f"/images/{reference}", params={"force": "1"})
        if response.status_code != 404:
            response.raise_for_status()

    def project_resources(self, project: str) -> list[str]:
        """The containers, networks and volumes the engine holds for ``project``."""
        filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
        found = []
        for kind, path, key in (
            ("container", "/containers/json", "Names"),
            ("network", "/networks", "Name"),
            ("volume", "/volumes", "Name"),
        ):
            response = self.client.get(path, params={"all": "1", "filters": filters})
            response.raise_for_status()
            body = response.json()
            items = (body["Volumes"] or []) if kind == "volume" else body
            found += [f"{kind} {item[key]}" for item in items]
        return found

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def engine_api(engine: Engine) -> Iterator[EngineAPI]:
    client = EngineAPI(engine.socket)
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def pycompose_project(engine: Engine, directory: Path, api: EngineAPI) -> Iterator[Stack]:
    """A project driven by ``pycompose`` only, taken down (``down -v``) even on failure."""
    stack = Stack(engine, directory, "pycompose")
    try:
        yield stack
    finally:
        # (down costs seconds: skipped when the engine holds nothing of the project)
        if (directory / "compose.yaml").exists() and api.project_resources(stack.name):
            stack.pycompose("down", "-v", "--remove-orphans", "-t", "0", check=False)
            left = api.project_resources(stack.name)
            assert not left, f"`down -v` left {left}"


def environment(stack: Stack) -> dict[str, str]:
    return {**os.environ, **stack.engine.environment, "NO_COLOR": "1"}


class RunningCommand:
    """A pycompose command left running (``events``, ``wait``), its stdout read as it comes."""

    def __init__(self, stack: Stack, *args: str) -> None:
        self.process = subprocess.Popen(
            [*stack.command(), *args],
            cwd=stack.directory,
            env=environment(stack),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for_lines(
        self, done: Callable[[list[str]], bool], what: str, timeout: float = 60
    ) -> list[str]:
        """Block until ``done(lines)`` holds; fail with the lines seen (and stderr if it died)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    pytest.fail(
                        f"waiting for {what}: saw {self.lines!r}; "
                        f"exit code {self.process.poll()}; stderr: {self.stderr_if_done()}"
                    )
                self._changed.wait(min(remaining, 0.5))
            return list(self.lines)

    def stderr_if_done(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "(still running)"
        return self.process.stderr.read()

    def finish(self, timeout: float = 120) -> int:
        """Wait for the command to end by itself; its exit code."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
