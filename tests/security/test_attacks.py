"""Hostile archives against engine.fs.tar_extract: nothing lands outside the destination,
nothing is linked to the host, and oversized claims are refused with bounded memory."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

from engine.fs import ArchiveError, ExtractOptions, extract_tar

from . import tarkit as kit
from .conftest import outside_entries

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("resolver")]


def extract(dest_fd, entries, **options):
    return extract_tar(io.BytesIO(kit.tar_bytes(entries)), dest_fd, ExtractOptions(**options))


def test_absolute_names_land_inside(outer, dest_fd):
    extract(dest_fd, [kit.f("/flag", b"pwned"), kit.f("//etc/evil-abs", b"pwned")])
    assert (outer / "flag").read_text() == "original"
    assert (outer / "dest" / "flag").read_bytes() == b"pwned"
    assert (outer / "dest" / "etc" / "evil-abs").exists()
    assert not Path("/etc/evil-abs").exists()


@pytest.mark.parametrize("name", ["../flag", "a/../../flag", "./../dest/../flag", ".."])
def test_names_climbing_out_are_refused(outer, dest_fd, name):
    with pytest.raises(ArchiveError, match="climbs out"):
        extract(dest_fd, [kit.f(name, b"pwned")])
    assert (outer / "flag").read_text() == "original"
    assert outside_entries(outer) == ["dest", "flag"]


@pytest.mark.parametrize("target", ["/", "..", "../..", "/..", "../../../../../../"])
def test_writes_through_extracted_symlinks_stay_inside(outer, dest_fd, target):
    extract(dest_fd, [kit.sym("up", target), kit.f("up/flag", b"pwned"), kit.f("up/new", b"new")])
    assert (outer / "flag").read_text() == "original"
    assert outside_entries(outer) == ["dest", "flag"]
    assert (outer / "dest" / "new").read_bytes() == b"new"


def test_a_symlink_chain_escaping_is_contained(outer, dest_fd):
    extract(
        dest_fd,
        [
            kit.d("a"),
            kit.sym("a/b", "../c"),
            kit.sym("c", "d/../../.."),
            kit.d("d"),
            kit.sym("e", "a/b/flag"),
            kit.f("a/b/x", b"pwned"),
        ],
    )
    assert outside_entries(outer) == ["dest", "flag"]
    assert (outer / "dest" / "x").read_bytes() == b"pwned"


def _realpath_attack(dest: Path) -> bytes:
    """The CVE-2025-4517 archive (cpython's own regression test): symlinks whose expansion
    passes PATH_MAX, so ``os.path.realpath`` stops resolving and the data filter sees a
    path inside while the kernel climbs out; then a hard link to ``../flag`` via it."""
    steps = "abcdefghijklmnop"
    max_path = os.pathconf(dest.parent, "PC_PATH_MAX")
    component = "d" * ((max_path - len(str(dest)) - 1) // (len(steps) + 1))
    entries: list[kit.Entry] = []
    path = ""
    for step in steps:
        entries.append(kit.d(os.path.join(path, component), mode=0o777))
        entries.append(kit.sym(os.path.join(path, step), component))
        path = os.path.join(path, component)
    linkpath = os.path.join(*steps, "l" * 254)
    entries.append(kit.sym(linkpath, os.path.join(*[".."] * len(steps))))
    entries.append(kit.sym("escape", os.path.join(linkpath, "..")))
    entries.append(kit.hard("flaglink", os.path.join("escape", "flag")))
    entries.append(kit.f("flaglink", b"overwrite"))
    entries.append(kit.f("escape/newfile", b"new"))
    return kit.tar_bytes(entries)


def test_cve_2025_4517_passes_tarfiles_data_filter_here_and_not_ours(
    outer, dest_fd, tmp_path_factory
):
    # tarfile on this Python, in a sandbox of the same shape
    sandbox = tmp_path_factory.mktemp("sandbox")
    (sandbox / "dest").mkdir(parents=True)
    (sandbox / "flag").write_text("original")
    archive = _realpath_attack(sandbox / "dest")
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(sandbox / "dest", filter="data")
        escaped = (sandbox / "flag").read_text() != "original" or (sandbox / "newfile").exists()
    except (OSError, tarfile.TarError):
        escaped = False  # a Python with the fix (3.11.13+) refuses it
    if sys.version_info < (3, 11, 13):
        assert escaped, "this Python's data filter should let CVE-2025-4517 through"
    # ours: the chain resolves inside, so the hard link finds no 'flag' there
    archive = _realpath_attack(outer / "dest")
    with pytest.raises(ArchiveError, match="not in the destination"):
        extract_tar(io.BytesIO(archive), dest_fd)
    assert (outer / "flag").read_text() == "original"
    assert outside_entries(outer) == ["dest", "flag"]


@pytest.mark.parametrize(
    "entries",
    [
        [kit.hard("shadow", "/etc/shadow")],
        [kit.hard("shadow", "../../../../../../etc/shadow")],
        [kit.sym("etc", "/etc"), kit.hard("shadow", "etc/shadow")],
        [kit.sym("up", "../../../../.."), kit.hard("shadow", "up/etc/shadow")],
    ],
)
def test_hard_links_to_the_hosts_shadow_are_refused(outer, dest_fd, entries):
    before = os.stat("/etc/shadow").st_nlink
    with pytest.raises(ArchiveError):
        extract(dest_fd, entries)
    assert os.stat("/etc/shadow").st_nlink == before
    assert not (outer / "dest" / "shadow").exists()


def test_a_hard_link_inside_is_made(outer, dest_fd):
    extract(dest_fd, [kit.f("a", b"x"), kit.sym("s", "/"), kit.hard("b", "/s/a")])
    assert os.stat(outer / "dest" / "b").st_ino == os.stat(outer / "dest" / "a").st_ino


def test_a_symlink_loop_is_a_clear_error(dest_fd):
    with pytest.raises(ArchiveError, match=r"'a/x'.*symbolic links"):
        extract(dest_fd, [kit.sym("a", "b"), kit.sym("b", "a"), kit.f("a/x", b"x")])


@pytest.mark.parametrize(
    "key", ["trusted.overlay.redirect", "trusted.overlay.opaque", "security.ima", "system.evil"]
)
def test_dangerous_xattrs_are_refused(outer, dest_fd, key):
    entry = kit.f("file", b"x")
    entry.pax["SCHILY.xattr." + key] = "y"
    with pytest.raises(ArchiveError, match=key):
        extract(dest_fd, [entry], layer=True)
    with pytest.raises(OSError):
        os.getxattr(outer / "dest" / "file", key)


def test_file_capabilities_are_kept_and_selinux_labels_dropped(outer, dest_fd):
    # a v2 capability blob: cap_net_bind_service, effective
    capability = bytes.fromhex("01000002000400000000000000000000" + "00000000")
    entry = kit.f("ping", b"x", mode=0o755)
    entry.pax["SCHILY.xattr.security.capability"] = capability.decode("latin-1")
    entry.pax["SCHILY.xattr.security.selinux"] = "system_u:object_r:bin_t:s0"
    data = kit.tar_bytes([entry]).replace(capability.decode("latin-1").encode("utf-8"), capability)
    extract_tar(io.BytesIO(data), dest_fd)
    assert os.getxattr(outer / "dest" / "ping", "security.capability") == capability


def test_device_nodes_are_refused_in_a_context(outer, dest_fd):
    with pytest.raises(ArchiveError, match=r"'sda'.*device nodes are refused"):
        extract(dest_fd, [kit.Entry("sda", b"4", devmajor=8, devminor=0)], no_devices=True)
    assert not (outer / "dest" / "sda").exists()
