"""``pycompose engine start|status|stop|logs`` and ensure_engine, on a tmp data root."""

from __future__ import annotations

import argparse
import os
import signal
import time

import anyio
import pytest
from daemon_helpers import Daemon, skip_reason

from engine.api.client import EngineClient, ensure_engine
from engine.daemon import cli

SKIP = skip_reason()
pytestmark = [pytest.mark.root, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def engine_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["engine", *argv])


@pytest.fixture
def spot(monkeypatch: pytest.MonkeyPatch):
    """A Daemon's paths (not started), with the environment the detached engine inherits."""
    place = Daemon()
    monkeypatch.setenv("PYCOMPOSE_HOST", f"unix://{place.socket}")
    monkeypatch.setenv("PYCOMPOSE_DATA_ROOT", str(place.data_root))
    monkeypatch.setenv("PYCOMPOSE_EXEC_ROOT", str(place.exec_root))
    monkeypatch.setenv("PYCOMPOSE_NETWORK_NETNS", place.host_netns)
    try:
        yield place
    finally:
        pid = cli.engine_pid(str(place.data_root))
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        place.cleanup()


def test_start_status_logs_stop(spot: Daemon, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(engine_args("status")) == cli.NOT_RUNNING
    assert cli.run(engine_args("start")) == 0
    assert "engine started" in capsys.readouterr().out
    assert cli.run(engine_args("start")) == 0
    assert "already running" in capsys.readouterr().out
    assert cli.run(engine_args("status")) == 0
    status = capsys.readouterr().out
    assert "engine running" in status and "0 containers" in status
    assert cli.run(engine_args("logs", "-n", "5")) == 0
    assert "engine listening" in capsys.readouterr().out
    assert (spot.data_root / "engine.log").exists()
    assert cli.run(engine_args("stop")) == 0
    assert "engine stopped" in capsys.readouterr().out
    assert not os.path.exists(spot.socket)
    assert cli.run(engine_args("status")) == cli.NOT_RUNNING


def test_ensure_engine_starts_it_once(spot: Daemon) -> None:
    async def check() -> None:
        socket_path = await ensure_engine()
        assert socket_path == spot.socket
        first = cli.engine_pid(str(spot.data_root))
        assert await ensure_engine() == spot.socket
        assert cli.engine_pid(str(spot.data_root)) == first
        async with EngineClient() as client:
            assert (await client.version()).ApiVersion == "1.41"

    anyio.run(check)
