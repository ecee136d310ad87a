"""engine.fs.tar_extract on well-formed archives: what a layer, a context, ADD and cp
need (attributes, whiteouts, owner policies, compressions, replacement rules)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat

import pytest
import zstandard

from engine.fs import ArchiveError, ExtractOptions, Limits, extract_tar

from . import tarkit as kit

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("resolver")]

COMPRESSORS = {
    "none": lambda data: data,
    "gzip": gzip.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


def extract(dest_fd, entries, compression="none", **options):
    data = COMPRESSORS[compression](kit.tar_bytes(entries))
    return extract_tar(io.BytesIO(data), dest_fd, ExtractOptions(**options))


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_a_layer_keeps_every_attribute(outer, dest_fd, compression):
    extract(
        dest_fd,
        [
            kit.d(".", mode=0o711, mtime=1_300_000_000),
            kit.d("dir", mode=0o750, uid=7, gid=8, mtime=1_500_000_000),
            kit.xattr(
                kit.f("dir/file", b"data", mode=0o4711, uid=1000, gid=1001, mtime=1_400_000_000),
                user__note="kept",
            ),
            kit.hard("dir/link", "dir/file"),
            kit.sym("dir/sym", "file", uid=5, gid=6),
            kit.Entry("dir/fifo", b"6", mode=0o640),
            kit.chardev("dir/tty", 5, 0),
            kit.f("dir/.wh..wh..opq"),
            kit.f("dir/.wh.gone"),
        ],
        compression,
        layer=True,
    )
    root = outer / "dest"
    st = os.lstat(root / "dir" / "file")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o4711, 1000, 1001)
    assert st.st_mtime == 1_400_000_000
    assert os.getxattr(root / "dir" / "file", "user.note") == b"kept"
    assert os.lstat(root / "dir" / "link").st_ino == st.st_ino
    assert os.readlink(root / "dir" / "sym") == "file"
    assert (os.lstat(root / "dir" / "sym").st_uid, os.lstat(root / "dir" / "sym").st_gid) == (5, 6)
    fifo = os.lstat(root / "dir" / "fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o640
    tty = os.lstat(root / "dir" / "tty")
    assert stat.S_ISCHR(tty.st_mode) and os.major(tty.st_rdev) == 5
    assert os.getxattr(root / "dir", "trusted.overlay.opaque") == b"y"
    gone = os.lstat(root / "dir" / "gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    directory = os.lstat(root / "dir")
    assert (stat.S_IMODE(directory.st_mode), directory.st_uid, directory.st_gid) == (0o750, 7, 8)
    assert directory.st_mtime == 1_500_000_000
    top = os.lstat(root)
    assert stat.S_IMODE(top.st_mode) == 0o711 and top.st_mtime == 1_300_000_000


def test_without_layer_whiteouts_are_plain_files_and_the_root_is_left_alone(outer, dest_fd):
    root = outer / "dest"
    os.chmod(root, 0o755)
    extract(dest_fd, [kit.d(".", mode=0o700), kit.f(".wh.x", b"plain")])
    assert (root / ".wh.x").read_bytes() == b"plain"
    assert stat.S_IMODE(os.lstat(root).st_mode) == 0o755


def test_owner_policies(outer, dest_fd):
    root = outer / "dest"

    def owners(policy, top):
        entries = [kit.d(top, uid=3, gid=4), kit.f(f"{top}/f", b"x", uid=3, gid=4)]
        extract(dest_fd, [*entries, kit.sym(f"{top}/s", "f", uid=3, gid=4)], owner=policy)
        paths = (top, f"{top}/f", f"{top}/s")
        return {(os.lstat(root / p).st_uid, os.lstat(root / p).st_gid) for p in paths}

    assert owners((1000, 2000), "mapped") == {(1000, 2000)}
    assert owners("none", "none") == {(os.geteuid(), os.getegid())}
    assert owners("preserve", "kept") == {(3, 4)}


def test_what_is_in_the_way_is_replaced(outer, dest_fd):
    root = outer / "dest"
    (root / "a").mkdir()
    (root / "a" / "old").write_text("old")
    (root / "b").write_text("file")
    (root / "c").mkdir()
    (root / "c" / "keep").write_text("kept")
    extract(dest_fd, [kit.f("a", b"now a file"), kit.d("b"), kit.d("c", mode=0o700)])
    assert (root / "a").read_bytes() == b"now a file"
    assert (root / "b").is_dir()
    assert (root / "c" / "keep").read_text() == "kept"
    assert stat.S_IMODE(os.lstat(root / "c").st_mode) == 0o700


def test_names_with_dot_segments_and_missing_parents(outer, dest_fd):
    root = outer / "dest"
    extract(dest_fd, [kit.f("./x/./y/../z", b"1"), kit.f("deep/er/file", b"2")])
    assert (root / "x" / "z").read_bytes() == b"1"
    assert stat.S_IMODE(os.lstat(root / "deep" / "er").st_mode) == 0o755


def test_long_names_and_big_ids_survive(outer, dest_fd):
    root = outer / "dest"
    name = "/".join(["n" * 120] * 5)
    extract(dest_fd, [kit.f(name, b"long", uid=3_000_000, gid=3_000_001)])
    st = os.lstat(root / name)
    assert (st.st_uid, st.st_gid) == (3_000_000, 3_000_001)


def test_a_truncated_archive_is_an_archive_error(dest_fd):
    data = kit.tar_bytes([kit.f("file", b"x" * 5000)])
    with pytest.raises(ArchiveError, match="ends in the middle"):
        extract_tar(io.BytesIO(data[:2000]), dest_fd)


def test_garbage_is_an_archive_error(dest_fd):
    with pytest.raises(ArchiveError, match="checksum"):
        extract_tar(io.BytesIO(b"not a tar at all" * 100), dest_fd)
    with pytest.raises(ArchiveError, match="compressed stream"):
        extract_tar(io.BytesIO(b"\x1f\x8b" + b"\0" * 100), dest_fd)


def test_limits_on_entries_and_names(dest_fd):
    entries = [kit.f(f"f{index}") for index in range(20)]
    with pytest.raises(ArchiveError, match="more than 10 entries"):
        extract(dest_fd, entries, limits=Limits(max_entries=10))
    with pytest.raises(ArchiveError, match="deeper than 3"):
        extract(dest_fd, [kit.f("a/b/c/d")], limits=Limits(max_depth=3))
    with pytest.raises(ArchiveError, match="longer than 50 bytes"):
        extract(dest_fd, [kit.f("x" * 60)], limits=Limits(max_path_bytes=50))


def test_the_stream_is_read_to_its_end(dest_fd):
    data = kit.tar_bytes([kit.f("file", b"x")]) + b"\0" * 50_000
    stats = extract_tar(io.BytesIO(data), dest_fd)
    assert stats.bytes_read == len(data)
    assert stats.entries == 1


def test_sparse_and_unknown_types_are_refused(dest_fd):
    sparse = kit.f("s", b"x")
    sparse.pax["GNU.sparse.major"] = "1"
    with pytest.raises(ArchiveError, match="sparse"):
        extract(dest_fd, [sparse])
    with pytest.raises(ArchiveError, match="not supported"):
        extract(dest_fd, [kit.Entry("v", b"V")])
