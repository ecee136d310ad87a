"""A step's upper dir as a layer tar, and path resolution inside an image root."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import stat
import tarfile
import threading
import time

import pytest

from engine.build.files import resolve_in_root, write_layer
from engine.images.store import BlobStore

from .conftest import needs_root


def test_resolve_in_root_keeps_links_inside(tmp_path):
    root = tmp_path / "root"
    (root / "real/dir").mkdir(parents=True)
    (root / "abs").symlink_to("/real")
    (root / "rel").symlink_to("real/dir")
    (root / "up").symlink_to("../../../../real")
    (root / "loop").symlink_to("loop")
    assert resolve_in_root(root, "/abs/dir/x") == root / "real/dir/x"
    assert resolve_in_root(root, "rel/../dir") == root / "real/dir"
    assert resolve_in_root(root, "/up") == root / "real"
    assert resolve_in_root(root, "/../../etc/passwd") == root / "etc/passwd"
    assert resolve_in_root(root, "/abs", follow_last=False) == root / "abs"
    with pytest.raises(OSError, match="too many levels"):
        resolve_in_root(root, "/loop/x")


@pytest.mark.root
@needs_root
def test_write_layer_turns_overlay_markers_into_whiteouts(tmp_path):
    upper = tmp_path / "upper"
    (upper / "dir/opaque").mkdir(parents=True)
    (upper / "dir/file").write_bytes(b"content")
    os.chown(upper / "dir/file", 1234, 5678)
    (upper / "dir/file").chmod(0o4750)
    os.link(upper / "dir/file", upper / "dir/hard")
    (upper / "dir/link").symlink_to("file")
    os.mknod(upper / "dir/gone", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.setxattr(upper / "dir/opaque", "trusted.overlay.opaque", b"y")
    (upper / "dir/opaque/new").write_bytes(b"new")
    os.setxattr(upper / "dir/file", "user.note", b"hello")
    os.mkfifo(upper / "dir/fifo")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(upper / "dir/socket"))
    listener.close()
    blobs = BlobStore(tmp_path / "store")
    digest, diff_id, size = write_layer(upper, blobs)
    raw = blobs.read_bytes(digest)
    assert size == len(raw)
    data = gzip.decompress(raw)
    assert diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert sorted(members) == [
        "dir",
        "dir/.wh.gone",
        "dir/fifo",
        "dir/file",
        "dir/hard",
        "dir/link",
        "dir/opaque",
        "dir/opaque/.wh..wh..opq",
        "dir/opaque/new",
    ]
    file = members["dir/file"]
    assert (file.uid, file.gid, file.mode, file.uname) == (1234, 5678, 0o4750, "")
    assert file.pax_headers["SCHILY.xattr.user.note"] == "hello"
    assert members["dir/hard"].islnk() and members["dir/hard"].linkname == "dir/file"
    assert members["dir/link"].issym() and members["dir/link"].linkname == "file"
    assert members["dir/fifo"].isfifo()
    assert "SCHILY.xattr.trusted.overlay.opaque" not in members["dir/opaque"].pax_headers
    # the same tree gives the same layer
    assert write_layer(upper, blobs)[:2] == (digest, diff_id)


def test_stale_step_directories_are_removed(tmp_path):
    from engine.build.builder import STALE_AFTER, remove_stale_steps

    base = tmp_path / "containers"
    for name in ("build-old", "build-new", "not-a-build"):
        (base / name / "upper").mkdir(parents=True)
    old = os.stat(base / "build-old").st_mtime - STALE_AFTER - 1
    os.utime(base / "build-old", (old, old))
    os.utime(base / "not-a-build", (old, old))
    assert remove_stale_steps(tmp_path) == ["build-old"]
    assert sorted(os.listdir(base)) == ["build-new", "not-a-build"]
    assert remove_stale_steps(tmp_path / "nothing-here") == []


def test_entries_that_change_kind_while_the_layer_is_written(tmp_path):
    """A container committed live swaps a name between a file and a link (and makes and
    removes a directory) while the engine walks its upper dir: each layer holds what the
    name was when it was opened, and the walk never fails."""
    upper = tmp_path / "upper"
    upper.mkdir()
    blobs = BlobStore(tmp_path / "store")
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            try:
                (upper / "f.tmp").write_bytes(b"x" * 8192)
                os.replace(upper / "f.tmp", upper / "f")
                os.symlink("/etc/shadow", upper / "l.tmp")
                os.replace(upper / "l.tmp", upper / "f")
                (upper / "d").mkdir()
                (upper / "d" / "x").write_text("1")
                os.unlink(upper / "d" / "x")
                os.rmdir(upper / "d")
            except OSError:
                pass

    swapper = threading.Thread(target=swap)
    swapper.start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline and seen != {"file", "link"}:
            digest, _, _ = write_layer(upper, blobs)
            with tarfile.open(blobs.path(digest)) as layer:
                members = {member.name: member for member in layer}
            member = members.get("f")
            if member is not None and member.issym():
                assert member.linkname == "/etc/shadow"
                seen.add("link")
            elif member is not None:
                assert member.isfile() and member.size == 8192
                seen.add("file")
        for _ in range(300):  # past both kinds: more chances for the race
            write_layer(upper, blobs)
    finally:
        stop.set()
        swapper.join()
