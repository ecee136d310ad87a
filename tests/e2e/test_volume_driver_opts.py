"""Local volumes with driver options, as a compose file declares them: a tmpfs of a given
size and owner, and a bind of a host directory; the same assertions for both tools on both
engines (``stack``), so dockerd's behaviour is the reference where its oracle answers."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.e2e.conftest import IMAGE, Stack

pytestmark = [pytest.mark.root]

PROJECT = textwrap.dedent(f"""
    services:
      app:
        image: {IMAGE}
        command: ["sleep", "1000000"]
        stop_grace_period: 1s
        volumes: ["scratch:/scratch", "hostdir:/host"]
    volumes:
      scratch:
        driver_opts: {{type: tmpfs, device: tmpfs, o: "size=8m,uid=1000"}}
      hostdir:
        driver: local  # compose-go resolves ./hostdata only then
        driver_opts: {{type: none, o: bind, device: ./hostdata}}
""")


def _seen(stack: Stack) -> tuple[list[str], str, str]:
    """The container's view: /scratch's line in /proc/mounts, its owner, the host's file."""
    mounts = stack.pycompose("exec", "-T", "app", "cat", "/proc/mounts").stdout
    scratch = [line.split() for line in mounts.splitlines() if line.split()[1:2] == ["/scratch"]]
    assert len(scratch) == 1, mounts
    owner = stack.pycompose("exec", "-T", "app", "stat", "-c", "%u", "/scratch").stdout.strip()
    from_host = stack.pycompose("exec", "-T", "app", "cat", "/host/file.txt").stdout
    return scratch[0], owner, from_host


def test_tmpfs_and_bind_volumes_from_driver_opts(stack: Stack) -> None:
    (stack.directory / "hostdata").mkdir()
    (stack.directory / "hostdata" / "file.txt").write_text("from the host\n")
    stack.write(PROJECT)
    stack.pycompose("up", "-d")
    scratch, owner, from_host = _seen(stack)
    assert scratch[2] == "tmpfs", scratch
    assert {"size=8192k", "uid=1000"} <= set(scratch[3].split(",")), scratch
    assert owner == "1000"
    assert from_host == "from the host\n"
    stack.pycompose("exec", "-T", "app", "sh", "-c", "echo back > /host/written")
    assert (stack.directory / "hostdata" / "written").read_text() == "back\n"
    stack.pycompose("down", "-v", "-t", "1")
    assert (stack.directory / "hostdata" / "file.txt").read_text() == "from the host\n"


def test_a_missing_bind_device_is_refused(stack: Stack) -> None:
    stack.write(PROJECT)
    result = stack.pycompose("up", "-d", check=False)
    assert result.returncode != 0
    assert "no such file or directory" in result.stderr, result.stderr


def test_the_tmpfs_volume_works_after_an_engine_restart_and_a_lost_mount(own_stack: Stack) -> None:
    (own_stack.directory / "hostdata").mkdir()
    (own_stack.directory / "hostdata" / "file.txt").write_text("from the host\n")
    own_stack.write(PROJECT)
    own_stack.pycompose("up", "-d")
    own_stack.pycompose("exec", "-T", "app", "sh", "-c", "echo kept > /scratch/f")
    own_stack.engine.restart()  # killed, as a crash: the volume's mount outlives it
    own_stack.pycompose("restart", "-t", "1", "app")
    assert own_stack.pycompose("exec", "-T", "app", "cat", "/scratch/f").stdout == "kept\n"
    # a host reboot loses the mount: the next start mounts it again
    own_stack.pycompose("stop", "-t", "1")
    data = Path(own_stack.engine.environment["PYCOMPOSE_DATA_ROOT"]) / "volumes"
    target = data / f"{own_stack.name}_scratch" / "_data"
    subprocess.run(["umount", str(target)], check=True)
    own_stack.pycompose("start")
    scratch, owner, from_host = _seen(own_stack)
    assert scratch[2] == "tmpfs" and owner == "1000" and from_host == "from the host\n"
