"""Attack (CVE-2021-41091 class): an unprivileged host user reaches into the data root.

A container's layers hold the image's setuid binaries and whatever its root user made
setuid; its volumes whatever it wrote; the bundle and the databases the environment values
it was given. A host user (``nobody`` through ``setpriv``) must get EACCES on all of it, and
a data root an older engine left world-readable is fixed up at the next start.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import anyio
import pytest

from engine.images.store import ImageRecords
from engine.state import StateStore
from tests.security.storage_helpers import Daemon, engine_client, run_container, skip_reason

SKIP = skip_reason()

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
SUID_NAME = "suid-probe"


def _as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NOBODY, *command], capture_output=True, text=True, timeout=30, check=False
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _find(root: Path, name: str) -> list[Path]:
    found = []
    for directory, _, files in os.walk(root):
        found.extend(Path(directory, file) for file in files if file == name)
    return found


@pytest.mark.root
@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
def test_a_host_user_reaches_nothing_under_the_data_root() -> None:
    async def scenario(daemon: Daemon) -> None:
        async with engine_client(daemon) as client:
            await run_container(
                client,
                f"cp /bin/busybox /tmp/{SUID_NAME}; chmod 4755 /tmp/{SUID_NAME};"
                f" cp /bin/busybox /data/{SUID_NAME}; chmod 4755 /data/{SUID_NAME};"
                " echo secret > /data/f; exec sleep 60",
                {"Binds": ["data:/data"]},
                detach=True,
            )
            data_root = daemon.data_root
            with anyio.fail_after(20):
                while not list(data_root.glob("volumes/*/_data/f")):
                    await anyio.sleep(0.1)
            probes = _find(data_root, SUID_NAME)
            # the container's merged root, its upper layer, the volume
            assert len(probes) >= 3, probes
            for probe in probes:
                result = _as_nobody("/bin/sh", "-c", '"$0" id -u', str(probe))
                assert result.returncode != 0 and "Permission denied" in result.stderr, (
                    f"{probe} is reachable: {result.stdout}{result.stderr}"
                )
            for secret in [data_root, *data_root.glob("volumes/*/_data")]:
                result = _as_nobody("ls", str(secret))
                assert "Permission denied" in result.stderr, f"{secret}: {result.stdout}"
            assert _mode(data_root) == 0o710
            assert data_root.stat().st_uid == 0 and data_root.stat().st_gid == 0
            for area in ("containers", "volumes", "images"):
                assert _mode(data_root / area) == 0o700, area
            for database in [data_root / "engine.db", data_root / "images" / "images.db"]:
                assert _mode(database) == 0o600, database
            bundles = [p for p in (data_root / "containers").iterdir() if p.is_dir()]
            assert bundles
            for bundle in bundles:
                assert _mode(bundle) == 0o700, bundle
                for name in ("config.json", "container.json"):
                    assert _mode(bundle / name) == 0o600, bundle / name
            for record in data_root.glob("volumes/*/volume.json"):
                assert _mode(record) == 0o600, record
            assert _mode(daemon.exec_root) == 0o711
            assert "Permission denied" in _as_nobody("ls", str(daemon.exec_root)).stderr

    daemon = Daemon()
    try:
        os.chmod(daemon.base, 0o755)  # only the data root itself may stand in the way
        # what an older engine left behind: world-readable areas and files
        for area in ("containers", "volumes", "images"):
            (daemon.data_root / area).mkdir(parents=True, mode=0o755)
        os.chmod(daemon.data_root, 0o755)
        StateStore(daemon.data_root / "engine.db").close()
        os.chmod(daemon.data_root / "engine.db", 0o644)
        daemon.start()
        anyio.run(scenario, daemon)
    finally:
        daemon.cleanup()


def test_databases_are_private_and_durable(tmp_path: Path) -> None:
    """0600 and WAL. The image records use synchronous=FULL; the engine's state commits with
    synchronous=NORMAL and the engine fsyncs the WAL before it answers (StateStore.flush,
    group commit: tests/engine/state/test_state.py), so in both a committed and
    acknowledged change survives a power loss."""
    state = StateStore(tmp_path / "engine.db")
    images = ImageRecords(tmp_path / "images.db")
    try:
        for connection, path, synchronous in (
            (state._db, "engine.db", 1),  # NORMAL, and StateStore.flush before each answer
            (images._db, "images.db", 2),  # FULL
        ):
            connection.execute("CREATE TABLE IF NOT EXISTS probe (x)")
            connection.execute("INSERT INTO probe VALUES (1)")
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert connection.execute("PRAGMA synchronous").fetchone()[0] == synchronous
            for file in tmp_path.glob(f"{path}*"):
                assert _mode(file) == 0o600, file
    finally:
        state.close()
        images.close()
    # an existing database made world-readable is made private when opened
    os.chmod(tmp_path / "engine.db", 0o644)
    StateStore(tmp_path / "engine.db").close()
    assert _mode(tmp_path / "engine.db") == 0o600
    with sqlite3.connect(tmp_path / "engine.db") as connection:
        assert connection.execute("SELECT count(*) FROM probe").fetchone()[0] == 1
