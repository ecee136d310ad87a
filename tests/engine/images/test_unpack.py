"""Layer unpacking on its own: what umoci's comparison does not look at (mtimes, xattrs,
inodes, overlay markers), compression detection, and the temp dir on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.images import DigestMismatch, InvalidImage
from engine.images.unpack import unpack_layer

from . import imagekit as kit

pytestmark = pytest.mark.root


def unpack(tmp_path, entries, compression="gzip", diff_id=None):
    tar = kit.tar_bytes(entries)
    blob = tmp_path / f"blob-{compression}"
    blob.write_bytes(kit.compress(tar, compression))
    chain = diff_id or kit.digest_of(tar)
    return unpack_layer(blob, tmp_path / "layers", tmp_path / "l", chain, chain) / "diff"


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_attributes_are_kept(tmp_path, compression):
    root = unpack(
        tmp_path,
        [
            kit.d("dir", mode=0o750, uid=7, gid=8, mtime=1_500_000_000),
            kit.f(
                "dir/file",
                b"data",
                mode=0o4711,
                uid=1000,
                gid=1001,
                mtime=1_400_000_000,
                xattrs={"user.note": "kept"},
            ),
            kit.hard("dir/link", "dir/file"),
            kit.sym("dir/sym", "file"),
            kit.fifo("dir/fifo"),
            kit.chardev("dir/tty", 5, 0),
            kit.opaque("dir"),
            kit.whiteout("gone"),
        ],
        compression,
    )
    st = os.lstat(root / "dir" / "file")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o4711, 1000, 1001)
    assert st.st_mtime == 1_400_000_000
    assert os.getxattr(root / "dir" / "file", "user.note") == b"kept"
    assert os.lstat(root / "dir" / "link").st_ino == st.st_ino
    assert os.readlink(root / "dir" / "sym") == "file"
    assert stat.S_ISFIFO(os.lstat(root / "dir" / "fifo").st_mode)
    tty = os.lstat(root / "dir" / "tty")
    assert stat.S_ISCHR(tty.st_mode) and os.major(tty.st_rdev) == 5
    assert os.getxattr(root / "dir", "trusted.overlay.opaque") == b"y"
    whiteout = os.lstat(root / "gone")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == os.makedev(0, 0)
    directory = os.lstat(root / "dir")
    assert (stat.S_IMODE(directory.st_mode), directory.st_uid) == (0o750, 7)
    assert directory.st_mtime == 1_500_000_000  # set after its children were made
    assert (
        os.readlink(tmp_path / "l" / root.parent.name[:12]) == f"../layers/{root.parent.name}/diff"
    )


def test_later_entries_replace_earlier_ones(tmp_path):
    root = unpack(
        tmp_path,
        [
            kit.f("x", b"file"),
            kit.d("x"),
            kit.f("x/inner", b"i"),
            kit.d("y"),
            kit.f("y/z", b"z"),
            kit.f("y", b"now a file"),
        ],
    )
    assert (root / "x" / "inner").read_bytes() == b"i"
    assert (root / "y").read_bytes() == b"now a file"


def test_failures_leave_no_directory(tmp_path):
    with pytest.raises(DigestMismatch):
        unpack(tmp_path, [kit.f("a", b"a")], diff_id=kit.digest_of(b"other"))
    (tmp_path / "junk").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InvalidImage, match="not a valid"):
        unpack_layer(
            tmp_path / "junk",
            tmp_path / "layers",
            tmp_path / "l",
            kit.digest_of(b"j"),
            kit.digest_of(b"j"),
        )
    assert os.listdir(tmp_path / "layers") == []


def test_the_same_layer_link_made_by_many_at_once(tmp_path: Path) -> None:
    """Two builds committing the same layer make its short link at the same moment: each
    must end with the link in place, and no temporary name may be left behind."""
    import threading

    from engine.images.unpack import _ensure_link

    links = tmp_path / "l"
    links.mkdir()
    final = tmp_path / "layers" / "abc"
    (final / "diff").mkdir(parents=True)
    link = links / "ABCDEF"
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def make(index: int) -> None:
        for _ in range(50):
            start.wait()  # all at once, the link absent
            try:
                _ensure_link(link, final)
            except BaseException as error:  # collected for the assertion
                errors.append(error)
            start.wait()
            if index == 0:
                link.unlink()

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _ensure_link(link, final)
    assert os.readlink(link) == os.path.relpath(final / "diff", links)
    assert [p.name for p in links.iterdir()] == ["ABCDEF"]
