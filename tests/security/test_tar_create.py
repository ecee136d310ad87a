"""engine.fs.tar_create: a tar of a path in a container root that never runs the root's
code (CVE-2019-14271: a hostile libnss loaded by name lookups), stays in the root, and
answers stat in Docker's shape."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import anyio
import pytest

from engine.daemon.archive import stat_path
from engine.fs import OwnerNames, iter_tar, stat_beneath

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("resolver")]

EVIL_NSS = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void loaded(void) {
    int fd = open("/MARKER", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
    fd = open("%s", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
}
"""
LIB_DIRS = (
    "lib",
    "lib64",
    "usr/lib",
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
    "lib/aarch64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
)


@pytest.fixture(scope="module")
def evil_root(tmp_path_factory) -> tuple[Path, Path]:
    """A container root whose NSS config loads a library that leaves a marker."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the hostile libnss")
    base = tmp_path_factory.mktemp("nss")
    root = base / "root"
    host_marker = base / "host-marker"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "nsswitch.conf").write_text("passwd: evil\ngroup: evil\n")
    (root / "etc" / "passwd").write_text("toor:x:0:0::/:/bin/sh\nalice:x:1234:1234::/:/bin/sh\n")
    (root / "etc" / "group").write_text("wheel:x:0:\nstaff:x:1234:\n")
    source = base / "evil.c"
    source.write_text(EVIL_NSS % host_marker)
    library = base / "libnss_evil.so.2"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", library, source], check=True)
    for directory in LIB_DIRS:
        (root / directory).mkdir(parents=True, exist_ok=True)
        shutil.copy(library, root / directory / "libnss_evil.so.2")
    data = root / "data"
    data.mkdir()
    (data / "file").write_text("content")
    os.chown(data / "file", 1234, 1234)
    os.chown(data, 0, 0)
    (data / "link").symlink_to("/etc/shadow")
    os.link(data / "file", data / "hard")
    os.mkfifo(data / "fifo")
    return root, host_marker


def test_the_hostile_libnss_is_loaded_by_a_chrooted_lookup(evil_root):
    """The control: a name lookup after a chroot (what docker cp's helper once did) runs the
    library."""
    root, _ = evil_root
    script = f"import os, pwd; os.chroot({str(root)!r}); pwd.getpwuid(1234)"
    subprocess.run([sys.executable, "-I", "-c", script], check=False, capture_output=True)
    try:
        assert (root / "MARKER").exists()
    finally:
        (root / "MARKER").unlink(missing_ok=True)


def test_names_come_from_the_roots_files_as_data_and_nothing_runs(evil_root):
    root, host_marker = evil_root
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        data = b"".join(iter_tar(fd, "/data"))
    finally:
        os.close(fd)
    assert not (root / "MARKER").exists() and not host_marker.exists()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {member.name: member for member in tar}
        assert sorted(members) == ["data", "data/fifo", "data/file", "data/hard", "data/link"]
        assert (members["data/file"].uname, members["data/file"].gname) == ("alice", "staff")
        # uid 0 is 'root' on the host: the name is the container's
        assert (members["data"].uname, members["data"].gname) == ("toor", "wheel")
        assert members["data/link"].issym() and members["data/link"].linkname == "/etc/shadow"
        assert members["data/fifo"].isfifo()
        hard = members["data/hard"] if members["data/hard"].islnk() else members["data/file"]
        assert hard.islnk() and hard.linkname in ("data/file", "data/hard")
        regular = next(m for m in members.values() if m.isreg())
        assert tar.extractfile(regular).read() == b"content"
    assert len(data) % (20 * 512) == 0


def test_owner_names_are_bounded_and_optional(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("x:x:1:1::/:/bin/sh\n" * 80_000)
    os.mkfifo(tmp_path / "etc" / "group")  # must not block
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        assert OwnerNames.from_root(fd) == OwnerNames({}, {})
    finally:
        os.close(fd)


@pytest.fixture
def tree(outer: Path) -> Path:
    root = outer / "dest"
    (root / "etc").mkdir()
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "bin").mkdir()
    (root / "bin" / "su").write_text("x")
    os.chmod(root / "bin" / "su", 0o4755)
    (root / "up").symlink_to("../../..")
    (root / "abs").symlink_to("/etc")
    os.utime(root / "etc" / "hosts", (1_500_000_000, 1_500_000_000))
    return root


@pytest.mark.parametrize(
    "path",
    ["/etc/hosts", "/etc", "/etc/", "/bin/su", "/abs", "/abs/hosts", "/up", "/up/etc", "/", "x"],
)
def test_the_archive_route_stats_as_stat_beneath(tree, path):
    fd = os.open(tree, os.O_PATH | os.O_DIRECTORY)
    try:
        try:
            ours = stat_beneath(fd, path)
        except FileNotFoundError:
            ours = None
    finally:
        os.close(fd)

    async def theirs():
        try:
            return await stat_path(str(tree), path, "test")
        except Exception:
            return None

    assert ours == anyio.run(theirs)


def test_trees_stay_inside_the_root(tree, outer):
    fd = os.open(tree, os.O_PATH | os.O_DIRECTORY)
    try:
        with tarfile.open(fileobj=io.BytesIO(b"".join(iter_tar(fd, "/up/etc/.")))) as tar:
            assert tar.getnames() == [".", "./hosts"]
        with tarfile.open(fileobj=io.BytesIO(b"".join(iter_tar(fd, "/", arcname="")))) as tar:
            names = tar.getnames()
        assert "abs" in names and "etc/hosts" in names and "." not in names
        su = stat_beneath(fd, "/bin/su")
        assert su["mode"] & (1 << 23) and stat.S_IMODE(os.lstat(tree / "bin/su").st_mode) == 0o4755
        with pytest.raises(FileNotFoundError):
            next(iter_tar(fd, "/missing"))
        with pytest.raises(NotADirectoryError):
            stat_beneath(fd, "/etc/hosts/")
    finally:
        os.close(fd)
