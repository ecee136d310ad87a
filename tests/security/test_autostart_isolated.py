"""Attack: code where the caller stands, or on its PYTHONPATH, runs as root when the CLI
starts the engine on demand.

``pycompose ps`` starts the engine when nothing answers on its socket. It is run from a
directory holding a hostile ``engine/daemon/__main__.py`` and with PYTHONPATH naming a
directory whose ``sitecustomize.py`` acts only inside the engine (its command line has
``--data-root``). Neither may run: the engine must start from the installed package only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="auto-start needs root"),
]

PYCOMPOSE = str(Path(sys.executable).parent / "pycompose")

HOSTILE_MAIN = """\
from pathlib import Path
Path({marker!r}).write_text("engine/daemon/__main__.py from the current directory ran")
"""

HOSTILE_SITE = """\
from pathlib import Path
if b"--data-root" in Path("/proc/self/cmdline").read_bytes():
    Path({marker!r}).write_text("sitecustomize from PYTHONPATH ran in the engine")
"""


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pcauto", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _engine_pid(data_root: Path) -> int | None:
    try:
        text = (data_root / "engine.lock").read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _stop_engine(data_root: Path) -> None:
    pid = _engine_pid(data_root)
    if pid is None:
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)


def test_auto_start_runs_nothing_from_the_current_directory_or_pythonpath(base: Path) -> None:
    marker = base / "marker-from-cwd"
    path_marker = base / "marker-from-pythonpath"
    project = base / "project"
    (project / "engine" / "daemon").mkdir(parents=True)
    (project / "engine" / "__init__.py").write_text("")
    (project / "engine" / "daemon" / "__init__.py").write_text("")
    (project / "engine" / "daemon" / "__main__.py").write_text(
        HOSTILE_MAIN.format(marker=str(marker))
    )
    (project / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n")
    hostile_path = base / "pythonpath"
    hostile_path.mkdir()
    (hostile_path / "sitecustomize.py").write_text(HOSTILE_SITE.format(marker=str(path_marker)))
    data_root = base / "data"
    environment = {
        **os.environ,
        "PYTHONPATH": str(hostile_path),
        "PYCOMPOSE_HOST": f"unix://{base}/engine.sock",
        "PYCOMPOSE_DATA_ROOT": str(data_root),
        "PYCOMPOSE_EXEC_ROOT": str(base / "exec"),
        "PYCOMPOSE_NO_NETWORK": "1",
    }
    environment.pop("DOCKER_HOST", None)
    try:
        result = subprocess.run(
            [PYCOMPOSE, "ps"],
            cwd=project,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert not marker.exists(), marker.read_text()
        assert not path_marker.exists(), path_marker.read_text()
        assert result.returncode == 0, result.stderr
        assert _engine_pid(data_root) is not None  # the real engine did start
        assert (data_root / "engine.log").stat().st_mode & 0o777 == 0o600
    finally:
        _stop_engine(data_root)
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for target in sorted((m for m in mounts if m.startswith(str(base))), reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)
