"""pycompose's own CLI runs the example stack on the engine: up, ps, exec, port, down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from daemon_helpers import Daemon, busybox_image_tar, skip_reason

from engine.api.client import EngineClient
from tests.waiting import wait_until

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]
EXAMPLE = Path(__file__).resolve().parents[3] / "examples/webapp/compose.yaml"


def test_example_stack_up_ps_exec_down(daemon: Daemon) -> None:
    async def load() -> None:
        async with EngineClient(daemon.socket, timeout=60) as client:
            tar = busybox_image_tar("pycompose-examples/busybox:latest")
            await client.request("POST", "/images/load", content=tar)

    anyio.run(load)
    environment = {**os.environ, "PYCOMPOSE_HOST": f"unix://{daemon.socket}", "WEB_PORT": "18080"}
    environment.pop("DOCKER_HOST", None)

    def pycompose(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).parent / "pycompose"), "-f", str(EXAMPLE), *args]
        return subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=180, check=False
        )

    up = pycompose("up", "-d")
    assert up.returncode == 0, up.stderr
    ps = pycompose("ps")
    assert ps.returncode == 0, ps.stderr
    lines = [line for line in ps.stdout.splitlines() if line.startswith("webapp-")]
    assert len(lines) == 3 and all(" Up " in line for line in lines), ps.stdout
    assert "127.0.0.1:18080->8080/tcp" in ps.stdout
    # the published port answers on the engine's "host" (the test's namespace)
    url = "http://127.0.0.1:18080/"
    fetch = ["nsenter", f"--net={daemon.host_netns}", "busybox", "wget", "-qO-", url]

    def fetched() -> subprocess.CompletedProcess[str] | None:
        page = subprocess.run(fetch, capture_output=True, text=True, timeout=30, check=False)
        return page if page.returncode == 0 else None

    # web was just started: its httpd listens soon after
    page = wait_until(fetched, 60, f"{url} to answer in the engine's host namespace")
    index = (EXAMPLE.parent / "web/index.html").read_text()
    assert page.stdout == index, page.stderr
    execd = pycompose("exec", "db", "ls", "-a", "/data")
    assert ".ready" in execd.stdout, execd.stderr
    down = pycompose("down", "-v")
    assert down.returncode == 0, down.stderr

    async def nothing_left() -> None:
        async with EngineClient(daemon.socket, timeout=60) as client:
            assert await client.container_list(all=True) == []
            assert [n.Name for n in await client.network_list()] == ["bridge", "host", "none"]
            assert (await client.volume_list()).Volumes == []

    anyio.run(nothing_left)
