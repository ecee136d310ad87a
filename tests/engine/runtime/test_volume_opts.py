"""engine.volume_opts: local volumes with driver options (tmpfs, bind) mounted for real."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.api.errors import InvalidParameter, NotFound, Unsupported
from engine.volume_opts import is_mounted, plan
from engine.volumes import VolumeStore

pytestmark = pytest.mark.anyio


def _mount_line(target: Path) -> list[str]:
    lines = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    found = [line for line in lines if line[1] == str(target)]
    assert found, f"nothing mounted at {target}"
    return found[-1]


def test_plans_of_the_options_docker_takes():
    tmpfs = plan({"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=1000,mode=0700"})
    assert tmpfs is not None and tmpfs.fstype == "tmpfs"
    assert tmpfs.data == f"size={64 * 2**20},uid=1000,mode=700"
    assert plan({}) is None
    bind = plan({"type": "none", "o": "bind,ro", "device": "/tmp"})
    assert bind is not None and bind.fstype == "" and bind.source == "/tmp"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"type": "tmpfs", "o": "size=8m,exec_bit=1"}, "exec_bit"),
        ({"type": "tmpfs", "o": "size=0"}, "size=0"),
        ({"type": "tmpfs", "o": "size=1000000g"}, "size=1000000g"),
        ({"type": "tmpfs", "o": "uid=-1"}, "uid"),
        ({"type": "tmpfs", "o": "mode=999"}, "mode"),
        ({"type": "none", "o": "bind", "device": "relative/dir"}, "relative/dir"),
        ({"type": "none", "o": "bind"}, "device"),
        ({"type": "none", "device": "/tmp"}, "bind"),
        ({"type": "none", "o": "bind,exec", "device": "/tmp"}, "exec"),
        ({"o": "size=8m"}, "type"),
        ({"type": "tmpfs", "quota": "1"}, "quota"),
    ],
)
def test_bad_options_are_refused_by_name(options, named):
    with pytest.raises(InvalidParameter, match=named.replace("+", r"\+")):
        plan(options)


def test_block_file_systems_are_refused_naming_the_type():
    with pytest.raises(Unsupported, match="type='ext4'"):
        plan({"type": "ext4", "device": "/dev/loop0"})


def test_a_missing_bind_device_is_refused(tmp_path):
    with pytest.raises(InvalidParameter, match="no such file or directory"):
        plan({"type": "none", "o": "bind", "device": str(tmp_path / "absent")})


async def test_tmpfs_volume_mounted_at_first_use_kept_over_restart_gone_on_remove(tmp_path):
    store = VolumeStore(tmp_path / "volumes")
    options = {"type": "tmpfs", "device": "tmpfs", "o": "size=8m,uid=1000,gid=1000,mode=0750"}
    volume = store.create("scratch", driver_opts=options)
    assert volume.options == options and not is_mounted(volume.mountpoint)
    try:
        store.ensure_mounted("scratch")
        source, _, fstype, mount_options = _mount_line(volume.mountpoint)[:4]
        assert (source, fstype) == ("tmpfs", "tmpfs")
        assert "size=8192k" in mount_options and "nosuid" in mount_options
        status = os.stat(volume.mountpoint)
        assert (status.st_uid, status.st_gid, status.st_mode & 0o7777) == (1000, 1000, 0o750)
        (volume.mountpoint / "kept").write_text("x")
        again = VolumeStore(tmp_path / "volumes")  # an engine restart reads the same records
        assert again.get("scratch").options == options
        again.ensure_mounted("scratch")  # already mounted: not stacked a second time
        mounts = Path("/proc/self/mounts").read_text()
        assert mounts.count(f" {volume.mountpoint} ") == 1
        assert (volume.mountpoint / "kept").read_text() == "x"
        await again.remove("scratch")
        assert not is_mounted(volume.mountpoint) and not volume.mountpoint.exists()
        with pytest.raises(NotFound):
            again.get("scratch")
    finally:
        os.system(f"umount -l {volume.mountpoint} 2>/dev/null")


async def test_bind_volume_shows_the_host_directory_and_removal_keeps_it(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "file.txt").write_text("from the host")
    store = VolumeStore(tmp_path / "volumes")
    volume = store.create(
        "hostdir", driver_opts={"type": "none", "o": "bind,ro", "device": str(host)}
    )
    try:
        store.add_user("hostdir", "c1")
        store.mount_for("c1")
        assert (volume.mountpoint / "file.txt").read_text() == "from the host"
        assert "ro" in _mount_line(volume.mountpoint)[3].split(",")
        with pytest.raises(OSError):
            (volume.mountpoint / "new").write_text("no")
        await store.remove("hostdir", force=True)
        assert (host / "file.txt").read_text() == "from the host"  # never deleted through
        assert not is_mounted(volume.mountpoint)
    finally:
        os.system(f"umount -l {volume.mountpoint} 2>/dev/null")


def test_bad_options_leave_nothing_behind(tmp_path):
    store = VolumeStore(tmp_path / "volumes")
    with pytest.raises(InvalidParameter):
        store.create("bad", driver_opts={"type": "tmpfs", "o": "size=8m,foo=bar"})
    assert not (tmp_path / "volumes" / "bad").exists()


def test_engine_start_mounts_again_what_a_reboot_took_from_volumes_in_use(tmp_path):
    store = VolumeStore(tmp_path / "volumes")
    used = store.create("used", driver_opts={"type": "tmpfs", "o": "size=1m"})
    unused = store.create("unused", driver_opts={"type": "tmpfs", "o": "size=1m"})
    store.create("bad", driver_opts={"type": "none", "o": "bind", "device": str(tmp_path)})
    store.add_user("used", "c1")
    store.add_user("bad", "c1")
    try:
        (tmp_path / "volumes" / "bad" / "volume.json").write_text(
            (tmp_path / "volumes" / "bad" / "volume.json")
            .read_text()
            .replace(str(tmp_path), str(tmp_path / "absent"))
        )
        assert store.mount_in_use() == ["bad"]  # named, the others still mounted
        assert is_mounted(used.mountpoint) and not is_mounted(unused.mountpoint)
    finally:
        os.system(f"umount -l {used.mountpoint} 2>/dev/null")
