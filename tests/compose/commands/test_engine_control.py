"""`pycompose engine status|stop|logs` and `version` without an engine process of their own."""

from __future__ import annotations

import fcntl
import io
import os
from pathlib import Path

import pytest
from command_harness import Harness

from compose.cli import main
from compose.commands import Terminal
from compose.commands.engine_control import NOT_RUNNING, engine_pid, logs, status, stop

pytestmark = pytest.mark.anyio


def terminal() -> Terminal:
    return Terminal(out=io.StringIO(), err=io.StringIO())


async def test_status_asks_the_engine_over_its_api(harness: Harness, tmp_path: Path) -> None:
    shown = terminal()
    assert await status(shown, harness.client.socket_path, str(tmp_path)) == 0
    assert "engine running on" in shown.out.getvalue()  # type: ignore[attr-defined]
    assert "version 0.1.0-fake" in shown.out.getvalue()  # type: ignore[attr-defined]
    gone = terminal()
    assert await status(gone, str(tmp_path / "none.sock"), str(tmp_path)) == NOT_RUNNING


def test_engine_pid_is_the_holder_of_the_data_roots_lock(tmp_path: Path) -> None:
    assert engine_pid(str(tmp_path)) is None
    with open(tmp_path / "engine.lock", "w") as handle:
        handle.write("4242\n")
        handle.flush()
        assert engine_pid(str(tmp_path)) is None  # written but not held
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert engine_pid(str(tmp_path)) == 4242
    shown = terminal()
    assert stop(shown, str(tmp_path), 1.0) == 0
    assert "engine not running" in shown.out.getvalue()  # type: ignore[attr-defined]


def test_logs_prints_the_tail_of_the_engine_log(tmp_path: Path) -> None:
    (tmp_path / "engine.log").write_text("".join(f"line {n}\n" for n in range(10)))
    shown = terminal()
    assert logs(shown, tmp_path / "engine.log", 2, follow=False) == 0
    assert shown.out.getvalue() == "line 8\nline 9\n"  # type: ignore[attr-defined]
    assert logs(shown, tmp_path / "missing.log", 2, follow=False) == 1
    assert "no engine log" in shown.err.getvalue()  # type: ignore[attr-defined]


def test_the_engine_commands_through_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    socket = f"unix://{tmp_path}/none.sock"
    assert main(["engine", "--host", socket, "--data-root", str(tmp_path), "status"]) == 3
    assert "engine not running" in capsys.readouterr().out
    assert main(["engine", "--data-root", str(tmp_path), "logs"]) == 1
    monkeypatch.setenv("PYCOMPOSE_HOST", socket)
    assert main(["version"]) == 0
    assert "engine: not running" in capsys.readouterr().out
    if os.geteuid() != 0:
        assert main(["engine", "start"]) == 1
        assert "must run as root" in capsys.readouterr().err


def test_image_and_engine_reject_what_they_do_not_implement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (
        ["image", "mount", "busybox"],
        ["image", "ls", "--data-root", "/x"],
        ["image", "push", "--chunk-size", "5", "x"],
        ["engine", "restart"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
    capsys.readouterr()


def test_a_dry_run_of_image_or_engine_commands_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--dry-run", "image", "rm", "busybox"]) == 1
    assert "--dry-run is not supported by `image`" in capsys.readouterr().err
    assert main(["--dry-run", "engine", "stop"]) == 1
    assert "--dry-run is not supported by `engine`" in capsys.readouterr().err
