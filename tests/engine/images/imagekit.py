"""Test images made by the tests: layers from entry lists, OCI layouts, registries.

``Layout`` writes an OCI image layout (the format skopeo and umoci read); tests push it
to the real registry with skopeo and compare our unpacking with umoci's.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    mtime: int = 1_600_000_000
    xattrs: dict[str, str] = field(default_factory=dict)


def f(name, data=b"", mode=0o644, uid=0, gid=0, **kw):
    return Entry(name, tarfile.REGTYPE, data, mode, uid, gid, **kw)


def d(name, mode=0o755, uid=0, gid=0, **kw):
    return Entry(name, tarfile.DIRTYPE, b"", mode, uid, gid, **kw)


def sym(name, target, uid=0, gid=0):
    return Entry(name, tarfile.SYMTYPE, mode=0o777, linkname=target, uid=uid, gid=gid)


def hard(name, target):
    return Entry(name, tarfile.LNKTYPE, linkname=target)


def whiteout(path):
    parent, _, base = path.rpartition("/")
    return f(f"{parent}/.wh.{base}" if parent else f".wh.{base}", mode=0o600)


def opaque(directory):
    return f(f"{directory}/.wh..wh..opq", mode=0o600)


def fifo(name, mode=0o600):
    return Entry(name, tarfile.FIFOTYPE, mode=mode)


def chardev(name, major, minor, mode=0o666):
    return Entry(name, tarfile.CHRTYPE, mode=mode, devmajor=major, devminor=minor)


def tar_bytes(entries: list[Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = entry.type
            info.mode = entry.mode
            info.uid, info.gid = entry.uid, entry.gid
            info.mtime = entry.mtime
            info.linkname = entry.linkname
            info.devmajor, info.devminor = entry.devmajor, entry.devminor
            if entry.xattrs:
                info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in entry.xattrs.items()}
            info.size = len(entry.data) if entry.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(entry.data) if info.size else None)
    return out.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def busybox_entries() -> list[Entry]:
    binary = Path("/bin/busybox").read_bytes()
    entries = [d("bin"), f("bin/busybox", binary, 0o755)]
    entries += [sym(f"bin/{applet}", "busybox") for applet in ("sh", "ls", "cat", "echo")]
    entries += [d("etc"), f("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"), d("tmp", 0o1777)]
    return entries


class Layout:
    """An OCI image layout directory under construction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.refs: list[dict] = []

    def blob(self, data: bytes, media_type: str) -> dict:
        digest = digest_of(data)
        (self.path / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def image(
        self,
        layers: list[list[Entry]],
        *,
        compression: str = "gzip",
        arch: str = "amd64",
        config: dict | None = None,
        raw_layers: list[bytes] | None = None,
    ) -> dict:
        """Write layers, config and manifest; return the manifest descriptor."""
        descriptors, diff_ids = [], []
        tars = raw_layers if raw_layers is not None else [tar_bytes(e) for e in layers]
        for tar in tars:
            diff_ids.append(digest_of(tar))
            descriptors.append(self.blob(compress(tar, compression), LAYER_TYPES[compression]))
        image_config = {
            "architecture": arch,
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {
                "Env": ["PATH=/bin"],
                "Cmd": ["/bin/sh"],
                "WorkingDir": "/",
                **(config or {}),
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"layer {i}"} for i in range(len(tars))],
        }
        config_desc = self.blob(json.dumps(image_config).encode(), OCI_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc,
            "layers": descriptors,
        }
        desc = self.blob(json.dumps(manifest).encode(), OCI_MANIFEST)
        desc["platform"] = {"os": "linux", "architecture": arch}
        return desc

    def index(self, manifests: list[dict]) -> dict:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        return self.blob(json.dumps(index).encode(), OCI_INDEX)

    def tag(self, descriptor: dict, name: str) -> None:
        ref = dict(descriptor)
        ref.pop("platform", None)
        ref["annotations"] = {"org.opencontainers.image.ref.name": name}
        self.refs = [r for r in self.refs if r["annotations"] != ref["annotations"]] + [ref]
        (self.path / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs})
        )


def skopeo_push(
    layout: Path,
    tag: str,
    dest: str,
    *,
    creds: str | None = None,
    all_images: bool = False,
    docker_format: bool = False,
) -> None:
    command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    command += ["--format", "v2s2"] if docker_format else ["--preserve-digests"]
    if creds:
        command += ["--dest-creds", creds]
    if all_images:
        command.append("--all")
    command += [f"oci:{layout}:{tag}", f"docker://{dest}"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
