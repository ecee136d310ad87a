"""``pycompose engine start|status|stop|logs``, ``pycompose image ...`` and ensure_engine,
on a tmp data root: the CLI as a user runs it, against a real engine."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import anyio
import pytest
from daemon_helpers import Daemon, skip_reason

from compose.cli import main
from compose.commands.engine_control import NOT_RUNNING, engine_pid
from engine.api.autostart import ensure_engine
from engine.api.client import EngineClient

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


@pytest.fixture
def spot(monkeypatch: pytest.MonkeyPatch):
    """A Daemon's paths (not started), with the environment the detached engine inherits."""
    place = Daemon()
    monkeypatch.setenv("PYCOMPOSE_HOST", f"unix://{place.socket}")
    monkeypatch.setenv("PYCOMPOSE_DATA_ROOT", str(place.data_root))
    monkeypatch.setenv("PYCOMPOSE_EXEC_ROOT", str(place.exec_root))
    monkeypatch.setenv("PYCOMPOSE_NETWORK_NETNS", place.host_netns)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    try:
        yield place
    finally:
        pid = engine_pid(str(place.data_root))
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        place.cleanup()


def test_start_status_logs_stop(spot: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engine", "status"]) == NOT_RUNNING
    assert main(["engine", "start"]) == 0
    assert "engine started" in capsys.readouterr().out
    assert main(["engine", "start"]) == 0
    assert "already running" in capsys.readouterr().out
    assert main(["engine", "status"]) == 0
    status = capsys.readouterr().out
    assert "engine running" in status and "0 containers" in status
    assert main(["engine", "logs", "-n", "5"]) == 0
    assert "engine listening" in capsys.readouterr().out
    assert (spot.data_root / "engine.log").exists()
    assert main(["engine", "stop"]) == 0
    assert "engine stopped" in capsys.readouterr().out
    assert not os.path.exists(spot.socket)
    assert main(["engine", "status"]) == NOT_RUNNING


def test_the_engine_starts_isolated_from_the_callers_directory_and_pythonpath(
    spot: Daemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted ``engine`` package where the caller stands or on PYTHONPATH is not run."""
    planted = tmp_path / "engine" / "daemon"
    planted.mkdir(parents=True)
    marker = tmp_path / "planted-ran"
    (tmp_path / "engine" / "__init__.py").write_text("")
    (planted / "__init__.py").write_text("")
    (planted / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert main(["engine", "start"]) == 0
    assert not marker.exists()
    assert main(["engine", "stop"]) == 0


def test_image_commands_go_through_the_engine(
    spot: Daemon,
    busybox_tar: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = tmp_path / "busybox.tar"
    archive.write_bytes(busybox_tar)
    assert main(["engine", "start"]) == 0
    capsys.readouterr()
    assert main(["image", "import", str(archive), "-t", "example.com/copy:1"]) == 0
    assert "Loaded image: busybox:latest" in capsys.readouterr().out
    assert main(["image", "ls", "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(r["Repository"], r["Tag"]) for r in rows} == {
        ("busybox", "latest"),
        ("example.com/copy", "1"),
    }
    assert main(["image", "ls"]) == 0
    assert capsys.readouterr().out.split()[:6] == [
        "REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE",
    ]  # fmt: skip
    assert main(["image", "tag", "busybox", "example.com/other"]) == 0
    assert main(["image", "inspect", "example.com/other:latest"]) == 0
    [inspect] = json.loads(capsys.readouterr().out)
    assert "example.com/other:latest" in inspect["RepoTags"]
    saved = tmp_path / "out.tar"
    assert main(["image", "save", "example.com/copy:1", "-o", str(saved)]) == 0
    assert saved.stat().st_size > 0 and not (tmp_path / "out.tar.partial").exists()
    assert main(["image", "rm", "example.com/other"]) == 0
    assert "Untagged: example.com/other:latest" in capsys.readouterr().out
    assert main(["image", "rm", "-f", "busybox", "example.com/copy:1"]) == 0
    assert "Deleted: sha256:" in capsys.readouterr().out
    assert main(["image", "load", str(saved)]) == 0
    assert "Loaded image: example.com/copy:1" in capsys.readouterr().out
    assert main(["image", "prune", "-a"]) == 0
    assert "Deleted: sha256:" in capsys.readouterr().out
    assert main(["image", "inspect", "nothing:here"]) == 1
    assert "No such image: nothing:here" in capsys.readouterr().err
    assert main(["image", "pull", "Bad//Name"]) == 1
    assert "invalid reference format" in capsys.readouterr().err
    assert main(["engine", "stop"]) == 0


def test_ensure_engine_starts_it_once(spot: Daemon) -> None:
    async def check() -> None:
        socket_path = await ensure_engine()
        assert socket_path == spot.socket
        first = engine_pid(str(spot.data_root))
        assert await ensure_engine() == spot.socket
        assert engine_pid(str(spot.data_root)) == first
        async with EngineClient() as client:
            assert (await client.version()).ApiVersion == "1.41"

    anyio.run(check)
