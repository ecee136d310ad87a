"""Runc.signal_init: a stop signals the container's init through a pidfd, never another process.

Real processes stand in for a container's init; runc's state file is written as runc writes
it (the init's pid and start time as top-level keys, the OCI config after them).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime.runc import Runc


def start_time(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def write_state(root: Path, container_id: str, pid: int, start: int, env: list[str]) -> None:
    directory = root / container_id
    directory.mkdir(parents=True)
    state = {
        "id": container_id,
        "init_process_pid": pid,
        "init_process_start": start,
        "config": {"process": {"env": env}},
    }
    (directory / "state.json").write_text(json.dumps(state))


def exited_by(process: subprocess.Popen[bytes], expected: int) -> bool:
    try:
        return process.wait(timeout=10) == -expected
    except subprocess.TimeoutExpired:
        return False


def test_the_recorded_init_is_signalled(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    write_state(tmp_path, "c1", sleeper.pid, start_time(sleeper.pid), [])
    assert Runc(state_root=str(tmp_path)).signal_init("c1", signal.SIGTERM)
    assert exited_by(sleeper, signal.SIGTERM)


def test_a_pid_of_another_process_is_not_signalled(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    # the init exited and the kernel gave its pid to another process: the start time differs
    write_state(tmp_path, "c1", sleeper.pid, start_time(sleeper.pid) - 1, [])
    assert not Runc(state_root=str(tmp_path)).signal_init("c1", signal.SIGTERM)
    time.sleep(0.1)
    assert sleeper.poll() is None


def test_keys_written_into_the_config_by_an_image_are_not_read(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    # an image's environment can hold any text: JSON escapes its quotes, so it never reads
    # as runc's own keys, even placed before them
    hostile = f'X="init_process_pid":{sleeper.pid},"init_process_start":{start_time(sleeper.pid)}'
    directory = tmp_path / "c1"
    directory.mkdir()
    text = json.dumps({"config": {"process": {"env": [hostile]}}, "id": "c1"})
    (directory / "state.json").write_text(text)
    assert not Runc(state_root=str(tmp_path)).signal_init("c1", signal.SIGKILL)
    time.sleep(0.1)
    assert sleeper.poll() is None


def test_no_state_or_a_gone_process_leaves_it_to_runc(tmp_path: Path) -> None:
    runc = Runc(state_root=str(tmp_path))
    assert not runc.signal_init("missing", signal.SIGTERM)
    gone = subprocess.Popen(["true"])
    gone.wait()
    write_state(tmp_path, "c2", gone.pid, 1, [])
    assert not runc.signal_init("c2", signal.SIGTERM)
    (tmp_path / "c3").mkdir()
    (tmp_path / "c3" / "state.json").write_bytes(b"\x00" * 100)
    assert not runc.signal_init("c3", signal.SIGTERM)
