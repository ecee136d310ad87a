"""`pycompose engine install-service | uninstall-service`: the systemd unit (never enabled here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from compose.cli import main


def _run(*args: str) -> int:
    return main(
        [
            "engine",
            "--host",
            "unix:///run/x%y/engine.sock",
            "--data-root",
            "/var/lib/p$c",
            *args,
        ]
    )


def test_the_unit_is_written_valid_and_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = tmp_path / "pycompose-engine.service"
    assert _run("install-service", "--unit-dir", str(tmp_path), "--no-enable") == 0
    text = unit.read_text()
    assert "KillMode=process" in text and "WantedBy=multi-user.target" in text
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    # systemd's own specifiers and variables are escaped: the engine gets these paths as given
    assert '"/run/x%%y/engine.sock"' in exec_start and '"/var/lib/p$$c"' in exec_start
    assert "engine.daemon" in exec_start
    assert f"wrote {unit}" in capsys.readouterr().out
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        checked = subprocess.run(
            [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
        assert checked.stderr.strip() == "", checked.stderr
    assert _run("uninstall-service", "--unit-dir", str(tmp_path), "--no-enable") == 0
    assert not unit.exists()
    assert _run("uninstall-service", "--unit-dir", str(tmp_path), "--no-enable") == 0
    assert "no unit at" in capsys.readouterr().out


def test_an_unwritable_unit_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert _run("install-service", "--unit-dir", str(blocker), "--no-enable") == 1
    assert "cannot write" in capsys.readouterr().err
