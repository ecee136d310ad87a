"""engine.fs.resolve: paths stay beneath the root whatever the symlinks say, with openat2
and with the component walk alike."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from engine.fs.resolve import (
    MAX_SYMLINKS,
    mkdirs_beneath,
    open_beneath,
    proc_fd_path,
    resolve_parent_beneath,
)

pytestmark = pytest.mark.usefixtures("resolver")


def where(fd: int) -> str:
    try:
        return os.readlink(proc_fd_path(fd))
    finally:
        os.close(fd)


@pytest.fixture(autouse=True)
def root(outer: Path) -> Path:
    root = outer / "dest"
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("inside")
    (root / "abs").symlink_to("/etc")
    (root / "rel").symlink_to("../../../../etc")
    (root / "dots").symlink_to("../flag")
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "dangling").symlink_to("/nowhere/file")
    (root / "file").write_text("x")
    return root


def test_absolute_link_targets_restart_at_the_root(root, dest_fd):
    assert where(open_beneath(dest_fd, "abs/passwd", os.O_RDONLY)) == str(root / "etc/passwd")
    assert where(open_beneath(dest_fd, "/abs/passwd", os.O_RDONLY)) == str(root / "etc/passwd")


def test_dotdot_stops_at_the_root(root, dest_fd):
    assert where(open_beneath(dest_fd, "rel/passwd", os.O_RDONLY)) == str(root / "etc/passwd")
    assert where(open_beneath(dest_fd, "../../../etc/passwd", os.O_RDONLY)) == str(
        root / "etc/passwd"
    )
    with pytest.raises(FileNotFoundError):
        os.close(open_beneath(dest_fd, "dots", os.O_RDONLY))  # ../flag is root/flag: absent
    assert where(open_beneath(dest_fd, "..", os.O_PATH)) == str(root)


def test_a_symlink_loop_is_a_clear_eloop(dest_fd):
    with pytest.raises(OSError) as caught:
        open_beneath(dest_fd, "loop1/x", os.O_RDONLY)
    assert caught.value.errno == errno.ELOOP
    assert "symbolic links" in str(caught.value)


def test_a_chain_longer_than_the_limit_is_eloop_and_a_shorter_one_resolves(root, dest_fd):
    for index in range(MAX_SYMLINKS + 1):
        (root / f"chain{index}").symlink_to(f"chain{index + 1}")
    (root / f"chain{MAX_SYMLINKS + 1}").write_text("end")
    with pytest.raises(OSError) as caught:
        open_beneath(dest_fd, "chain0", os.O_RDONLY)
    assert caught.value.errno == errno.ELOOP
    assert where(open_beneath(dest_fd, "chain1", os.O_RDONLY)).endswith(f"chain{MAX_SYMLINKS + 1}")


def test_create_through_a_dangling_absolute_link_lands_inside(root, dest_fd):
    (root / "nowhere").mkdir()
    fd = open_beneath(dest_fd, "dangling", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    assert (root / "nowhere" / "file").exists()
    assert not Path("/nowhere").exists()


def test_exclusive_create_never_follows_and_nofollow_opens_the_link(root, dest_fd):
    with pytest.raises(FileExistsError):
        open_beneath(dest_fd, "abs", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    fd = open_beneath(dest_fd, "abs", os.O_PATH | os.O_NOFOLLOW)
    try:
        assert stat.S_ISLNK(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as caught:
        open_beneath(dest_fd, "abs", os.O_RDONLY | os.O_NOFOLLOW)
    assert caught.value.errno == errno.ELOOP


def test_a_file_in_the_middle_is_enotdir(dest_fd):
    with pytest.raises(NotADirectoryError):
        open_beneath(dest_fd, "file/x", os.O_RDONLY)


def test_resolve_parent_follows_the_parents_not_the_last(root, dest_fd):
    dir_fd, name = resolve_parent_beneath(dest_fd, "/abs/../abs/passwd")
    assert (where(dir_fd), name) == (str(root / "etc"), "passwd")
    dir_fd, name = resolve_parent_beneath(dest_fd, "abs")
    assert (where(dir_fd), name) == (str(root), "abs")
    for bad in ("", "/", "a/.."):
        with pytest.raises(OSError) as caught:
            resolve_parent_beneath(dest_fd, bad)
        assert caught.value.errno == errno.EINVAL


def test_mkdirs_follows_links_inside_and_refuses_what_is_in_the_way(root, dest_fd):
    assert where(mkdirs_beneath(dest_fd, "abs/new/deeper", 0o755)) == str(root / "etc/new/deeper")
    assert where(mkdirs_beneath(dest_fd, "/rel/../x/y")) == str(root / "x/y")
    with pytest.raises(NotADirectoryError):
        mkdirs_beneath(dest_fd, "file/sub")
    with pytest.raises(FileExistsError):
        mkdirs_beneath(dest_fd, "dangling/sub")
    with pytest.raises(OSError) as caught:
        mkdirs_beneath(dest_fd, "loop1/sub")
    assert caught.value.errno == errno.ELOOP
    assert sorted(os.listdir(root.parent)) == ["dest", "flag"]
