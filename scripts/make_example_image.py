"""Write a `docker load`-able archive of a busybox image, from Debian's busybox-static.

    python scripts/make_example_image.py OUT.tar [REFERENCE]

The examples and the end-to-end tests run on a machine with no access to a public
registry; their image is this one (default reference pycompose-examples/busybox:latest).
The archive holds one layer (the root file system: /bin/busybox and its applets,
/etc/passwd, /etc/group) and a config with Docker's fields, so any engine loads it.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

DEFAULT_REFERENCE = "pycompose-examples/busybox:latest"


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def layer_tar() -> bytes:
    busybox = shutil.which("busybox")
    if busybox is None:
        raise SystemExit("busybox not found: apt-get install busybox-static")
    applets = subprocess.run(
        [busybox, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "www", "data"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        _add(tar, "bin/busybox", Path(busybox).read_bytes(), 0o755)
        for applet in applets:
            if applet == "busybox":
                continue
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            info.mode = 0o777
            tar.addfile(info)
        _add(
            tar,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        _add(tar, "etc/group", b"root:x:0:\nnobody:x:65534:\n")
    return buffer.getvalue()


def write_archive(out: Path, reference: str = DEFAULT_REFERENCE) -> Path:
    layer = layer_tar()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64" if sys.byteorder == "little" else "unknown",
        "os": "linux",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(0)),
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [
            {"created": "1970-01-01T00:00:00Z", "created_by": "busybox-static from Debian"}
        ],
    }
    import platform

    machine = platform.machine()
    config["architecture"] = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id.removeprefix("sha256:") + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [reference], "Layers": [layer_name]}]
    with tarfile.open(out, "w") as tar:
        _add(tar, config_name, config_bytes)
        _add(tar, layer_name, layer)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return out


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    write_archive(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else DEFAULT_REFERENCE)
