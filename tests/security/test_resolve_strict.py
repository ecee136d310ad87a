"""engine.fs.open_beneath with ``strict`` (RESOLVE_BENEATH, volume subpaths): a path that
leads out of the root is refused (EXDEV) instead of being clamped to it, with openat2 and
with the component walk alike."""

from __future__ import annotations

import errno
import os

import pytest

from engine.fs import open_beneath

pytestmark = pytest.mark.usefixtures("resolver")


@pytest.mark.parametrize("path", ["evil", "evil/etc", "up/flag", "../flag", "/inner", "abs"])
def test_paths_out_of_the_root_are_refused(outer, dest_fd, path):
    dest = outer / "dest"
    (dest / "inner").mkdir()
    (dest / "evil").symlink_to("/")
    (dest / "up").symlink_to("..")
    (dest / "abs").symlink_to("/inner")
    with pytest.raises(OSError) as refused:
        os.close(open_beneath(dest_fd, path, os.O_PATH, strict=True))
    assert refused.value.errno == errno.EXDEV


def test_paths_that_stay_inside_are_opened(outer, dest_fd):
    dest = outer / "dest"
    (dest / "inner" / "deep").mkdir(parents=True)
    (dest / "rel").symlink_to("inner/deep")
    (dest / "back").symlink_to("inner/deep/..")
    for path in ("inner/deep", "rel", "back/deep", "inner/../inner"):
        fd = open_beneath(dest_fd, path, os.O_PATH, strict=True)
        try:
            assert os.readlink(f"/proc/self/fd/{fd}").startswith(str(dest / "inner"))
        finally:
            os.close(fd)
